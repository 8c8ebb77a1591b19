/* Unit tests of mailroom-remote's pure modules: SMTP replies and EHLO keywords, smtproutes,
   DNS answers, the MX list, the DATA converter. Exact bytes, every chunk size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../remote/remote.h"

#include "check.h"

#define S(x) x, sizeof(x) - 1

/* --- replies ------------------------------------------------------------------------------ */
/* Feeds s in chunks; returns feed's last result, *used the bytes taken in all. */
static int reply_run(smtpreply *r, char const *s, size_t n, size_t chunk, size_t *used)
{
  size_t pos = 0;
  int e = 0;
  smtpreply_init(r);
  while (pos < n) {
    size_t k = n - pos < chunk ? n - pos : chunk, u;
    e = smtpreply_feed(r, s + pos, k, &u);
    pos += u;
    if (e) break;
  }
  *used = pos;
  return e;
}

static void test_replies(void)
{
  static smtpreply r;
  static char big[SMTPREPLY_LINE_MAX + 10];
  char many[20000];
  size_t used, chunk, n = 0;
  int ok = 1, i;
  static char const ehlo[] = "250-mx.example.test hi\r\n250-PIPELINING\r\n250-SIZE 12345\r\n250-8bitmime\r\n250 SMTPUTF8\r\n";

  for (chunk = 1; chunk <= sizeof ehlo; chunk++) {
    int e = reply_run(&r, S(ehlo), chunk, &used);
    if (e != 1 || used != sizeof ehlo - 1 || r.code != 250 || r.nlines != 5 ||
        r.ext != (EXT_PIPELINING | EXT_SIZE | EXT_8BITMIME | EXT_SMTPUTF8) || r.sizemax != 12345)
      ok = 0;
  }
  check(ok, "reply: EHLO keywords, every chunk size", r.text);
  check(!strcmp(r.text, "250 mx.example.test hi / PIPELINING / SIZE 12345 / 8bitmime / SMTPUTF8"), "reply: text joined",
        r.text);

  check(reply_run(&r, S("220 hi\r\n250 next\r\n"), 100, &used) == 1 && used == 8 && r.code == 220,
        "reply: pipelined replies: only the first is taken", r.text);
  check(reply_run(&r, S("354\n"), 100, &used) == 1 && r.code == 354 && !strcmp(r.text, "354"),
        "reply: bare code, LF only", r.text);
  check(reply_run(&r, S("250-a\r\n251 b\r\n"), 100, &used) == -1 && errno == EPROTO, "reply: code changes: EPROTO", "");
  check(reply_run(&r, S("hello\r\n"), 100, &used) == -1 && errno == EPROTO, "reply: no code: EPROTO", "");
  check(reply_run(&r, S("250x\r\n"), 100, &used) == -1 && errno == EPROTO, "reply: bad separator: EPROTO", "");
  check(reply_run(&r, S("650 x\r\n"), 100, &used) == -1 && errno == EPROTO, "reply: code 6xx: EPROTO", "");
  check(reply_run(&r, S("25\r\n"), 100, &used) == -1 && errno == EPROTO, "reply: short line: EPROTO", "");
  memset(big, 'x', sizeof big);
  memcpy(big, "250-", 4);
  check(reply_run(&r, big, sizeof big, 4096, &used) == -1 && errno == EMSGSIZE && used <= SMTPREPLY_LINE_MAX,
        "reply: overlong line: EMSGSIZE within the bound", "");
  for (i = 0; i <= SMTPREPLY_LINES_MAX && n + 10 < sizeof many; i++) n += (size_t)snprintf(many + n, sizeof many - n, "250-l%d\r\n", i);
  check(reply_run(&r, many, n, 333, &used) == -1 && errno == E2BIG, "reply: too many lines: E2BIG", "");
  check(reply_run(&r, S("250-a\r\n250-b"), 100, &used) == 0 && r.nlines == 1 && r.linelen == 5,
        "reply: incomplete: needs more", "");
  check(reply_run(&r, S("550 5.1.1 \x01\xff bad\r\n"), 100, &used) == 1 && !strcmp(r.text, "550 5.1.1 ?? bad"),
        "reply: control and 8-bit bytes shown as ?", r.text);
  smtpreply_init(&r);
  smtpreply_ehloline(&r, S("SIZE 99999999999999999999999"));
  check(r.ext == EXT_SIZE && r.sizemax == 0, "ehlo: SIZE past our counters is no limit", "");
  smtpreply_init(&r);
  smtpreply_ehloline(&r, S("PIPELININGX"));
  smtpreply_ehloline(&r, S("SIZE"));
  check(r.ext == EXT_SIZE && !r.sizemax, "ehlo: prefix is not a keyword; SIZE without a number", "");
  smtpreply_init(&r);
  smtpreply_ehloline(&r, S("starttls"));
  check(r.ext == EXT_STARTTLS, "ehlo: STARTTLS, any case", "");
  smtpreply_init(&r);
  smtpreply_ehloline(&r, S("STARTTLSX"));
  smtpreply_ehloline(&r, S("STARTTL"));
  check(!r.ext, "ehlo: STARTTLSX and STARTTL are not STARTTLS", "");
  {
    static char const ehlo[] = "250-mx.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n";
    check(reply_run(&r, S(ehlo), 7, &used) == 1 && r.ext == (EXT_STARTTLS | EXT_PIPELINING),
          "ehlo: STARTTLS in a multi-line reply", r.text);
    static char const greet[] = "220 STARTTLS\r\n";
    check(reply_run(&r, S(greet), 100, &used) == 1 && !r.ext, "ehlo: the first line is no keyword", r.text);
  }
}

