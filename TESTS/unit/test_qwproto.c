/* lib/qwproto.c: the queue writer's socket protocol. A request is exactly "MRQW1 Q" with 2
   descriptors and is sorted into one QWR_ code; a verdict is formatted to exact bytes and
   parses back; the reply parser takes only the go and well-formed verdicts (a code-0 verdict
   with a valid queue id, lib/qid.c; any other code without one) and nothing else. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "qid.h"
#include "qwproto.h"

#define S(x) (x), sizeof(x) - 1
#define ID "1765000000.123456.4242"
/* the longest id qid_parse takes: 20 digits of seconds, 6 of usec, 10 of pid (38 bytes) */
#define ID_LONGEST "12345678901234567890.123456.1234567890"

static void request(char const *label, char const *s, size_t len, unsigned nfds, int trunc, int want)
{
  static char why[80];
  int r = qwproto_request(s, len, nfds, trunc);
  snprintf(why, sizeof why, "got %d, want %d", r, want);
  check(r == want, label, why);
}

/* The id buffer qwproto_reply is promised (QID_MAX + 1 bytes) with bytes after it that it
   must leave alone: an overlong id copied in shows without a sanitizer too. */
struct guarded {
  char id[QID_MAX + 1];
  char guard[16];
};

static int guard_ok(struct guarded const *g)
{
  for (size_t i = 0; i < sizeof g->guard; i++)
    if (g->guard[i] != 'x') return 0;
  return 1;
}

/* A reply that must parse as kind with code and id. */
static void reply_ok(char const *label, char const *s, size_t len, int kind, int code, char const *id)
{
  static char why[200];
  struct guarded g;
  int c = -7, k;
  memset(&g, 'x', sizeof g);
  g.id[QID_MAX] = 0;
  k = qwproto_reply(s, len, &c, g.id);
  if (kind == 'G') {
    snprintf(why, sizeof why, "got %d", k);
    check(k == 'G' && guard_ok(&g), label, why);
    return;
  }
  snprintf(why, sizeof why, "got kind %d code %d id '%s'%s", k, c, g.id, guard_ok(&g) ? "" : ", wrote past id");
  check(k == kind && c == code && !strcmp(g.id, id) && guard_ok(&g), label, why);
}

static void reply_bad(char const *label, char const *s, size_t len)
{
  static char why[80];
  struct guarded g;
  int c = -7, k;
  memset(&g, 'x', sizeof g);
  g.id[0] = 0;
  k = qwproto_reply(s, len, &c, g.id);
  snprintf(why, sizeof why, k ? "accepted as %d (code %d)" : "wrote past the id buffer", k, c);
  check(k == 0 && guard_ok(&g), label, why);
}

/* qwproto_verdict(code, id) gives exactly want, writes nothing past it, and parses back. */
static void verdict(char const *label, int code, char const *id, char const *want, int pcode, char const *pid)
{
  char out[QW_PACKET_MAX + 16], lab[120];
  size_t n, i;
  int clean = 1;
  memset(out, '#', sizeof out);
  n = qwproto_verdict(out, code, id);
  for (i = n; i < sizeof out; i++) clean &= out[i] == '#';
  snprintf(lab, sizeof lab, "%s: exact bytes", label);
  check(n == strlen(want) && !memcmp(out, want, n), lab, "differ");
  snprintf(lab, sizeof lab, "%s: fits QW_PACKET_MAX, nothing written past it", label);
  check(n <= QW_PACKET_MAX && clean, lab, "overran");
  snprintf(lab, sizeof lab, "%s: parses back", label);
  reply_ok(lab, out, n, 'V', pcode, pid);
}

