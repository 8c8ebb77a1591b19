/* The control/virtualdomains line parser and the rule that picks the best entry for an
   address (vdomain.h), with no I/O, so smtpd, send, the queue tools, mailroom-newcontrol,
   mailroom-showctl, the unit tests and the fuzz target all share one reading. */
#include <errno.h>
#include <string.h>

#include "vdomain.h"

static char lower(char c)
{
  return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static int fail(char const **why, char const *text)
{
  *why = text;
  errno = EINVAL;
  return -1;
}

int vdomain_checkdomain(char const *d, size_t len, char const **why)
{
  size_t i, label = 0;
  if (!len) return fail(why, "empty domain");
  if (len > VDOMAIN_DOMAIN_MAX) return fail(why, "domain longer than 253 bytes");
  for (i = 0; i < len; i++) {
    char c = lower(d[i]);
    if (c == '.') {
      if (!label) return fail(why, "empty label in the domain (two dots, or a dot at an end)");
      label = 0;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return fail(why, "bad character in the domain (letters, digits, '-' and '.' only)");
    if (++label > VDOMAIN_LABEL_MAX) return fail(why, "label of the domain longer than 63 bytes");
  }
  if (!label) return fail(why, "empty label in the domain (two dots, or a dot at an end)");
  return 0;
}

/* The bytes a local part or a prefix may hold: RFC 5322 atext and '.', nothing a dot file
   name, a shell or the envelope would read otherwise ('/' names folders: out too). */
static int atext(char c)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c && strchr("!#$%&'*+-=?^_`{|}~.", c) != 0;
}

int vdomain_parseline(char const *line, size_t len, struct vdomain_rule *r, char const **why)
{
  size_t a = 0, i, colon, at = 0;
  int hasat = 0;
  if (len > VDOMAIN_LINE_MAX) return fail(why, "line longer than 1024 bytes");
  while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) len--;
  while (a < len && (line[a] == ' ' || line[a] == '\t')) a++;
  if (a == len || line[a] == '#') return 0;
  line += a;
  len -= a;
  {
    char const *p = memchr(line, ':', len);
    if (!p) return fail(why, "missing ':' between the domain and the prefix");
    colon = (size_t)(p - line);
  }
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)line[i];
    if (c < 33 || c > 126) return fail(why, "binary byte, control character or blank inside the line");
  }
  /* the prefix */
  r->prefixlen = len - colon - 1;
  if (r->prefixlen > VDOMAIN_PREFIX_MAX) return fail(why, "prefix longer than 255 bytes");
  for (i = colon + 1; i < len; i++)
    if (!atext(line[i])) return fail(why, "bad character in the prefix (a prefix is the start of a local part)");
  if (r->prefixlen && (line[colon + 1] == '.' || line[len - 1] == '.'))
    return fail(why, "prefix starts or ends with '.'");
  memcpy(r->prefix, line + colon + 1, r->prefixlen);
  r->prefix[r->prefixlen] = 0;
  /* the key */
  for (i = 0; i < colon; i++) {
    r->key[i] = lower(line[i]);
    if (line[i] == '@') {
      if (hasat) return fail(why, "two '@' in the address");
      hasat = 1;
      at = i;
    }
  }
  r->key[colon] = 0;
  r->keylen = colon;
  if (!colon) {
    r->kind = VD_ALL;
    return 1;
  }
  if (hasat) {
    if (!at) return fail(why, "empty local part before '@'");
    for (i = 0; i < at; i++)
      if (!atext(line[i])) return fail(why, "bad character in the local part of the address");
    if (vdomain_checkdomain(line + at + 1, colon - at - 1, why) < 0) return -1;
    r->kind = VD_ADDR;
    return 1;
  }
  if (line[0] == '.') {
    if (vdomain_checkdomain(line + 1, colon - 1, why) < 0) return -1;
    r->kind = VD_SUB;
    return 1;
  }
  if (vdomain_checkdomain(line, colon, why) < 0) return -1;
  r->kind = VD_DOMAIN;
  return 1;
}

static int sameci(char const *a, char const *lc, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (lower(a[i]) != lc[i]) return 0;
  return 1;
}

size_t vdomain_rank(struct vdomain_rule const *r, char const *addr, size_t len)
{
  char const *at = 0;
  size_t dl, off;
  for (size_t i = len; i-- > 0;)
    if (addr[i] == '@') {
      at = addr + i;
      break;
    }
  if (!at || at == addr || at + 1 == addr + len) return (size_t)-1;
  dl = (size_t)(addr + len - at - 1);
  switch (r->kind) {
    case VD_ADDR: return (r->keylen == len && sameci(addr, r->key, len)) ? 0 : (size_t)-1;
    case VD_DOMAIN: return (r->keylen == dl && sameci(at + 1, r->key, dl)) ? 1 : (size_t)-1;
    case VD_SUB:
      if (r->keylen >= dl + 1 || r->keylen < 2) return (size_t)-1;
      off = dl - r->keylen;
      return sameci(at + 1 + off, r->key, r->keylen) ? 2 + off : (size_t)-1;
    case VD_ALL: return (size_t)-2;
    case VD_NONE: break;
  }
  return (size_t)-1;
}

size_t vdomain_rewrite(char const *prefix, char const *addr, size_t len, char *out, size_t cap)
{
  size_t pl = strlen(prefix);
  if (pl + 1 + len + 1 > cap) return 0;
  memcpy(out, prefix, pl);
  out[pl] = '-';
  memcpy(out + pl + 1, addr, len);
  out[pl + 1 + len] = 0;
  return pl + 1 + len;
}
