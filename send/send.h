#ifndef MAILROOM_SEND_H
#define MAILROOM_SEND_H
/* mailroom-send's state, owned by main and passed by pointer to each subsystem. */
#include <stddef.h>
#include <time.h>
#include "qid.h"
#include "rspawn_proto.h"

#define CHAN_LOCAL 0
#define CHAN_REMOTE 1
#define NCHAN 2

#define CONCURRENCY_MAX 1000
#define TEXT_MAX 900 /* a spawner's result text; INTERNALS.md */
/* How mailroom-remote's text for a delivered recipient starts when the server had no DSN
   and the recipient asked NOTIFY=SUCCESS (remote/remote_smtp.c): send owes a "relayed" notice. */
#define RELAYED_PREFIX "relayed: "
#define INFO_HEADER 64
#define INFO_RECORD 256
#define INFO_TEXT (INFO_RECORD - 25) /* bytes 24..254 of a record */

struct msg {
  struct msg *prev, *next; /* every message in memory */
  char id[QID_MAX + 1];
  unsigned long long arrival;
  unsigned long long msglen;
  char *env; /* the envelope, owned */
  size_t envlen;
  char const **rcpt; /* into env */
  unsigned nrcpt;
  unsigned char *state; /* per recipient: 'T' 'D' 'F' 'B' (INTERNALS.md) */
  unsigned char *chan;  /* 'L' or 'R' */
  char **vaddr;         /* per recipient: prefix-local@domain of a virtual domain, else 0 */
  unsigned *attempts;
  time_t *nexttry;
  unsigned todo;     /* recipients in 'T' */
  unsigned inflight; /* recipients being delivered now */
  unsigned failed;   /* recipients in 'F' */
  unsigned char *flight; /* per recipient: 1 while a delivery of it runs */
  unsigned refs;         /* entries in ready FIFOs, domain waiting lists and the retry heap */
  int gone;              /* finished and removed; freed when refs drops to 0 */
  int bounceretry;       /* a BOUNCE_RETRY entry is in the heap */
  unsigned flags;        /* the info header's flags (INFO_FLAG_*) */
  unsigned char ctl; /* send_ctl.c: CTL_HELD, CTL_DELETE */
};

#define INFO_FLAG_HELD 1U
#define INFO_FLAG_DELAYWARNED 2U /* the delay DSN has been sent */

struct job {
  struct msg *m;
  unsigned i;
  unsigned long long d; /* the delivery's number in the log, while it runs */
  unsigned n;           /* recipients in the slot's batch (chan.batch), while it runs */
  struct domain *dom;   /* remote: the domain whose count this delivery holds */
};

/* A destination domain of the remote channel: how many deliveries to it run, and the jobs
   that wait because that is concurrencydomain (send_domain.c). */
struct domain {
  struct domain *next; /* hash chain */
  unsigned busy;
  struct job *wait; /* FIFO: whead .. whead+wlen */
  size_t whead, wlen, wcap;
  char name[]; /* lowercase */
};
#define DOMAIN_HASH 1024

/* A retry entry with this recipient index means: try the message's bounce again. */
#define BOUNCE_RETRY (~0U)

struct retry {
  time_t when;
  struct msg *m;
  unsigned i;
};

struct chan {
  char const *name;
  int wfd, rfd; /* -1 when the channel has no spawner */
  unsigned conc, busy;
  struct job *slot;        /* conc entries; m == 0 when free */
  struct job *ready;       /* FIFO ring of jobs due now */
  size_t rhead, rlen, rcap;
  char *rbuf; /* partial replies from the spawner */
  size_t rbuflen;
  int packets;       /* the remote channel: a SOCK_SEQPACKET socket carrying the message fd */
  unsigned bmax;     /* recipients per request: 1 local, RSPAWN_RCPT_MAX remote */
  unsigned *batch;   /* conc * bmax recipient indexes, slot k's at k * bmax */
};

struct config {
  char me[256];
  char *locals; /* NUL-separated lines */
  size_t localslen;
  unsigned long conclocal, concremote;
  unsigned long retrybase, retrymax, lifetime;
  unsigned long concdomain, delaywarn;
  char bouncefrom[300];
};

/* send_ctl.c: queue control through the FIFO queue/lock/ctl (INTERNALS.md). */
#define CTL_HELD 1
#define CTL_DELETE 2
#define CTL_LINE_MAX 256   /* a command line; below PIPE_BUF, so qctl's writes are atomic */
#define CTL_PENDING_MAX 64 /* deletes waiting for a delivery under way */
struct ctl {
  int fd, wfd, lockfd;
  char buf[CTL_LINE_MAX];
  size_t len;
  int skip;
  unsigned npending;
  char pending[CTL_PENDING_MAX][QID_MAX + 1];
};

