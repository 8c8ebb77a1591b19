/* The job and reply packets of a mailroom-remote worker (remote_wproto.h). Every parser takes
   a length and never reads past it: a worker talks to the network, so rspawn trusts nothing
   it sends, and the worker trusts rspawn's framing only after checking it. */
#include <string.h>

#include "remote_wproto.h"

static int put(char *buf, size_t cap, size_t *w, char const *s, size_t n)
{
  if (n > cap - *w) return 0;
  memcpy(buf + *w, s, n);
  *w += n;
  return 1;
}

/* 1 to 20 digits whose value fits in 64 bits. */
static int decimal(char const *s, unsigned long long *u)
{
  unsigned long long x = 0;
  size_t i;
  for (i = 0; s[i]; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (s[i] < '0' || s[i] > '9' || i >= 20 || x > (~0ULL - d) / 10) return 0;
    x = x * 10 + d;
  }
  if (!i) return 0;
  *u = x;
  return 1;
}

size_t rwjob_pack(char *buf, size_t cap, char const *domain, char const *sender, char const *msglen,
                  char const *const *rcpt, unsigned n)
{
  unsigned long long u;
  size_t w = 0;
  if (!n || n > RWJOB_RCPT_MAX || strlen(domain) > RWJOB_DOMAIN_MAX || !decimal(msglen, &u)) return 0;
  if (!put(buf, cap, &w, domain, strlen(domain) + 1) || !put(buf, cap, &w, sender, strlen(sender) + 1) ||
      !put(buf, cap, &w, msglen, strlen(msglen) + 1))
    return 0;
  for (unsigned k = 0; k < n; k++)
    if (!*rcpt[k] || !put(buf, cap, &w, rcpt[k], strlen(rcpt[k]) + 1)) return 0;
  return w;
}

int rwjob_parse(char *buf, size_t len, struct rwjob *j)
{
  char *f[3 + RWJOB_RCPT_MAX];
  unsigned nf = 0;
  size_t pos = 0;
  if (!len || buf[len - 1]) return -1;
  while (pos < len) {
    char *z = memchr(buf + pos, 0, len - pos); /* found: buf[len - 1] is a NUL */
    if (nf == 3 + RWJOB_RCPT_MAX) return -1;
    f[nf++] = buf + pos;
    pos = (size_t)(z - buf) + 1;
  }
  if (nf < 4 || strlen(f[0]) > RWJOB_DOMAIN_MAX || !decimal(f[2], &j->len)) return -1;
  j->domain = f[0];
  j->sender = f[1];
  j->msglen = f[2];
  j->n = nf - 3;
  for (unsigned k = 0; k < j->n; k++) {
    if (!*f[3 + k]) return -1;
    j->rcpt[k] = f[3 + k];
  }
  return 0;
}

static int keptok(char const *s, size_t n)
{
  if (n > RWJOB_DOMAIN_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127) return 0;
  return 1;
}

size_t rwrep_pack(char *buf, size_t cap, char const *kept, char const *rec, size_t reclen)
{
  size_t w = 0;
  if (!keptok(kept, strlen(kept)) || !put(buf, cap, &w, kept, strlen(kept) + 1) || !put(buf, cap, &w, rec, reclen))
    return 0;
  return w;
}

int rwrep_split(char const *buf, size_t len, char *kept, size_t keptmax, size_t *off)
{
  char const *z = memchr(buf, 0, len);
  size_t n;
  if (!z) return -1;
  n = (size_t)(z - buf);
  if (!keptok(buf, n) || n >= keptmax) return -1;
  memcpy(kept, buf, n);
  kept[n] = 0;
  *off = n + 1;
  return 0;
}
