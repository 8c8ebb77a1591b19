/* One line of control/fetchaccounts: space-separated key=value fields (doc/mailroom-fetch.8,
   "Accounts"). Pure: no I/O; the password file is read by the session, at each poll. */
#include <string.h>

#include "fetch.h"

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* copies v[0..n) into dst (size max + 1): 0, or -1 if too long */
static int put(char *dst, size_t max, char const *v, size_t n)
{
  if (n > max) return -1;
  memcpy(dst, v, n);
  dst[n] = 0;
  return 0;
}

static int num(char const *v, size_t n, uint64_t max, uint64_t *out)
{
  uint64_t x = 0;
  if (!n || n > 20) return -1;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    if (x > (max - (uint64_t)(v[i] - '0')) / 10) return -1;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  *out = x;
  return 0;
}

static int is(char const *k, size_t kn, char const *name) { return strlen(name) == kn && !memcmp(k, name, kn); }

static int name_ok(char const *s)
{
  if (!*s || *s == '.') return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_'
          || *s == '-'))
      return 0;
  return 1;
}

int fetch_acct_loopback(char const *s)
{
  if (!strcmp(s, "::1")) return 1;
  if (strncmp(s, "127.", 4)) return 0;
  {
    /* 127.a.b.c with three more numbers up to 255 */
    unsigned parts = 0, v = 0, digits = 0;
    for (s += 4;; s++) {
      if (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned)(*s - '0');
        if (++digits > 3 || v > 255) return 0;
      } else if ((*s == '.' || !*s) && digits) {
        parts++;
        v = digits = 0;
        if (!*s) break;
      } else return 0;
    }
    return parts == 3;
  }
}

/* one key=value: 0, or -1 and *why */
static int field(fetch_acct *a, char const *k, size_t kn, char const *v, size_t vn, int *seen_port, char const **why)
{
  uint64_t x;
  for (size_t i = 0; i < vn; i++)
    if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) return *why = "a control character in a value", -1;
  if (is(k, kn, "name")) {
    if (put(a->name, FETCH_NAME_MAX, v, vn) < 0 || !name_ok(a->name))
      return *why = "name= must be 1 to 64 letters, digits and ._- not starting with a dot", -1;
  } else if (is(k, kn, "server")) {
    if (!vn || put(a->server, FETCH_FIELD_MAX, v, vn) < 0) return *why = "bad server=", -1;
  } else if (is(k, kn, "tlsname")) {
    if (!vn || put(a->tlsname, FETCH_FIELD_MAX, v, vn) < 0) return *why = "bad tlsname=", -1;
  } else if (is(k, kn, "port")) {
    if (num(v, vn, 65535, &x) < 0 || !x) return *why = "port= must be 1 to 65535", -1;
    a->port = (uint16_t)x;
    *seen_port = 1;
  } else if (is(k, kn, "tls")) {
    if (vn == 5 && !memcmp(v, "pop3s", 5)) a->tls = FETCH_TLS_POP3S;
    else if (vn == 4 && !memcmp(v, "stls", 4)) a->tls = FETCH_TLS_STLS;
    else if (vn == 5 && !memcmp(v, "plain", 5)) a->tls = FETCH_TLS_PLAIN;
    else return *why = "tls= must be pop3s, stls or plain", -1;
  } else if (is(k, kn, "ca")) {
    if (vn == 6 && !memcmp(v, "system", 6)) a->ca[0] = 0;
    else if (!vn || v[0] != '/' || put(a->ca, FETCH_FIELD_MAX, v, vn) < 0)
      return *why = "ca= must be system or an absolute file name", -1;
  } else if (is(k, kn, "user")) {
    if (!vn || put(a->user, FETCH_FIELD_MAX, v, vn) < 0) return *why = "bad user=", -1;
  } else if (is(k, kn, "pass")) {
    if (!vn || put(a->pass, FETCH_PASS_MAX, v, vn) < 0) return *why = "pass= must be 1 to 256 bytes", -1;
  } else if (is(k, kn, "passfile")) {
    if (!vn || v[0] != '/' || put(a->passfile, FETCH_FIELD_MAX, v, vn) < 0)
      return *why = "passfile= must be an absolute file name", -1;
  } else if (is(k, kn, "rcpt")) {
    if (!vn || !memchr(v, '@', vn) || put(a->rcpt, FETCH_FIELD_MAX, v, vn) < 0)
      return *why = "rcpt= must be a local address user@domain", -1;
  } else if (is(k, kn, "address")) {
    if (!vn || !memchr(v, '@', vn) || put(a->address, FETCH_FIELD_MAX, v, vn) < 0)
      return *why = "address= must be an address user@domain", -1;
  } else if (is(k, kn, "mode")) {
    if (vn == 4 && !memcmp(v, "keep", 4)) a->del = 0;
    else if (vn == 6 && !memcmp(v, "delete", 6)) a->del = 1;
    else return *why = "mode= must be keep or delete", -1;
  } else if (is(k, kn, "interval")) {
    if (num(v, vn, 604800, &x) < 0 || x < 1) return *why = "interval= must be 1 to 604800 seconds", -1;
    a->interval = (unsigned long)x;
  } else if (is(k, kn, "maxsize")) {
    if (num(v, vn, (uint64_t)1 << 40, &x) < 0 || x < 1) return *why = "maxsize= must be a number of bytes", -1;
    a->maxsize = x;
  } else return *why = "unknown key", -1;
  return 0;
}

int fetch_acct_parse(fetch_acct *a, char const *line, char const **why)
{
  char const *p = line;
  int seen_port = 0;
  memset(a, 0, sizeof *a);
  a->tls = FETCH_TLS_POP3S;
  a->interval = FETCH_INTERVAL_DEFAULT;
  a->maxsize = FETCH_SIZE_DEFAULT;
  for (;;) {
    char const *k, *eq, *e;
    while (is_space(*p)) p++;
    if (!*p) break;
    k = p;
    while (*p && !is_space(*p)) p++;
    e = p;
    eq = memchr(k, '=', (size_t)(e - k));
    if (!eq || eq == k) return *why = "a field is not key=value", -1;
    if (field(a, k, (size_t)(eq - k), eq + 1, (size_t)(e - eq - 1), &seen_port, why) < 0) return -1;
  }
  if (!a->name[0]) return *why = "no name=", -1;
  if (!a->server[0]) return *why = "no server=", -1;
  if (!a->user[0]) return *why = "no user=", -1;
  if (!a->pass[0] == !a->passfile[0]) return *why = "exactly one of pass= and passfile=", -1;
  if (!a->rcpt[0]) return *why = "no rcpt=", -1;
  if (a->tls == FETCH_TLS_PLAIN && !fetch_acct_loopback(a->server))
    return *why = "tls=plain only to a loopback address (127.0.0.1, ::1): the password would cross the network in clear", -1;
  if (!seen_port) a->port = a->tls == FETCH_TLS_POP3S ? 995 : 110;
  if (!a->tlsname[0]) memcpy(a->tlsname, a->server, sizeof a->tlsname);
  if (!a->address[0]) {
    size_t u = strlen(a->user), s = strlen(a->server);
    if (strchr(a->user, '@')) memcpy(a->address, a->user, u + 1);
    else if (u + 1 + s <= FETCH_FIELD_MAX) {
      memcpy(a->address, a->user, u);
      a->address[u] = '@';
      memcpy(a->address + u + 1, a->server, s + 1);
    } else return *why = "user@server is too long: give address=", -1;
  }
  return 0;
}
