#ifndef MAILROOM_MAILDIR_H
#define MAILROOM_MAILDIR_H
/* Maildir (https://cr.yp.to/proto/maildir.html): unique names, and one delivery written
   to tmp/, fsynced, linked into new/, new/ fsynced. libc only. */
#include <stddef.h>

/* A unique name: "SEC.MusecPpidQcount.HOST", HOST with '/' and ':' written \057 and \072
   and cut to MAILDIR_HOST_MAX bytes before escaping. */
#define MAILDIR_HOST_MAX 64
#define MAILDIR_NAME_MAX (20 + 2 + 6 + 1 + 20 + 1 + 20 + 1 + 4 * MAILDIR_HOST_MAX + 1)
/* Tries of O_EXCL creation in tmp/ before giving up (each with the next counter). */
#define MAILDIR_TRIES 5
/* The copy buffer of a delivery. */
#define MAILDIR_BUFSIZE 8192

/* Where maildir_deliver() failed, for the caller's text. */
#define MAILDIR_SOK 0
#define MAILDIR_SDIR 1   /* the Maildir folder itself cannot be opened (ENOENT: missing) */
#define MAILDIR_STMP 2   /* no file could be created in tmp/ */
#define MAILDIR_SREAD 3  /* the message could not be read (EPROTO: shorter than len) */
#define MAILDIR_SWRITE 4 /* writing, fsync or close of the tmp/ file */
#define MAILDIR_SNEW 5   /* linking it into new/ (ENOENT: new/ is missing) */
#define MAILDIR_SSYNC 6  /* fsync of new/ (the message is in new/ but may not be durable) */

/* State kept across the deliveries of one process: the Q counter and the host. */
typedef struct maildir_ctx_s maildir_ctx;
struct maildir_ctx_s {
  unsigned long count;
  char host[4 * MAILDIR_HOST_MAX + 1]; /* escaped; empty until the first delivery */
};
#define MAILDIR_CTX_ZERO { 0, { 0 } }

/* Pure: the escaped host name into d (4 * MAILDIR_HOST_MAX + 1 bytes, NUL-terminated). An
   empty host becomes "localhost". */
extern void maildir_hostesc(char *d, char const *host);
/* Pure: a name into s (n bytes, NUL-terminated). Returns its length or -1 (ENAMETOOLONG). */
extern int maildir_name(char *s, size_t n, unsigned long long sec, unsigned long usec,
                        unsigned long pid, unsigned long count, char const *eschost);

/* Delivers head[0..headlen) then len bytes of fd read with pread from offset off, into the
   Maildir dir ("./Maildir/" or "/abs/Maildir", relative to the cwd). On success returns 0
   and writes "new/NAME" into name (namemax bytes). On failure returns -1 with errno, sets
   *stage (MAILDIR_S*), and leaves nothing in tmp/. The file is mode 0600. */
extern int maildir_deliver(maildir_ctx *ctx, char const *dir, char const *head, size_t headlen,
                           int fd, unsigned long long off, unsigned long long len, char *name,
                           size_t namemax, int *stage);
#endif
