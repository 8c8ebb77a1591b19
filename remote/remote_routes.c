/* control/smtproutes, as qmail reads it: "domain:relay[:port]". The relay may be an address
   literal [1.2.3.4] or [IPv6:2001:db8::1] (whose colons are why the literal is cut at ']'
   before the port), a bare address (192.0.2.1, or 2001:db8::1 without a port: qmail's
   dns_ip takes an address as itself, with no DNS query), empty for "use the MX records".
   mailroom's options follow the relay after a blank (smtps, verify, auth=NAME): qmail's
   scan_ulong stops at the blank, so a qmail reading the same file still finds its port. */
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

/* A bare address as qmail's dns_ip takes it: 1 and ip, 0 if s[0..n) is not one. */
static int bare_ip(char const *s, size_t n, unsigned char *ip)
{
  char buf[64];
  if (!n || n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = 0;
  if (inet_pton(AF_INET, buf, ip + 12) == 1) {
    memset(ip, 0, 10);
    ip[10] = ip[11] = 0xff;
    return 1;
  }
  return inet_pton(AF_INET6, buf, ip) == 1;
}

static int optname_ok(char const *s, size_t n)
{
  size_t i;
  if (!n || n > ROUTE_AUTHNAME_MAX) return 0;
  for (i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
          s[i] == '_' || s[i] == '-'))
      return 0;
  return 1;
}

/* The options after the relay: "smtps", "verify", "auth=NAME", separated by blanks. */
static int options(char const *v, size_t n, route *out)
{
  size_t i = 0;
  while (i < n) {
    size_t j;
    if (v[i] == ' ' || v[i] == '\t') {
      i++;
      continue;
    }
    for (j = i; j < n && v[j] != ' ' && v[j] != '\t'; j++) {
    }
    if (j - i == 5 && !strncasecmp(v + i, "smtps", 5)) out->smtps = out->verify = 1;
    else if (j - i == 6 && !strncasecmp(v + i, "verify", 6)) out->verify = 1;
    else if (j - i > 5 && !strncasecmp(v + i, "auth=", 5) && optname_ok(v + i + 5, j - i - 5) && !out->auth[0]) {
      memcpy(out->auth, v + i + 5, j - i - 5);
      out->auth[j - i - 5] = 0;
      out->verify = 1; /* credentials go only to a certificate we checked */
    } else
      return -1;
    i = j;
  }
  return 0;
}

/* The value after "domain:" into out. */
static int parse(char const *v, size_t n, route *out)
{
  size_t h = 0, rl = 0;
  /* the relay[:port] ends at the first blank; options follow */
  while (rl < n && v[rl] != ' ' && v[rl] != '\t') rl++;
  if (rl < n && options(v + rl, n - rl, out) < 0) goto inval;
  n = rl;
  if (n && v[0] == '[') {
    char const *e = memchr(v, ']', n);
    if (!e) goto inval;
    h = (size_t)(e - v) + 1;
    if (!routes_literal(v, h, out->ip)) goto inval;
    out->literal = 1;
  } else if (memchr(v, ':', n) != memrchr(v, ':', n) && bare_ip(v, n, out->ip)) {
    /* two colons or more: an IPv6 address without brackets (and so without a port) */
    h = n;
    out->literal = 1;
  } else {
    while (h < n && v[h] != ':') h++;
    out->literal = bare_ip(v, h, out->ip); /* "192.0.2.1", as qmail's dns_ip reads it */
  }
  if (h >= sizeof out->host) goto inval;
  memcpy(out->host, v, h);
  out->host[h] = 0;
  if (!h && (out->smtps || out->verify || out->auth[0])) goto inval; /* options need a relay */
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
