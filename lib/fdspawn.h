#ifndef MAILROOM_FDSPAWN_H
#define MAILROOM_FDSPAWN_H

#include <sys/types.h>

/* Starts prog (argv, the current environment) with posix_spawn, which clones without copying
   the parent's page tables: on this kind of machine a fork's copy was most of the cost of
   starting a per-message child (INTERNALS.md, "Performance").
   moves holds n pairs {from, to}, done in order in the child: to >= 0 makes fd `to` a copy of
   `from`; to < 0 closes `from`. The child starts with no signal blocked and SIGPIPE and SIGTERM
   at their defaults. Returns the pid, or -1 with errno set. */
pid_t fdspawn(char const *prog, char const *const *argv, int const (*moves)[2], unsigned n);

#endif
