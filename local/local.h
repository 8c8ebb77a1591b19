#ifndef MAILROOM_LOCAL_H
#define MAILROOM_LOCAL_H
/* mailroom-local's state and modules. Each module returns 0 or -1; on -1 it has said why
   in l->why (and l->err, l->obj, ...), and mailroom-local.c turns that into the one line
   of text and the exit code, so that every reply is written in one place. */
#include <stddef.h>
#include <skalibs/stralloc.h>
#include "dotqmail.h"
#include "maildir.h"

#define LOCAL_TEXT_MAX 900       /* the report line (INTERNALS.md: at most 900 bytes) */
#define LOCAL_OUT_MAX 300        /* what is kept of the first line a program prints */
#define LOCAL_PROG_TIMEOUT 86400 /* |program deliveries (qmail-local: none; lspawn waits) */
#define LOCAL_FWD_TIMEOUT 86400  /* the injector dies after 24h by itself (INTERNALS.md) */
#define LOCAL_MBOX_LOCKWAIT 30   /* seconds an mbox may stay locked by someone else */
#define LOCAL_COPY_BUF 8192      /* every copy of the message goes through this much */
#define LOCAL_DEFAULT_DELIVERY "./Maildir/"
#define LOCAL_PEND_MAX 4         /* Maildir lines of a dot file that a worker runs in a group */

/* Why a step failed: mailroom-local.c has one text per value. */
enum local_why {
  LW_OK = 0,
  LW_NOMEM,
  LW_HOMEMISSING,  /* chdir(home): ENOENT */
  LW_HOME,         /* chdir or stat of home, err */
  LW_HOMEWRITABLE,
  LW_HOMESTICKY,
  LW_READMSG,      /* err */
  LW_SHORTMSG,     /* the message file is shorter than msglen */
  LW_LOOP,         /* permanent */
  LW_NOMAILBOX,    /* permanent: an extension without a dot file */
  LW_DOTOPEN,      /* obj = dot file, err */
  LW_DOTBIG,       /* obj */
  LW_DOTSYNTAX,    /* obj, lineno, err = DQ_E* */
  LW_FWDONLY,      /* obj: x bit set and a file or program line */
  LW_MAILDIR,      /* obj = the line, err, stage */
  LW_MBOXOPEN,     /* obj, err */
  LW_MBOXLOCK,     /* obj */
  LW_MBOXWRITE,    /* obj, err */
  LW_SPAWN,        /* obj = what, err: pipe, fork */
  LW_PROGPERM,     /* status = exit code, out: 100 (and sendmail's hard codes) */
  LW_PROGTEMP,     /* status = exit code, out */
  LW_PROGSIG,      /* status = signal, out */
  LW_PROGTIMEOUT,
  LW_FWDPERM,      /* status = the injector's exit code (11..40), out */
  LW_FWDTEMP,      /* status, out */
  LW_FWDSIG,       /* status = signal, out */
  LW_FWDTIMEOUT
};

typedef struct local_s local;
struct local_s {
  /* the arguments */
  char const *user;
  char const *home;
  char const *local;
  char const *dash;
  char const *ext;
  char const *domain;
  char const *sender;
  char const *defaultdelivery;
  unsigned long long msglen;
  int msgfd; /* 0: the queue's message file, read with pread from offset 0 */

  /* made by local_setup() */
  stralloc recip;     /* local@domain, NUL-terminated */
  stralloc dtline;    /* "Delivered-To: local@domain\n" */
  stralloc rpline;    /* "Return-Path: <sender>\n" */
  stralloc ufline;    /* "From sender date\n" */
  stralloc hdr;       /* rpline then dtline: what Maildir deliveries start with */
  stralloc newsender; /* NUL-terminated: the sender of forwards */

  /* the dot file (local_dot.c); when there is none, or it is empty, dot holds
     defaultdelivery and usedefault is 1 */
  char dotname[DOTQMAIL_NAME_MAX];
  int usedefault;
  stralloc dot;
  int forwardonly; /* the dot file has its owner x bit: forwards only (qmail) */

