#ifndef MAILROOM_LINESCAN_H
#define MAILROOM_LINESCAN_H
/* Reading a control file line by line through a small buffer, never holding it whole:
   the text lookups and compilers of ctlmap.c and vdomain_db.c, and mailroom-showctl.
   libc only. */
#include <stddef.h>

#define LINESCAN_MAX 1024              /* a longer line is passed cut, with toolong set */
#define LINESCAN_FILE_MAX (64UL << 20) /* a larger file is an error (EFBIG) */

/* One line, without its newline (the last line may lack one): lineno from 1; toolong when
   it was longer than LINESCAN_MAX (line then holds its first bytes). line may be changed
   in place. Return 0 to go on, 1 to stop, -1 for an error. */
typedef int linescan_fn(void *ctx, char *line, size_t len, int toolong, unsigned long lineno);

/* Streams path through f. 1 stopped by f, 0 read to the end, -1 error (errno: open's,
   read's, EFBIG, or f's). */
extern int linescan(char const *path, linescan_fn *f, void *ctx);
#endif
