/* Recipient and sender addresses as sendmail takes them: checked before anything is
   queued, so one bad address refuses the whole message (exit 100) instead of bouncing. */
#include <errno.h>
#include <string.h>

#include <skalibs/stralloc.h>

#include "addr822.h"
#include "envelope.h"
#include "inject.h"

static int isctl(unsigned char c)
{
  return c < 32 || c == 127;
}

/* Position of the '@' that splits a into local part and domain: the last one outside
   quotes, or len if there is none. */
static size_t atpos(char const *a, size_t len)
{
  size_t i, at = len;
  int q = 0;
  for (i = 0; i < len; i++) {
    if (q && a[i] == '\\' && i + 1 < len) i++;
    else if (a[i] == '"') q = !q;
    else if (!q && a[i] == '@') at = i;
  }
  return at;
}

static char const *bad_domain(char const *d, size_t len)
{
  size_t i, label = 0;
  if (!len) return "empty domain";
  if (d[0] == '[') {
    if (len < 3 || d[len - 1] != ']') return "bad domain literal";
    for (i = 1; i < len - 1; i++)
      if (d[i] == '[' || d[i] == ']' || d[i] == '\\' || d[i] == ' ' || isctl(d[i]))
        return "bad domain literal";
    return 0;
  }
  for (i = 0; i < len; i++) {
    unsigned char c = d[i];
    if (c == '.') {
      if (!label) return "empty label in domain";
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '-' || c >= 128)
      label++;
    else return "bad character in domain";
  }
  return label ? 0 : "empty label in domain";
}

char const *inject_addr_bad(char const *a, size_t len)
{
  size_t i, at, ats = 0;
  int q = 0;
  if (!len) return "empty address";
  if (len > ENV_ADDR_MAX) return "address longer than 1000 bytes";
  for (i = 0; i < len; i++) {
    unsigned char c = a[i];
    if (isctl(c)) return "control character in address";
    if (q) {
      if (c == '\\') {
        if (++i >= len || isctl(a[i])) return "bad quoted string";
      } else if (c == '"') q = 0;
    } else if (c == '"') q = 1;
    else if (c == '@') ats++;
    else if (c == ' ') return "space in address";
  }
  if (q) return "unterminated quoted string";
  if (!ats) return "no @ in address";
  at = atpos(a, len);
  if (ats > 1) return "more than one @ in address";
  if (!at) return "empty local part";
  for (i = 0, q = 0; i < at; i++) {
    if (q && a[i] == '\\') i++;
    else if (a[i] == '"') q = !q;
    else if (!q && strchr("()<>[]:;,\\", a[i])) return "bad character in local part";
  }
  return bad_domain(a + at + 1, len - at - 1);
}

int inject_addr_qualify(stralloc *sa, char const *a, size_t len, char const *defhost)
{
  if (!stralloc_catb(sa, a, len)) return 0;
  if (atpos(a, len) < len) return 1;
  return stralloc_catb(sa, "@", 1) && stralloc_cats(sa, defhost);
}

/* Qualifies a[0..len) onto sa, checks it, adds the NUL. 0, -1 nomem, 1 bad. */
static int add(stralloc *sa, char const *a, size_t len, char const *defhost, char const **why)
{
  size_t base = sa->len;
  /* An empty address stays empty: qualified, it would pass for "@host". */
  if (len && !inject_addr_qualify(sa, a, len, defhost)) return -1;
  /* sa->s is still 0 when nothing was ever added: 0 + 0 is undefined behaviour */
  *why = inject_addr_bad(len ? sa->s + base : "", sa->len - base);
  if (*why) {
    sa->len = base;
    return 1;
  }
  return stralloc_0(sa) ? 0 : -1;
}

int inject_addr_arg(stralloc *sa, char const *a, char const *defhost, char const **why)
{
  size_t len = strlen(a);
  if (len >= 2 && a[0] == '<' && a[len - 1] == '>') {
    a++;
    len -= 2;
  }
  return add(sa, a, len, defhost, why);
}

void inject_addr_printable(char *buf, size_t max, char const *s, size_t len)
{
  size_t i, n = len < max ? len : max - 1;
  if (!max) return;
  for (i = 0; i < n; i++) buf[i] = isctl(s[i]) ? '?' : s[i];
  if (n < len && max > 4) {
    memcpy(buf + max - 4, "...", 3);
    n = max - 1;
  }
  buf[n] = 0;
}

int inject_addr_header(stralloc *rcpts, size_t *n, char const *s, size_t len,
                       char const *defhost, char *badbuf, size_t badmax, char const **why)
{
  stralloc tmp = STRALLOC_ZERO;
  size_t outlen, naddr, i, pos = 0;
  int r = 0;
  if (!stralloc_ready(&tmp, len + 1)) return -1;
  if (addr822_parse(s, len, tmp.s, len + 1, &outlen, &naddr) < 0) {
    size_t a = 0, b = len;
    *why = errno == ENAMETOOLONG ? "address longer than 1000 bytes" : "bad address syntax";
    while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n')) a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n')) b--;
    inject_addr_printable(badbuf, badmax, s + a, b - a);
    stralloc_free(&tmp);
    return 1;
  }
  for (i = 0; i < naddr; i++) {
    size_t alen = strlen(tmp.s + pos);
    r = add(rcpts, tmp.s + pos, alen, defhost, why);
    if (r) {
      if (r > 0) inject_addr_printable(badbuf, badmax, tmp.s + pos, alen);
      break;
    }
    (*n)++;
    pos += alen + 1;
  }
  stralloc_free(&tmp);
  return r;
}

int inject_addr_fromheaders(stralloc *rcpts, size_t *n, char const *h, size_t hlen,
                            char const *defhost, char *badbuf, size_t badmax, char const **why)
{
  size_t pos = 0;
  inject_hdrinfo hi;
  inject_field f;
  inject_hdr_info(h, hlen, &hi);
  while (inject_hdr_next(h, hlen, &pos, &f)) {
    int r;
    if (!inject_hdr_isrcpt(h, &f, hi.resent)) continue;
    r = inject_addr_header(rcpts, n, h + f.val, f.off + f.len - f.val, defhost, badbuf, badmax,
                           why);
    if (r) return r;
  }
  return 0;
}
