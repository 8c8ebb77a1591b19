#ifndef MAILROOM_MAILDIR_H
#define MAILROOM_MAILDIR_H
/* Maildir (https://cr.yp.to/proto/maildir.html): unique names, and one delivery written
   to tmp/, fsynced, linked into new/, new/ fsynced. libc only. */
#include <stddef.h>

/* A unique name: "SEC.MusecPpidQcount.HOST", HOST with '/' and ':' written \057 and \072
   and cut to MAILDIR_HOST_MAX bytes before escaping. */
#define MAILDIR_HOST_MAX 64
/* The name in new/ also carries ",S=<octets on disk>,W=<octets with CR LF line ends>" (as
   Courier and Dovecot write them; lib/crlfsize.h), so that POP3 needs no read to list. */
#define MAILDIR_SIZES_MAX (2 * (3 + 20))
#define MAILDIR_NAME_MAX (20 + 2 + 6 + 1 + 20 + 1 + 20 + 1 + 4 * MAILDIR_HOST_MAX + MAILDIR_SIZES_MAX + 1)
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
/* Pure: "new/NAME,S=size,W=wsize" into s (n bytes). Its length or -1 (ENAMETOOLONG). */
extern int maildir_sized(char *s, size_t n, char const *name, unsigned long long size, unsigned long long wsize);

/* Delivers head[0..headlen) then len bytes of fd read with pread from offset off, into the
   Maildir dir ("./Maildir/" or "/abs/Maildir", relative to the cwd). On success returns 0
   and writes "new/NAME,S=n,W=n" into name (namemax bytes). On failure returns -1 with errno, sets
   *stage (MAILDIR_S*), and leaves nothing in tmp/. The file is mode 0600. */
extern int maildir_deliver(maildir_ctx *ctx, char const *dir, char const *head, size_t headlen,
                           int fd, unsigned long long off, unsigned long long len, char *name,
                           size_t namemax, int *stage);

/* One delivery between its two phases. */
typedef struct maildir_tmp_s maildir_tmp;
struct maildir_tmp_s {
  int dfd;   /* the Maildir folder, -1 once done or failed */
  int fd;    /* the tmp/ file, written but not yet fsynced; -1 once closed */
  int stage; /* MAILDIR_SOK, or where it failed */
  int err;   /* errno of the failure */
  char tmpname[4 + MAILDIR_NAME_MAX]; /* "tmp/NAME" */
  char newname[4 + MAILDIR_NAME_MAX]; /* "new/NAME,S=n,W=n" */
};
/* Phase 1: writes head + the message into dir's tmp/ without fsync. 0 (t holds the file, to
   be given to maildir_commit_many or maildir_abort), or -1 with errno, t->stage and t->err
   set and nothing left in tmp/. */
extern int maildir_write_tmp(maildir_ctx *ctx, char const *dir, char const *head, size_t headlen,
                             int fd, unsigned long long off, unsigned long long len, maildir_tmp *t);
/* Phase 2 for n deliveries written by maildir_write_tmp (a failed one is skipped): fsyncs
   every file, then links each into new/, then fsyncs each distinct new/ once. Each t[i]
   ends with stage MAILDIR_SOK (delivered and durable) or where it failed (err): nothing
   left in tmp/ then, and for MAILDIR_SSYNC the file is in new/ but perhaps not durable.
   Every fd is closed. */
extern void maildir_commit_many(maildir_tmp *const *t, size_t n);
/* Removes a delivery written by maildir_write_tmp and not committed. */
extern void maildir_abort(maildir_tmp *t);
#endif
