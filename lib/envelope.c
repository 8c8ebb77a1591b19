/* The qmail-queue envelope, with its optional parameter records (lib/envelope.h). */
#include <string.h>
#include "envelope.h"

/* One address field starting at s[i] (after its letter): checks length and characters and
   returns the index just past its NUL, or a negative ENV_ error. */
static long field_end(char const *s, size_t len, size_t i, size_t max)
{
  size_t start = i;
  for (; i < len; i++) {
    if (!s[i]) return (long)(i + 1);
    if (s[i] == '\r' || s[i] == '\n') return ENV_EBADCHAR;
    if (i - start >= max) return ENV_ETOOLONG;
  }
  return ENV_ETRUNC;
}

/* A parameter record's value v[0..n): 1 if letter's value is well-formed. */
static int param_ok(char letter, char const *v, size_t n)
{
  switch (letter) {
    case 'E': return dsn_envid_valid(v, n);
    case 'R': return n == 4 && (!memcmp(v, "FULL", 4) || !memcmp(v, "HDRS", 4));
    case 'A': return dsn_auth_valid(v, n);
    case 'N': {
      char canon[DSN_NOTIFY_MAX + 1];
      unsigned b = dsn_notify_parse(v, n);
      return b && dsn_notify_fmt(b, canon) == n && !memcmp(canon, v, n);
    }
    case 'O': return dsn_orcpt_valid(v, n);
  }
  return 0;
}

/* The parameter records from s[*i] up to the next T or the end, letters from allowed,
   each once. 0, or a negative ENV_ error. */
static int params(char const *s, size_t len, size_t *i, char const *allowed)
{
  unsigned seen = 0;
  while (*i < len && s[*i] && s[*i] != 'T') {
    char const *k = strchr(allowed, s[*i]);
    long e;
    unsigned bit;
    if (!k) return ENV_EFORMAT;
    bit = 1u << (k - allowed);
    if (seen & bit) return ENV_EPARAM;
    seen |= bit;
    e = field_end(s, len, *i + 1, DSN_ORCPT_MAX + 1);
    if (e == ENV_ETRUNC) return ENV_ETRUNC;
    if (e < 0 || !param_ok(s[*i], s + *i + 1, (size_t)e - *i - 2)) return ENV_EPARAM;
    *i = (size_t)e;
  }
  return 0;
}

int envelope_check(char const *s, size_t len, size_t *nrcpt)
{
  size_t i = 0, n = 0;
  long e;
  int r;
  if (!len) return ENV_ETRUNC;
  if (s[0] != 'F') return ENV_EFORMAT;
  e = field_end(s, len, 1, ENV_ADDR_MAX);
  if (e < 0) return (int)e;
  i = (size_t)e;
  if ((r = params(s, len, &i, "ERA")) < 0) return r;
  for (;;) {
    if (i >= len) return ENV_ETRUNC;
    if (!s[i]) break;
    if (s[i] != 'T') return ENV_EFORMAT;
    if (n >= ENV_RCPT_MAX) return ENV_ETOOMANY;
    e = field_end(s, len, i + 1, ENV_ADDR_MAX);
    if (e < 0) return (int)e;
    i = (size_t)e;
    n++;
    if ((r = params(s, len, &i, "NO")) < 0) return r;
  }
  if (!n) return ENV_EFORMAT;
  if (i + 1 != len) return ENV_EFORMAT;
  if (nrcpt) *nrcpt = n;
  return ENV_OK;
}

char const *envelope_sender(char const *s)
{
  return s + 1;
}

/* The record after the one whose value starts at p. */
static char const *after(char const *p)
{
  return p + strlen(p) + 1;
}

char const *envelope_next(char const *s, char const *prev)
{
  char const *p = after(prev ? prev : s + 1);
  while (*p && *p != 'T') p = after(p + 1);
  return *p == 'T' ? p + 1 : 0;
}

static char const *param(char const *p, char letter)
{
  for (p = after(p); *p && *p != 'T'; p = after(p + 1))
    if (*p == letter) return p + 1;
  return 0;
}

char const *envelope_mparam(char const *s, char letter)
{
  return param(s + 1, letter);
}

char const *envelope_rparam(char const *rcpt, char letter)
{
  return param(rcpt, letter);
}

char const *envelope_strerror(int e)
{
  switch (e) {
    case ENV_OK: return "envelope is well-formed";
    case ENV_ETRUNC: return "envelope is truncated (a field or the final NUL is missing)";
    case ENV_EFORMAT: return "envelope format error (records must be F, then T..., then NUL)";
    case ENV_ETOOLONG: return "address in envelope is longer than 1000 bytes";
    case ENV_EBADCHAR: return "address in envelope contains CR or LF";
    case ENV_ETOOMANY: return "envelope has more than 100000 recipients";
    case ENV_EPARAM: return "envelope has a malformed, repeated or misplaced DSN or AUTH parameter record";
  }
  return "unknown envelope error";
}
