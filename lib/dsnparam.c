/* DSN and AUTH= parameter values and xtext (lib/dsnparam.h). */
#include <string.h>
#include <strings.h>

#include "dsnparam.h"

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1; /* RFC 3461 4: the hex digits of xtext are uppercase */
}

long xtext_decode(char const *s, size_t n, char *out, size_t max)
{
  size_t i = 0, w = 0;
  if (!n) return -1;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '+') {
      int h, l;
      if (n - i < 3 || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0) return -1;
      c = (unsigned char)(h * 16 + l);
      i += 3;
    } else {
      if (c < 33 || c > 126 || c == '=') return -1;
      i++;
    }
    if (out) {
      if (w >= max) return -1;
      out[w] = (char)c;
    }
    w++;
  }
  return (long)w;
}

int xtext_valid(char const *s, size_t n)
{
  return xtext_decode(s, n, 0, 0) >= 0;
}

long xtext_encode(char const *s, size_t n, char *out, size_t max)
{
  static char const hex[] = "0123456789ABCDEF";
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      if (w + 1 >= max) return -1;
      out[w++] = (char)c;
    } else {
      if (w + 3 >= max) return -1;
      out[w++] = '+';
      out[w++] = hex[c >> 4];
      out[w++] = hex[c & 15];
    }
  }
  if (w >= max) return -1;
  out[w] = 0;
  return (long)w;
}

unsigned dsn_notify_parse(char const *s, size_t n)
{
  static struct {
    char const *w;
    unsigned bit;
  } const words[] = { { "SUCCESS", DSN_NOTIFY_SUCCESS }, { "FAILURE", DSN_NOTIFY_FAILURE },
                      { "DELAY", DSN_NOTIFY_DELAY }, { "NEVER", DSN_NOTIFY_NEVER } };
  unsigned bits = 0;
  size_t i = 0;
  if (!n) return 0;
  for (;;) {
    char const *comma = memchr(s + i, ',', n - i);
    size_t e = comma ? (size_t)(comma - s) : n, k;
    for (k = 0; k < sizeof words / sizeof words[0]; k++)
      if (strlen(words[k].w) == e - i && !strncasecmp(s + i, words[k].w, e - i)) break;
    if (k == sizeof words / sizeof words[0] || (bits & words[k].bit)) return 0;
    bits |= words[k].bit;
    if (!comma) break;
    i = e + 1;
    if (i >= n) return 0; /* a trailing comma */
  }
  /* RFC 3461 4.1: NEVER must appear by itself */
  if ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER) return 0;
  return bits;
}

size_t dsn_notify_fmt(unsigned bits, char *out)
{
  size_t w = 0;
  out[0] = 0;
  if (bits & DSN_NOTIFY_NEVER) {
    memcpy(out, "NEVER", 6);
    return 5;
  }
  if (bits & DSN_NOTIFY_SUCCESS) memcpy(out + w, "SUCCESS,", 8), w += 8;
  if (bits & DSN_NOTIFY_FAILURE) memcpy(out + w, "FAILURE,", 8), w += 8;
  if (bits & DSN_NOTIFY_DELAY) memcpy(out + w, "DELAY,", 6), w += 6;
  if (w) w--;
  out[w] = 0;
  return w;
}

int dsn_ret_parse(char const *s, size_t n)
{
  if (n == 4 && !strncasecmp(s, "FULL", 4)) return DSN_RET_FULL;
  if (n == 4 && !strncasecmp(s, "HDRS", 4)) return DSN_RET_HDRS;
  return 0;
}

int dsn_orcpt_valid(char const *s, size_t n)
{
  char const *semi;
  size_t t;
  if (!n || n > DSN_ORCPT_MAX) return 0;
  semi = memchr(s, ';', n);
  if (!semi) return 0;
  t = (size_t)(semi - s);
  if (!t) return 0;
  for (size_t i = 0; i < t; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return 0;
  }
  return xtext_valid(semi + 1, n - t - 1);
}

int dsn_envid_valid(char const *s, size_t n)
{
  return n && n <= DSN_ENVID_MAX && xtext_valid(s, n);
}

int dsn_auth_valid(char const *s, size_t n)
{
  char dec[DSN_AUTH_MAX];
  long l;
  if (n == 2 && s[0] == '<' && s[1] == '>') return 1;
  if (!n || n > DSN_AUTH_MAX) return 0;
  l = xtext_decode(s, n, dec, sizeof dec);
  if (l <= 0) return 0;
  for (long i = 0; i < l; i++)
    if ((unsigned char)dec[i] <= 32 || (unsigned char)dec[i] >= 127) return 0;
  return 1;
}
