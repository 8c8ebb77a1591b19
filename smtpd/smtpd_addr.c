/* SMTP paths (RFC 5321 4.1.2, with RFC 6531's UTF-8 when the transaction has SMTPUTF8):
   the inside of <...> to the address the envelope carries. A source route is dropped (RFC
   5321 C), and a quoted local part whose quotes add nothing ("joe"@x) is written unquoted,
   so the address has one spelling in the queue and in the recipient check. Pure. */
#include <string.h>
#include <strings.h>

#include "smtpd.h"

#define DOMAIN_MAX 255
#define LABEL_MAX 63

static int is_alnum(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext, and any byte of a UTF-8 sequence when utf8 (checked as a whole). */
static int is_atext(unsigned char c, int utf8)
{
  if (c >= 0x80) return utf8;
  return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

int smtpd_utf8_valid(char const *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    unsigned long cp;
    size_t k, n;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
    else return 0;
    if (len - i - 1 < n) return 0;
    for (k = 1; k <= n; k++) {
      unsigned char d = (unsigned char)s[i + k];
      if ((d & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff) return 0;
    if (cp >= 0xd800 && cp <= 0xdfff) return 0;
    i += n + 1;
  }
  return 1;
}

/* An address literal: "[" dtext+ "]" (RFC 5321 4.1.3, general form included). */
static int literal_valid(char const *s, size_t len)
{
  size_t i;
  if (len < 3 || s[0] != '[' || s[len - 1] != ']') return 0;
  for (i = 1; i + 1 < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\') return 0;
  }
  return 1;
}

int smtpd_domain_valid(char const *s, size_t len, int utf8)
{
  size_t i, lab = 0;
  if (!len) return 0;
  if (s[0] == '[') return literal_valid(s, len);
  if (len > DOMAIN_MAX) return 0;
  for (i = 0; i <= len; i++) {
    unsigned char c = i < len ? (unsigned char)s[i] : '.';
    if (c == '.') {
      /* a label: 1 to 63 bytes, no hyphen at either end */
      if (!lab || lab > LABEL_MAX) return 0;
      if (s[i - lab] == '-' || s[i - 1] == '-') return 0;
      lab = 0;
      continue;
    }
    if (!(is_alnum(c) || c == '-' || c == '_' || (c >= 0x80 && utf8))) return 0;
    lab++;
  }
  return 1;
}

/* A dot-string: atoms separated by single dots. */
static int dotstring_valid(char const *s, size_t len, int utf8)
{
  size_t i;
  if (!len || s[0] == '.' || s[len - 1] == '.') return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (s[i + 1] == '.') return 0;
    } else if (!is_atext(c, utf8)) return 0;
  }
  return 1;
}

/* A quoted string starting at s[0] == '"': its length (quotes included) or 0, and its
   content without the escapes into out (outmax bytes), length in *outlen. */
static size_t quoted_scan(char const *s, size_t len, int utf8, char *out, size_t outmax, size_t *outlen)
{
  size_t i = 1, w = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') {
      *outlen = w;
      return i + 1;
    }
    if (c == '\\') {
      unsigned char d;
      if (i + 1 >= len) return 0;
      d = (unsigned char)s[i + 1];
      if (d < 32 || d == 127 || (d >= 0x80 && !utf8)) return 0;
      c = d;
      i += 2;
    } else {
      if (c < 32 || c == 127 || (c >= 0x80 && !utf8)) return 0;
      i++;
    }
    if (w >= outmax) return 0;
    out[w++] = (char)c;
  }
  return 0;
}

/* Skips "@dom,@dom:" at the start; returns the bytes to skip, or (size_t)-1 if malformed. */
static size_t route_skip(char const *s, size_t len, int utf8)
{
  char const *colon;
  size_t i = 0, end;
  if (!len || s[0] != '@') return 0;
  colon = memchr(s, ':', len);
  if (!colon) return (size_t)-1;
  end = (size_t)(colon - s);
  while (i < end) {
    char const *comma;
    size_t j;
    if (s[i] != '@') return (size_t)-1;
    comma = memchr(s + i, ',', end - i);
    j = comma ? (size_t)(comma - s) : end;
    if (!smtpd_domain_valid(s + i + 1, j - i - 1, utf8)) return (size_t)-1;
    i = j + 1;
    if (comma && i >= end) return (size_t)-1;
  }
  return end + 1;
}

enum smtpd_perr smtpd_addr_parse(char const *s, size_t len, int mail, int utf8, smtpd_path *p)
{
  char local[ENV_ADDR_MAX + 1];
  size_t i, skip, llen, loclen, w;
  int nonascii = 0;

  p->len = p->at = 0;
  p->addr[0] = 0;
  p->nonascii = 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) nonascii = 1;
    else if (c < 32 || c == 127) return P_ADDR;
  }
  if (nonascii) {
    if (!utf8) return P_UTF8;
    if (!smtpd_utf8_valid(s, len)) return P_BADUTF8;
  }
  /* a route may make the path longer than the address; nothing else can be */
  if (len > 2 * (size_t)ENV_ADDR_MAX) return P_LONG;

  skip = route_skip(s, len, utf8);
  if (skip == (size_t)-1) return P_ADDR;
  s += skip;
  len -= skip;
  if (!len) return mail && !skip ? P_OK : P_ADDR;

  /* the local part: a quoted string or a dot-string, up to the '@' after it */
  if (s[0] == '"') {
    size_t qlen = quoted_scan(s, len, utf8, local, sizeof local - 1, &loclen);
    if (!qlen) return P_ADDR;
    llen = qlen;
    if (loclen && dotstring_valid(local, loclen, utf8)) {
      local[loclen] = 0; /* the quotes add nothing: write it bare */
    } else {
      if (qlen > ENV_ADDR_MAX) return P_LONG;
      memcpy(local, s, qlen);
      loclen = qlen;
    }
  } else {
    char const *at = memchr(s, '@', len);
    llen = at ? (size_t)(at - s) : len;
    if (!dotstring_valid(s, llen, utf8)) return P_ADDR;
    if (llen > ENV_ADDR_MAX) return P_LONG;
    memcpy(local, s, llen);
    loclen = llen;
  }

  if (llen == len) {
    /* no domain: only <postmaster> is allowed that way (RFC 5321 4.5.1) */
    if (mail || loclen != 10 || strncasecmp(local, "postmaster", 10) != 0) return P_NODOMAIN;
    memcpy(p->addr, local, loclen);
    p->len = p->at = loclen;
    p->addr[loclen] = 0;
    return P_OK;
  }
  if (s[llen] != '@') return P_ADDR;
  if (!smtpd_domain_valid(s + llen + 1, len - llen - 1, utf8)) return P_ADDR;
  w = loclen + 1 + (len - llen - 1);
  if (w > ENV_ADDR_MAX) return P_LONG;
  memcpy(p->addr, local, loclen);
  p->addr[loclen] = '@';
  memcpy(p->addr + loclen + 1, s + llen + 1, len - llen - 1);
  p->addr[w] = 0;
  p->len = w;
  p->at = loclen;
  p->nonascii = nonascii;
  return P_OK;
}
