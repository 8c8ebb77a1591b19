/* A control cdb compiled durably from its text (cdbfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "cdbfile.h"
#include "syncdir.h"

int cdbfile_make(char const *src, char const *tmp, char const *dst, char const *dir, cdbfile_fill_fn *fill, void *ctx)
{
  struct cdb_make cm;
  int fd = -1, lock, e, started = 0;
  lock = open(src, O_RDONLY | O_CLOEXEC);
  if (lock < 0) return -1;
  /* the source stays locked while we work: two runs at once would share the .tmp */
  if (flock(lock, LOCK_EX | LOCK_NB) < 0) goto fail;
  /* O_RDWR: cdb_make_exists reads back the records it has flushed */
  fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) goto fail;
  if (cdb_make_start(&cm, fd) < 0) goto fail;
  started = 1;
  if (fill(&cm, ctx) < 0) goto fail;
  started = 0;
  if (cdb_make_finish(&cm) < 0) goto fail;
  if (fsync(fd) < 0) goto fail;
  if (close(fd) < 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (rename(tmp, dst) < 0) goto fail;
  close(lock);
  /* the rename is durable before we say so */
  return syncdir(dir);
fail:
  e = errno;
  /* tinycdb frees its records only in cdb_make_finish: into the tmp that goes away */
  if (started) (void)cdb_make_finish(&cm);
  if (fd >= 0) close(fd);
  unlink(tmp);
  close(lock);
  errno = e;
  return -1;
}
