/* libFuzzer target: what an admin (or a careless script) writes into control/smtproutes and
   control/smtproutes-auth, as mailroom-remote and mailroom-rspawn parse them, and the texts
   made from a server's reply after AUTH. The first byte picks the part:
   0: smtproutes lines (LF-separated; looked up for the first line's domain, then for a few
      fixed names): a route found has a bounded host, a real port, an auth name of the allowed
      bytes that implies verify, and a literal's address is the host's text;
   1: smtproutes-auth (the first line's text before ':' is the name looked up): a found
      credential has bounded fields without control bytes and makes the same line again;
   2: base64 of the input: the length and the alphabet;
   3: redaction: the input up to its first NUL is the secret, the rest the text; afterwards
      the secret is nowhere in the text (unless it is the one byte "*"). */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../remote/remote.h"
#include "fuzz.h"

#define IN_MAX 8192

static int optbyte(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static void one_route(char const *lines, size_t n, char const *dom)
{
  route rt;
  int r;
  errno = 0;
  r = routes_find(lines, n, dom, &rt);
  FAIL_IF(r != 1 && r != 0 && !(r == -1 && errno == EINVAL));
  if (r != 1) return;
  FAIL_IF(!rt.found || strnlen(rt.host, sizeof rt.host) >= sizeof rt.host || rt.port > 65535);
  FAIL_IF(strnlen(rt.auth, sizeof rt.auth) > ROUTE_AUTHNAME_MAX);
  for (size_t i = 0; rt.auth[i]; i++) FAIL_IF(!optbyte(rt.auth[i]));
  FAIL_IF((rt.auth[0] || rt.smtps) && !rt.verify);
  FAIL_IF((rt.auth[0] || rt.smtps || rt.verify) && !rt.host[0]);
  if (rt.literal) {
    unsigned char ip[16];
    int ok = routes_literal(rt.host, strlen(rt.host), ip);
    if (!ok) {
      ok = inet_pton(AF_INET, rt.host, ip + 12) == 1;
      if (ok) memset(ip, 0, 10), ip[10] = ip[11] = 0xff;
      else ok = inet_pton(AF_INET6, rt.host, ip) == 1;
    }
    FAIL_IF(!ok || memcmp(ip, rt.ip, 16) != 0);
  }
}

static void routes(char *buf, size_t n)
{
  char dom[300];
  char *c;
  size_t dl;
  for (size_t i = 0; i < n; i++)
    if (buf[i] == '\n') buf[i] = 0;
  c = memchr(buf, ':', strnlen(buf, n));
  dl = c ? (size_t)(c - buf) : 0;
  if (dl < sizeof dom) {
    memcpy(dom, buf, dl);
    dom[dl] = 0;
    if (dom[0] == '.') dom[0] = 'x';
    one_route(buf, n, dom);
  }
  one_route(buf, n, "example.com");
  one_route(buf, n, "a.b.example.com");
  one_route(buf, n, "");
}

static void authfile(char const *buf, size_t n)
{
  authcred c;
  char name[ROUTE_AUTHNAME_MAX + 1], line[AUTH_LINE_MAX + 8];
  char const *e = memchr(buf, ':', n);
  size_t nl = e ? (size_t)(e - buf) : 0;
  unsigned bad = 0;
  int r;
  if (nl > ROUTE_AUTHNAME_MAX) nl = ROUTE_AUTHNAME_MAX;
  memcpy(name, buf, nl);
  name[nl] = 0;
  if (memchr(name, 0, nl)) return;
  errno = 0;
  r = auth_find(buf, n, name, &c, &bad);
  FAIL_IF(r < -1 || r > 1);
  FAIL_IF(r == -1 && !((errno == EINVAL && bad >= 1) || errno == EMSGSIZE));
  if (r != 1) return;
  FAIL_IF(strcmp(c.name, name) != 0 || !c.user[0] || !c.pass[0]);
  FAIL_IF(strlen(c.user) > AUTH_USER_MAX || strlen(c.pass) > AUTH_PASS_MAX || strchr(c.user, ':'));
  for (size_t i = 0; c.pass[i]; i++) FAIL_IF((unsigned char)c.pass[i] < 32 || c.pass[i] == 127);
  {
    /* what rspawn writes into the worker's pipe, read back as the worker reads it */
    authcred d;
    int l = snprintf(line, sizeof line, "%s:%s:%s", c.name, c.user, c.pass);
    FAIL_IF(l < 0 || (size_t)l >= sizeof line);
    FAIL_IF(auth_parseline(line, (size_t)l, &d) != 0);
    FAIL_IF(strcmp(d.name, c.name) != 0 || strcmp(d.user, c.user) != 0 || strcmp(d.pass, c.pass) != 0);
  }
}

static void base64(char const *buf, size_t n)
{
  static char out[IN_MAX * 2];
  size_t w = b64_encode(buf, n, out, sizeof out);
  FAIL_IF(w != (n + 2) / 3 * 4 || out[w]);
  for (size_t i = 0; i < w; i++)
    FAIL_IF(!(optbyte(out[i]) && out[i] != '.' && out[i] != '_' && out[i] != '-') && out[i] != '+' && out[i] != '/' &&
            !(out[i] == '=' && i >= w - 2));
  FAIL_IF(n && b64_encode(buf, n, out, (n + 2) / 3 * 4) != 0); /* no room for the NUL */
}

static void redact(char const *buf, size_t n)
{
  static char text[IN_MAX + 1];
  char secret[300];
  size_t sl = strnlen(buf, n), tl;
  if (sl >= sizeof secret || sl == n) return;
  memcpy(secret, buf, sl);
  secret[sl] = 0;
  tl = strnlen(buf + sl + 1, n - sl - 1);
  memcpy(text, buf + sl + 1, tl);
  text[tl] = 0;
  text_redact(text, secret, sl);
  FAIL_IF(strlen(text) > tl);
  if (sl > 1 || (sl == 1 && secret[0] != '*')) FAIL_IF(strstr(text, secret) != 0);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static char buf[IN_MAX + 1];
  if (!size) return 0;
  if (size - 1 > IN_MAX) size = IN_MAX + 1;
  memcpy(buf, data + 1, size - 1);
  buf[size - 1] = 0;
  switch (data[0] % 4) {
  case 0: routes(buf, size - 1 + 1); break; /* with its final NUL, as control_readlines gives */
  case 1: authfile(buf, size - 1); break;
  case 2: base64(buf, size - 1); break;
  default: redact(buf, size - 1); break;
  }
  return 0;
}
