/* Unit tests of mailroom-smtpd's pure modules: the command-line framer, the verb and
   MAIL/RCPT/HELO parsers, addresses (the DATA state machine, with exact bytes, every chunk
   size, the SMTP smuggling variants: test_smtpd_data.c). Policy and control maps:
   test_smtpd_policy.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtpd.h"

#include "check.h"

#define S(x) x, sizeof(x) - 1

/* --- the line framer ------------------------------------------------------------------- */

/* Feeds s in chunks of chunk bytes until a line is done; returns bytes taken. */
static size_t line_run(smtpd_line *l, char const *s, size_t n, size_t chunk, int *done)
{
  size_t pos = 0;
  smtpd_line_reset(l);
  *done = 0;
  while (pos < n && !*done) {
    size_t k = n - pos < chunk ? n - pos : chunk;
    pos += smtpd_line_feed(l, s + pos, k, done);
  }
  return pos;
}

static void line_case(char const *label, char const *s, size_t n, size_t wanttaken, char const *wantline,
                      size_t wantlen, unsigned int wantflags)
{
  static size_t const chunks[] = { 1, 2, 3, 7, 100000 };
  size_t i;
  for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    smtpd_line l;
    int done;
    char lab[200], why[300];
    size_t taken = line_run(&l, s, n, chunks[i], &done);
    snprintf(lab, sizeof lab, "line %s (chunk %zu)", label, chunks[i]);
    snprintf(why, sizeof why, "taken %zu want %zu, len %zu want %zu, flags %u want %u, done %d", taken,
             wanttaken, l.len, wantlen, l.flags, wantflags, done);
    check(done && taken == wanttaken && l.len == wantlen && !memcmp(l.s, wantline, wantlen) &&
              l.flags == wantflags,
          lab, why);
  }
}

static void line_tests(void)
{
  char big[1200];
  smtpd_line l;
  int done;
  size_t k;
  line_case("crlf", S("EHLO x\r\n"), 8, "EHLO x", 6, 0);
  line_case("stops at the first line", S("NOOP\r\nQUIT\r\n"), 6, "NOOP", 4, 0);
  line_case("bare LF", S("EHLO x\nQUIT\r\n"), 7, "EHLO x", 6, LINE_BARELF);
  line_case("bare CR kept in the line", S("A\rB\r\n"), 5, "A\rB", 3, LINE_BARECR);
  line_case("CR CR LF", S("A\r\r\n"), 4, "A\r", 2, LINE_BARECR);
  line_case("NUL", S("NO\0OP\r\n"), 7, "NO\0OP", 5, LINE_NUL);
  line_case("empty", S("\r\n"), 2, "", 0, 0);

  memset(big, 'a', sizeof big);
  big[998] = '\r';
  big[999] = '\n';
  line_case("998 bytes + CRLF = 1000", big, 1000, 1000, big, 998, 0);
  memset(big, 'a', sizeof big);
  big[999] = '\r';
  big[1000] = '\n';
  line_case("999 bytes + CRLF refused", big, 1001, 1001, big, 998, LINE_LONG);

  /* a line without LF is never done, and takes everything */
  smtpd_line_reset(&l);
  k = smtpd_line_feed(&l, S("HELO x\r"), &done);
  check(!done && k == 7 && l.cr, "line unfinished at CR", "done or not all taken");
  k = smtpd_line_feed(&l, S("\nX"), &done);
  check(done && k == 1 && l.len == 6 && !l.flags, "line CR LF across two feeds", "bad result");
}

/* --- verbs and arguments ------------------------------------------------------------- */