static void test_request(void)
{
  request("request: MRQW1 Q with 2 fds", S(QW_REQUEST), 2, 0, QWR_OK);
  request("request: the literal bytes MRQW1 Q with 2 fds", S("MRQW1 Q"), 2, 0, QWR_OK);
  request("request: 0 bytes, 0 fds is the hang-up", "", 0, 0, 0, QWR_EMPTY);
  request("request: 0 bytes with 2 fds", "", 0, 2, 0, QWR_HEADER);
  request("request: 0 bytes with 1 fd", "", 0, 1, 0, QWR_HEADER);
  request("request: truncated", S("MRQW1 Q"), 2, 1, QWR_TRUNC);
  request("request: truncated (descriptors cut: 3 of more)", S("MRQW1 Q"), 3, 1, QWR_TRUNC);
  request("request: truncated before the header check", S("MRQW1 QQQQ"), 2, 1, QWR_TRUNC);
  request("request: truncated before the fd count", S("MRQW1 Q"), 0, 1, QWR_TRUNC);
  request("request: wrong magic", S("MRQX1 Q"), 2, 0, QWR_HEADER);
  request("request: lower-case magic", S("mrqw1 Q"), 2, 0, QWR_HEADER);
  request("request: wrong version", S("MRQW2 Q"), 2, 0, QWR_HEADER);
  request("request: wrong kind G", S("MRQW1 G"), 2, 0, QWR_HEADER);
  request("request: wrong kind V", S("MRQW1 V"), 2, 0, QWR_HEADER);
  request("request: lower-case kind", S("MRQW1 q"), 2, 0, QWR_HEADER);
  request("request: a tab for the space", S("MRQW1\tQ"), 2, 0, QWR_HEADER);
  request("request: an extra byte", S("MRQW1 QQ"), 2, 0, QWR_HEADER);
  request("request: a trailing newline", S("MRQW1 Q\n"), 2, 0, QWR_HEADER);
  request("request: a trailing NUL", S("MRQW1 Q\0"), 2, 0, QWR_HEADER);
  request("request: an embedded NUL", S("MRQW1\0Q"), 2, 0, QWR_HEADER);
  request("request: short (magic only)", S("MRQW1 "), 2, 0, QWR_HEADER);
  request("request: short (one byte)", S("M"), 2, 0, QWR_HEADER);
  request("request: a verdict instead", S("MRQW1 V 000"), 2, 0, QWR_HEADER);
  request("request: 0 fds", S("MRQW1 Q"), 0, 0, QWR_NFDS);
  request("request: 1 fd", S("MRQW1 Q"), 1, 0, QWR_NFDS);
  request("request: 3 fds", S("MRQW1 Q"), 3, 0, QWR_NFDS);
  request("request: a bad header wins over the fd count", S("MRQW1 X"), 1, 0, QWR_HEADER);
}

static void test_strerror(void)
{
  static int const codes[] = { QWR_OK, QWR_EMPTY, QWR_TRUNC, QWR_HEADER, QWR_NFDS };
  char const *s[5];
  char lab[80];
  int distinct = 1;
  for (unsigned i = 0; i < 5; i++) {
    s[i] = qwproto_strerror(codes[i]);
    snprintf(lab, sizeof lab, "strerror: code %d has a message", codes[i]);
    check(s[i] && s[i][0], lab, "empty");
    for (unsigned j = 0; j < i; j++)
      if (s[i] && s[j] && !strcmp(s[i], s[j])) distinct = 0;
  }
  check(distinct, "strerror: the five messages differ", "two are the same");
  check(qwproto_strerror(-5) && qwproto_strerror(-5)[0], "strerror: an unknown code has a message", "empty");
  check(qwproto_strerror(1) && qwproto_strerror(1)[0], "strerror: code 1 (unknown) has a message", "empty");
}

static void test_verdict(void)
{
  char id[QID_MAX + 1], big[QID_MAX + 20], out[QW_PACKET_MAX + 16];
  size_t n;
  qid_make(id, 1765000000ULL, 123456UL, 4242UL);
  check(!strcmp(id, ID), "qid_make gives " ID, id);
  verdict("verdict 0 with an id", 0, id, "MRQW1 V 000 " ID, 0, ID);
  verdict("verdict 0 with the longest valid id", 0, ID_LONGEST, "MRQW1 V 000 " ID_LONGEST, 0, ID_LONGEST);
  verdict("verdict 54", 54, 0, "MRQW1 V 054", 54, "");
  verdict("verdict 71", 71, 0, "MRQW1 V 071", 71, "");
  verdict("verdict 255", 255, 0, "MRQW1 V 255", 255, "");
  verdict("verdict 1", 1, 0, "MRQW1 V 001", 1, "");
  verdict("verdict 100", 100, 0, "MRQW1 V 100", 100, "");
  verdict("verdict 54 ignores an id", 54, id, "MRQW1 V 054", 54, "");
  /* out of range cannot happen (the writer's codes are 0-255): it becomes 81, QQ_BUG */
  verdict("verdict -1 becomes 081", -1, 0, "MRQW1 V 081", 81, "");
  verdict("verdict 256 becomes 081", 256, 0, "MRQW1 V 081", 81, "");
  /* formatted but not well-formed: the parser refuses them (the writer never sends them) */
  n = qwproto_verdict(out, 0, 0);
  check(n == 11 && !memcmp(out, "MRQW1 V 000", 11), "verdict 0 without an id: MRQW1 V 000", "differs");
  reply_bad("verdict 0 without an id does not parse", out, n);
  memset(big, '7', sizeof big - 1);
  big[sizeof big - 1] = 0;
  memset(out, '#', sizeof out);
  n = qwproto_verdict(out, 0, big);
  check(n == QW_PACKET_MAX && !memcmp(out, "MRQW1 V 000 7777", 16) && out[QW_PACKET_MAX] == '#',
        "verdict 0 with an overlong id: cut to QID_MAX bytes, QW_PACKET_MAX in all", "not cut");
  reply_bad("verdict 0 with a cut id does not parse", out, n);
}

