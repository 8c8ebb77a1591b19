/* Unit tests of the worker protocol between mailroom-rspawn and mailroom-remote -w
   (remote/remote_wproto.c): job packets round trip and every malformed shape is refused;
   replies split into the kept domain and the records, and a malformed reply (bad kept
   field, missing, malformed or excess records) gets rspawn's fill-in results. */
#include <stdio.h>
#include <string.h>

#include "../../remote/remote_wproto.h"
#include "../../send/rspawn_proto.h"

#include "check.h"

#define S(x) x, sizeof(x) - 1

static int parses(char const *s, size_t n)
{
  static char buf[RWJOB_PACKET_MAX + 1];
  struct rwjob j;
  memcpy(buf, s, n);
  return rwjob_parse(buf, n, &j) == 0;
}

static void test_jobs(void)
{
  static char buf[RWJOB_PACKET_MAX + 1];
  static char big[RWJOB_PACKET_MAX + 10];
  char const *rc[RWJOB_RCPT_MAX + 1];
  char const *one[] = { "bob@example.test", "carol@example.test" };
  struct rwjob j;
  size_t n;
  char dom[300];

  n = rwjob_pack(buf, sizeof buf, "example.test", "alice@here.test", "1234", one, 2);
  check(n == sizeof "example.test" + sizeof "alice@here.test" + sizeof "1234" + sizeof "bob@example.test" +
                 sizeof "carol@example.test",
        "job: pack length", "wrong length");
  check(n && memcmp(buf, "example.test\0alice@here.test\0" "1234\0bob@example.test\0carol@example.test\0", n) == 0,
        "job: exact bytes", "different bytes");
  check(rwjob_parse(buf, n, &j) == 0 && !strcmp(j.domain, "example.test") && !strcmp(j.sender, "alice@here.test") &&
            j.len == 1234 && j.n == 2 && !strcmp(j.rcpt[0], one[0]) && !strcmp(j.rcpt[1], one[1]),
        "job: round trip", "fields differ");
  n = rwjob_pack(buf, sizeof buf, "example.test", "", "0", one, 1);
  check(n && rwjob_parse(buf, n, &j) == 0 && !*j.sender && j.len == 0 && j.n == 1, "job: empty sender (a bounce), msglen 0",
        "refused");
  check(parses(S("\0s\0" "1\0r@x\0")), "job: an empty domain parses (the worker reports it: D)", "refused");
  check(!rwjob_pack(buf, sizeof buf, "x.test", "s", "1", one, 0), "job: pack refuses no recipient", "packed");
  for (unsigned k = 0; k <= RWJOB_RCPT_MAX; k++) rc[k] = "r@x.test";
  check(!rwjob_pack(buf, sizeof buf, "x.test", "s", "1", rc, RWJOB_RCPT_MAX + 1), "job: pack refuses 51 recipients",
        "packed");
  n = rwjob_pack(buf, sizeof buf, "x.test", "s", "1", rc, RWJOB_RCPT_MAX);
  check(n && rwjob_parse(buf, n, &j) == 0 && j.n == RWJOB_RCPT_MAX, "job: 50 recipients", "refused");
  check(!rwjob_pack(buf, sizeof buf, "x.test", "s", "12a", one, 1), "job: pack refuses a msglen that is no number",
        "packed");
  check(!rwjob_pack(buf, 20, "x.test", "s", "1", one, 2), "job: pack refuses what does not fit", "packed");
  memset(dom, 'a', 256);
  dom[256] = 0;
  check(!rwjob_pack(buf, sizeof buf, dom, "s", "1", one, 1), "job: pack refuses a 256-byte domain", "packed");

  check(!parses("", 0), "job: empty packet refused", "parsed");
  check(!parses(S("x.test\0s\0" "1\0")), "job: no recipient refused", "parsed");
  check(!parses(S("x.test\0s\0" "1\0r@x")), "job: no NUL at the end refused", "parsed");
  check(!parses(S("x.test\0s\0" "1\0\0")), "job: an empty recipient refused", "parsed");
  check(!parses(S("x.test\0s\0\0r@x\0")), "job: empty msglen refused", "parsed");
  check(!parses(S("x.test\0s\0-1\0r@x\0")), "job: a signed msglen refused", "parsed");
  check(!parses(S("x.test\0s\0" "18446744073709551616\0r@x\0")), "job: msglen 2^64 refused", "parsed");
  check(parses(S("x.test\0s\0" "18446744073709551615\0r@x\0")), "job: msglen 2^64-1 parses", "refused");
  check(!parses(S("x.test\0s\0" "123456789012345678901\0r@x\0")), "job: 21 digits refused", "parsed");
  memcpy(big, dom, 256);
  memcpy(big + 256, "\0s\0" "1\0r@x\0", 9);
  check(!parses(big, 265), "job: a 256-byte domain refused", "parsed");
  memcpy(big, "x\0s\0" "1\0", 6);
  n = 6;
  for (unsigned k = 0; k < RWJOB_RCPT_MAX + 1; k++) {
    memcpy(big + n, "r@x", 4);
    n += 4;
  }
  check(!parses(big, n), "job: 51 recipients refused", "parsed");
  check(parses(big, n - 4), "job: 50 recipients parse", "refused");
}

