#ifndef MAILROOM_MSGFILE_H
#define MAILROOM_MSGFILE_H
/* A message file of the queue: [message][envelope][32-byte trailer] (INTERNALS.md). */
#include <stddef.h>
#include <sys/types.h>

#define MSGFILE_TRAILER 32

/* Formats the trailer into t (MSGFILE_TRAILER bytes, no NUL). */
extern void msgfile_trailer(char *t, unsigned long long msglen, unsigned long envlen);
/* Parses a trailer; 0 on success, -1 if malformed. Pure. */
extern int msgfile_parse_trailer(char const *t, unsigned long long *msglen, unsigned long *envlen);

/* Opens and checks a message file: reads the trailer and the envelope (into a malloc'd,
   NUL-padded buffer *env of *envlen bytes, already envelope_check()ed), sets *msglen.
   Returns the open fd (O_RDONLY, offset unspecified) or -1 with errno (EPROTO for a
   malformed file). Caller frees *env and closes the fd. */
extern int msgfile_open(char const *path, unsigned long long *msglen, char **env, size_t *envlen);
/* Same on an already open fd. 0 or -1. */
extern int msgfile_read(int fd, unsigned long long *msglen, char **env, size_t *envlen);
#endif