static void test_reply(void)
{
  char pkt[QW_PACKET_MAX + 8];
  size_t n;

  reply_ok("reply: MRQW1 G is the go", S("MRQW1 G"), 'G', 0, "");
  reply_ok("reply: QW_GO is the go", S(QW_GO), 'G', 0, "");
  reply_ok("reply: V 000 with an id", S("MRQW1 V 000 " ID), 'V', 0, ID);
  reply_ok("reply: V 000 with the longest valid id", S("MRQW1 V 000 " ID_LONGEST), 'V', 0, ID_LONGEST);
  reply_ok("reply: V 000 with id 0.000000.0", S("MRQW1 V 000 0.000000.0"), 'V', 0, "0.000000.0");
  reply_ok("reply: V 054", S("MRQW1 V 054"), 'V', 54, "");
  reply_ok("reply: V 071", S("MRQW1 V 071"), 'V', 71, "");
  reply_ok("reply: V 255", S("MRQW1 V 255"), 'V', 255, "");
  reply_ok("reply: V 001", S("MRQW1 V 001"), 'V', 1, "");

  reply_bad("reply: empty packet", "", 0);
  reply_bad("reply: magic only", S("MRQW1 "));
  reply_bad("reply: a truncated magic", S("MRQW1"));
  reply_bad("reply: wrong magic", S("MRQX1 G"));
  reply_bad("reply: wrong version", S("MRQW2 G"));
  reply_bad("reply: wrong version in a verdict", S("MRQW0 V 054"));
  reply_bad("reply: lower-case go", S("MRQW1 g"));
  reply_bad("reply: the request echoed", S("MRQW1 Q"));
  reply_bad("reply: an unknown kind", S("MRQW1 X"));
  reply_bad("reply: go with a trailing byte", S("MRQW1 GG"));
  reply_bad("reply: go with a trailing NUL", S("MRQW1 G\0"));
  reply_bad("reply: go with a trailing newline", S("MRQW1 G\n"));
  reply_bad("reply: V alone", S("MRQW1 V"));
  reply_bad("reply: V and a space", S("MRQW1 V "));
  reply_bad("reply: V without the space", S("MRQW1 V054"));
  reply_bad("reply: V with a tab", S("MRQW1 V\t054"));
  reply_bad("reply: V with two spaces", S("MRQW1 V  54"));
  reply_bad("reply: verdict 000 without an id", S("MRQW1 V 000"));
  reply_bad("reply: verdict 000 with a space and no id", S("MRQW1 V 000 "));
  reply_bad("reply: verdict 000 with two spaces before the id", S("MRQW1 V 000  " ID));
  reply_bad("reply: verdict 000 with the id but no space", S("MRQW1 V 000" ID));
  reply_bad("reply: an id after code 054", S("MRQW1 V 054 " ID));
  reply_bad("reply: an id after code 001", S("MRQW1 V 001 " ID));
  reply_bad("reply: a space after code 071", S("MRQW1 V 071 "));
  reply_bad("reply: a newline after code 071", S("MRQW1 V 071\n"));
  reply_bad("reply: a NUL after code 071", S("MRQW1 V 071\0"));
  reply_bad("reply: a digit after code 071 (4 digits)", S("MRQW1 V 0711"));
  reply_bad("reply: 4-digit code 0054", S("MRQW1 V 0054"));
  reply_bad("reply: 4-digit code 0000 with an id", S("MRQW1 V 0000 " ID));
  reply_bad("reply: 4-digit code 1000", S("MRQW1 V 1000"));
  reply_bad("reply: 2-digit code 54", S("MRQW1 V 54"));
  reply_bad("reply: 2-digit code 00 with an id", S("MRQW1 V 00 " ID));
  reply_bad("reply: 1-digit code", S("MRQW1 V 0"));
  reply_bad("reply: code 256", S("MRQW1 V 256"));
  reply_bad("reply: code 300", S("MRQW1 V 300"));
  reply_bad("reply: code 999", S("MRQW1 V 999"));
  reply_bad("reply: non-digit code 05a", S("MRQW1 V 05a"));
  reply_bad("reply: non-digit code a54", S("MRQW1 V a54"));
  reply_bad("reply: code with a sign +54", S("MRQW1 V +54"));
  reply_bad("reply: code with a sign -54", S("MRQW1 V -54"));
  reply_bad("reply: code with a high byte", S("MRQW1 V 0\xb5" "4"));
  reply_bad("reply: code with a NUL", S("MRQW1 V 0\0" "4"));
  /* ids: "<1-20 digits>.<6 digits>.<1-10 digits>" (lib/qid.c), nothing else */
  reply_bad("reply: id with a letter", S("MRQW1 V 000 1765000000.123456.42a2"));
  reply_bad("reply: id with 5 usec digits", S("MRQW1 V 000 1765000000.12345.4242"));
  reply_bad("reply: id with 7 usec digits", S("MRQW1 V 000 1765000000.1234567.4242"));
  reply_bad("reply: id without the pid", S("MRQW1 V 000 1765000000.123456."));
  reply_bad("reply: id without the seconds", S("MRQW1 V 000 .123456.4242"));
  reply_bad("reply: id with one dot", S("MRQW1 V 000 1765000000.123456"));
  reply_bad("reply: id with a third dot", S("MRQW1 V 000 1765000000.123456.4242.1"));
  reply_bad("reply: id with a sign", S("MRQW1 V 000 -1765000000.123456.4242"));
  reply_bad("reply: id with a slash", S("MRQW1 V 000 1765000000.123456.42/42"));
  reply_bad("reply: id of a path", S("MRQW1 V 000 ../../etc/passwd"));
  reply_bad("reply: id with 21 digits of seconds", S("MRQW1 V 000 123456789012345678901.123456.1"));
  reply_bad("reply: id with 11 digits of pid", S("MRQW1 V 000 1.123456.12345678901"));
  reply_bad("reply: id with a trailing space", S("MRQW1 V 000 " ID " "));
  reply_bad("reply: id with a trailing newline", S("MRQW1 V 000 " ID "\n"));
  reply_bad("reply: id with a trailing NUL", S("MRQW1 V 000 " ID "\0"));
  reply_bad("reply: id with an embedded NUL", S("MRQW1 V 000 1765000000.123456.42\0" "42"));
  reply_bad("reply: id with a NUL and a tail", S("MRQW1 V 000 " ID "\0junk"));
  reply_bad("reply: id with a high byte", S("MRQW1 V 000 1765000000.123456.4242\xff"));
  /* overlong ids: QID_MAX + 1 bytes (the packet then is QW_PACKET_MAX + 1), and QID_MAX
     bytes that are no valid id (qid_parse takes at most 38) */
  memcpy(pkt, "MRQW1 V 000 ", 12);
  memset(pkt + 12, '1', QID_MAX + 1);
  memcpy(pkt + 12, "1765000000.123456.", 18);
  n = 12 + QID_MAX + 1;
  check(n == QW_PACKET_MAX + 1, "reply: the oversized packet is QW_PACKET_MAX + 1 bytes", "miscounted");
  reply_bad("reply: an id of QID_MAX + 1 bytes (oversized packet)", pkt, n);
  reply_bad("reply: an id of QID_MAX bytes, pid over 10 digits", pkt, n - 1);
  memset(pkt, ' ', sizeof pkt);
  memcpy(pkt, "MRQW1 G", 7);
  reply_bad("reply: an oversized go (QW_PACKET_MAX + 1 bytes)", pkt, QW_PACKET_MAX + 1);
  memcpy(pkt, "MRQW1 V 054", 11);
  reply_bad("reply: an oversized verdict 054 (QW_PACKET_MAX + 1 bytes)", pkt, QW_PACKET_MAX + 1);
  /* the parser reads only len bytes: a valid verdict cut short is refused */
  reply_bad("reply: a valid verdict cut by one byte", "MRQW1 V 054", 10);
  reply_bad("reply: a valid go cut by one byte", "MRQW1 G", 6);
  reply_ok("reply: a verdict read to len only (bytes after it ignored)", "MRQW1 V 054 and more", 11, 'V', 54, "");
}

int main(void)
{
  test_request();
  test_strerror();
  test_verdict();
  test_reply();
  printf("# qwproto: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