static void test_replies(void)
{
  static char buf[RWJOB_PACKET_MAX];
  static struct rres res[RSPAWN_RCPT_MAX];
  char kept[RWJOB_DOMAIN_MAX + 1], note[200];
  static char const rec[] = "K250 ok\0Dsaid 550 no\0";
  size_t n, off;
  unsigned good;
  char dom[300];

  n = rwrep_pack(buf, sizeof buf, "example.test", rec, sizeof rec - 1);
  check(n == sizeof "example.test" + sizeof rec - 1 && !memcmp(buf, "example.test\0K250 ok\0", 21), "reply: exact bytes",
        "different bytes");
  check(rwrep_split(buf, n, kept, sizeof kept, &off) == 0 && !strcmp(kept, "example.test") && off == 13,
        "reply: split", "wrong split");
  good = rrec_results(buf + off, n - off, 0, 0, 2, res, note, sizeof note);
  check(good == 2 && res[0].r == 'K' && !strcmp(res[0].text, "250 ok") && res[1].r == 'D' && !*note,
        "reply: records as rspawn reads them", note);
  n = rwrep_pack(buf, sizeof buf, "", rec, sizeof rec - 1);
  check(n && rwrep_split(buf, n, kept, sizeof kept, &off) == 0 && !*kept && off == 1, "reply: nothing kept", "wrong");
  check(!rwrep_pack(buf, sizeof buf, "a b", rec, 1), "reply: pack refuses a space in kept", "packed");
  check(!rwrep_pack(buf, 5, "example.test", rec, 1), "reply: pack refuses what does not fit", "packed");
  check(rwrep_split(S("example.test"), kept, sizeof kept, &off) < 0, "reply: no NUL refused", "split");
  check(rwrep_split("", 0, kept, sizeof kept, &off) < 0, "reply: empty packet refused", "split");
  check(rwrep_split(S("ex\001ample\0K ok\0"), kept, sizeof kept, &off) < 0, "reply: a control byte in kept refused",
        "split");
  check(rwrep_split(S("ex\xc3\xa9\0K ok\0"), kept, sizeof kept, &off) < 0, "reply: an 8-bit byte in kept refused", "split");
  memset(dom, 'a', 256);
  dom[256] = 0;
  check(rwrep_split(dom, 257, kept, sizeof kept, &off) < 0, "reply: a 256-byte kept refused", "split");
  check(rwrep_split(dom, 255 + 1, kept, 100, &off) < 0, "reply: kept larger than the caller's room refused", "split");

  /* malformed records after a good kept field: rspawn's fill-in */
  good = rrec_results(S("K250 ok\0"), 0, 0, 3, res, note, sizeof note);
  check(good == 1 && res[1].r == 'Z' && res[2].r == 'Z' && strstr(note, "no record"),
        "reply: fewer records: the rest Z", note);
  good = rrec_results(S("Xbad\0K250\0"), 0, 0, 2, res, note, sizeof note);
  check(good == 0 && res[0].r == 'Z' && res[1].r == 'Z' && strstr(note, "malformed"), "reply: a malformed record: Z",
        note);
  good = rrec_results(S("K1\0K2\0K3\0"), 0, 0, 2, res, note, sizeof note);
  check(good == 2 && *note, "reply: excess records noticed (rspawn replaces the worker)", note);
  good = rrec_results("", 0, 0, 9, 2, res, note, sizeof note);
  check(good == 0 && res[0].r == 'Z' && strstr(res[0].text, "signal 9"),
        "reply: a worker killed mid-job: Z with the signal", res[0].text);
  good = rrec_results("", 0, 0, 100 << 8, 1, res, note, sizeof note);
  check(good == 0 && res[0].r == 'D', "reply: a worker that exited 100: D", res[0].text);
}

int main(void)
{
  test_jobs();
  test_replies();
  printf("test_rwproto: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
