/* Unit tests for the DSN (RFC 3461) and AUTH= (RFC 4954 5) parameters on their whole way:
   the value parsers and xtext (lib/dsnparam.c), the envelope's parameter records
   (lib/envelope.c, old envelopes unchanged), smtpd's MAIL and RCPT parsing with every bad
   shape (smtpd/smtpd_cmd.c), the fields of the remote channel (send/rspawn_proto.c),
   mailroom-remote's split and choice of words (remote/remote_dsn.c), and the reports'
   Original-Envelope-Id, Original-Recipient, RET=FULL and success kinds (send/send_dsn.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/dsnparam.h"
#include "../../lib/envelope.h"
#include "../../remote/remote_smtp.h"
#include "../../send/rspawn_proto.h"
#include "../../send/send_dsn.h"
#include "../../smtpd/smtpd.h"

static int failed;

static void check(int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (!ok) failed = 1;
}

#define S(x) x, sizeof(x) - 1

static void xtext_tests(void)
{
  char out[64];
  check(xtext_valid(S("abc")) && xtext_valid(S("a+2Bb")) && xtext_valid(S("+3D")), "xtext: plain and hex");
  check(!xtext_valid(S("")) && !xtext_valid(S("a=b")) && !xtext_valid(S("a b")) && !xtext_valid(S("a+2")) &&
          !xtext_valid(S("a+2b")) && !xtext_valid(S("a+G0")) && !xtext_valid(S("\x80")) && !xtext_valid(S("a\tb")),
        "xtext: '=', space, cut and lowercase hex, 8-bit, controls refused");
  check(xtext_decode(S("a+2Bb+3D"), out, sizeof out) == 4 && !memcmp(out, "a+b=", 4), "xtext: decoded");
  check(xtext_decode(S("abcd"), out, 3) == -1, "xtext: decode does not overflow");
  check(xtext_encode(S("a+b=c d"), out, sizeof out) == 13 && !strcmp(out, "a+2Bb+3Dc+20d"), "xtext: encoded");
  check(xtext_encode(S("abc"), out, 3) == -1, "xtext: encode does not overflow");
}

static void value_tests(void)
{
  char n[DSN_NOTIFY_MAX + 1];
  check(dsn_notify_parse(S("NEVER")) == DSN_NOTIFY_NEVER, "notify: NEVER");
  check(dsn_notify_parse(S("success,Failure,DELAY")) == 7, "notify: list, any case");
  check(!dsn_notify_parse(S("NEVER,SUCCESS")) && !dsn_notify_parse(S("SUCCESS,NEVER")), "notify: NEVER not alone");
  check(!dsn_notify_parse(S("SUCCESS,SUCCESS")) && !dsn_notify_parse(S("SUCCESS,")) && !dsn_notify_parse(S(",DELAY")) &&
          !dsn_notify_parse(S("")) && !dsn_notify_parse(S("ALWAYS")) && !dsn_notify_parse(S("SUCCESS,,DELAY")),
        "notify: repeats, empty items, unknown words");
  check(dsn_notify_fmt(7, n) == 21 && !strcmp(n, "SUCCESS,FAILURE,DELAY") && dsn_notify_fmt(8, n) == 5 &&
          !strcmp(n, "NEVER"), "notify: canonical form");
  check(dsn_ret_parse(S("hdrs")) == DSN_RET_HDRS && dsn_ret_parse(S("FULL")) == DSN_RET_FULL &&
          !dsn_ret_parse(S("BOTH")) && !dsn_ret_parse(S("")), "ret: FULL, HDRS");
  check(dsn_orcpt_valid(S("rfc822;x@y")) && dsn_orcpt_valid(S("rfc822;a+20b")) && !dsn_orcpt_valid(S("rfc822")) &&
          !dsn_orcpt_valid(S(";x")) && !dsn_orcpt_valid(S("rfc 822;x")) && !dsn_orcpt_valid(S("rfc822;")) &&
          !dsn_orcpt_valid(S("rfc822;a=b")), "orcpt: addr-type;xtext");
  {
    char big[600];
    memcpy(big, "rfc822;", 7);
    memset(big + 7, 'a', sizeof big - 7);
    check(dsn_orcpt_valid(big, 500) && !dsn_orcpt_valid(big, 501), "orcpt: 500 characters at most");
    check(dsn_envid_valid(big + 7, 100) && !dsn_envid_valid(big + 7, 101), "envid: 100 characters at most");
    check(dsn_auth_valid(big + 7, 500) && !dsn_auth_valid(big + 7, 501), "auth: 500 characters at most");
  }
  check(dsn_auth_valid(S("<>")) && dsn_auth_valid(S("joe@example.org")) && !dsn_auth_valid(S("a+20b")) &&
          !dsn_auth_valid(S("a+00")) && !dsn_auth_valid(S("")), "auth: <> or an xtext mailbox without spaces");
}

static void envelope_tests(void)
{
  static char const old[] = "Fa@b\0Tc@d\0Te@f\0";
  static char const full[] = "Fa@b\0Eabc\0RHDRS\0A<>\0Tc@d\0NSUCCESS,FAILURE\0Orfc822;c@d\0Te@f\0NNEVER\0";
  size_t n = 0;
  char const *r;
  check(envelope_check(old, sizeof old, &n) == ENV_OK && n == 2, "envelope: qmail's form still reads");
  check(envelope_check(full, sizeof full, &n) == ENV_OK && n == 2, "envelope: with parameter records");
  r = envelope_next(full, 0);
  check(r && !strcmp(r, "c@d") && !strcmp(envelope_rparam(r, 'N'), "SUCCESS,FAILURE") &&
          !strcmp(envelope_rparam(r, 'O'), "rfc822;c@d"), "envelope: first recipient and its records");
  r = envelope_next(full, r);
  check(r && !strcmp(r, "e@f") && !strcmp(envelope_rparam(r, 'N'), "NEVER") && !envelope_rparam(r, 'O'),
        "envelope: second recipient");
  check(!envelope_next(full, r), "envelope: end");
  check(!strcmp(envelope_mparam(full, 'E'), "abc") && !strcmp(envelope_mparam(full, 'R'), "HDRS") &&
          !strcmp(envelope_mparam(full, 'A'), "<>") && !envelope_mparam(old, 'E'), "envelope: sender's records");
  check(envelope_check(S("Fa\0Eabc\0Exyz\0Tb\0") + 1, 0) == ENV_EPARAM, "envelope: repeated record");
  check(envelope_check(S("Fa\0Tb\0Eabc\0") + 1, 0) == ENV_EFORMAT, "envelope: sender record after a recipient");
  check(envelope_check(S("Fa\0NNEVER\0Tb\0") + 1, 0) == ENV_EFORMAT, "envelope: recipient record before one");
  check(envelope_check(S("Fa\0Tb\0Nsuccess\0") + 1, 0) == ENV_EPARAM, "envelope: NOTIFY not canonical");
  check(envelope_check(S("Fa\0Tb\0NNEVER,DELAY\0") + 1, 0) == ENV_EPARAM, "envelope: NOTIFY NEVER with more");
  check(envelope_check(S("Fa\0RBOTH\0Tb\0") + 1, 0) == ENV_EPARAM, "envelope: bad RET");
  check(envelope_check(S("Fa\0Ea=b\0Tb\0") + 1, 0) == ENV_EPARAM, "envelope: ENVID not xtext");
  check(envelope_check(S("Fa\0Tb\0Ox\0") + 1, 0) == ENV_EPARAM, "envelope: ORCPT without addr-type");
  check(envelope_check(S("Fa\0Tb\0Orfc822;x"), 0) == ENV_ETRUNC, "envelope: record cut");
  check(envelope_check(S("Fa\0Tb\0Ea\nb\0") + 1, 0) == ENV_EFORMAT, "envelope: unknown place of a letter");
}

static void smtpd_tests(void)
{
  static struct {
    int rcpt;
    char const *arg;
    enum smtpd_perr want;
  } const c[] = {
    { 0, "FROM:<a@b> RET=HDRS ENVID=abc", P_OK },
    { 0, "FROM:<a@b> ret=full envid=a+2Bb", P_OK },
    { 0, "FROM:<a@b> AUTH=<>", P_OK },
    { 0, "FROM:<a@b> AUTH=joe+40example.org", P_OK },
    { 0, "FROM:<a@b> RET=HDRS RET=FULL", P_DUP },
    { 0, "FROM:<a@b> ENVID=a ENVID=a", P_DUP },
    { 0, "FROM:<a@b> AUTH=<> AUTH=<>", P_DUP },
    { 0, "FROM:<a@b> RET=BOTH", P_RET },
    { 0, "FROM:<a@b> RET", P_RET },
    { 0, "FROM:<a@b> ENVID=a+zz", P_ENVID },
    { 0, "FROM:<a@b> ENVID", P_ENVID },
    { 0, "FROM:<a@b> AUTH=a+20b", P_AUTHP },
    { 0, "FROM:<a@b> AUTH", P_AUTHP },
    { 0, "FROM:<a@b> ENVID=\x01", P_PARAMSYN },
    { 0, "FROM:<a@b> ENVID=a=b", P_PARAMSYN },
    { 0, "FROM:<a@b> NOTIFY=NEVER", P_PARAM },
    { 0, "FROM:<a@b> XDSN=1", P_PARAM },
    { 1, "TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b", P_OK },
    { 1, "TO:<a@b> notify=never", P_OK },
    { 1, "TO:<a@b> NOTIFY=NEVER,SUCCESS", P_NOTIFY },
    { 1, "TO:<a@b> NOTIFY=SUCCESS,SUCCESS", P_NOTIFY },
    { 1, "TO:<a@b> NOTIFY=", P_PARAMSYN },
    { 1, "TO:<a@b> NOTIFY", P_NOTIFY },
    { 1, "TO:<a@b> NOTIFY=DELAY NOTIFY=DELAY", P_DUP },
    { 1, "TO:<a@b> ORCPT=rfc822;a ORCPT=rfc822;a", P_DUP },
    { 1, "TO:<a@b> ORCPT=a@b", P_ORCPT },
    { 1, "TO:<a@b> ORCPT=rfc822;a+2", P_ORCPT },
    { 1, "TO:<a@b> RET=HDRS", P_PARAM },
    { 1, "TO:<a@b> XFOO", P_PARAM },
  };
  smtpd_path p;
  char big[SMTPD_LINE_MAX];
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    char label[200];
    enum smtpd_perr e = c[i].rcpt ? smtpd_cmd_rcpt(c[i].arg, strlen(c[i].arg), 1, 0, &p)
                                  : smtpd_cmd_mail(c[i].arg, strlen(c[i].arg), 1, &p);
    snprintf(label, sizeof label, "smtpd: %s -> %d (got %d)", c[i].arg[0] == 'F' ? c[i].arg + 5 : c[i].arg + 3,
             (int)c[i].want, (int)e);
    for (char *q = label; *q; q++)
      if ((unsigned char)*q < 32) *q = '?';
    check(e == c[i].want, label);
  }
  smtpd_cmd_mail(S("FROM:<a@b> RET=hdrs ENVID=x+2By AUTH=<>"), 1, &p);
  check(p.ret == DSN_RET_HDRS && !strcmp(p.envid, "x+2By") && !strcmp(p.auth, "<>"), "smtpd: MAIL values kept as sent");
  smtpd_cmd_rcpt(S("TO:<a@b> ORCPT=rfc822;A@B NOTIFY=delay,success"), 1, 0, &p);
  check(p.notify == (DSN_NOTIFY_DELAY | DSN_NOTIFY_SUCCESS) && !strcmp(p.orcpt, "rfc822;A@B"), "smtpd: RCPT values");
  check(smtpd_cmd_rcpt(S("TO:<a@b> NOTIFY=NEVER"), 0, 0, &p) == P_PARAM, "smtpd: no parameters after HELO");
  /* overlong values, within a line */
  memcpy(big, "TO:<a@b> ORCPT=rfc822;", 22);
  memset(big + 22, 'x', 600);
  check(smtpd_cmd_rcpt(big, 22 + 600, 1, 0, &p) == P_ORCPT, "smtpd: ORCPT over 500 characters");
  memcpy(big, "FROM:<a@b> ENVID=", 17);
  memset(big + 17, 'x', 101);
  check(smtpd_cmd_mail(big, 17 + 101, 1, &p) == P_ENVID, "smtpd: ENVID over 100 characters");
  check(smtpd_cmd_mail(big, 17 + 100, 1, &p) == P_OK, "smtpd: ENVID of 100 characters");
  memcpy(big, "FROM:<a@b> AUTH=", 16);
  memset(big + 16, 'x', 501);
  check(smtpd_cmd_mail(big, 16 + 501, 1, &p) == P_AUTHP, "smtpd: AUTH over 500 characters");
}

