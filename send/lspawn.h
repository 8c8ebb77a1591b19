#ifndef MAILROOM_LSPAWN_H
#define MAILROOM_LSPAWN_H
/* mailroom-lspawn's warm deliverers (lspawn_worker.c): one mailroom-local -w per recipient
   uid while that uid has work, fed jobs over a SOCK_SEQPACKET socket (lwproto.h). */
#include <sys/types.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include "assign.h"
#include "lwproto.h"

#define LSPAWN_WORKERS_MAX (2 * LW_SLOTS) /* live workers, retiring ones included */
#define LSPAWN_WORKERS_SOFT LW_SLOTS      /* past this, an idle worker is retired for a new one */
#define LSPAWN_INFLIGHT_MAX 64            /* jobs sent to one worker and not answered yet */

struct lsslot {
  int busy;
  int w;       /* the worker that has it */
  char *pkt;   /* the job, while it waits to be sent; 0 once sent */
  size_t len;
  int fd;      /* the message file, while it waits; -1 once sent */
  int next;    /* the worker's queue of slots waiting to be sent */
};

struct lsworker {
  pid_t pid;          /* 0: the entry is free */
  int fd;             /* lspawn's end of the socket, -1 once closed */
  unsigned long uid, gid;
  int retiring;       /* takes no new job; its write side is shut once its queue is empty */
  int shut;
  unsigned inflight;  /* jobs sent and not answered */
  unsigned long jobs; /* jobs given to it */
  int qhead, qtail;   /* slots waiting to be sent (socket full or LSPAWN_INFLIGHT_MAX) */
  tain born, idle;    /* idle: when it last had nothing to do */
};

struct lsconf {
  unsigned long msgs; /* control/localworkermessages */
  unsigned long idle; /* control/localworkeridle, seconds */
  unsigned long life; /* control/localworkerlife, seconds */
};

struct lspool {
  struct lsconf cf;
  int devnull;
  unsigned live;
  struct lsslot slot[LW_SLOTS];
  struct lsworker w[LSPAWN_WORKERS_MAX];
};

/* Said to mailroom-send: mailroom-lspawn.c. */
extern void lspawn_reply(unsigned slot, char result, char const *text);

extern void lspool_init(struct lspool *p, struct lsconf const *cf);
extern int lspool_slotbusy(struct lspool const *p, unsigned slot);
/* Gives the job (pkt[0..len), the message file msgfd, which the pool now owns) for slot to
   u's worker, started if there is none. On failure the slot is answered Z here. */
extern void lspool_job(struct lspool *p, unsigned slot, struct assign_user const *u,
                       char const *pkt, size_t len, int msgfd);
/* The sockets to wait on, into x (room for LSPAWN_WORKERS_MAX), their workers into map;
   returns how many. *deadline gets the next idle retirement. */
extern unsigned lspool_fds(struct lspool *p, iopause_fd *x, unsigned *map, tain *deadline);
extern void lspool_io(struct lspool *p, unsigned w, int revents);
/* Workers whose idle or lifetime bound passed are told to go; with all = 1, every one
   (mailroom-send closed the requests). */
extern void lspool_timers(struct lspool *p, int all);
extern void lspool_reap(struct lspool *p);
#endif
