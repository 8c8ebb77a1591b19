/* Unit tests for the remote channel's packets and mailroom-rspawn's reading of
   mailroom-remote's records (send/rspawn_proto.c): round trips, every malformed shape, and
   the fill-in rules when mailroom-remote misbehaves. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "../../send/rspawn_proto.h"

static int failed;

static void check(int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (!ok) failed = 1;
}

#define EXITED(c) ((c) << 8)

static int parses(char const *p, size_t n)
{
  struct rreq q;
  return rreq_parse(p, n, &q) == 0;
}

int main(void)
{
  static char buf[RSPAWN_PACKET_MAX + 16];
  static struct rres res[RSPAWN_RCPT_MAX], back[RSPAWN_RCPT_MAX];
  char note[200];
  struct rreq q;
  size_t n;
  {
    char const *rc[] = { "a@Example.test", "b@example.TEST", "c@example.test" };
    n = rreq_pack(buf, sizeof buf, 7, "1763893836.042117.4711", 1234, "s@x.test", rc, 3);
    check(n > 0 && rreq_parse(buf, n, &q) == 0 && q.slot == 7 && q.len == 1234 && q.n == 3 &&
            !strcmp(q.id, "1763893836.042117.4711") && !strcmp(q.sender, "s@x.test") && !strcmp(q.rcpt[2], "c@example.test"),
          "request: pack and parse round trip, domains compared case-insensitively");
    check(n > 0 && !parses(buf, n - 1), "request: missing final NUL refused");
    memcpy(buf + n, "x", 2);
    check(!parses(buf, n + 1), "request: a trailing byte without NUL refused");
    check(!parses(buf, n + 2), "request: a trailing field of another domain refused");
  }
  {
    char const *rc[] = { "a@one.test", "b@two.test" };
    check(rreq_pack(buf, sizeof buf, 1, "1763893836.042117.4711", 1, "", rc, 2) == 0,
          "request: pack refuses mixed domains");
    check(rreq_pack(buf, sizeof buf, 1, "1763893836.042117.4711", 1, "", rc, 0) == 0, "request: pack refuses no recipient");
  }
  {
    static char const *rc[RSPAWN_RCPT_MAX + 1];
    static char addrs[RSPAWN_RCPT_MAX + 1][1001];
    for (int k = 0; k <= RSPAWN_RCPT_MAX; k++) {
      memset(addrs[k], 'a', 1000);
      memcpy(addrs[k] + 990, "@big.test", 10);
      addrs[k][999] = 0;
      rc[k] = addrs[k];
    }
    n = rreq_pack(buf, sizeof buf, 999, "1763893836.042117.4711", 1, "s@x", rc, RSPAWN_RCPT_MAX);
    check(n > 0 && n <= RSPAWN_PACKET_MAX && parses(buf, n), "request: 50 recipients of 1000 bytes fit in a packet");
    check(rreq_pack(buf, sizeof buf, 1, "1763893836.042117.4711", 1, "s@x", rc, RSPAWN_RCPT_MAX + 1) == 0,
          "request: pack refuses 51 recipients");
    {
      size_t m = 0;
      char const *hdr = "1\0" "1763893836.042117.4711\0" "5\0" "s@x\0";
      memcpy(buf, hdr, 31);
      m = 31;
      for (int k = 0; k <= RSPAWN_RCPT_MAX; k++) {
        memcpy(buf + m, "r@d.test", 9);
        m += 9;
      }
      check(!parses(buf, m), "request: parse refuses 51 recipients");
    }
  }
  {
    struct { char const *p; size_t n; char const *label; } bad[] = {
      { "", 0, "request: empty packet refused" },
      { "1000\0" "1763893836.042117.4711\0" "5\0" "s\0" "r@d\0", 35, "request: slot 1000 refused" },
      { "01\0" "1763893836.042117.4711\0" "5\0" "s\0" "r@d\0", 33, "request: slot with a leading zero refused" },
      { "1\0" "../../etc/passwd\0" "5\0" "s\0" "r@d\0", 28, "request: a bad queue id refused" },
      { "1\0" "1763893836.042117.4711\0" "-5\0" "s\0" "r@d\0", 33, "request: a signed length refused" },
      { "1\0" "1763893836.042117.4711\0" "99999999999999999999\0" "s\0" "r@d\0", 51, "request: a 20-digit length refused" },
      { "1\0" "1763893836.042117.4711\0" "5\0" "s\0", 28, "request: no recipient refused" },
      { "1\0" "1763893836.042117.4711\0" "5\0" "s\0" "\0", 29, "request: an empty recipient refused" },
      { "1\0" "1763893836.042117.4711\0" "5\0" "s\0" "r@d\r\n\0", 34, "request: CR LF in a recipient refused" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) check(!parses(bad[k].p, bad[k].n), bad[k].label);
  }
  /* replies */
  res[0].r = 'K', strcpy(res[0].text, "250 2.0.0 ok");
  res[1].r = 'D', strcpy(res[1].text, "550 5.1.1 <b@d>: no such user");
  res[2].r = 'Z', strcpy(res[2].text, "");
  n = rrep_pack(buf, sizeof buf, 12, res, 3);
  {
    unsigned slot = 0, s2 = 0;
    check(n > 0 && rrep_slot(buf, n, &s2) == 0 && s2 == 12 && rrep_parse(buf, n, &slot, back, 3) == 0 && slot == 12 &&
            back[1].r == 'D' && !strcmp(back[1].text, res[1].text) && back[2].r == 'Z' && !back[2].text[0],
          "reply: pack and parse round trip");
    check(rrep_parse(buf, n, &slot, back, 2) < 0, "reply: more results than recipients refused");
    check(rrep_parse(buf, n, &slot, back, 4) < 0, "reply: fewer results than recipients refused");
    check(rrep_parse(buf, n - 1, &slot, back, 3) < 0, "reply: a missing NUL refused");
    buf[3] = 'Q';
    check(rrep_parse(buf, n, &slot, back, 3) < 0, "reply: an unknown result letter refused");
  }
  /* mailroom-remote's records */
  {
    char const rec[] = "K250 ok\0Z451 4.7.1 try later\0D550 5.1.1 no\0";
    unsigned g = rrec_results(rec, sizeof rec - 1, 0, EXITED(0), 3, res, note, sizeof note);
    check(g == 3 && res[1].r == 'Z' && !strcmp(res[1].text, "451 4.7.1 try later") && !*note,
          "records: three well-formed records, exit 0");
    g = rrec_results(rec, sizeof rec - 1, 0, EXITED(0), 2, res, note, sizeof note);
    check(g == 2 && *note && strstr(note, "more than"), "records: excess records ignored, noted");
    g = rrec_results(rec, 8, 0, EXITED(111), 3, res, note, sizeof note);
    check(g == 1 && res[0].r == 'K' && res[1].r == 'Z' && res[2].r == 'Z' && strstr(res[1].text, "exited 111") &&
            !strncmp(res[1].text, "4.3.0 ", 6),
          "records: exit 111 after one record: the record stands, the rest Z");
    g = rrec_results(rec, 8, 0, EXITED(100), 3, res, note, sizeof note);
    check(g == 1 && res[1].r == 'D' && !strncmp(res[1].text, "5.3.0 ", 6), "records: exit 100: the rest D");
    g = rrec_results("", 0, 0, SIGSEGV, 2, res, note, sizeof note);
    check(g == 0 && res[0].r == 'Z' && strstr(res[0].text, "signal 11"), "records: killed by a signal: all Z");
    g = rrec_results("X250 ok\0", 8, 0, EXITED(0), 1, res, note, sizeof note);
    check(g == 0 && res[0].r == 'Z' && strstr(res[0].text, "malformed"), "records: unknown letter is malformed");
    g = rrec_results("K250 ok", 7, 0, EXITED(0), 1, res, note, sizeof note);
    check(g == 0 && res[0].r == 'Z', "records: a record without NUL is malformed");
    g = rrec_results("K250 \x01ok\0", 9, 0, EXITED(0), 1, res, note, sizeof note);
    check(g == 0 && res[0].r == 'Z', "records: a control byte is malformed");
    g = rrec_results("K250 ok\nbcc\0", 12, 0, EXITED(0), 1, res, note, sizeof note);
    check(g == 0 && res[0].r == 'Z', "records: a newline in a text is malformed");
    {
      static char big[RSPAWN_RECORDS_MAX];
      memset(big, 'a', sizeof big);
      big[0] = 'K';
      g = rrec_results(big, sizeof big, 1, EXITED(0), 2, res, note, sizeof note);
      check(g == 0 && res[0].r == 'Z' && res[1].r == 'Z', "records: a 10 MB record (cut at the cap) is malformed");
      memset(big, 0, sizeof big);
      for (size_t k = 0; k + 1 < sizeof big; k += 2) big[k] = 'K';
      g = rrec_results(big, sizeof big, 1, EXITED(0), 50, res, note, sizeof note);
      check(g == 50 && strstr(note, "more than"), "records: a flood of records: 50 taken, excess noted");
    }
    {
      char t[RSPAWN_TEXT_MAX + 3];
      t[0] = 'K';
      memset(t + 1, 'x', RSPAWN_TEXT_MAX);
      t[RSPAWN_TEXT_MAX + 1] = 0;
      g = rrec_results(t, RSPAWN_TEXT_MAX + 2, 0, EXITED(0), 1, res, note, sizeof note);
      check(g == 1 && strlen(res[0].text) == RSPAWN_TEXT_MAX, "records: a 900-byte text is taken");
      t[RSPAWN_TEXT_MAX + 1] = 'x';
      t[RSPAWN_TEXT_MAX + 2] = 0;
      g = rrec_results(t, RSPAWN_TEXT_MAX + 3, 0, EXITED(0), 1, res, note, sizeof note);
      check(g == 0 && res[0].r == 'Z', "records: a 901-byte text is malformed");
    }
  }
  check(!strcmp(rspawn_domain("a@b@C.test"), "C.test") && !strcmp(rspawn_domain("nodomain"), ""),
        "domain: after the last @");
  return failed;
}