static void verb_tests(void)
{
  size_t ap;
  check(smtpd_cmd_verb(S("mail FROM:<a@b>"), &ap) == V_MAIL && ap == 5, "verb lowercase mail", "no");
  check(smtpd_cmd_verb(S("EhLo  x"), &ap) == V_EHLO && ap == 6, "verb mixed case, two spaces", "no");
  check(smtpd_cmd_verb(S("MAILX FROM:<>"), &ap) == V_UNKNOWN, "verb MAILX unknown", "no");
  check(smtpd_cmd_verb(S(""), &ap) == V_EMPTY, "verb empty line", "no");
  check(smtpd_cmd_verb(S(" QUIT"), &ap) == V_UNKNOWN, "verb leading space", "no");
  check(smtpd_cmd_verb(S("STARTTLS"), &ap) == V_STARTTLS, "verb STARTTLS", "no");
  check(smtpd_cmd_verb(S("bdat 10 LAST"), &ap) == V_BDAT && ap == 5, "verb BDAT", "no");
  check(smtpd_cmd_verb(S("QUIT"), &ap) == V_QUIT && ap == 4, "verb QUIT, no argument", "no");
  check(smtpd_cmd_verb(S("GET / HTTP/1.0"), &ap) == V_UNKNOWN, "verb GET unknown", "no");
}

static void helo_tests(void)
{
  char name[SMTPD_HELO_MAX + 1], big[300];
  check(smtpd_cmd_helo(S("client.example.org"), name) == 0 && !strcmp(name, "client.example.org"), "helo name",
        "no");
  check(smtpd_cmd_helo(S("[127.0.0.1] junk"), name) == 0 && !strcmp(name, "[127.0.0.1]"), "helo first word",
        "no");
  check(smtpd_cmd_helo(S(""), name) == -1, "helo missing", "no");
  memset(big, 'a', sizeof big);
  check(smtpd_cmd_helo(big, 256, name) == -2, "helo 256 bytes refused", "no");
  check(smtpd_cmd_helo(big, 255, name) == 0, "helo 255 bytes", "no");
  check(smtpd_cmd_helo(S("a\tb"), name) == -2, "helo control character", "no");
}

struct pcase {
  char const *label;
  int rcpt;  /* 0 MAIL, 1 RCPT */
  int esmtp; /* EHLO */
  int utf8;  /* RCPT: the transaction has SMTPUTF8 */
  char const *arg;
  enum smtpd_perr want;
  char const *addr; /* on P_OK */
};

