/* lib/lwproto.c: the job and reply packets between mailroom-lspawn and a warm mailroom-local.
   Exact bytes out, and every kind of malformed packet refused. */
#include <string.h>
#include "check.h"
#include "lwproto.h"

#define P(s) (s), sizeof(s) - 1

static void reply_bad(char const *label, char const *s, size_t n)
{
  lwreply r;
  check(lwproto_reply_parse(s, n, &r) < 0, label, "accepted");
}

static void job_bad(char const *label, char const *s, size_t n)
{
  lwjob j;
  check(lwproto_job_parse(s, n, &j) < 0, label, "accepted");
}

int main(void)
{
  static char buf[LW_JOB_MAX + 16];
  static char big[LW_JOB_MAX + 16];
  lwjob j = { .slot = 42, .user = "demo", .home = "/var/mail/demo", .local = "demo-lists", .dash = "-",
              .ext = "lists", .domain = "example.org", .sender = "a@b.c", .msglen = 1234,
              .defaultdelivery = "./Maildir/" };
  lwjob k;
  lwreply r;
  size_t n;
  static char const jobbytes[] = "42\0demo\0/var/mail/demo\0demo-lists\0-\0lists\0example.org\0a@b.c\0001234\0./Maildir/";

  n = lwproto_job_fmt(buf, &j);
  check(n == sizeof jobbytes && !memcmp(buf, jobbytes, n), "job: exact bytes", "differ");
  check(lwproto_job_parse(buf, n, &k) == 0 && k.slot == 42 && k.msglen == 1234 && !strcmp(k.home, "/var/mail/demo")
          && !strcmp(k.dash, "-") && !strcmp(k.ext, "lists") && !strcmp(k.defaultdelivery, "./Maildir/")
          && !strcmp(k.sender, "a@b.c") && !strcmp(k.local, "demo-lists"),
        "job: parses back", "differs");
  j.sender = "";
  j.defaultdelivery = "";
  n = lwproto_job_fmt(buf, &j);
  check(n && lwproto_job_parse(buf, n, &k) == 0 && !k.sender[0] && !k.defaultdelivery[0], "job: empty sender and default", "refused");
  job_bad("job: a byte after the last field", buf, n + 1);
  job_bad("job: the last NUL missing", buf, n - 1);
  job_bad("job: empty packet", "", 0);
  job_bad("job: nine fields", P("1\0u\0/h\0l\0\0\0d\0s\0001\0"));
  job_bad("job: eleven fields", P("1\0u\0/h\0l\0\0\0d\0s\0001\0./M/\0x\0"));
  job_bad("job: relative home", P("1\0u\0h\0l\0\0\0d\0s\0001\0./M/\0"));
  job_bad("job: dash not - ", P("1\0u\0/h\0l\0+\0\0d\0s\0001\0./M/\0"));
  job_bad("job: slot 1000", P("1000\0u\0/h\0l\0\0\0d\0s\0001\0./M/\0"));
  job_bad("job: slot with a leading zero", P("01\0u\0/h\0l\0\0\0d\0s\0001\0./M/\0"));
  job_bad("job: slot with a sign", P("+1\0u\0/h\0l\0\0\0d\0s\0001\0./M/\0"));
  job_bad("job: msglen not a number", P("1\0u\0/h\0l\0\0\0d\0s\0x1\0./M/\0"));
  job_bad("job: msglen empty", P("1\0u\0/h\0l\0\0\0d\0s\0\0./M/\0"));
  job_bad("job: msglen overflows", P("1\0u\0/h\0l\0\0\0d\0s\00018446744073709551616\0./M/\0"));
  memset(big, 'a', sizeof big);
  j.sender = "a@b.c";
  j.defaultdelivery = "./Maildir/";
  big[LW_FIELD_MAX + 1] = 0;
  j.domain = big;
  check(lwproto_job_fmt(buf, &j) == 0, "job: a field over LW_FIELD_MAX is not formatted", "formatted");
  big[LW_FIELD_MAX] = 0;
  n = lwproto_job_fmt(buf, &j);
  check(n && lwproto_job_parse(buf, n, &k) == 0, "job: a field of LW_FIELD_MAX bytes passes", "refused");
  memcpy(buf, "1\0u\0/h\0l\0\0\0", 11); /* slot user home local dash ext, then the domain */
  memset(buf + 11, 'x', LW_FIELD_MAX + 1);
  memcpy(buf + 11 + LW_FIELD_MAX + 1, "\0s\0001\0./M/\0", 10);
  job_bad("job: an overlong field refused", buf, 11 + LW_FIELD_MAX + 1 + 10);
  memset(buf + 11, 'x', LW_FIELD_MAX);
  memcpy(buf + 11 + LW_FIELD_MAX, "\0s\0001\0./M/\0", 10);
  check(lwproto_job_parse(buf, 11 + LW_FIELD_MAX + 10, &k) == 0 && strlen(k.domain) == LW_FIELD_MAX,
        "job: a domain of LW_FIELD_MAX bytes parses", "refused");

  n = lwproto_reply_fmt(buf, 7, 0, "delivered to ./Maildir/ as new/x");
  check(n == sizeof "7\0000\0delivered to ./Maildir/ as new/x" && !memcmp(buf, "7\0000\0delivered to ./Maildir/ as new/x", n),
        "reply: exact bytes", "differ");
  check(lwproto_reply_parse(buf, n, &r) == 0 && r.slot == 7 && r.code == 0 && r.textlen == 32, "reply: parses back", "differs");
  n = lwproto_reply_fmt(buf, 999, 99, "a\tb\x80");
  check(lwproto_reply_parse(buf, n, &r) == 0 && r.code == 99 && !strcmp(r.text, "a?b?"), "reply: unprintable bytes become ?",
        "differs");
  check(lwproto_reply_fmt(buf, 1, 1, "x") == 0, "reply: code 1 is not formatted", "formatted");
  check(lwproto_reply_fmt(buf, 1000, 0, "x") == 0, "reply: slot 1000 is not formatted", "formatted");
  memset(big, 'b', LW_TEXT_MAX + 10);
  big[LW_TEXT_MAX + 10] = 0;
  n = lwproto_reply_fmt(buf, 3, 111, big);
  check(lwproto_reply_parse(buf, n, &r) == 0 && r.textlen == LW_TEXT_MAX, "reply: text cut to LW_TEXT_MAX", "not cut");
  check(lwproto_reply_parse(P("3\000100\0\0"), &r) == 0 && r.code == 100 && !r.textlen, "reply: empty text", "refused");
  reply_bad("reply: empty packet", "", 0);
  reply_bad("reply: two fields", P("3\0000\0"));
  reply_bad("reply: four fields", P("3\0000\0x\0y\0"));
  reply_bad("reply: no final NUL", P("3\0000\0x"));
  reply_bad("reply: a byte after it", P("3\0000\0x\0y"));
  reply_bad("reply: code 1", P("3\0001\0x\0"));
  reply_bad("reply: code 099", P("3\000099\0x\0"));
  reply_bad("reply: code 1110", P("3\0001110\0x\0"));
  reply_bad("reply: code empty", P("3\0\0x\0"));
  reply_bad("reply: slot 1000", P("1000\0000\0x\0"));
  reply_bad("reply: slot empty", P("\0000\0x\0"));
  reply_bad("reply: slot 00", P("00\0000\0x\0"));
  reply_bad("reply: slot -1", P("-1\0000\0x\0"));
  reply_bad("reply: newline in the text", P("3\0000\0a\nb\0"));
  reply_bad("reply: DEL in the text", P("3\0000\0a\x7f\0"));
  memcpy(buf, "3\0000\0", 4);
  memset(buf + 4, 'c', LW_TEXT_MAX + 1);
  buf[4 + LW_TEXT_MAX + 1] = 0;
  reply_bad("reply: text over LW_TEXT_MAX", buf, 4 + LW_TEXT_MAX + 2);
  buf[4 + LW_TEXT_MAX] = 0;
  check(lwproto_reply_parse(buf, 4 + LW_TEXT_MAX + 1, &r) == 0, "reply: text of LW_TEXT_MAX passes", "refused");

  printf("# lwproto: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
