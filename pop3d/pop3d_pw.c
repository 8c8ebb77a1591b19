/* users/password.cdb: the entry format (pure) and the lookup (tinycdb; a program calling it
   links -l:libcdb.a before -lskarnet). An entry read back is checked as strictly as one
   written: a cdb from another tool cannot hand mailroom-checkpassword uid 0 or a relative
   home. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <cdb.h>
#include "pop3d.h"

int pop3_scan_id(char const *s, size_t len, unsigned long *n)
{
  unsigned long long v = 0;
  if (!len || len > 10) return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned long long)(s[i] - '0');
  }
  if (v > POP3_ID_MAX) return -1;
  *n = (unsigned long)v;
  return 0;
}

static size_t fmt_id(char *s, unsigned long n)
{
  char t[20];
  size_t len = 0;
  do {
    t[len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  for (size_t i = 0; i < len; i++) s[i] = t[len - 1 - i];
  return len;
}

/* The rules of an entry, for both directions: 0 or the reason. */
static char const *check(struct pop3_pw const *p)
{
  size_t hl = strlen(p->hash);
  if (!hl || hl > POP3_HASH_MAX) return "empty or overlong password hash";
  for (size_t i = 0; i < hl; i++)
    if ((unsigned char)p->hash[i] < 0x21 || (unsigned char)p->hash[i] > 0x7e || p->hash[i] == ':')
      return "password hash holds a space, a control character or ':'";
  if (!p->uid || p->uid > POP3_ID_MAX) return "uid must be 1 to 4294967294 (root is never a POP3 user)";
  if (p->gid > POP3_ID_MAX) return "gid must be 0 to 4294967294";
  if (!pop3_abspath_ok(p->home)) return "home must be an absolute path without . or .. components, under 1024 bytes";
  return 0;
}

int pop3_pw_pack(struct pop3_pw const *p, char *val, size_t max, size_t *len, char const **why)
{
  char num[2][11];
  size_t nl[2], hl, ml, w = 0;
  char const *reason = check(p);
  if (reason) {
    if (why) *why = reason;
    errno = EINVAL;
    return -1;
  }
  nl[0] = fmt_id(num[0], p->uid);
  nl[1] = fmt_id(num[1], p->gid);
  hl = strlen(p->hash);
  ml = strlen(p->home);
  if (hl + nl[0] + nl[1] + ml + 4 > max) {
    if (why) *why = "value buffer too small";
    errno = EINVAL;
    return -1;
  }
  memcpy(val + w, p->hash, hl + 1); w += hl + 1;
  memcpy(val + w, num[0], nl[0]); w += nl[0]; val[w++] = 0;
  memcpy(val + w, num[1], nl[1]); w += nl[1]; val[w++] = 0;
  memcpy(val + w, p->home, ml + 1); w += ml + 1;
  *len = w;
  return 0;
}

int pop3_pw_unpack(char const *val, size_t len, struct pop3_pw *p)
{
  char const *f[4];
  size_t fl[4], pos = 0;
  for (int k = 0; k < 4; k++) {
    char const *z = memchr(val + pos, 0, len - pos);
    if (!z) goto bad;
    f[k] = val + pos;
    fl[k] = (size_t)(z - f[k]);
    pos += fl[k] + 1;
  }
  if (pos != len) goto bad;
  if (fl[0] > POP3_HASH_MAX || fl[3] >= POP3_PATH_MAX) goto bad;
  if (pop3_scan_id(f[1], fl[1], &p->uid) < 0 || pop3_scan_id(f[2], fl[2], &p->gid) < 0) goto bad;
  memcpy(p->hash, f[0], fl[0] + 1);
  memcpy(p->home, f[3], fl[3] + 1);
  if (check(p)) goto bad;
  return 0;
bad:
  errno = EPROTO;
  return -1;
}

int pop3_pw_lookup(char const *path, char const *user, size_t ulen, struct pop3_pw *p)
{
  struct cdb c;
  char val[POP3_PW_VAL_MAX];
  unsigned int vlen;
  int fd = open(path, O_RDONLY | O_CLOEXEC), r, e;
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  if (cdb_init(&c, fd) < 0) {
    e = errno;
    close(fd);
    errno = e ? e : EPROTO;
    return -1;
  }
  r = cdb_find(&c, user, (unsigned int)ulen);
  if (r > 0) {
    vlen = cdb_datalen(&c);
    if (vlen > sizeof val) {
      errno = EPROTO;
      r = -1;
    } else if (cdb_read(&c, val, vlen, cdb_datapos(&c)) < 0 || pop3_pw_unpack(val, vlen, p) < 0) {
      if (!errno) errno = EPROTO;
      r = -1;
    } else {
      r = 1;
    }
  } else if (r < 0) {
    if (!errno) errno = EPROTO;
  }
  e = errno;
  cdb_free(&c);
  close(fd);
  memset(val, 0, sizeof val); /* it held a hash */
  errno = e;
  return r;
}

int pop3_streq_ct(char const *a, char const *b)
{
  size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
  unsigned char d = la != lb;
  volatile unsigned char acc = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char x = i < la ? (unsigned char)a[i] : 0;
    unsigned char y = i < lb ? (unsigned char)b[i] : 0;
    acc |= (unsigned char)(x ^ y);
  }
  return !(acc | d);
}
