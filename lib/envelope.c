/* The qmail-queue envelope: F sender \0 (T recipient \0)+ \0. */
#include <string.h>
#include "envelope.h"

/* One address field starting at s[i] (after its letter): checks length and characters and
   returns the index just past its NUL, or a negative ENV_ error. */
static long field_end(char const *s, size_t len, size_t i)
{
  size_t start = i;
  for (; i < len; i++) {
    if (!s[i]) return (long)(i + 1);
    if (s[i] == '\r' || s[i] == '\n') return ENV_EBADCHAR;
    if (i - start >= ENV_ADDR_MAX) return ENV_ETOOLONG;
  }
  return ENV_ETRUNC;
}

int envelope_check(char const *s, size_t len, size_t *nrcpt)
{
  size_t i = 0, n = 0;
  long e;
  if (!len) return ENV_ETRUNC;
  if (s[0] != 'F') return ENV_EFORMAT;
  e = field_end(s, len, 1);
  if (e < 0) return (int)e;
  i = (size_t)e;
  for (;;) {
    if (i >= len) return ENV_ETRUNC;
    if (!s[i]) break;
    if (s[i] != 'T') return ENV_EFORMAT;
    if (n >= ENV_RCPT_MAX) return ENV_ETOOMANY;
    e = field_end(s, len, i + 1);
    if (e < 0) return (int)e;
    i = (size_t)e;
    n++;
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

char const *envelope_next(char const *s, char const *prev)
{
  char const *p = prev ? prev : s + 1;
  p += strlen(p) + 1;
  return *p == 'T' ? p + 1 : 0;
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
  }
  return "unknown envelope error";
}
