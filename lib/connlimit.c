/* control/smtpdlimits and control/pop3dlimits, and the client key of an address. Pure. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "connlimit.h"
#include "control.h"

struct knob {
  char const *name;
  size_t off;
  unsigned int min, max;
};
#define K(n, lo, hi) { #n, offsetof(struct connlimit, n), lo, hi }
static struct knob const knobs[] = {
  K(perclient, 0, CONNLIMIT_PERCLIENT_MAX),
  K(prefix4, 1, 32),
  K(prefix6, 1, 128),
  K(sessions, 1, CONNLIMIT_SESSIONS_MAX),
  K(overload, 1, 100),
  K(overloadtimeout, 1, CONNLIMIT_SECONDS_MAX),
  K(sessiontime, 0, CONNLIMIT_SECONDS_MAX),
  K(minrate, 0, 100000000),
  K(rategrace, 1, CONNLIMIT_SECONDS_MAX),
};
#define NKNOBS (sizeof knobs / sizeof knobs[0])

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* One line (without its LF). 0, or -1 with *why. */
static int parse_line(char const *s, size_t n, struct connlimit *c, unsigned int *seen, char const **why)
{
  size_t i = 0, ns, k;
  unsigned long v = 0;
  while (n && blank(s[n - 1])) n--;
  while (i < n && blank(s[i])) i++;
  if (i == n || s[i] == '#') return 0;
  ns = i;
  while (i < n && !blank(s[i])) i++;
  for (k = 0; k < NKNOBS; k++)
    if (strlen(knobs[k].name) == i - ns && !memcmp(knobs[k].name, s + ns, i - ns)) break;
  if (k == NKNOBS) return (*why = "unknown name", -1);
  if (*seen & (1u << k)) return (*why = "name given twice", -1);
  *seen |= 1u << k;
  while (i < n && blank(s[i])) i++;
  if (i == n) return (*why = "no value", -1);
  if (n - i > 10) return (*why = "value out of range", -1);
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return (*why = "value is not a number", -1);
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v < knobs[k].min || v > knobs[k].max) return (*why = "value out of range", -1);
  *(unsigned int *)((char *)c + knobs[k].off) = (unsigned int)v;
  return 0;
}

int connlimit_parse(char const *s, size_t len, struct connlimit *c, unsigned int *line, char const **why)
{
  struct connlimit t = *c;
  unsigned int seen = 0;
  size_t pos = 0;
  *line = 0;
  if (len > CONNLIMIT_FILE_MAX) return (*why = "file too long", errno = EFBIG, -1);
  while (pos < len) {
    char const *lf = memchr(s + pos, '\n', len - pos);
    size_t n = lf ? (size_t)(lf - (s + pos)) : len - pos;
    ++*line;
    if (n + 1 > CONTROL_LINE_MAX) return (*why = "line too long", errno = EINVAL, -1);
    if (memchr(s + pos, 0, n)) return (*why = "NUL byte", errno = EINVAL, -1);
    if (parse_line(s + pos, n, &t, &seen, why) < 0) return (errno = EINVAL, -1);
    pos += n + 1;
  }
  if (t.overloadtimeout == 0) t.overloadtimeout = 1;
  *line = 0;
  *c = t;
  return 0;
}

int connlimit_key(char const *ip, struct connlimit const *c, char *key)
{
  static char const hex[] = "0123456789abcdef";
  unsigned char a[16];
  unsigned int plen, nb, i;
  size_t w = 0;
  int v4 = 0;
  if (strlen(ip) > 45) return (errno = EINVAL, -1);
  if (inet_pton(AF_INET, ip, a) == 1) v4 = 1;
  else if (inet_pton(AF_INET6, ip, a) == 1) {
    static unsigned char const mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (!memcmp(a, mapped, 12)) {
      memmove(a, a + 12, 4);
      v4 = 1;
    }
  } else return (errno = EINVAL, -1);
  nb = v4 ? 4 : 16;
  plen = v4 ? c->prefix4 : c->prefix6;
  if (plen > nb * 8) plen = nb * 8;
  for (i = 0; i < nb; i++) {
    unsigned int keep = plen >= (i + 1) * 8 ? 8 : plen > i * 8 ? plen - i * 8 : 0;
    a[i] &= (unsigned char)(0xff00u >> keep);
  }
  memcpy(key, v4 ? "v4-" : "v6-", 3);
  w = 3;
  for (i = 0; i < nb; i++) {
    key[w++] = hex[a[i] >> 4];
    key[w++] = hex[a[i] & 15];
  }
  key[w++] = '-';
  if (plen >= 100) key[w++] = (char)('0' + plen / 100);
  if (plen >= 10) key[w++] = (char)('0' + plen / 10 % 10);
  key[w++] = (char)('0' + plen % 10);
  key[w] = 0;
  return 0;
}

unsigned int connlimit_threshold(struct connlimit const *c)
{
  unsigned long t = ((unsigned long)c->sessions * c->overload + 99) / 100;
  return t ? (unsigned int)t : 1;
}
