#ifndef MAILROOM_QWPROTO_H
#define MAILROOM_QWPROTO_H
/* The queue writer's socket protocol (doc/INTERNALS.md, "The queue writer"): pure code,
   libc only, bytes in and results out, shared by mailroom-queued, lib/qwclient.c and the
   fuzz target.

   client -> writer, one packet:  "MRQW1 Q" with exactly 2 fds in SCM_RIGHTS (the read ends
                                  of the message pipe and the envelope pipe, in that order)
   writer -> client, one packet:  "MRQW1 G" (go: the pipes are being read), or a verdict
   writer -> client, one packet:  "MRQW1 V " 3-digit exit code [" " queue id, code 000 only]
   A refusal (over the client limit, a bad request) is a verdict sent instead of the go. */
#include <stddef.h>

#include "qid.h"

#define QW_MAGIC "MRQW1 "
#define QW_MAGIC_LEN 6
#define QW_REQUEST "MRQW1 Q"
#define QW_REQUEST_LEN 7
#define QW_GO "MRQW1 G"
#define QW_GO_LEN 7
#define QW_NFDS 2
/* The longest packet either side sends: a verdict with the longest id. A receiver reads
   one byte more than this, to see an oversized packet as such. */
#define QW_PACKET_MAX (QW_MAGIC_LEN + 2 + 3 + 1 + QID_MAX)

/* What qwproto_request() makes of a received request. */
#define QWR_OK 0
#define QWR_EMPTY -1    /* no bytes and no fds: the peer hung up */
#define QWR_TRUNC -2    /* the data or the ancillary data was cut (MSG_TRUNC, MSG_CTRUNC) */
#define QWR_HEADER -3   /* not "MRQW1 Q": wrong magic, version or kind, or extra bytes */
#define QWR_NFDS -4     /* not exactly QW_NFDS descriptors */

/* A request of len bytes with nfds descriptors; trunc is non-zero when recvmsg said
   MSG_TRUNC or MSG_CTRUNC. One of the QWR_ codes. */
extern int qwproto_request(char const *s, size_t len, unsigned nfds, int trunc);
extern char const *qwproto_strerror(int e);

/* Formats the verdict for exit code (0-255) and, when code is 0, id into out (at least
   QW_PACKET_MAX bytes, not NUL-terminated); returns its length. */
extern size_t qwproto_verdict(char *out, int code, char const *id);

/* A reply packet from the writer. Returns 'G' for the go, 'V' for a well-formed verdict
   (then *code is 0-255 and id holds the queue id, "" for a failure; id has QID_MAX + 1
   bytes), 0 for anything else: a verdict 000 without a valid id, or an id after another
   code, is malformed. */
extern int qwproto_reply(char const *s, size_t len, int *code, char *id);
#endif