/* --- tlsdomains ------------------------------------------------------------------------- */
static void test_tlsdomains(void)
{
  static char const lines[] = "plain.test\0Verify.Test:VERIFY\0.sub.test:verify\0a.sub.test\0bad.test:yes\0"
                              "empty.test:\0";
  size_t n = sizeof lines - 1 + 1;
  check(tlsdomains_find(lines, n, "plain.test") == TLSREQ_TLS, "tlsdomains: domain: TLS", "");
  check(tlsdomains_find(lines, n, "verify.test") == TLSREQ_VERIFY, "tlsdomains: domain:verify, any case", "");
  check(tlsdomains_find(lines, n, "x.y.sub.test") == TLSREQ_VERIFY, "tlsdomains: .sub.domain", "");
  check(tlsdomains_find(lines, n, "a.sub.test") == TLSREQ_TLS, "tlsdomains: the exact domain before .suffix", "");
  check(tlsdomains_find(lines, n, "sub.test") == TLSREQ_NONE, "tlsdomains: .sub.test is not sub.test", "");
  check(tlsdomains_find(lines, n, "other.test") == TLSREQ_NONE && tlsdomains_find(lines, n, "test") == TLSREQ_NONE,
        "tlsdomains: no match", "");
  check(tlsdomains_find(lines, n, "xplain.test") == TLSREQ_NONE, "tlsdomains: a suffix without its dot", "");
  errno = 0;
  check(tlsdomains_find(lines, n, "bad.test") == -1 && errno == EINVAL, "tlsdomains: domain:yes is EINVAL", "");
  check(tlsdomains_find(lines, n, "empty.test") == -1, "tlsdomains: domain: with nothing after is EINVAL", "");
  check(tlsdomains_find(0, 0, "x.test") == TLSREQ_NONE && tlsdomains_find(lines, n, "") == TLSREQ_NONE,
        "tlsdomains: no file, empty domain", "");
  check(tlsdomains_find(S("x.test:verify\0"), "x.test") == TLSREQ_VERIFY, "tlsdomains: last line", "");
  check(tlsdomains_find("x.test:verify", 6, "x.test") == TLSREQ_TLS, "tlsdomains: bounded by n, not by NUL", "");
}

