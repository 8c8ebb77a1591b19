/* Unit tests of smtproutes relays as addresses and route options (remote/remote_routes.c),
   of control/smtproutes-auth's lines, base64 and redaction (remote/remote_auth.c), and of
   the AUTH keywords of an EHLO reply (remote/remote_reply.c). Overlong, missing, binary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../remote/remote.h"

#include "check.h"

#define S(x) x, sizeof(x) - 1

static int one(char const *line, char const *domain, route *rt)
{
  char buf[2048];
  size_t n = strlen(line);
  memcpy(buf, line, n + 1); /* a control_readlines buffer: NUL after each line */
  errno = 0;
  return routes_find(buf, n + 1, domain, rt);
}

static void test_bare(void)
{
  route rt;
  check(one("example.com:127.0.0.1:2525", "example.com", &rt) == 1 && rt.literal && rt.port == 2525 &&
            rt.ip[10] == 0xff && rt.ip[12] == 127 && rt.ip[15] == 1 && !strcmp(rt.host, "127.0.0.1"),
        "routes: bare IPv4 with port is an address", rt.host);
  check(one("example.com:192.0.2.1", "example.com", &rt) == 1 && rt.literal && !rt.port && rt.ip[12] == 192,
        "routes: bare IPv4 without port is an address", rt.host);
  check(one("example.com:::1", "example.com", &rt) == 1 && rt.literal && !rt.port && rt.ip[15] == 1 && !rt.ip[10],
        "routes: bare IPv6 (::1) is an address", rt.host);
  check(one("example.com:2001:db8::25", "example.com", &rt) == 1 && rt.literal && rt.ip[0] == 0x20 && rt.ip[15] == 0x25,
        "routes: bare IPv6 2001:db8::25", rt.host);
  check(one("example.com:[::1]:2526", "example.com", &rt) == 1 && rt.literal && rt.port == 2526,
        "routes: [::1]:port", rt.host);
  check(one("example.com:no-such-host.invalid", "example.com", &rt) == 1 && !rt.literal &&
            !strcmp(rt.host, "no-such-host.invalid"),
        "routes: a host name stays a name", rt.host);
  check(one("example.com:192.0.2.300", "example.com", &rt) == 1 && !rt.literal, "routes: 192.0.2.300 is a name", "");
  check(one("example.com:1.2.3", "example.com", &rt) == 1 && !rt.literal, "routes: 1.2.3 is a name (inet_pton)", "");
  check(one("example.com:2001:db8::1:25", "example.com", &rt) == 1 && rt.literal && !rt.port,
        "routes: an unbracketed IPv6 takes no port (2001:db8::1:25 is one address)", "");
  check(one("example.com:2001:db8:::25", "example.com", &rt) == -1 && errno == EINVAL,
        "routes: an unbracketed non-address with colons is EINVAL", "");
  check(one("example.com:127.0.0.1:", "example.com", &rt) == -1, "routes: empty port", "");
  check(one("example.com:127.0.0.1:0x19", "example.com", &rt) == -1, "routes: hex port", "");
}

static void test_options(void)
{
  route rt;
  char big[400];
  check(one("example.com:smart.test:587 auth=main", "example.com", &rt) == 1 && rt.port == 587 &&
            !strcmp(rt.auth, "main") && rt.verify && !rt.smtps && !strcmp(rt.host, "smart.test"),
        "routes: auth=NAME implies verify", rt.auth);
  check(one("example.com:127.0.0.1 smtps\tauth=a.b_c-1", "example.com", &rt) == 1 && rt.smtps && rt.verify &&
            !rt.port && !strcmp(rt.auth, "a.b_c-1") && rt.literal,
        "routes: smtps, tab, bare IP", rt.auth);
  check(one(":smart.test:25 verify", "any.test", &rt) == 1 && rt.verify && !rt.auth[0], "routes: verify, catch-all", "");
  check(one("example.com:smart.test   ", "example.com", &rt) == 1 && !rt.verify, "routes: trailing blanks", "");
  check(one("example.com:smart.test auth=", "example.com", &rt) == -1 && errno == EINVAL, "routes: auth= empty", "");
  check(one("example.com:smart.test auth=a:b", "example.com", &rt) == -1, "routes: auth name with ':'", "");
  check(one("example.com:smart.test auth=a auth=b", "example.com", &rt) == -1, "routes: auth twice", "");
  check(one("example.com:smart.test tls", "example.com", &rt) == -1, "routes: unknown option", "");
  check(one("example.com: auth=x", "example.com", &rt) == -1, "routes: options without a relay", "");
  check(one("example.com:smart.test auth=\xff", "example.com", &rt) == -1, "routes: binary auth name", "");
  memset(big, 'a', sizeof big);
  memcpy(big, "x.test:h auth=", 14);
  big[14 + ROUTE_AUTHNAME_MAX] = 0;
  check(one(big, "x.test", &rt) == 1 && strlen(rt.auth) == ROUTE_AUTHNAME_MAX, "routes: auth name at its bound", "");
  big[14 + ROUTE_AUTHNAME_MAX] = 'a';
  big[15 + ROUTE_AUTHNAME_MAX] = 0;
  check(one(big, "x.test", &rt) == -1, "routes: auth name over its bound", "");
  memset(big, 'h', sizeof big);
  memcpy(big, "x.test:", 7);
  big[sizeof big - 1] = 0;
  check(one(big, "x.test", &rt) == -1, "routes: relay over 255 bytes", "");
}

