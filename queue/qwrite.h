#ifndef MAILROOM_QWRITE_H
#define MAILROOM_QWRITE_H
/* Writing a message file into the queue: what mailroom-queue (one message) and
   mailroom-queued (a group) share. The caller's cwd is the queue folder. */
#include <stddef.h>

#include "envelope.h"
#include "qid.h"

/* An injector gives up on a message after QWRITE_DEATH seconds. mailroom-send removes a
   tmp/ file after 36 hours whatever its pid says (INTERNALS.md, S1; send/send_scan.c's
   TMP_MAX_AGE): this must stay well below that, so a slow message's file is never removed
   under its writer. */
#define QWRITE_DEATH (24 * 3600)
/* The largest well-formed envelope: F, sender, NUL and its parameter records;
   ENV_RCPT_MAX times T, address, NUL and its parameter records; the final NUL. One byte
   more is an error. */
#define QWRITE_ENV_MAX \
  ((size_t)ENV_RCPT_MAX * (ENV_ADDR_MAX + 2 + ENV_RPARAMS_MAX) + ENV_ADDR_MAX + 3 + ENV_MPARAMS_MAX)

typedef struct qwrite_name_s {
  char id[QID_MAX + 1];
  char tmpfn[5 + QID_MAX]; /* "tmp/" id */
  char newfn[5 + QID_MAX]; /* "new/" id */
} qwrite_name;

/* Names the message sec.usec.pid. */
extern void qwrite_name_set(qwrite_name *n, unsigned long long sec, unsigned long usec, unsigned long pid);
/* The last id a process made, so that its ids stay unique when the clock repeats or steps
   back (the writer names many messages in one process). */
typedef struct qwrite_clock_s {
  unsigned long long sec;
  unsigned long usec;
} qwrite_clock;
/* Names the message (now, made later than *last; our pid) and creates tmp/ID (O_EXCL, 0640),
   trying a few names: a clash means a file left by an earlier process with our pid. The
   fd, or -1 with errno. */
extern int qwrite_create(qwrite_name *n, unsigned long pid, qwrite_clock *last);
/* The injector's exit code for a failed tmp/ creation: a full disk (no block or no inode)
   is QQ_WRITE, which callers say as "disk full"; anything else a broken queue. */
extern int qwrite_tmp_code(int err);
/* The exit code for an envelope_check() error. */
extern int qwrite_env_code(int e);
/* Appends the envelope and the trailer to the message file (msglen bytes so far). 0 or -1. */
extern int qwrite_tail(int fd, unsigned long long msglen, char const *env, size_t envlen);
/* After the message is safe: wakes mailroom-send through lock/trigger. Never fails. */
extern void qwrite_trigger(void);
#endif