static void channel_tests(void)
{
  static char const *const mk[] = { "RET", "ENVID", "AUTH", 0 };
  char pkt[4096];
  char const *rc[2] = { "c@d.example\nNOTIFY=SUCCESS ORCPT=rfc822;c@d.example", "e@D.example" };
  struct rreq q;
  size_t len = rreq_pack(pkt, sizeof pkt, 3, "1763893836.042117.4711", 10, "a@b\nRET=HDRS ENVID=abc", rc, 2);
  check(len && !rreq_parse(pkt, len, &q) && q.n == 2 && !strcmp(q.domain, "d.example") &&
          !strcmp(q.sender, "a@b\nRET=HDRS ENVID=abc"), "channel: fields with parameters, domain without them");
  check(rspawn_params_ok("RET=HDRS ENVID=abc", mk) && !rspawn_params_ok("RET=HDRS RET=FULL", mk) &&
          !rspawn_params_ok("NOTIFY=NEVER", mk) && !rspawn_params_ok("RET=HDRS  ENVID=a", mk) &&
          !rspawn_params_ok("RET=", mk) && !rspawn_params_ok("RET=a\rb", mk) && !rspawn_params_ok("", mk),
        "channel: parameter words checked");
  {
    char const *bad[2] = { "c@d\nNOTIFY=NEVER\r\nRSET", "e@d" };
    len = rreq_pack(pkt, sizeof pkt, 3, "1763893836.042117.4711", 10, "a@b", bad, 2);
    check(!len || rreq_parse(pkt, len, &q) < 0, "channel: CR in parameters refused");
    bad[0] = "c@d\nRET=HDRS";
    len = rreq_pack(pkt, sizeof pkt, 3, "1763893836.042117.4711", 10, "a@b", bad, 2);
    check(!len || rreq_parse(pkt, len, &q) < 0, "channel: a sender's key on a recipient refused");
  }
}