static struct pcase const pcases[] = {
  { "mail plain", 0, 1, 0, "FROM:<joe@example.org>", P_OK, "joe@example.org" },
  { "mail lowercase from, space after colon", 0, 1, 0, "from: <joe@example.org>", P_OK, "joe@example.org" },
  { "mail null sender", 0, 1, 0, "FROM:<>", P_OK, "" },
  { "mail no brackets", 0, 1, 0, "FROM:joe@example.org", P_SYNTAX, 0 },
  { "mail no FROM:", 0, 1, 0, "<joe@example.org>", P_SYNTAX, 0 },
  { "mail no closing bracket", 0, 1, 0, "FROM:<joe@example.org", P_SYNTAX, 0 },
  { "mail junk after bracket", 0, 1, 0, "FROM:<a@b>x", P_SYNTAX, 0 },
  { "mail trailing spaces", 0, 1, 0, "FROM:<a@b>   ", P_OK, "a@b" },
  { "mail SIZE", 0, 1, 0, "FROM:<a@b> SIZE=1000", P_OK, "a@b" },
  { "mail SIZE after HELO", 0, 0, 0, "FROM:<a@b> SIZE=1000", P_PARAM, 0 },
  { "mail SIZE not a number", 0, 1, 0, "FROM:<a@b> SIZE=12k", P_PARAMSYN, 0 },
  { "mail SIZE twice", 0, 1, 0, "FROM:<a@b> SIZE=1 SIZE=2", P_PARAMSYN, 0 },
  { "mail SIZE no value", 0, 1, 0, "FROM:<a@b> SIZE", P_PARAMSYN, 0 },
  { "mail BODY=8BITMIME", 0, 1, 0, "FROM:<a@b> BODY=8BITMIME", P_OK, "a@b" },
  { "mail body=7bit", 0, 1, 0, "FROM:<a@b> body=7bit", P_OK, "a@b" },
  { "mail BODY=BINARYMIME", 0, 1, 0, "FROM:<a@b> BODY=BINARYMIME", P_PARAM, 0 },
  { "mail unknown parameter", 0, 1, 0, "FROM:<a@b> XVERP=1", P_PARAM, 0 },
  { "mail bad keyword", 0, 1, 0, "FROM:<a@b> -X=1", P_PARAMSYN, 0 },
  { "mail empty value", 0, 1, 0, "FROM:<a@b> SIZE=", P_PARAMSYN, 0 },
  { "mail SMTPUTF8 with value", 0, 1, 0, "FROM:<a@b> SMTPUTF8=yes", P_PARAMSYN, 0 },
  { "mail UTF-8 with SMTPUTF8", 0, 1, 0, "FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.de> SMTPUTF8", P_OK,
    "j\xc3\xb6rg@b\xc3\xbc" "cher.de" },
  { "mail UTF-8 without SMTPUTF8", 0, 1, 0, "FROM:<j\xc3\xb6rg@example.de>", P_UTF8, 0 },
  { "mail bad UTF-8 with SMTPUTF8", 0, 1, 0, "FROM:<j\xc3rg@example.de> SMTPUTF8", P_BADUTF8, 0 },
  { "mail overlong UTF-8", 0, 1, 0, "FROM:<j\xc0\xafrg@example.de> SMTPUTF8", P_BADUTF8, 0 },
  { "mail source route dropped", 0, 1, 0, "FROM:<@relay.one,@relay.two:joe@example.org>", P_OK,
    "joe@example.org" },
  { "mail bad route", 0, 1, 0, "FROM:<@relay.one,joe@example.org>", P_ADDR, 0 },
  { "mail needless quotes dropped", 0, 1, 0, "FROM:<\"joe.x\"@example.org>", P_OK, "joe.x@example.org" },
  { "mail needed quotes kept", 0, 1, 0, "FROM:<\"joe x\"@example.org>", P_OK, "\"joe x\"@example.org" },
  { "mail quoted bracket", 0, 1, 0, "FROM:<\"a>b\"@example.org>", P_OK, "\"a>b\"@example.org" },
  { "mail escaped quote", 0, 1, 0, "FROM:<\"a\\\"b\"@example.org>", P_OK, "\"a\\\"b\"@example.org" },
  { "mail double dot", 0, 1, 0, "FROM:<a..b@example.org>", P_ADDR, 0 },
  { "mail leading dot", 0, 1, 0, "FROM:<.a@example.org>", P_ADDR, 0 },
  { "mail empty domain", 0, 1, 0, "FROM:<a@>", P_ADDR, 0 },
  { "mail no domain", 0, 1, 0, "FROM:<joe>", P_NODOMAIN, 0 },
  { "mail domain hyphen", 0, 1, 0, "FROM:<a@-x.org>", P_ADDR, 0 },
  { "mail domain trailing dot", 0, 1, 0, "FROM:<a@x.org.>", P_ADDR, 0 },
  { "mail domain literal", 0, 1, 0, "FROM:<a@[127.0.0.1]>", P_OK, "a@[127.0.0.1]" },
  { "mail IPv6 literal", 0, 1, 0, "FROM:<a@[IPv6:::1]>", P_OK, "a@[IPv6:::1]" },
  { "mail space in address", 0, 1, 0, "FROM:<a b@example.org>", P_ADDR, 0 },
  { "mail tab in address", 0, 1, 0, "FROM:<a\tb@example.org>", P_ADDR, 0 },
  { "mail two @", 0, 1, 0, "FROM:<a@b@c>", P_ADDR, 0 },
  { "rcpt plain", 1, 1, 0, "TO:<demo@localhost>", P_OK, "demo@localhost" },
  { "rcpt postmaster alone", 1, 1, 0, "TO:<Postmaster>", P_OK, "Postmaster" },
  { "rcpt no domain", 1, 1, 0, "TO:<demo>", P_NODOMAIN, 0 },
  { "rcpt null", 1, 1, 0, "TO:<>", P_ADDR, 0 },
  { "rcpt parameter", 1, 1, 0, "TO:<a@b> XFOO=NEVER", P_PARAM, 0 },
  { "rcpt bad parameter", 1, 1, 0, "TO:<a@b> =x", P_PARAMSYN, 0 },
  { "rcpt UTF-8 in a SMTPUTF8 transaction", 1, 1, 1, "TO:<\xe7\x94\xa8\xe6\x88\xb7@example.org>", P_OK,
    "\xe7\x94\xa8\xe6\x88\xb7@example.org" },
  { "rcpt UTF-8 without SMTPUTF8", 1, 1, 0, "TO:<\xe7\x94\xa8\xe6\x88\xb7@example.org>", P_UTF8, 0 },
  { "rcpt surrogate", 1, 1, 1, "TO:<\xed\xa0\x80@example.org>", P_BADUTF8, 0 },
  { "rcpt FROM: instead of TO:", 1, 1, 0, "FROM:<a@b>", P_SYNTAX, 0 },
};

