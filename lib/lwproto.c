/* The job and reply packets between mailroom-lspawn and a warm mailroom-local. */
#include <string.h>
#include "lwproto.h"

/* A canonical decimal (no sign, no leading zero, at most 20 digits) in s[0..n). */
static int decimal(char const *s, size_t n, unsigned long long max, unsigned long long *v)
{
  unsigned long long x = 0;
  if (!n || n > 20 || (n > 1 && s[0] == '0')) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned d;
    if (s[i] < '0' || s[i] > '9') return -1;
    d = (unsigned)(s[i] - '0');
    if (x > (max - d) / 10) return -1;
    x = x * 10 + d;
  }
  *v = x;
  return 0;
}

/* Splits buf[0..len) into exactly n NUL-terminated fields, each at most max bytes. */
static int fields(char const *buf, size_t len, char const **f, size_t *fl, unsigned n, size_t max)
{
  size_t i = 0;
  for (unsigned k = 0; k < n; k++) {
    char const *z = i < len ? memchr(buf + i, 0, len - i) : 0;
    if (!z) return -1;
    f[k] = buf + i;
    fl[k] = (size_t)(z - (buf + i));
    if (fl[k] > max) return -1;
    i += fl[k] + 1;
  }
  return i == len ? 0 : -1;
}

static size_t put(char *buf, size_t w, char const *s)
{
  size_t n = strlen(s);
  memcpy(buf + w, s, n + 1);
  return w + n + 1;
}

/* v in decimal and its NUL at buf + w; returns the new w. */
static size_t putnum(char *buf, size_t w, unsigned long long v)
{
  char t[24];
  int m = 0;
  do t[m++] = (char)('0' + v % 10); while ((v /= 10));
  while (m) buf[w++] = t[--m];
  buf[w++] = 0;
  return w;
}

size_t lwproto_job_fmt(char *buf, lwjob const *j)
{
  char const *f[LW_JOB_FIELDS - 2] = { j->user, j->home, j->local, j->dash, j->ext, j->domain,
                                       j->sender, j->defaultdelivery };
  size_t w;
  if (j->slot >= LW_SLOTS) return 0;
  for (unsigned k = 0; k < LW_JOB_FIELDS - 2; k++)
    if (strlen(f[k]) > LW_FIELD_MAX) return 0;
  w = putnum(buf, 0, j->slot);
  for (unsigned k = 0; k < 7; k++) w = put(buf, w, f[k]);
  w = putnum(buf, w, j->msglen);
  return put(buf, w, f[7]);
}

int lwproto_job_parse(char const *buf, size_t len, lwjob *j)
{
  char const *f[LW_JOB_FIELDS];
  size_t fl[LW_JOB_FIELDS];
  unsigned long long v;
  if (fields(buf, len, f, fl, LW_JOB_FIELDS, LW_FIELD_MAX) < 0) return -1;
  if (decimal(f[0], fl[0], LW_SLOTS - 1, &v) < 0) return -1;
  j->slot = (unsigned)v;
  if (f[2][0] != '/') return -1;
  if (fl[4] > 1 || (fl[4] == 1 && f[4][0] != '-')) return -1;
  if (decimal(f[8], fl[8], ~0ULL >> 1, &j->msglen) < 0) return -1;
  j->user = f[1];
  j->home = f[2];
  j->local = f[3];
  j->dash = f[4];
  j->ext = f[5];
  j->domain = f[6];
  j->sender = f[7];
  j->defaultdelivery = f[9];
  return 0;
}

size_t lwproto_reply_fmt(char *buf, unsigned slot, int code, char const *text)
{
  size_t w;
  if (slot >= LW_SLOTS || (code != 0 && code != 99 && code != 100 && code != 111)) return 0;
  w = putnum(buf, 0, slot);
  w = putnum(buf, w, (unsigned long long)code);
  for (size_t i = 0; i < LW_TEXT_MAX && text[i]; i++) {
    unsigned char c = (unsigned char)text[i];
    buf[w++] = c < 32 || c > 126 ? '?' : (char)c;
  }
  buf[w++] = 0;
  return w;
}

int lwproto_reply_parse(char const *buf, size_t len, lwreply *r)
{
  char const *f[3];
  size_t fl[3];
  unsigned long long v;
  if (fields(buf, len, f, fl, 3, LW_TEXT_MAX) < 0) return -1;
  if (decimal(f[0], fl[0], LW_SLOTS - 1, &v) < 0) return -1;
  r->slot = (unsigned)v;
  if (decimal(f[1], fl[1], 111, &v) < 0 || (v != 0 && v != 99 && v != 100 && v != 111)) return -1;
  r->code = (int)v;
  for (size_t i = 0; i < fl[2]; i++)
    if ((unsigned char)f[2][i] < 32 || (unsigned char)f[2][i] > 126) return -1;
  r->text = f[2];
  r->textlen = fl[2];
  return 0;
}