struct send {
  struct config cf;
  struct ctl ctl;
  struct chan ch[NCHAN];
  struct msg *msgs; /* list head */
  unsigned long nmsgs;
  struct retry *heap;
  size_t heaplen, heapcap;
  unsigned long long dcount; /* delivery numbers in the log */
  int stopping;
  time_t lostby;         /* a spawner has gone: exit 111 by then (mailroom-send.c) */
  char const *lostname;  /* its channel's name */
  void *newdir; /* the place in queue/new between two slices of pick-up */
  int rescan;   /* a trigger came while newdir was open: files after its start may be unseen */
  struct domain *dom[DOMAIN_HASH];
};

/* send_log.c: one line per event on stdout. */
extern void log_line(char const *event, struct msg const *m, char const *fmt, ...)
  __attribute__((format(printf, 3, 4)));
extern void log_flush(void);
extern void log_quote(char *out, size_t n, char const *text);

/* send_info.c: the per-message state file (INTERNALS.md). */
extern int info_create(struct msg const *m);
extern int info_load(struct msg *m);
extern int info_update(struct msg const *m, unsigned i, char const *text);
extern int info_setflags(struct msg const *m);
/* The last result text of recipient i, from the info file, into t (INFO_TEXT + 1 bytes). */
extern void info_text(struct msg const *m, unsigned i, char *t);

/* send_msg.c: loading, picking up, finishing messages. */
extern struct msg *msg_load(struct send *s, char const *dir, char const *id, int fresh);
extern int msg_islocal(struct config const *cf, char const *addr);
extern int msg_virtual(char const *addr, char **vaddr);
extern void msg_free(struct msg *m);
/* After a result or a failed bounce: bounce what failed when nothing of the message runs
   or is due, and remove the message when every recipient is done. m may be freed. */
extern void msg_progress(struct send *s, struct msg *m, time_t now);
/* Drops one queue reference (a FIFO, waiting-list or heap entry taken out); 1 if the message
   had gone and the entry must be skipped (the message may now be freed). */
extern int msg_unref(struct msg *m);

/* send_sched.c: ready queues and the retry heap. */
extern int sched_ready(struct send *s, struct msg *m, unsigned i);
/* A job to the front of its channel's FIFO (the message's reference moves with it). */
extern int sched_front(struct chan *c, struct job const *j);
extern int sched_later(struct send *s, struct msg *m, unsigned i, time_t when);
extern void sched_due(struct send *s, time_t now);
extern time_t sched_next(struct send const *s);
extern time_t sched_backoff(struct config const *cf, unsigned attempts, time_t now);
extern int sched_queue_msg(struct send *s, struct msg *m, time_t now);

/* send_domain.c: per-domain concurrency of the remote channel. */
extern struct domain *domain_find(struct send const *s, char const *name);
extern struct domain *domain_get(struct send *s, char const *name);
extern int domain_wait(struct domain *d, struct job const *j);
extern void domain_release(struct send *s, struct domain *d);

/* send_chan.c: the pipes to mailroom-lspawn and mailroom-rspawn. */
extern int chan_init(struct chan *c, char const *name, int wfd, int rfd, unsigned conc);
extern int chan_packets(struct chan *c);
extern void chan_dispatch(struct send *s, struct chan *c);
extern int chan_read(struct send *s, struct chan *c, time_t now);

/* send_result.c: what a delivery's result does to its message. */
extern void result_apply(struct send *s, struct msg *m, unsigned i, unsigned long long d, char r, char const *text,
                         time_t now);

/* send_bounce.c */
/* Sends the DSN for the recipients in 'F' (a bounce), or, with delayed, the delay warning
   for those in 'T'. 0 when queued or dropped by the rules, -1 to try again later. */
extern int bounce_send(struct send *s, struct msg *m, int delayed);
/* After recipient i was delivered: the "delivered" notice (or, relayed, the "relayed" one:
   a server without DSN took it) when its NOTIFY asks for SUCCESS. 0 sent or not wanted,
   -1 it could not be queued (the notice is then lost: the delivery is recorded). */
extern int notice_send(struct send *s, struct msg *m, unsigned i, int relayed);

/* send_scan.c: the queue folders. */
extern void scan_start(struct send *s, time_t now);
extern int scan_new(struct send *s, unsigned max, time_t now);
extern void scan_tmp(time_t now);

/* send_ctl.c */
extern int ctl_init(struct ctl *c);
extern void ctl_loadheader(struct msg *m, char const *hdr);
extern int ctl_park(struct send *s, struct msg *m, unsigned i);
extern void ctl_read(struct send *s, time_t now);
extern void ctl_poll(struct send *s);

/* config */
extern int config_read(struct config *cf);
#endif
