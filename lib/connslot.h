#ifndef MAILROOM_CONNSLOT_H
#define MAILROOM_CONNSLOT_H
/* Session slots shared by the independent per-connection processes of one service
   (tcpserver starts each; none knows the others): a folder of slot files, one per live
   session, each held by its session with an flock(2) lock. The kernel drops the lock when
   the process ends, however it ends, so a killed session leaks no slot; a file whose lock
   nobody holds is stale and counts for nothing. Names are the client's key
   (lib/connlimit.h) and a number: the client's sessions are its names that are locked.
   doc/INTERNALS.md, "Connection limits", says why this and not a counter. libc only. */
#include <stddef.h>

#include "connlimit.h"

#define CONNSLOT_NAME_MAX (CONNLIMIT_KEY_MAX + 12)
#define CONNSLOT_ANY_MAX 100000  /* slots one client may try when it has no limit */
#define CONNSLOT_FLAG ".overload" /* exists while the service is in overload mode */

struct connslot {
  int dirfd;                        /* the folder, or -1 */
  int fd;                           /* the held slot file, or -1 */
  char name[CONNSLOT_NAME_MAX + 1];
};
#define CONNSLOT_ZERO { -1, -1, "" }

/* Takes a slot of client key in folder dir: the first of key.0 .. key.(max-1) (max 0:
   CONNSLOT_ANY_MAX) that no live session holds. 1 taken (s->fd holds it until
   connslot_release or exit), 0 all max are held (the client is at its limit), -1 error
   (errno; ENOENT: there is no such folder, the limits are off). */
extern int connslot_take(struct connslot *s, char const *dir, char const *key, unsigned int max);
/* Gives the slot back: the file is removed (when our uid may), then unlocked. The folder
   stays open (s->dirfd) for a count; connslot_close() closes both. */
extern void connslot_release(struct connslot *s);
extern void connslot_close(struct connslot *s);
/* The sessions in use in folder dirfd: the slot files counted by name (one getdents for
   the whole folder); when that count reaches exact_from, each is tested for its lock and
   only the held ones count, the stale ones removed when reap. -1 error (errno). */
extern long connslot_count(int dirfd, unsigned long exact_from, int reap);
/* Overload mode in folder dirfd: on when thr sessions are in use, off again below low
   (low <= thr, so a load near thr does not flap). Cheap when it can be: one getdents
   decides while the names alone are below thr (off) or below low (on: off now); the slots'
   locks are tested (stale files reaped when reap) only to go on or off, or when the last
   such count, which every caller shares through the flag's mtime, is CONNSLOT_FRESH
   seconds old. 1 in the mode, 0 not, -1 error; *load the count, *changed 1 when this call
   turned the mode on or off (the caller logs it). */
#define CONNSLOT_FRESH 2
extern int connslot_overloaded(int dirfd, unsigned long thr, unsigned long low, int reap, long *load, int *changed);
/* connslot_overloaded for a service's limits c: on at their threshold, off below 80% of
   it, each change logged ("overload service=SVC state=on|off load=... threshold=...
   sessions=..."). 1 in the mode, else 0. */
extern int connslot_check(int dirfd, struct connlimit const *c, char const *svc);
/* Overload mode's flag in dirfd: made when over and missing, removed when not over and
   there. 1 if this call changed the mode, else 0. */
extern int connslot_setmode(int dirfd, int over);
/* 1 if the flag is there (the mode is on). */
extern int connslot_inmode(int dirfd);
/* Reads limits file (connlimit_parse over c's values): 0 (a missing file changes
   nothing), -1 (errno; EINVAL when the file is bad: *why and *line say where). */
extern int connlimit_load(char const *file, struct connlimit *c, unsigned int *line, char const **why);
/* One log line to fd 2 (cut at 511 bytes), in one write so lines of sessions never mix. */
extern void connslot_log(char const *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
