#ifndef MAILROOM_QW_H
#define MAILROOM_QW_H
/* mailroom-queued's modules: the clients (qw_client.c) and the group commit (qw_commit.c).
   All state is in one qw struct that main owns (doc/INTERNALS.md, "The queue writer"). */
#include <sys/types.h>

#include <skalibs/stralloc.h>
#include <skalibs/tai.h>

#include "qwrite.h"

#define QW_CHUNK 65536      /* bytes per read of a message pipe */
#define QW_READS_PER_WAKE 8 /* reads of one pipe per turn of the loop, so no client starves the rest */
#define QW_FDS_PER_CLIENT 4 /* the connection, two pipes, the tmp/ file */

enum qw_state {
  QW_FREE = 0,
  QW_REQ,   /* connected, waiting for the request packet */
  QW_MSG,   /* reading the message pipe into tmp/ID */
  QW_ENV,   /* reading the envelope pipe */
  QW_READY, /* file complete (not yet durable): joins the next commit */
};

typedef struct qw_client_s {
  enum qw_state state;
  int sock, msgfd, envfd, tmpfd;
  int tmpmade, newmade;
  qwrite_name n;
  unsigned long long msglen;
  unsigned long databytes;
  stralloc env;
  tain idle;  /* no byte for timeoutqueued seconds */
  tain death; /* the whole message: QWRITE_DEATH */
  uid_t uid;  /* the peer's, for the log */
  pid_t pid;
} qw_client;

typedef struct qw_s {
  qw_client *c;        /* max slots, allocated once */
  unsigned int max;    /* control/queuedclients */
  unsigned int n;      /* slots in use */
  unsigned int nready; /* of them, READY: the commit at the end of each turn skips the slots when 0 */
  unsigned int timeout;
  char const *dbfile;  /* absolute path of control/databytes */
  unsigned long pid;
  qwrite_clock last;   /* the last id made: ids are unique in the process */
  unsigned long long ncommits, nmsgs; /* for the log at exit */
  char chunk[QW_CHUNK];
} qw;

/* qw_client.c */
/* Takes every pending connection of the listening socket: a free slot, or, over the limit,
   the temporary-failure verdict at once. 0, or -1 when accept ran out of fds (EMFILE). */
extern int qw_accept(qw *w, int lsock);
/* Acts on a client whose fd became readable (or hung up): request, message, envelope. */
extern void qw_client_io(qw *w, qw_client *c, int fd);
/* Fails a client: the verdict code, then everything it made removed and closed. */
extern void qw_client_fail(qw *w, qw_client *c, int code, char const *why);
/* Removes and closes without a verdict (the client went away, or we stop). */
extern void qw_client_drop(qw *w, qw_client *c);
/* Sends the verdict (errors ignored: the client may be gone). */
extern void qw_client_verdict(qw_client *c, int code);
/* Frees the slot, closing whatever is open (nothing is unlinked). */
extern void qw_client_close(qw *w, qw_client *c);
/* The earliest deadline of the clients (into *d, if any); fails those past theirs. */
extern void qw_deadlines(qw *w, tain *d);

/* qw_commit.c */
/* Commits every READY client as one group; returns how many were accepted. */
extern unsigned int qw_commit(qw *w);
#endif