static void remote_tests(void)
{
  static char const *const dsnm[] = { "RET", "ENVID", 0 }, *const authm[] = { "AUTH", 0 };
  char f1[] = "a@b\nRET=HDRS ENVID=abc AUTH=<>", f2[] = "a@b", f3[] = "a@b\nRET=HDRS\r\nQUIT", f4[] = "a@b\n";
  char out[200] = "";
  int bad = 0;
  char const *p = dsn_split(f1, &bad);
  check(!bad && !strcmp(f1, "a@b") && p && !strcmp(p, "RET=HDRS ENVID=abc AUTH=<>"), "remote: split");
  dsn_words(p, dsnm, out, sizeof out);
  check(!strcmp(out, " RET=HDRS ENVID=abc"), "remote: DSN words");
  out[0] = 0;
  dsn_words(p, authm, out, sizeof out);
  check(!strcmp(out, " AUTH=<>"), "remote: AUTH word");
  check(!dsn_split(f2, &bad) && !bad, "remote: a field without parameters");
  dsn_split(f3, &bad);
  check(bad, "remote: CR LF in parameters refused");
  bad = 0;
  dsn_split(f4, &bad);
  check(bad, "remote: empty parameters refused");
  check(dsn_wants_success("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x") && !dsn_wants_success("NOTIFY=FAILURE") &&
          !dsn_wants_success(0) && !dsn_wants_success("ORCPT=rfc822;SUCCESS"), "remote: NOTIFY=SUCCESS seen");
}