/* --- smtproutes ------------------------------------------------------------------------- */
static void test_routes(void)
{
  static char const lines[] = "example.test:relay.test\0.sub.test:[10.0.0.1]:2525\0"
                              "v6.test:[IPv6:2001:db8::1]:26\0mx.test:\0bad.test:host:0\0:smart.test";
  size_t n = sizeof lines - 1 + 1;
  route rt;
  char buf[80];
  unsigned char ip[16];
  check(routes_find(lines, n, "Example.TEST", &rt) == 1 && !strcmp(rt.host, "relay.test") && !rt.port && !rt.literal,
        "routes: exact domain, any case", rt.host);
  check(routes_find(lines, n, "a.b.sub.test", &rt) == 1 && rt.literal && rt.port == 2525 && rt.ip[15] == 1 &&
            rt.ip[10] == 0xff,
        "routes: .sub.domain, [ip]:port", rt.host);
  check(routes_find(lines, n, "sub.test", &rt) == 1 && !strcmp(rt.host, "smart.test"),
        "routes: .sub.test does not match sub.test itself: smarthost", rt.host);
  check(routes_find(lines, n, "v6.test", &rt) == 1 && rt.literal && rt.port == 26 && rt.ip[0] == 0x20 && rt.ip[15] == 1,
        "routes: [IPv6:...]:port", rt.host);
  check(routes_find(lines, n, "mx.test", &rt) == 1 && !rt.host[0], "routes: empty host means MX", rt.host);
  check(routes_find(lines, n, "bad.test", &rt) == -1 && errno == EINVAL, "routes: port 0: EINVAL", "");
  check(routes_find(lines, n - 1 - (sizeof ":smart.test" - 1), "other.test", &rt) == 0, "routes: no match", "");
  check(routes_find(0, 0, "x.test", &rt) == 0, "routes: no file", "");
  check(routes_find(S("x.test:[1.2.3.4\0"), "x.test", &rt) == -1, "routes: unterminated literal", "");
  check(routes_find(S("x.test:[1.2.3.4]x\0"), "x.test", &rt) == -1, "routes: junk after literal", "");
  check(routes_find(S("x.test:h:99999\0"), "x.test", &rt) == -1, "routes: port too big", "");
  check(routes_literal(S("[300.1.1.1]"), ip) == 0 && routes_literal(S("1.2.3.4"), ip) == 0 &&
            routes_literal(S("[::1]"), ip) == 1,
        "routes: literals", "");
  ip_fmt(rt.ip, buf);
  (void)buf;
}

/* --- DNS answers ------------------------------------------------------------------------ */
static size_t put_name(unsigned char *p, char const *dotted)
{
  unsigned char w[DNSNAME_MAX + 1];
  size_t l;
  if (dnsname_fromdot(dotted, strlen(dotted), w) < 0) abort();
  l = dnsname_len(w);
  memcpy(p, w, l);
  return l;
}

/* header + question for qname/qtype, ancount records to follow */
static size_t pkt_start(unsigned char *p, char const *qname, unsigned qtype, unsigned an, unsigned rcode)
{
  size_t n;
  memset(p, 0, 12);
  p[2] = 0x81;
  p[3] = (unsigned char)(0x80 | rcode);
  p[5] = 1;
  p[7] = (unsigned char)an;
  n = 12 + put_name(p + 12, qname);
  p[n++] = 0;
  p[n++] = (unsigned char)qtype;
  p[n++] = 0;
  p[n++] = 1;
  return n;
}

static size_t put_rr(unsigned char *p, char const *owner, unsigned type, unsigned char const *rd, size_t rdlen)
{
  size_t n = put_name(p, owner);
  unsigned char h[10] = {0, (unsigned char)type, 0, 1, 0, 0, 0, 60, (unsigned char)(rdlen >> 8), (unsigned char)rdlen};
  memcpy(p + n, h, 10);
  memcpy(p + n + 10, rd, rdlen);
  return n + 10 + rdlen;
}

static size_t rd_mx(unsigned char *rd, unsigned pref, char const *host)
{
  rd[0] = (unsigned char)(pref >> 8);
  rd[1] = (unsigned char)pref;
  if (!*host) {
    rd[2] = 0;
    return 3;
  }
  return 2 + put_name(rd + 2, host);
}

