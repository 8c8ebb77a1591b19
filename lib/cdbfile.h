#ifndef MAILROOM_CDBFILE_H
#define MAILROOM_CDBFILE_H
/* The one shape of a control cdb's compile (STYLE.md, "durable write"): an exclusive flock
   of the text source meanwhile, the cdb written as tmp (tinycdb), fsynced, renamed over
   dst, the folder fsynced. Used by ctlmap_make (rcpthosts, recipients) and vdomain_make
   (virtualdomains). libc and tinycdb only. */
#include <cdb.h>

/* Adds the records: 0, or -1 with errno (the compile stops, tmp is removed). */
typedef int cdbfile_fill_fn(struct cdb_make *cm, void *ctx);

/* 0, or -1 with errno: ENOENT when src does not exist (dst is left as it is),
   EWOULDBLOCK when another run holds the lock, or fill's or the system's. dir is the
   folder of dst, fsynced after the rename. */
extern int cdbfile_make(char const *src, char const *tmp, char const *dst, char const *dir, cdbfile_fill_fn *fill,
                        void *ctx);
#endif
