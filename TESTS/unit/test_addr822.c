/* Unit test of lib/addr822.c (and lib/date822.c): RFC 5322 address lists to addr-specs,
   with hostile input (overlong, NUL bytes, unterminated quotes and comments, deep nesting,
   random bytes). One PASS/FAIL line per case. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr822.h"
#include "date822.h"

typedef struct counts_s {
  unsigned int pass, fail;
} counts;

static void check(counts *c, int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (ok) c->pass++;
  else c->fail++;
}

/* want: the addresses joined with '|', or 0 for an error with errno want_errno. */
static void parse(counts *c, char const *label, char const *s, size_t len, char const *want,
                  int want_errno)
{
  char out[4096], got[4096];
  size_t outlen = 99, n = 99, i, g = 0, pos = 0;
  int r = addr822_parse(s, len, out, sizeof out, &outlen, &n);
  int ok;
  if (!want) {
    ok = r < 0 && errno == want_errno;
    if (!ok) printf("  r=%d errno=%d n=%zu\n", r, errno, n);
    check(c, ok, label);
    return;
  }
  if (r < 0) {
    printf("  unexpected error %d (%s)\n", errno, strerror(errno));
    check(c, 0, label);
    return;
  }
  /* join the NUL-terminated results with '|' */
  for (i = 0; i < n; i++) {
    size_t l = strlen(out + pos);
    if (i) got[g++] = '|';
    memcpy(got + g, out + pos, l);
    g += l;
    pos += l + 1;
  }
  got[g] = 0;
  ok = pos == outlen && !strcmp(got, want);
  if (!ok) printf("  got [%s] (n=%zu outlen=%zu), want [%s]\n", got, n, outlen, want);
  check(c, ok, label);
}

#define P(label, s, want) parse(&c, label, s, sizeof(s) - 1, want, 0)
#define E(label, s, e) parse(&c, label, s, sizeof(s) - 1, 0, e)

