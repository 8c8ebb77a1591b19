/* A vforked child's last words: formatted on its own stack (vsnprintf uses no stream that
   stdio links into its global list, unlike dprintf), written with one write, then _exit. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "vfchild.h"

void vfchild_fail(int fd, int code, char const *fmt, ...)
{
  char buf[1024];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 1) {
    n = (int)sizeof buf - 1;
    buf[n - 1] = '\n';
  }
  if (n > 0) {
    ssize_t w = write(fd, buf, (size_t)n);
    (void)w; /* nothing more can be done about a lost line: the exit code still tells */
  }
  _exit(code);
}
