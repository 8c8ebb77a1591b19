#ifndef MAILROOM_QWCLIENT_H
#define MAILROOM_QWCLIENT_H
/* The client side of the queue writer (mailroom-queued, doc/INTERNALS.md "The queue
   writer"): libc only. qwclient_start() makes the message and envelope pipes, hands their
   read ends to the writer and waits for its go; the caller then writes the message into
   msgfd and the envelope into envfd exactly as it would for mailroom-queue, closes both
   (qwclient_done_*), and qwclient_verdict() waits for the exit code and the queue id. */
#include <sys/types.h>

#include "qid.h"

/* The writer's socket, relative to the instance home. */
#define QW_SOCKET "queued/socket"
/* Seconds a client waits for the go before it falls back to mailroom-queue. */
#define QW_GO_WAIT 10

typedef struct qwclient_s {
  int sock;
  int msgfd, envfd; /* write ends of the pipes the writer reads */
  pid_t pid;        /* the writer's pid (SO_PEERCRED), for "qp" */
} qwclient;

/* Connects to the writer at path, passes the pipes and waits (QW_GO_WAIT s) for the go.
   0, or -1 with errno: the writer is not there (ENOENT, ECONNREFUSED), busy (EAGAIN), or
   refused (EBUSY, the code in *refused if refused is not 0), or answered badly (EPROTO),
   or a local error: the caller then falls back to the exec'd injector. Nothing is left open. */
extern int qwclient_start(qwclient *c, char const *path, int *refused);
/* Waits at most secs seconds for the verdict. Returns the exit code (0-255; on 0 id holds
   the queue id), or -1 with errno: ETIMEDOUT, EPIPE (the writer went away: the message is
   not accepted), EPROTO (a malformed verdict). */
extern int qwclient_verdict(qwclient *c, unsigned int secs, char *id);
/* Closes whatever is still open. */
extern void qwclient_close(qwclient *c);
#endif
