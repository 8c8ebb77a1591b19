#ifndef MAILROOM_CTLMAP_H
#define MAILROOM_CTLMAP_H
/* Sets of keys kept in control files, one a line (control/rcpthosts, control/recipients):
   looked up in control/NAME.cdb when it exists (tinycdb; mailroom-newcontrol makes it from
   control/NAME), else by reading control/NAME line by line, so a short list needs no
   compiling and a long one is one lookup. Keys compare case-insensitively (ASCII); in
   the text, blank lines and lines starting with '#' are skipped, and spaces, tabs and
   CR around a line are cut. Paths are relative to the cwd (the instance home). libc and
   tinycdb only (link -l:libcdb.a before -lskarnet, LIBRARIES.md). */
#include <stddef.h>
#include "linescan.h"

#define CTLMAP_KEY_MAX LINESCAN_MAX /* 1024: longer lines never match; mailroom-newcontrol refuses them */
#define CTLMAP_FILE_MAX LINESCAN_FILE_MAX /* a text file larger than this is an error (EFBIG) */

/* 1 if key (len bytes) is in control/NAME(.cdb), 0 if not or if neither file exists,
   -1 on error (errno; EPROTO for a corrupt cdb). */
extern int ctlmap_has(char const *name, char const *key, size_t len);
/* 1 if control/NAME.cdb or control/NAME exists, 0 if neither, -1 on error. */
extern int ctlmap_exists(char const *name);
/* Compiles control/NAME to control/NAME.cdb (written as NAME.cdb.tmp, fsynced, renamed,
   control/ fsynced), holding an exclusive flock on control/NAME meanwhile. Returns the
   number of lines stored (>= 0), or -1 with errno (EINVAL: a line longer than
   CTLMAP_KEY_MAX, *badline says which, 1-based; EWOULDBLOCK: another run holds the lock).
   A missing control/NAME gives -1 ENOENT and leaves any NAME.cdb as it is. */
extern long ctlmap_make(char const *name, unsigned long *badline);
#endif
