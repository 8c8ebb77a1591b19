#ifndef MAILROOM_VDOMAIN_DB_H
#define MAILROOM_VDOMAIN_DB_H
/* control/virtualdomains and its cdb (vdomain.h says what the rules mean): looked up in
   control/virtualdomains.cdb when it exists (mailroom-newcontrol makes it), else in the
   text, read line by line. Paths are relative to the cwd (the instance home). libc and
   tinycdb only (link -l:libcdb.a before -lskarnet, LIBRARIES.md). */
#include <stddef.h>
#include "vdomain.h"

#define VDOMAIN_FILE "control/virtualdomains"
#define VDOMAIN_CDB "control/virtualdomains.cdb"

/* The rule for addr (len bytes). 1: virtual, prefix (VDOMAIN_PREFIX_MAX + 1 bytes) holds
   the prefix and *kind (may be 0) how it matched; 0: not virtual (no rule, an exception,
   a bare local part, or neither file exists); -1: error (errno; EPROTO for a corrupt cdb).
   Lines of the text that do not parse are skipped (mailroom-newcontrol refuses them,
   mailroom-showctl names them). */
extern int vdomain_lookup(char const *addr, size_t len, char *prefix, enum vdomain_kind *kind);

/* Compiles control/virtualdomains into its cdb (.cdb.tmp, fsync, rename, control/
   fsynced) under an exclusive flock of the text. Returns the number of rules, or -1:
   errno EINVAL for a bad line (*badline 1-based, *why names the mistake; a key listed
   twice is one), EWOULDBLOCK when another run holds the lock, ENOENT when there is no
   text (any cdb is left as it is), else the system's. */
extern long vdomain_make(unsigned long *badline, char const **why);
#endif
