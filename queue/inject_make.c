/* The headers sendmail adds when the message lacks them: Date, Message-ID, From. Nothing
   of the caller's text reaches a header unchecked: the full name is quoted or encoded and
   loses its control characters, so "-F" cannot smuggle in a header line. */
#include <string.h>

#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include <skalibs/uint64.h>

#include "date822.h"
#include "inject.h"

static char const b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Bytes of UTF-8 per encoded word: 45 bytes are 60 base64 characters, and with
   "=?UTF-8?B?" and "?=" the word stays under RFC 2047's 75. */
#define WORD_BYTES 45

static int cat_b64(stralloc *sa, unsigned char const *s, size_t n)
{
  for (; n; s += 3, n = n > 3 ? n - 3 : 0) {
    char q[4];
    unsigned long v = (unsigned long)s[0] << 16 | (n > 1 ? s[1] << 8 : 0) | (n > 2 ? s[2] : 0);
    q[0] = b64[v >> 18 & 63];
    q[1] = b64[v >> 12 & 63];
    q[2] = n > 1 ? b64[v >> 6 & 63] : '=';
    q[3] = n > 2 ? b64[v & 63] : '=';
    if (!stralloc_catb(sa, q, 4)) return 0;
  }
  return 1;
}

/* The name as RFC 2047 words, cut between UTF-8 characters, one word per folded line. */
static int cat_encoded(stralloc *sa, unsigned char const *s, size_t n)
{
  while (n) {
    size_t k = n < WORD_BYTES ? n : WORD_BYTES;
    while (k < n && k > 1 && (s[k] & 0xc0) == 0x80) k--; /* no cut inside a character */
    if (!stralloc_cats(sa, "=?UTF-8?B?") || !cat_b64(sa, s, k) || !stralloc_cats(sa, "?="))
      return 0;
    s += k;
    n -= k;
    if (n && !stralloc_cats(sa, "\n ")) return 0;
  }
  return 1;
}

static int cat_quoted(stralloc *sa, char const *s, size_t n)
{
  if (!stralloc_catb(sa, "\"", 1)) return 0;
  for (; n; s++, n--) {
    if ((*s == '"' || *s == '\\') && !stralloc_catb(sa, "\\", 1)) return 0;
    if (!stralloc_catb(sa, s, 1)) return 0;
  }
  return stralloc_catb(sa, "\"", 1);
}

int inject_make_from(stralloc *sa, char const *name, char const *addr)
{
  char clean[INJECT_NAME_MAX];
  size_t n = 0, i, base = sa->len;
  int eight = 0;
  if (name) {
    /* control characters (CR, LF first) become spaces; spaces at either end go */
    for (i = 0; name[i] && n < sizeof clean; i++) {
      unsigned char c = name[i];
      if (c < 32 || c == 127) c = ' ';
      if (c >= 128) eight = 1;
      if (c != ' ' || (n && clean[n - 1] != ' ')) clean[n++] = c;
    }
    while (n && clean[n - 1] == ' ') n--;
  }
  if (!stralloc_cats(sa, "From: ")) return 0;
  if (n) {
    if (!(eight ? cat_encoded(sa, (unsigned char const *)clean, n) : cat_quoted(sa, clean, n)))
      return 0;
    /* fold before the address when the line would pass 78 characters */
    for (i = sa->len; i > base && sa->s[i - 1] != '\n'; i--) ;
    if (!stralloc_cats(sa, sa->len - i + strlen(addr) + 3 > 78 ? "\n <" : " <")) return 0;
  }
  if (!stralloc_cats(sa, addr)) return 0;
  return stralloc_cats(sa, n ? ">\n" : "\n");
}

int inject_make_date(stralloc *sa, long long t, long off)
{
  char d[DATE822_MAX + 1];
  size_t n = date822_fmt(d, t, off);
  if (!n) n = date822_fmt(d, t, 0); /* an odd local offset: UTC is still a date */
  if (!n) return 0;
  return stralloc_cats(sa, "Date: ") && stralloc_catb(sa, d, n) && stralloc_catb(sa, "\n", 1);
}

int inject_make_msgid(stralloc *sa, unsigned long long sec, unsigned long usec,
                      unsigned long pid, unsigned char const *rnd, char const *host)
{
  char fmt[UINT64_FMT];
  static char const hex[] = "0123456789abcdef";
  char u[7];
  size_t i;
  if (!stralloc_cats(sa, "Message-ID: <")) return 0;
  if (!stralloc_catb(sa, fmt, uint64_fmt(fmt, sec))) return 0;
  for (i = 6; i--; usec /= 10) u[i] = '0' + usec % 10;
  u[6] = '.';
  if (!stralloc_catb(sa, ".", 1) || !stralloc_catb(sa, u, 7)) return 0;
  if (!stralloc_catb(sa, fmt, ulong_fmt(fmt, pid)) || !stralloc_catb(sa, ".", 1)) return 0;
  for (i = 0; i < 8; i++) {
    char h[2] = { hex[rnd[i] >> 4], hex[rnd[i] & 15] };
    if (!stralloc_catb(sa, h, 2)) return 0;
  }
  return stralloc_catb(sa, "@", 1) && stralloc_cats(sa, host) && stralloc_cats(sa, ">\n");
}

int inject_make_missing(stralloc *sa, inject_hdrinfo const *hi, inject_made const *m)
{
  if (!hi->date && !inject_make_date(sa, m->now, m->off)) return 0;
  if (!hi->msgid && !inject_make_msgid(sa, m->sec, m->usec, m->pid, m->rnd, m->host)) return 0;
  if (!hi->from && !inject_make_from(sa, m->fullname, m->fromaddr)) return 0;
  return 1;
}
