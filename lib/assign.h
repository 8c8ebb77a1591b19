#ifndef MAILROOM_ASSIGN_H
#define MAILROOM_ASSIGN_H
/* users/assign (qmail-users(5)) and its cdb: who receives mail for a local part.
   libc and tinycdb only (a program that calls assign_lookup links -l:libcdb.a before
   -lskarnet, LIBRARIES.md). See INTERNALS.md "Finding the user". */
#include <stddef.h>

#define ASSIGN_FIELD_MAX 1024
#define ASSIGN_USER_MAX 256
/* A cdb key: '=' or '+', then at most ASSIGN_FIELD_MAX - 1 bytes of local part. */
#define ASSIGN_KEY_MAX ASSIGN_FIELD_MAX
/* A cdb value: user, uid, gid, home, dash, ext, each NUL-terminated, each within its bound. */
#define ASSIGN_VAL_MAX (ASSIGN_USER_MAX + 2 * 11 + 2 * ASSIGN_FIELD_MAX + 2)
/* users/assign lines longer than this are refused by mailroom-newu. */
#define ASSIGN_LINE_MAX 4096

struct assign_user {
  char user[ASSIGN_USER_MAX];
  unsigned long uid, gid;
  char home[ASSIGN_FIELD_MAX];
  char dash[2];
  char ext[ASSIGN_FIELD_MAX];
};

/* Finds the user for a local part (any case; compared lowercase): users/assign.cdb's exact
   entry, then its longest '+' wildcard, then the system passwd user (getpwnam), the whole
   local part first, then split at the first '-' as user-ext. A uid-0 system user is not a
   mail user, nor one whose home folder is not its own (qmail-getpw's rule). Returns 1 found
   (*u filled, ext = the extension for the dot file, lowercase, dash = "-" or ""), 0 no such
   user, -1 temporary error (errno; EPROTO for a corrupt cdb or entry). cdbpath 0 means
   "users/assign.cdb" relative to cwd; a missing cdb is not an error. */
extern int assign_lookup(char const *cdbpath, char const *local, struct assign_user *u);

/* The parser for one users/assign line (pure, for mailroom-newu and tests), without its
   newline: returns 1 and fills the key (e.g. "=demo" or "+demo-", local part lowercased)
   and value (user\0uid\0gid\0home\0dash\0ext\0, numbers in canonical decimal) into caller
   buffers with lengths; 0 for the final "." line; -1 malformed (errno EINVAL; a static
   reason string via *why). Buffers of ASSIGN_KEY_MAX and ASSIGN_VAL_MAX always suffice. */
extern int assign_parseline(char const *line, size_t len, char *key, size_t *keylen, size_t keymax,
                            char *val, size_t *vallen, size_t valmax, char const **why);

/* Checks a cdb value (as assign_parseline makes it) and fills *u from it, ext included.
   Returns 0, or -1 (errno EPROTO) if it is malformed. Pure. */
extern int assign_unpack(char const *val, size_t vallen, struct assign_user *u);
#endif
