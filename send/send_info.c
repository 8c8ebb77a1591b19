/* The info file of a message: a header and one fixed-size record per recipient, updated
   in place so that recording a delivery is one pwrite (INTERNALS.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "send.h"

static void infopath(char *p, size_t n, char const *id)
{
  snprintf(p, n, "queue/info/%s", id);
}

static void record(char *r, struct msg const *m, unsigned i, char const *text)
{
  char t[INFO_TEXT + 1];
  size_t l = 0;
  if (text)
    for (; l < INFO_TEXT && text[l]; l++) t[l] = (text[l] >= 32 && text[l] < 127) ? text[l] : '?';
  memset(t + l, ' ', INFO_TEXT - l);
  t[INFO_TEXT] = 0;
  snprintf(r, INFO_RECORD + 1, "%c %c %8u %010llu %s\n", m->state[i], m->chan[i], m->attempts[i] % 100000000U,
           (unsigned long long)m->nexttry[i] % 10000000000ULL, t);
}

static int writeall(int fd, char const *s, size_t n, off_t off)
{
  while (n) {
    ssize_t w = pwrite(fd, s, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    s += w;
    n -= (size_t)w;
    off += w;
  }
  return 0;
}

static void header(char *buf, struct msg const *m)
{
  char hdr[INFO_HEADER + 1];
  snprintf(hdr, sizeof hdr, "MRI1 %010llu %08x %08u", m->arrival % 10000000000ULL, m->flags, m->nrcpt);
  memset(buf, ' ', INFO_HEADER);
  memcpy(buf, hdr, strlen(hdr));
  buf[INFO_HEADER - 1] = '\n';
}

int info_create(struct msg const *m)
{
  char path[QID_MAX + 20], rec[INFO_RECORD + 1];
  char *buf;
  size_t len = INFO_HEADER + (size_t)m->nrcpt * INFO_RECORD;
  int fd, r;
  buf = malloc(len);
  if (!buf) return -1;
  header(buf, m);
  for (unsigned i = 0; i < m->nrcpt; i++) {
    record(rec, m, i, 0); /* no text yet: blanks */
    memcpy(buf + INFO_HEADER + (size_t)i * INFO_RECORD, rec, INFO_RECORD);
  }
  infopath(path, sizeof path, m->id);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    free(buf);
    return -1;
  }
  r = writeall(fd, buf, len, 0);
  free(buf);
  if (close(fd) < 0) r = -1;
  return r;
}

static unsigned long long num(char const *s, size_t n, int *ok)
{
  unsigned long long x = 0;
  size_t i = 0;
  while (i < n && s[i] == ' ') i++;
  if (i == n) *ok = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') *ok = 0;
    x = x * 10 + (unsigned long long)(s[i] - '0');
  }
  return x;
}

/* Reads the recipients' states into m. Returns 1 if the file was valid and matched the
   message, 0 if it is missing or unusable (the caller starts afresh), -1 on error. */
int info_load(struct msg *m)
{
  char path[QID_MAX + 20];
  char *buf;
  size_t len = INFO_HEADER + (size_t)m->nrcpt * INFO_RECORD, got = 0;
  int fd, ok = 1;
  infopath(path, sizeof path, m->id);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  buf = malloc(len + 1);
  if (!buf) {
    close(fd);
    return -1;
  }
  while (got < len) {
    ssize_t r = read(fd, buf + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): len >= INFO_HEADER, as nrcpt * 256 cannot wrap a size_t */
  if (got != len || memcmp(buf, "MRI1 ", 5) != 0 || buf[INFO_HEADER - 1] != '\n' || num(buf + 25, 8, &ok) != m->nrcpt ||
      !ok)
    goto bad;
  {
    unsigned long f = 0;
    for (int k = 16; k < 24; k++) {
      char c = buf[k];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) goto bad;
      f = f * 16 + (unsigned long)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    m->flags = (unsigned)f;
  }
  for (unsigned i = 0; i < m->nrcpt; i++) {
    char const *r = buf + INFO_HEADER + (size_t)i * INFO_RECORD;
    if (r[INFO_RECORD - 1] != '\n' || !strchr("TDFB", r[0]) || !r[0] || (r[2] != 'L' && r[2] != 'R')) goto bad;
    m->state[i] = (unsigned char)r[0];
    m->chan[i] = (unsigned char)r[2];
    m->attempts[i] = (unsigned)num(r + 4, 8, &ok);
    m->nexttry[i] = (time_t)num(r + 13, 10, &ok);
    if (!ok) goto bad;
  }
  ctl_loadheader(m, buf); /* the held bit, once the whole file proved valid */
  free(buf);
  return 1;
bad:
  free(buf);
  return 0;
}

int info_update(struct msg const *m, unsigned i, char const *text)
{
  char path[QID_MAX + 20], rec[INFO_RECORD + 1];
  int fd, r;
  infopath(path, sizeof path, m->id);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  record(rec, m, i, text);
  r = writeall(fd, rec, INFO_RECORD, INFO_HEADER + (off_t)i * INFO_RECORD);
  if (close(fd) < 0) r = -1;
  return r;
}

int info_setflags(struct msg const *m)
{
  char path[QID_MAX + 20], hdr[INFO_HEADER];
  int fd, r;
  infopath(path, sizeof path, m->id);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  header(hdr, m);
  r = writeall(fd, hdr, INFO_HEADER, 0);
  if (close(fd) < 0) r = -1;
  return r;
}

void info_text(struct msg const *m, unsigned i, char *t)
{
  char path[QID_MAX + 20];
  ssize_t r = 0;
  int fd;
  infopath(path, sizeof path, m->id);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    r = pread(fd, t, INFO_TEXT, INFO_HEADER + (off_t)i * INFO_RECORD + 24);
    close(fd);
  }
  if (r < 0) r = 0;
  while (r && t[r - 1] == ' ') r--;
  t[r] = 0;
}
