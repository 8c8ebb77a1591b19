/* Unit tests of lib/dkim_canon.c, lib/dkim_tags.c and lib/dkim_sign.c: relaxed
   canonicalisation (RFC 6376 3.4.5's example among them), tag lists good and hostile, the
   origin rule, the From domain, the signed fields and oversigning. With arguments
   "canon body" or "canon header" it prints the canonical form of stdin instead, which
   TESTS/test_dkim_sign.py compares with dkimpy's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dkim_canon.h"
#include "dkim_sign.h"
#include "dkim_tags.h"

struct sink {
  char *s;
  size_t n, cap;
};

static void out(void *ctx, char const *s, size_t n)
{
  struct sink *k = ctx;
  if (k->n + n > k->cap) {
    k->cap = (k->n + n) * 2;
    k->s = realloc(k->s, k->cap);
    if (!k->s) exit(111);
  }
  memcpy(k->s + k->n, s, n);
  k->n += n;
}

static char *slurp(size_t *n)
{
  size_t cap = 65536;
  char *b = malloc(cap);
  ssize_t r;
  *n = 0;
  while (b && (r = read(0, b + *n, cap - *n)) > 0) {
    *n += (size_t)r;
    if (*n == cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) exit(111);
      b = nb;
    }
  }
  return b;
}

static int canon_mode(char const *what)
{
  size_t n;
  int rc = 0;
  char *in = slurp(&n);
  if (!in) return 111;
  if (!strcmp(what, "body")) {
    struct sink k = { 0, 0, 0 };
    dkim_body b = DKIM_BODY_ZERO;
    /* in pieces of 7 bytes, so that a CR LF split over two feeds is exercised */
    for (size_t i = 0; i < n; i += 7) dkim_body_feed(&b, in + i, n - i < 7 ? n - i : 7, out, &k);
    dkim_body_end(&b, out, &k);
    if (k.n && fwrite(k.s, 1, k.n, stdout) != k.n) rc = 111;
    free(k.s);
  } else {
    char *o = malloc(n + 3);
    size_t m = o ? dkim_canon_header(in, n, o, 1) : 0;
    if (!m)
      rc = 100;
    else if (fwrite(o, 1, m, stdout) != m)
      rc = 111;
    free(o);
  }
  free(in);
  return fflush(stdout) || rc ? (rc ? rc : 111) : 0;
}

static void body_is(char const *in, char const *want, int lf, char const *label)
{
  struct sink k = { 0, 0, 0 };
  dkim_body b = DKIM_BODY_ZERO;
  b.lf = lf;
  dkim_body_feed(&b, in, strlen(in), out, &k);
  dkim_body_end(&b, out, &k);
  check(k.n == strlen(want) && (!k.n || !memcmp(k.s, want, k.n)), label, k.n ? "wrong output" : "empty");
  free(k.s);
}

static void header_is(char const *in, char const *want, char const *label)
{
  char o[512];
  size_t m = dkim_canon_header(in, strlen(in), o, 1);
  check(m == strlen(want) && !memcmp(o, want, m), label, "wrong output");
}

