/* A queue message file: [message][envelope][trailer]. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "envelope.h"
#include "msgfile.h"

/* The largest envelope a reader accepts: every recipient at its longest. */
#define ENV_BYTES_MAX \
  ((unsigned long)ENV_RCPT_MAX * (ENV_ADDR_MAX + 2 + ENV_RPARAMS_MAX) + ENV_ADDR_MAX + 3 + ENV_MPARAMS_MAX)

void msgfile_trailer(char *t, unsigned long long msglen, unsigned long envlen)
{
  char buf[MSGFILE_TRAILER + 1];
  snprintf(buf, sizeof buf, "MRQ1 %016llx%010lx\n", msglen, envlen);
  memcpy(t, buf, MSGFILE_TRAILER);
}

static int hexfield(char const *s, size_t n, unsigned long long *v)
{
  unsigned long long x = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return -1;
    x = (x << 4) | (unsigned long long)d;
  }
  *v = x;
  return 0;
}

int msgfile_parse_trailer(char const *t, unsigned long long *msglen, unsigned long *envlen)
{
  unsigned long long m, e;
  if (memcmp(t, "MRQ1 ", 5) != 0 || t[31] != '\n') return -1;
  if (hexfield(t + 5, 16, &m) < 0 || hexfield(t + 21, 10, &e) < 0) return -1;
  if (e > ENV_BYTES_MAX) return -1;
  *msglen = m;
  *envlen = (unsigned long)e;
  return 0;
}

static int preadall(int fd, char *s, size_t n, off_t off)
{
  while (n) {
    ssize_t r = pread(fd, s, n, off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (!r) return (errno = EPROTO, -1);
    s += r;
    n -= (size_t)r;
    off += r;
  }
  return 0;
}

int msgfile_read(int fd, unsigned long long *msglen, char **env, size_t *envlen)
{
  struct stat st;
  char t[MSGFILE_TRAILER];
  unsigned long long m;
  unsigned long e;
  char *s;
  if (fstat(fd, &st) < 0) return -1;
  if (st.st_size < MSGFILE_TRAILER) return (errno = EPROTO, -1);
  if (preadall(fd, t, MSGFILE_TRAILER, st.st_size - MSGFILE_TRAILER) < 0) return -1;
  if (msgfile_parse_trailer(t, &m, &e) < 0) return (errno = EPROTO, -1);
  if (m > (unsigned long long)st.st_size || (unsigned long long)st.st_size != m + e + MSGFILE_TRAILER)
    return (errno = EPROTO, -1);
  s = malloc(e + 1);
  if (!s) return -1;
  if (preadall(fd, s, e, (off_t)m) < 0) {
    free(s);
    return -1;
  }
  s[e] = 0;
  if (envelope_check(s, e, 0) != ENV_OK) {
    free(s);
    return (errno = EPROTO, -1);
  }
  *msglen = m;
  *env = s;
  *envlen = e;
  return 0;
}

int msgfile_open(char const *path, unsigned long long *msglen, char **env, size_t *envlen)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (msgfile_read(fd, msglen, env, envlen) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}