static void test_dns(void)
{
  static unsigned char p[4096], rd[300];
  static dnsans a;
  unsigned char q[DNSNAME_MAX + 1];
  char txt[300];
  size_t n, k;
  unsigned char a4[4] = {10, 1, 2, 3};

  dnsname_fromdot(S("Example.Test"), q);
  n = pkt_start(p, "example.test", DNSQ_MX, 3, 0);
  k = rd_mx(rd, 20, "mx2.example.test");
  n += put_rr(p + n, "example.test", DNSQ_MX, rd, k);
  k = rd_mx(rd, 10, "mx1.example.test");
  n += put_rr(p + n, "EXAMPLE.test", DNSQ_MX, rd, k);
  n += put_rr(p + n, "other.test", DNSQ_A, a4, 4);
  check(dnsans_parse((char *)p, n, q, DNSQ_MX, &a) == 0 && a.nmx == 2 && a.mx[0].pref == 20 && a.mx[1].pref == 10 &&
            !a.nullmx && !a.cname,
        "dns: two MX, other records ignored, names any case", "");
  dnsname_todot(a.mx[1].name, txt, sizeof txt);
  check(!strcmp(txt, "mx1.example.test"), "dns: name to text", txt);
  check(dnsans_parse((char *)p, n - 1, q, DNSQ_MX, &a) == -1 && errno == EPROTO, "dns: one byte short: EPROTO", "");
  for (k = 0; k < n; k++)
    if (dnsans_parse((char *)p, k, q, DNSQ_MX, &a) != -1) break;
  check(k == n, "dns: every truncation refused", "");

  /* compression: the MX name points back at the question; a pointer loop */
  n = pkt_start(p, "example.test", DNSQ_MX, 1, 0);
  {
    unsigned char r[] = {0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 5, 2, 'm', 'x', 0xc0, 12};
    memcpy(p + n, r, sizeof r);
    n += sizeof r;
  }
  check(dnsans_parse((char *)p, n, q, DNSQ_MX, &a) == 0 && a.nmx == 1, "dns: compressed names", "");
  dnsname_todot(a.mx[0].name, txt, sizeof txt);
  check(!strcmp(txt, "mx.example.test"), "dns: compressed name read", txt);
  p[n - 1] = (unsigned char)(n - 2); /* the pointer points at itself */
  check(dnsans_parse((char *)p, n, q, DNSQ_MX, &a) == -1 && errno == EPROTO, "dns: compression loop: EPROTO", "");

  n = pkt_start(p, "example.test", DNSQ_MX, 1, 0);
  k = rd_mx(rd, 0, "");
  n += put_rr(p + n, "example.test", DNSQ_MX, rd, k);
  check(dnsans_parse((char *)p, n, q, DNSQ_MX, &a) == 0 && a.nullmx && !a.nmx, "dns: null MX", "");

  n = pkt_start(p, "example.test", DNSQ_MX, 0, 3);
  check(dnsans_parse((char *)p, n, q, DNSQ_MX, &a) == 0 && a.rcode == 3, "dns: NXDOMAIN", "");

  /* CNAME chain inside the answer, records of the end */
  n = pkt_start(p, "example.test", DNSQ_A, 3, 0);
  n += put_rr(p + n, "c2.test", DNSQ_A, a4, 4);
  k = put_name(rd, "c2.test");
  n += put_rr(p + n, "c1.test", DNSQ_CNAME, rd, k);
  k = put_name(rd, "c1.test");
  n += put_rr(p + n, "example.test", DNSQ_CNAME, rd, k);
  check(dnsans_parse((char *)p, n, q, DNSQ_A, &a) == 0 && a.naddr == 1 && a.addr[0][10] == 0xff && a.addr[0][15] == 3 &&
            !a.cname,
        "dns: CNAME chain in any order", "");
  /* a chain that leaves the answer */
  n = pkt_start(p, "example.test", DNSQ_A, 1, 0);
  k = put_name(rd, "far.test");
  n += put_rr(p + n, "example.test", DNSQ_CNAME, rd, k);
  check(dnsans_parse((char *)p, n, q, DNSQ_A, &a) == 0 && a.cname && !a.naddr, "dns: CNAME to ask for again", "");
  dnsname_todot(a.target, txt, sizeof txt);
  check(!strcmp(txt, "far.test"), "dns: CNAME target", txt);
  /* a loop */
  n = pkt_start(p, "example.test", DNSQ_MX, 2, 0);
  k = put_name(rd, "b.test");
  n += put_rr(p + n, "example.test", DNSQ_CNAME, rd, k);
  k = put_name(rd, "example.test");
  n += put_rr(p + n, "b.test", DNSQ_CNAME, rd, k);
  check(dnsans_parse((char *)p, n, q, DNSQ_MX, &a) == -1 && errno == ELOOP, "dns: CNAME loop: ELOOP", "");
  /* an A record of the wrong size */
  n = pkt_start(p, "example.test", DNSQ_A, 1, 0);
  n += put_rr(p + n, "example.test", DNSQ_A, a4, 3);
  check(dnsans_parse((char *)p, n, q, DNSQ_A, &a) == -1 && errno == EPROTO, "dns: A with RDLENGTH 3: EPROTO", "");
  /* the answer to another question */
  n = pkt_start(p, "other.test", DNSQ_MX, 0, 0);
  check(dnsans_parse((char *)p, n, q, DNSQ_MX, &a) == -1, "dns: another question: EPROTO", "");

  check(dnsname_fromdot(S("a..b"), q) == -1 && dnsname_fromdot(S(""), q) == -1 && dnsname_fromdot(S("."), q) == -1,
        "dns: empty labels refused", "");
  memset(txt, 'a', 64);
  check(dnsname_fromdot(txt, 64, q) == -1, "dns: 64-byte label refused", "");
  {
    unsigned char w[] = {3, 'a', '.', 0xff, 0};
    dnsname_todot(w, txt, sizeof txt);
    check(!strcmp(txt, "a\\046\\255"), "dns: odd bytes escaped", txt);
    dnsname_todot(w, txt, 6);
    check(strlen(txt) < 6, "dns: text bounded", txt);
  }
}

