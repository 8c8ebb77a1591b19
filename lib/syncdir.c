/* fsync of a folder (lib/syncdir.h). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "syncdir.h"

int syncdir(char const *dir)
{
  int e, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fsync(fd) < 0) {
    e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  close(fd);
  return 0;
}
