/* Control files. A missing file means the caller's default. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "control.h"

/* Reads at most max bytes of file into a malloc'd buffer. 1, 0 missing, -1. */
static int slurp(char const *file, char **s, size_t *n, size_t max)
{
  size_t len = 0, cap = 4096;
  char *buf;
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  buf = malloc(cap + 1);
  if (!buf) goto err;
  for (;;) {
    ssize_t r;
    if (len == cap) {
      char *nb;
      if (cap >= max) {
        errno = EFBIG;
        goto err;
      }
      cap = cap * 2 > max ? max : cap * 2;
      nb = realloc(buf, cap + 1);
      if (!nb) goto err;
      buf = nb;
    }
    r = read(fd, buf + len, cap - len);
    if (r < 0) {
      if (errno == EINTR) continue;
      goto err;
    }
    if (!r) break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = 0;
  *s = buf;
  *n = len;
  return 1;
err:
  {
    int e = errno;
    free(buf);
    close(fd);
    errno = e;
    return -1;
  }
}

static size_t trim(char const *s, size_t n)
{
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
  return n;
}

int control_readline(char const *file, char *s, size_t n, char const *def)
{
  char *buf;
  size_t len, l;
  int r = slurp(file, &buf, &len, 65536);
  if (r <= 0) {
    if (r < 0) return -1;
    goto dflt;
  }
  for (l = 0; l < len && buf[l] != '\n'; l++) ;
  l = trim(buf, l);
  if (!l) {
    free(buf);
    goto dflt;
  }
  if (l >= n) {
    free(buf);
    return (errno = EOVERFLOW, -1);
  }
  /* a NUL would cut the value short unseen: "\0" + "junk" would read as the number 0 */
  if (memchr(buf, 0, l)) {
    free(buf);
    return (errno = EINVAL, -1);
  }
  memcpy(s, buf, l);
  s[l] = 0;
  free(buf);
  return 1;
dflt:
  if (n) {
    size_t dl = def ? strlen(def) : 0;
    if (dl >= n) dl = n - 1;
    if (dl) memcpy(s, def, dl);
    s[dl] = 0;
  }
  return 0;
}

int control_readulong(char const *file, unsigned long *u, unsigned long def)
{
  char s[32];
  unsigned long x = 0;
  size_t i;
  int r = control_readline(file, s, sizeof s, 0);
  if (r <= 0) {
    if (r < 0) return -1;
    *u = def;
    return 0;
  }
  for (i = 0; s[i]; i++) {
    if (s[i] < '0' || s[i] > '9') return (errno = EINVAL, -1);
    if (x > (~0UL - 9) / 10) return (errno = EINVAL, -1);
    x = x * 10 + (unsigned long)(s[i] - '0');
  }
  *u = x;
  return 1;
}

int control_readlines(char const *file, char **s, size_t *n, size_t max)
{
  char *buf;
  size_t len, i = 0, w = 0;
  int r = slurp(file, &buf, &len, max);
  *s = 0;
  *n = 0;
  if (r <= 0) return r;
  while (i < len) {
    size_t j = i, l;
    while (j < len && buf[j] != '\n') j++;
    l = trim(buf + i, j - i);
    while (l && (buf[i] == ' ' || buf[i] == '\t')) i++, l--;
    if (l && buf[i] != '#' && !memchr(buf + i, 0, l)) {
      memmove(buf + w, buf + i, l);
      w += l;
      buf[w++] = 0;
    }
    i = j + 1;
  }
  *s = buf;
  *n = w;
  return 1;
}

int control_haslinecase(char const *lines, size_t n, char const *line, size_t len)
{
  size_t i = 0;
  while (i < n) {
    size_t l = strlen(lines + i);
    if (l == len && !strncasecmp(lines + i, line, len)) return 1;
    i += l + 1;
  }
  return 0;
}