/* --- MX list ------------------------------------------------------------------------------ */
static unsigned seq;
static unsigned rnd_seq(unsigned n) { return seq++ % n; }
static unsigned rnd_zero(unsigned n)
{
  (void)n;
  return 0;
}

static void test_mx(void)
{
  static dnsmx mx[6];
  static mxaddr ad[5];
  static unsigned char self[2][16];
  unsigned prefs[6] = {30, 10, 20, 10, 10, 5}, i, n;
  int ok = 1, seen[3] = {0, 0, 0}, run, wasself;
  for (run = 0; run < 30; run++) {
    for (i = 0; i < 6; i++) {
      mx[i].pref = prefs[i];
      mx[i].name[0] = 1;
      mx[i].name[1] = (unsigned char)('a' + i);
      mx[i].name[2] = 0;
    }
    mx_sort(mx, 6, run & 1 ? rnd_seq : rnd_zero);
    for (i = 1; i < 6; i++)
      if (mx[i - 1].pref > mx[i].pref) ok = 0;
    if (mx[0].pref != 5 || mx[4].pref != 20) ok = 0;
    seen[mx[1].name[1] == 'b' ? 0 : mx[1].name[1] == 'd' ? 1 : 2] = 1;
  }
  check(ok, "mx: sorted by preference", "");
  check(seen[0] + seen[1] + seen[2] >= 2, "mx: equal preferences shuffled", "");

  for (i = 0; i < 5; i++) {
    memset(ad[i].ip, 0, 16);
    ad[i].ip[15] = (unsigned char)(i + 1);
    ad[i].pref = 10 * (i + 1);
  }
  memcpy(self[0], ad[2].ip, 16); /* pref 30 is us */
  self[1][0] = 0xfe;
  n = mx_dropself(ad, 5, (unsigned char const(*)[16])self, 2, &wasself);
  check(n == 2 && wasself && ad[1].pref == 20, "mx: self and worse dropped", "");
  n = mx_dropself(ad, 2, (unsigned char const(*)[16])self, 2, &wasself);
  check(n == 2 && !wasself, "mx: nothing of ours: kept", "");
  memcpy(self[0], ad[0].ip, 16);
  n = mx_dropself(ad, 2, (unsigned char const(*)[16])self, 2, &wasself);
  check(n == 0 && wasself, "mx: we are the best MX: nothing left", "");
}

/* --- the DATA stream -------------------------------------------------------------------- */
static void test_msg(void)
{
  static char const in[] = ".a\nb\r\n..c\n.\n\nbare\rcr\nend";
  static char const want[] = "..a\r\nb\r\r\n...c\r\n..\r\n\r\nbare\rcr\r\nend\r\n.\r\n";
  char out[200];
  size_t chunk;
  int ok = 1;
  msgconv c;
  for (chunk = 1; chunk <= sizeof in; chunk++) {
    size_t i = 0, o = 0;
    msgconv_init(&c);
    while (i < sizeof in - 1) {
      size_t k = sizeof in - 1 - i < chunk ? sizeof in - 1 - i : chunk;
      o += msgconv_data(&c, in + i, k, out + o);
      i += k;
    }
    o += msgconv_end(&c, out + o);
    if (o != sizeof want - 1 || memcmp(out, want, o) != 0) ok = 0;
  }
  check(ok, "msg: CRLF, dot-stuffing, bare CR kept, final CRLF and dot, every chunk size", "");
  msgconv_init(&c);
  msgconv_scan(&c, S("ab\n\xc3\xa4"));
  msgconv_scanend(&c);
  check(c.wire == 8 && c.eightbit, "msg: wire size and 8-bit", "");
  msgconv_init(&c);
  check(msgconv_end(&c, out) == 3 && !memcmp(out, ".\r\n", 3), "msg: empty message", "");
}

int main(void)
{
  test_replies();
  test_routes();
  test_tlsdomains();
  test_dns();
  test_mx();
  test_msg();
  printf("# test_remote_parsers: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