  /* progress */
  maildir_ctx md;
  unsigned int nfile;
  unsigned int nprog;
  unsigned int nfwd;
  int stop;     /* a program exited 99 */
  stralloc fwd; /* the forwards' envelope, built as lines are read */
  char text[LOCAL_TEXT_MAX + 1];
  size_t textlen;

  /* a job whose lines are all Maildir lines, run in a worker's group (local_worker.c):
     written to tmp/, committed with the others' */
  maildir_tmp pend[LOCAL_PEND_MAX];
  char penddir[LOCAL_PEND_MAX][DOTQMAIL_LINE_MAX + 1];
  unsigned int npend;

  /* the failure */
  int why;
  int err;
  int stage;
  int status;        /* exit code or signal of a child */
  unsigned int lineno;
  char obj[DOTQMAIL_LINE_MAX + 1];
  char out[LOCAL_OUT_MAX + 1];
};

/* local_env.c */
extern void local_init(local *l);
/* Before the next job of a worker: every per-job field back to its start, the environment
   local_setup() and local_finddot() set removed; the strallocs' memory and md are kept. */
extern void local_reset(local *l);
extern void local_clearenv(void);
extern int local_setup(local *l, unsigned long long now);
extern int local_quote(stralloc *sa, char const *addr);
/* "Sun Nov 23 10:34:00 2025\n" (UTC) into s, 32 bytes; returns the length (25). */
extern size_t local_ctime(char *s, unsigned long long t);
/* local_dot.c */
extern int local_checkhome(local *l);
extern int local_finddot(local *l);
extern int local_newsender(local *l);
/* local_msg.c */
extern int local_checkmsg(local *l);
extern int local_loopcheck(local *l);
extern int local_hasdtline(char const *hdr, size_t len, char const *recip, size_t rlen);
/* local_mbox.c */
typedef struct mboxq_s mboxq;
struct mboxq_s {
  unsigned int state; /* 0 at a line start, 1..4 held that much of "From ", 6 in a line */
};
/* mboxrd quoting of in[0..len) into out, which has room for 6 * len bytes; returns the
   bytes written. mboxq_end writes what is still held (at most 4 bytes). Pure. */
extern size_t mboxq_put(mboxq *q, char const *in, size_t len, char *out, size_t *used);
extern size_t mboxq_end(mboxq const *q, char *out);
extern int local_mbox(local *l, char const *fn);
/* local_run.c */
typedef struct local_run_s local_run_t;
struct local_run_s {
  char const *const *argv;
  char const *head; /* written to the child's fd 0 before the message */
  size_t headlen;
  char const *fd1; /* if not 0: the child's fd 1 is a pipe fed these bytes (an envelope), */
  size_t fd1len;   /* and only its fd 2 is read; else its fds 1 and 2 are read */
  unsigned int timeout;
  int wstat;    /* out: how it ended */
  int timedout; /* out: killed after timeout seconds */
  char out[LOCAL_OUT_MAX + 1]; /* out: its first line of output, cut, NUL-terminated */
};
/* Runs r->argv with head + the message on its fd 0. 0 when the child ran and was reaped
   (see wstat, timedout, out), -1 with l->why (LW_SPAWN, LW_READMSG, LW_SHORTMSG). */
extern int local_run(local *l, local_run_t *r);
/* local_deliver.c */
extern int local_deliver(local *l);
/* 1 if the dot file (or default delivery) is Maildir lines only, at most LOCAL_PEND_MAX and
   at least one, and can be run in a group: local_deliver_tmp(), maildir_commit_many() of
   l->pend with the others, local_deliver_done(). */
extern int local_maildironly(local const *l);
extern int local_deliver_tmp(local *l);
extern int local_deliver_done(local *l);
/* local_reply.c: the text (LOCAL_TEXT_MAX + 1 bytes) and exit code of a failure */
extern int local_reply(local const *l, char *text);
/* local_worker.c: mailroom-local -w, jobs from mailroom-lspawn on sock; returns the exit code */
extern int local_worker(int sock);
extern int local_progperm(int code);
extern int local_fwdperm(int code);
extern void local_say(local *l, char const *s);
extern void local_textcat(char *t, size_t *len, size_t max, char const *s);
#endif
