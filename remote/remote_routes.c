/* control/smtproutes, as qmail reads it: "domain:relay[:port]". The relay may be an address
   literal [1.2.3.4] or [IPv6:2001:db8::1] (whose colons are why the literal is cut at ']'
   before the port), empty for "use the MX records". */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "remote.h"

int routes_literal(char const *s, size_t n, unsigned char *ip)
{
  char buf[64];
  if (n < 3 || s[0] != '[' || s[n - 1] != ']' || n - 2 >= sizeof buf) return 0;
  memcpy(buf, s + 1, n - 2);
  buf[n - 2] = 0;
  if (inet_pton(AF_INET, buf, ip + 12) == 1) {
    memset(ip, 0, 10);
    ip[10] = ip[11] = 0xff;
    return 1;
  }
  if (!strncasecmp(buf, "IPv6:", 5)) return inet_pton(AF_INET6, buf + 5, ip) == 1;
  return inet_pton(AF_INET6, buf, ip) == 1;
}

/* The value after "domain:" into out. */
static int parse(char const *v, size_t n, route *out)
{
  size_t h = 0;
  if (n && v[0] == '[') {
    char const *e = memchr(v, ']', n);
    if (!e) goto inval;
    h = (size_t)(e - v) + 1;
    if (!routes_literal(v, h, out->ip)) goto inval;
    out->literal = 1;
  } else
    while (h < n && v[h] != ':') h++;
  if (h >= sizeof out->host) goto inval;
  memcpy(out->host, v, h);
  out->host[h] = 0;
  if (h < n) {
    unsigned long p = 0;
    size_t i = h + 1;
    if (v[h] != ':' || i == n) goto inval;
    for (; i < n; i++) {
      if (v[i] < '0' || v[i] > '9') goto inval;
      p = p * 10 + (unsigned long)(v[i] - '0');
      if (p > 65535) goto inval;
    }
    if (!p) goto inval;
    out->port = (unsigned)p;
  }
  out->found = 1;
  return 1;
inval:
  errno = EINVAL;
  return -1;
}

/* The line whose key (before the first ':') is key[0..k), case-insensitively. */
static char const *lookup(char const *lines, size_t n, char const *key, size_t k, size_t *vlen)
{
  size_t i = 0;
  while (i < n) {
    char const *l = lines + i;
    size_t ll = strnlen(l, n - i);
    char const *c = memchr(l, ':', ll);
    if (c && (size_t)(c - l) == k && !strncasecmp(l, key, k)) {
      *vlen = ll - k - 1;
      return c + 1;
    }
    i += ll + 1;
  }
  return 0;
}

int routes_find(char const *lines, size_t n, char const *domain, route *out)
{
  size_t dl = strlen(domain), i;
  memset(out, 0, sizeof *out);
  if (!lines) return 0;
  /* "a.b.c", then ".b.c", ".c", then "" */
  for (i = 0; i <= dl; i++) {
    size_t vl;
    char const *v;
    if (i && i < dl && domain[i] != '.') continue;
    v = lookup(lines, n, domain + i, dl - i, &vl);
    if (v) return parse(v, vl, out);
  }
  return 0;
}

/* control/tlsdomains: the line whose domain (before an optional ':') is key[0..k). */
static char const *tlsline(char const *lines, size_t n, char const *key, size_t k, size_t *llen)
{
  size_t i = 0;
  while (i < n) {
    char const *l = lines + i;
    size_t ll = strnlen(l, n - i);
    char const *c = memchr(l, ':', ll);
    size_t dl = c ? (size_t)(c - l) : ll;
    if (dl == k && !strncasecmp(l, key, k)) {
      *llen = ll;
      return l;
    }
    i += ll + 1;
  }
  return 0;
}

int tlsdomains_find(char const *lines, size_t n, char const *domain)
{
  size_t dl = strlen(domain), i;
  if (!lines || !dl) return TLSREQ_NONE;
  /* "a.b.c", then ".b.c", ".c"; no catch-all: requiring TLS of the whole internet is a
     decision per domain */
  for (i = 0; i < dl; i++) {
    size_t ll;
    char const *l;
    if (i && domain[i] != '.') continue;
    l = tlsline(lines, n, domain + i, dl - i, &ll);
    if (!l) continue;
    if (ll == dl - i) return TLSREQ_TLS;
    if (ll - (dl - i) == 7 && !strncasecmp(l + dl - i + 1, "verify", 6)) return TLSREQ_VERIFY;
    errno = EINVAL;
    return -1;
  }
  return TLSREQ_NONE;
}