static void test_authfile(void)
{
  authcred c;
  unsigned bad;
  static char const f[] = "# smarthosts\n\nmain:user@example.com:p4ss:w d \nother:u:v\r\nmain:second:ignored\n";
  check(auth_find(S(f), "main", &c, &bad) == 1 && !strcmp(c.user, "user@example.com") && !strcmp(c.pass, "p4ss:w d "),
        "auth: the password is the rest of the line, ':' and blanks kept", c.pass);
  check(auth_find(S(f), "other", &c, &bad) == 1 && !strcmp(c.pass, "v"), "auth: CR LF line end", c.pass);
  check(auth_find(S(f), "nope", &c, &bad) == 0, "auth: no such name", "");
  check(auth_find(S("a:b:c"), "a", &c, &bad) == 1 && !strcmp(c.pass, "c"), "auth: no final newline", "");
  check(auth_find(S("ok:u:p\nbroken\n"), "ok", &c, &bad) == -1 && bad == 2 && errno == EINVAL,
        "auth: a malformed line anywhere fails the file (line number)", "");
  check(auth_find(S("a::p\n"), "a", &c, &bad) == -1, "auth: empty user", "");
  check(auth_find(S("a:u:\n"), "a", &c, &bad) == -1, "auth: empty password", "");
  check(auth_find(S(":u:p\n"), "", &c, &bad) == -1, "auth: empty name", "");
  check(auth_find(S("a:u\n"), "a", &c, &bad) == -1, "auth: missing password field", "");
  check(auth_find(S("a b:u:p\n"), "a b", &c, &bad) == -1, "auth: blank in name", "");
  check(auth_find(S("a:u:p\x01q\n"), "a", &c, &bad) == -1, "auth: control byte in password", "");
  check(auth_find("a:u:p\0q\n", 8, "a", &c, &bad) == -1, "auth: NUL in password", "");
  check(auth_find(S("a:\xc3\xa4:p\xc3\xa4\n"), "a", &c, &bad) == 1 && !strcmp(c.pass, "p\xc3\xa4"),
        "auth: UTF-8 user and password", "");
  {
    static char line[AUTH_LINE_MAX + 40];
    size_t n;
    memset(line, 'p', sizeof line);
    memcpy(line, "a:u:", 4);
    n = 4 + AUTH_PASS_MAX;
    check(auth_parseline(line, n, &c) == 0 && strlen(c.pass) == AUTH_PASS_MAX, "auth: password at its bound", "");
    errno = 0;
    check(auth_parseline(line, n + 1, &c) == -1 && errno == EMSGSIZE, "auth: password over its bound", "");
    memset(line, 'u', sizeof line);
    memcpy(line, "a:", 2);
    line[2 + AUTH_USER_MAX + 1] = ':';
    check(auth_parseline(line, 2 + AUTH_USER_MAX + 3, &c) == -1 && errno == EMSGSIZE, "auth: user over its bound", "");
  }
  {
    char *huge = malloc(AUTH_FILE_MAX + 2);
    if (!huge) abort();
    memset(huge, '#', AUTH_FILE_MAX + 1);
    check(auth_find(huge, AUTH_FILE_MAX + 1, "a", &c, &bad) == -1 && errno == EMSGSIZE, "auth: file over 64 KB", "");
    free(huge);
  }
}

static void test_b64_redact(void)
{
  char out[64], t[128];
  check(b64_encode(S(""), out, sizeof out) == 0 + 0 && !out[0], "b64: empty", out);
  check(b64_encode(S("f"), out, sizeof out) == 4 && !strcmp(out, "Zg=="), "b64: f", out);
  check(b64_encode(S("fo"), out, sizeof out) == 4 && !strcmp(out, "Zm8="), "b64: fo", out);
  check(b64_encode(S("foobar"), out, sizeof out) == 8 && !strcmp(out, "Zm9vYmFy"), "b64: foobar", out);
  check(b64_encode(S("\0user\0pass"), out, sizeof out) == 16 && !strcmp(out, "AHVzZXIAcGFzcw=="), "b64: PLAIN blob",
        out);
  check(b64_encode(S("foobar"), out, 8) == 0, "b64: no room for the NUL", "");
  snprintf(t, sizeof t, "535 bad password s3cret for s3cret!");
  text_redact(t, "s3cret", 6);
  check(!strcmp(t, "535 bad password * for *!"), "redact: every copy", t);
  snprintf(t, sizeof t, "aaaa");
  text_redact(t, "aa", 2);
  check(!strcmp(t, "**"), "redact: adjacent copies", t);
}

static void test_ehlo_auth(void)
{
  smtpreply r;
  smtpreply_init(&r);
  smtpreply_ehloline(&r, S("AUTH LOGIN PLAIN CRAM-MD5"));
  check((r.ext & EXT_AUTH_PLAIN) && (r.ext & EXT_AUTH_LOGIN), "ehlo: AUTH LOGIN PLAIN", "");
  smtpreply_init(&r);
  smtpreply_ehloline(&r, S("AUTH=LOGIN"));
  check(!(r.ext & EXT_AUTH_PLAIN) && (r.ext & EXT_AUTH_LOGIN), "ehlo: the old AUTH=LOGIN", "");
  smtpreply_init(&r);
  smtpreply_ehloline(&r, S("AUTH CRAM-MD5 PLAINX XLOGIN"));
  check(!(r.ext & (EXT_AUTH_PLAIN | EXT_AUTH_LOGIN)), "ehlo: no PLAIN or LOGIN", "");
  smtpreply_init(&r);
  smtpreply_ehloline(&r, S("AUTHX PLAIN"));
  check(!(r.ext & EXT_AUTH_PLAIN), "ehlo: AUTHX is not AUTH", "");
}

int main(void)
{
  test_bare();
  test_options();
  test_authfile();
  test_b64_redact();
  test_ehlo_auth();
  printf("# test_routes_auth: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