static int contains(stralloc const *sa, char const *s)
{
  return memmem(sa->s, sa->len, s, strlen(s)) != 0;
}

static void report_tests(void)
{
  static char const msg[] = "Subject: hi\nFrom: a@b\n\nbody line\n";
  struct dsn_rcpt r[1] = { { "c@d", "550 5.1.1 no such user", "rfc822;C+40D" } };
  struct dsn d = { .me = "mx.test", .to = "a@b", .id = "1.2.3", .sender = "a@b", .arrival = 1763893836,
                   .now = 1763893900, .delayed = DSN_FAILED, .rcpt = r, .n = 1, .msg = msg,
                   .msglen = sizeof msg - 1, .envid = "abc+2Bd" };
  stralloc sa = STRALLOC_ZERO;
  check(!dsn_build(&sa, &d) && contains(&sa, "Original-Envelope-Id: abc+d\n") &&
          contains(&sa, "Original-Recipient: rfc822; C@D\nFinal-Recipient: rfc822; c@d\nAction: failed\n") &&
          contains(&sa, "text/rfc822-headers") && !contains(&sa, "body line"),
        "report: ENVID and ORCPT decoded, headers only");
  sa.len = 0;
  d.full = 1;
  check(!dsn_build(&sa, &d) && contains(&sa, "Content-Type: message/rfc822\n\nSubject: hi") &&
          contains(&sa, "body line"), "report: RET=FULL returns the message");
  sa.len = 0;
  d.full = 0;
  d.delayed = DSN_DELIVERED;
  r[0].text = "delivered to ./Maildir/";
  check(!dsn_build(&sa, &d) && contains(&sa, "Action: delivered\nStatus: 2.0.0\n") &&
          contains(&sa, "Subject: Successful Mail Delivery Report"), "report: delivered");
  sa.len = 0;
  d.delayed = DSN_RELAYED;
  r[0].text = "relayed: mx [127.0.0.1] accepted the message: 250 2.0.0 ok";
  check(!dsn_build(&sa, &d) && contains(&sa, "Action: relayed\nStatus: 2.0.0\n"), "report: relayed");
  stralloc_free(&sa);
}

int main(void)
{
  xtext_tests();
  value_tests();
  envelope_tests();
  smtpd_tests();
  channel_tests();
  remote_tests();
  report_tests();
  printf("%s test_dsnparam\n", failed ? "FAILED" : "passed");
  return failed;
}