static void path_tests(void)
{
  size_t i;
  smtpd_path p;
  char big[1100];
  for (i = 0; i < sizeof pcases / sizeof pcases[0]; i++) {
    struct pcase const *c = &pcases[i];
    char why[300];
    enum smtpd_perr e = c->rcpt ? smtpd_cmd_rcpt(c->arg, strlen(c->arg), c->esmtp, c->utf8, &p)
                                : smtpd_cmd_mail(c->arg, strlen(c->arg), c->esmtp, &p);
    int ok = e == c->want && (e != P_OK || (p.len == strlen(c->addr) && !strcmp(p.addr, c->addr)));
    snprintf(why, sizeof why, "got %d want %d, address '%.200s'", (int)e, (int)c->want, p.addr);
    check(ok, c->label, why);
  }
  smtpd_cmd_mail(S("FROM:<a@b> SIZE=123 BODY=8BITMIME SMTPUTF8"), 1, &p);
  check(p.hassize && p.size == 123 && p.body == BODY_8BITMIME && p.smtputf8, "mail parameters read",
        "wrong values");
  smtpd_cmd_mail(S("FROM:<a@b> SIZE=99999999999999999999"), 1, &p);
  check(p.hassize && p.size == ~0ULL, "mail SIZE too large to count", "not saturated");
  smtpd_cmd_mail(S("FROM:<a@example.org>"), 1, &p);
  check(p.at == 1 && !p.nonascii, "mail at position", "wrong");
  /* a 64-label domain longer than 255 bytes */
  strcpy(big, "FROM:<a@");
  for (i = 0; i < 70; i++) memcpy(big + 8 + 4 * i, "abc.", 4);
  memcpy(big + 8 + 4 * i, "org>", sizeof "org>"); /* i is 70 here */
  check(smtpd_cmd_mail(big, strlen(big), 1, &p) == P_ADDR, "mail domain over 255 bytes", "accepted");
  check(smtpd_domain_valid(S("a.b-c.d_e"), 0), "domain with underscore tolerated", "no");
  check(!smtpd_domain_valid(S("a..b"), 0), "domain empty label", "accepted");
  check(!smtpd_domain_valid(S("b\xc3\xbc" "cher.de"), 0) && smtpd_domain_valid(S("b\xc3\xbc" "cher.de"), 1),
        "domain U-label only with utf8", "no");
  check(smtpd_utf8_valid(S("\xf0\x9f\x93\xa7")) && !smtpd_utf8_valid(S("\xf4\x90\x80\x80")),
        "utf8 4 bytes, past U+10FFFF", "no");
}

int main(void)
{
  line_tests();
  verb_tests();
  helo_tests();
  path_tests();
  printf("# test_smtpd: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
