/* Control files line by line (linescan.h). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "linescan.h"

#define READBUF 4096

int linescan(char const *path, linescan_fn *f, void *ctx)
{
  char buf[READBUF];
  char line[LINESCAN_MAX];
  size_t len = 0;
  unsigned long long total = 0;
  unsigned long lineno = 1;
  int toolong = 0, r = 0, e;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      r = -1;
      break;
    }
    total += (unsigned long long)n;
    if (total > LINESCAN_FILE_MAX) {
      errno = EFBIG;
      r = -1;
      break;
    }
    if (!n) {
      if (len || toolong) r = f(ctx, line, len, toolong, lineno);
      break;
    }
    for (ssize_t i = 0; i < n && !r; i++) {
      if (buf[i] == '\n') {
        r = f(ctx, line, len, toolong, lineno++);
        len = 0;
        toolong = 0;
      } else if (len < sizeof line) line[len++] = buf[i];
      else toolong = 1;
    }
    if (r) break;
  }
  e = errno;
  close(fd);
  errno = e;
  return r < 0 ? -1 : r;
}