static void t_canon(void)
{
  /* RFC 6376 3.4.5 */
  header_is("A: X\r\n", "a:X\r\n", "header: rfc example A");
  header_is("B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n", "header: rfc example B");
  header_is("Subject:  \n\tfolded\n  value \n", "subject:folded value\r\n", "header: LF folding");
  check(!dkim_canon_header("no colon here\n", 14, (char[32]){ 0 }, 1), "header: no colon", "accepted");
  check(!dkim_canon_header(": empty name\n", 13, (char[32]){ 0 }, 1), "header: empty name", "accepted");
  body_is(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n", 0, "body: rfc example");
  body_is("", "", 0, "body: empty");
  body_is("\n\n\n", "", 0, "body: only empty lines");
  body_is("a", "a\r\n", 0, "body: no final line end");
  body_is("a\n \n\t\nb  \n\n", "a\r\n\r\n\r\nb\r\n", 0, "body: inner blank lines kept");
  body_is("a\r\nb\r", "a\r\nb\r\r\n", 0, "body: final bare CR");
  body_is("a\r\n", "a\r\r\n", 1, "body: stored form, CR before LF is a byte");
}

static void t_tags(void)
{
  dkim_tag t[8];
  size_t n;
  char sq[64];
  static char const rec[] = "v=DKIM1; k=rsa;\r\n\tp=MIIB Ag\r\n  ==;";
  check(dkim_tags_parse(rec, sizeof rec - 1, t, 8, &n) == 0 && n == 3, "tags: record", "refused");
  check(dkim_tags_get(t, n, "k") && dkim_tags_get(t, n, "k")->vallen == 3, "tags: get k", "wrong");
  check(dkim_tags_get(t, n, "p") && dkim_tags_squeeze(dkim_tags_get(t, n, "p"), sq) == 8 && !strcmp(sq, "MIIBAg=="),
        "tags: base64 squeezed", sq);
  check(dkim_tags_parse("", 0, t, 8, &n) == 0 && !n, "tags: empty list", "refused");
  check(dkim_tags_parse("a=", 2, t, 8, &n) == 0 && n == 1 && !t[0].vallen, "tags: empty value", "refused");
  check(dkim_tags_parse("a=1;a=2", 7, t, 8, &n) < 0 && errno == EEXIST, "tags: duplicate", "accepted");
  check(dkim_tags_parse("a=1;;", 5, t, 8, &n) < 0 && errno == EINVAL, "tags: empty tag", "accepted");
  check(dkim_tags_parse("1a=1", 4, t, 8, &n) < 0, "tags: name starts with a digit", "accepted");
  check(dkim_tags_parse("a 1=1", 5, t, 8, &n) < 0, "tags: space in a name", "accepted");
  check(dkim_tags_parse("a=1\nb=2", 7, t, 8, &n) < 0, "tags: line end without white space", "accepted");
  check(dkim_tags_parse("a=x\0y", 5, t, 8, &n) < 0, "tags: NUL", "accepted");
  check(dkim_tags_parse("a=\xff", 3, t, 8, &n) < 0, "tags: 8-bit byte", "accepted");
  check(dkim_tags_parse("a=1;b=2;c=3", 11, t, 2, &n) < 0 && errno == E2BIG, "tags: too many", "accepted");
  check(dkim_tags_parse("a", 1, t, 8, &n) < 0, "tags: no '='", "accepted");
  {
    size_t big = 200000;
    char *s = malloc(big);
    if (s) {
      s[0] = 'a';
      s[1] = '=';
      memset(s + 2, 'x', big - 2);
      check(dkim_tags_parse(s, big, t, 8, &n) == 0 && t[0].vallen == big - 2, "tags: overlong value", "refused");
      free(s);
    }
  }
}

#define H(s) (s), sizeof(s) - 1
static void t_sign(void)
{
  char d[256], h[512];
  struct sink k = { 0, 0, 0 };
  size_t body;
  check(dkim_origin(H("From: a@b\nSubject: x\n")) == DKIM_ORIGIN_LOCAL, "origin: sendmail", "wrong");
  check(dkim_origin(H("Received: from x ([1.2.3.4])\n\tby me (mailroom-smtpd, qp 42) with ESMTP;\n\tdate\n")) ==
            DKIM_ORIGIN_NET, "origin: smtp", "wrong");
  check(dkim_origin(H("Received: from x ([1.2.3.4])\n\tby me (mailroom-smtpd, qp 42) with ESMTPSA (TLSv1.3, "
                      "authenticated as u);\n\tdate\n")) == DKIM_ORIGIN_AUTH, "origin: smtp auth", "wrong");
  check(dkim_origin(H("Received: from x ([1.2.3.4])\n\tby me (mailroom-smtpd, qp 42) with UTF8SMTPA;\n")) ==
            DKIM_ORIGIN_AUTH, "origin: smtputf8 auth", "wrong");
  check(dkim_origin(H("Delivered-To: u@h\nDelivered-To: v@h\nReceived: from x (unknown)\n\tby me (mailroom-smtpd, "
                      "qp 1) with SMTP;\n")) == DKIM_ORIGIN_NET, "origin: forward of smtp mail", "wrong");
  check(dkim_origin(H("Delivered-To: u@h\nFrom: a@b\n")) == DKIM_ORIGIN_LOCAL, "origin: forward of local mail", "wrong");
  check(dkim_origin(H("Received: from pop.example (port 995, account a, TLS)\n\tby me (mailroom-fetch) with POP3S\n")) ==
            DKIM_ORIGIN_NET, "origin: fetched", "wrong");
  /* an SMTP client cannot put "with ESMTPA" in smtpd's line: the HELO has no spaces */
  check(dkim_origin(H("Received: from x?with?ESMTPA ([1.2.3.4])\n\tby me (mailroom-smtpd, qp 9) with ESMTP;\n")) ==
            DKIM_ORIGIN_NET, "origin: hostile helo", "wrong");
  check(dkim_from_domain(H("To: x@y\nFrom: \"A, B\" <a@Example.TEST>\n"), d, sizeof d) == 12 && !strcmp(d, "example.test"),
        "from: domain", d);
  check(!dkim_from_domain(H("From: a@b\nFrom: c@d\n"), d, sizeof d), "from: two From fields", "accepted");
  check(!dkim_from_domain(H("From: (unclosed\n"), d, sizeof d), "from: malformed", "accepted");
  check(!dkim_from_domain(H("Subject: x\n"), d, sizeof d), "from: none", "accepted");
  check(dkim_header_end(H("A: b\n\nbody"), &body) == 5 && body == 6, "header end", "wrong");
  check(dkim_header_end(H("A: b\nno body"), &body) == 12 && body == 12, "header end: none", "wrong");
  check(dkim_sign_fields(H("Received: x\nSubject: s\nFrom: a@b\nTo: 1\nTo: 2\n"), h, sizeof h, out, &k) == 0 &&
            !strcmp(h, "from:from:to:to:subject") && k.n == 33 && !memcmp(k.s, "from:a@b\r\nto:2\r\nto:1\r\nsubject:s\r\n", 33),
        "fields: bottom-up, From oversigned", h);
  free(k.s);
  k.s = 0;
  k.n = k.cap = 0;
  {
    size_t big = (size_t)60 * 6;
    char *m = malloc(big);
    if (m) {
      for (size_t i = 0; i < 60; i++) memcpy(m + i * 6, "To: x\n", 6);
      check(dkim_sign_fields(m, big, h, sizeof h, out, &k) < 0 && errno == E2BIG, "fields: 60 To fields refused", "accepted");
      free(m);
    }
  }
  free(k.s);
  {
    char f[600], b64[16];
    size_t n = dkim_sig_head(f, sizeof f, "rsa-sha256", "d.test", "s1", 1, "from:from", "BH");
    check(n && dkim_sig_finish(f, n, sizeof f, "QUJD") && strstr(f, "\tb=QUJD\n"), "sig field", f);
    check(dkim_sig_head(f, 20, "rsa-sha256", "d", "s", 1, "h", "b") == 0, "sig field too long", "accepted");
    dkim_base64((unsigned char const *)"ab", 2, b64);
    check(!strcmp(b64, "YWI="), "base64", b64);
  }
}

int main(int argc, char **argv)
{
  if (argc == 3 && !strcmp(argv[1], "canon")) return canon_mode(argv[2]);
  t_canon();
  t_tags();
  t_sign();
  printf("%d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