static unsigned long long rng(unsigned long long *x)
{
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Random input over an alphabet of specials: the result is an error or a consistent list. */
static void fuzz(counts *c)
{
  static char const alpha[] = "ab.@<>()\"\\[]:;, \t\r\n\001\000\377x";
  char s[300], out[302];
  unsigned long long x = 88172645463325252ULL;
  unsigned int it, bad = 0;
  for (it = 0; it < 200000; it++) {
    size_t len = rng(&x) % sizeof s, i, n, outlen, pos = 0;
    for (i = 0; i < len; i++) s[i] = alpha[rng(&x) % (sizeof alpha - 1)];
    if (addr822_parse(s, len, out, len + 1, &outlen, &n) < 0) {
      if (errno != EINVAL && errno != ENAMETOOLONG) bad++;
      continue;
    }
    if (outlen > len + 1) bad++;
    for (i = 0; i < n && pos < outlen; i++) {
      size_t l = strnlen(out + pos, outlen - pos);
      if (l == outlen - pos || l > ADDR822_MAX || memchr(out + pos, '\n', l)
          || memchr(out + pos, '\r', l))
        bad++;
      pos += l + 1;
    }
    if (i != n || pos != outlen) bad++;
  }
  check(&c[0], !bad, "fuzz: 200000 random inputs give an error or a consistent list");
}

static void hostile(counts *c)
{
  size_t big = 1 << 20, outlen, n, i;
  char *s = malloc(big), *out = malloc(big + 1);
  int r;
  if (!s || !out) {
    free(s);
    free(out);
    check(c, 0, "hostile: malloc");
    return;
  }
  memset(s, '(', big);
  r = addr822_parse(s, big, out, big + 1, &outlen, &n);
  check(c, r < 0 && errno == EINVAL, "hostile: 1 MiB of '(' is an unterminated comment");
  memset(s, '"', big);
  s[0] = 'a';
  r = addr822_parse(s, big, out, big + 1, &outlen, &n);
  check(c, r < 0 && errno == EINVAL, "hostile: 1 MiB of quotes");
  for (i = 0; i < big; i++) s[i] = i % 2 ? ',' : 'a';
  r = addr822_parse(s, big, out, big + 1, &outlen, &n);
  check(c, !r && n == big / 2 && outlen == big, "hostile: 512 Ki one-letter addresses fit in len + 1");
  r = addr822_parse(s, big, out, 1000, &outlen, &n);
  check(c, r < 0 && errno == ENOBUFS && n == 500 && outlen == 1000, "hostile: small out buffer: ENOBUFS, the addresses before kept");
  memset(s, 'a', big);
  r = addr822_parse(s, big, out, big + 1, &outlen, &n);
  check(c, r < 0 && errno == ENAMETOOLONG && !n && !outlen, "hostile: 1 MiB address: ENAMETOOLONG");
  for (i = 0; i < big; i++) s[i] = (char)(i * 2654435761u >> 13);
  r = addr822_parse(s, big, out, big + 1, &outlen, &n);
  check(c, r < 0, "hostile: 1 MiB of binary is refused");
  free(s);
  free(out);
}

static void longest(counts *c)
{
  char s[1100], out[1200];
  size_t outlen, n;
  memset(s, 'x', 998);
  memcpy(s + 998, "@y", 2);
  check(c, !addr822_parse(s, 1000, out, sizeof out, &outlen, &n) && n == 1 && outlen == 1001,
        "length: an address of exactly 1000 bytes");
  memcpy(s + 998, "x@y", 3);
  check(c, addr822_parse(s, 1001, out, sizeof out, &outlen, &n) < 0 && errno == ENAMETOOLONG,
        "length: 1001 bytes is ENAMETOOLONG");
}

static void dates(counts *c)
{
  char d[DATE822_MAX + 1];
  size_t n;
  n = date822_fmt(d, 0, 0);
  check(c, n == 30 && !strcmp(d, "Thu, 1 Jan 1970 00:00:00 +0000"), "date: the epoch");
  date822_fmt(d, 1763893836, 3600);
  check(c, !strcmp(d, "Sun, 23 Nov 2025 11:30:36 +0100"), "date: +0100");
  date822_fmt(d, 1763893836, -(5 * 3600 + 30 * 60));
  check(c, !strcmp(d, "Sun, 23 Nov 2025 05:00:36 -0530"), "date: -0530");
  date822_fmt(d, 951782400, 0);
  check(c, !strcmp(d, "Tue, 29 Feb 2000 00:00:00 +0000"), "date: leap day 2000");
  date822_fmt(d, 4102444799LL, 0);
  check(c, !strcmp(d, "Thu, 31 Dec 2099 23:59:59 +0000"), "date: end of 2099");
  date822_fmt(d, -1, 0);
  check(c, !strcmp(d, "Wed, 31 Dec 1969 23:59:59 +0000"), "date: before the epoch");
  date822_fmt(d, 253402300799LL, 0);
  check(c, !strcmp(d, "Fri, 31 Dec 9999 23:59:59 +0000"), "date: the last second of 9999");
  check(c, !date822_fmt(d, 253402300800LL, 0) && !*d, "date: year 10000 is refused");
  check(c, !date822_fmt(d, -2208988801LL, 0), "date: 1899 is refused");
  check(c, !date822_fmt(d, 0, 360000), "date: a 100-hour offset is refused");
  check(c, !date822_fmt(d, 9223372036854775807LL, 0), "date: the largest time is refused");
  date822_fmt(d, 0, 59);
  check(c, !strcmp(d, "Thu, 1 Jan 1970 00:00:00 +0000"), "date: seconds of an offset are dropped");
  check(c, date822_fmtlocal(d, 1763893836) >= 30, "date: local time");
}

int main(void)
{
  counts c = { 0, 0 };
  P("simple", "a@b.c", "a@b.c");
  P("display names and commas", "Joe <joe@x.org>, \"Ann, B\" <ann@y.org>", "joe@x.org|ann@y.org");
  P("nested comment", "joe@x.org (Joe (the \\) one) Smith)", "joe@x.org");
  P("comments and spaces between tokens", "joe . smith (c) @ x . org", "joe.smith@x.org");
  P("quoted local part", "\"john doe\"@x.org", "\"john doe\"@x.org");
  P("escaped quote kept", "\"a\\\"b\"@x", "\"a\\\"b\"@x");
  P("group", "friends: a@b.c, Dee <d@e.f>;, g@h.i", "a@b.c|d@e.f|g@h.i");
  P("empty group", "undisclosed-recipients:;", "");
  P("unterminated group accepted", "list: a@b.c", "a@b.c");
  P("route removed", "<@r1.org,@r2.org:u@h.org>", "u@h.org");
  P("empty angle is the null address", "<>", "");
  P("bare local part", "joe", "joe");
  P("folded value", " a@b.c,\n  d@e.f\n", "a@b.c|d@e.f");
  P("folded quoted string", "\"a\n b\"@c", "\"a b\"@c");
  P("domain literal", "u@[1.2.3.4]", "u@[1.2.3.4]");
  P("IPv6 literal", "u@[IPv6:::1]", "u@[IPv6:::1]");
  P("semicolon separator", "a@b.c; d@e.f", "a@b.c|d@e.f");
  P("empty entries skipped", ",a@b.c,,  ,", "a@b.c");
  P("empty value", "", "");
  P("only a comment", "(nobody)", "");
  P("UTF-8", "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc.de>", "j\xc3\xb6rg@b\xc3\xbc.de");
  P("quoted display name with specials", "\"<a@b>, x\" <real@x.org>", "real@x.org");
  P("unquoted at in display name", "a@b.c <real@x.org>", "real@x.org");
  P("comment inside angle", "<a(x)@b.c>", "a@b.c");
  P("tab and CR as white space", "\ta@b.c\r", "a@b.c");
  P("dotted quoted words", "a.\"b c\".d@e", "a.\"b c\".d@e");

  E("unterminated quote", "\"abc@x", EINVAL);
  E("unterminated quote after backslash", "\"abc\\", EINVAL);
  E("unterminated comment", "a@b (oops", EINVAL);
  E("stray close paren", "a@b)", EINVAL);
  E("stray close angle", "a@b>", EINVAL);
  E("unclosed angle", "Joe <a@b", EINVAL);
  E("two angles", "<a@b> <c@d>", EINVAL);
  E("text after angle", "<a@b> junk", EINVAL);
  E("words without comma", "a@b.c d@e.f", EINVAL);
  E("phrase without address", "John Doe", EINVAL);
  E("two @", "a@b@c", EINVAL);
  E("dangling @", "a@", EINVAL);
  E("dangling dot in local part", "a.@b", EINVAL);
  E("dangling dot in domain", "a@b.", EINVAL);
  E("no local part", "@b", EINVAL);
  E("unterminated literal", "a@[1.2", EINVAL);
  E("nested literal", "a@[1[2]", EINVAL);
  E("nested group", "g: h: a@b;;", EINVAL);
  E("NUL byte", "a\0b@c", EINVAL);
  E("NUL in quoted string", "\"a\0\"@c", EINVAL);
  E("NUL in comment", "a@c (\0)", EINVAL);
  E("control character", "a\001@b", EINVAL);
  E("escaped LF in quoted string", "\"a\\\n\"@b", EINVAL);
  E("backslash outside quotes", "a\\b@c", EINVAL);
  E("DEL", "a\177@b", EINVAL);
  {
    char out[4];
    size_t outlen, n;
    check(&c, addr822_parse("abcdef@x", 8, out, sizeof out, &outlen, &n) < 0 && errno == ENOBUFS,
          "output too small: ENOBUFS");
    check(&c, addr822_parse("", 0, out, 0, &outlen, &n) == 0 && !n, "empty input, no room: fine");
    check(&c, addr822_parse("<>", 2, out, 0, &outlen, &n) < 0 && errno == ENOBUFS,
          "null address, no room: ENOBUFS");
  }
  longest(&c);
  hostile(&c);
  fuzz(&c);
  dates(&c);
  printf("test_addr822: %u passed, %u failed\n", c.pass, c.fail);
  return c.fail ? 1 : 0;
}
