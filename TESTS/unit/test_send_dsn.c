/* Unit tests for RFC 3464 reports (send/send_dsn.c): the exact structure of a bounce and a
   delay warning, status codes taken from the remote's text, the original header cut at
   its end and at DSN_HEADERS_MAX, hostile texts kept on one line, and a boundary that
   never occurs in the quoted header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../send/send_dsn.h"

static int failed;

static void check(int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (!ok) failed = 1;
}

static int contains(stralloc const *sa, char const *s)
{
  return memmem(sa->s, sa->len, s, strlen(s)) != 0;
}

static unsigned count(stralloc const *sa, char const *s)
{
  unsigned n = 0;
  size_t l = strlen(s);
  for (char const *p = sa->s; (p = memmem(p, sa->len - (size_t)(p - sa->s), s, l)); p += l) n++;
  return n;
}

int main(void)
{
  char st[16];
  dsn_status("550 5.1.1 <bob@example.test>: no such user", 0, st);
  check(!strcmp(st, "5.1.1"), "status: enhanced code after an SMTP code");
  dsn_status("4.2.2 mailbox full", 0, st);
  check(!strcmp(st, "5.2.2"), "status: a 4.x.x of a failed recipient becomes 5.x.x (queuelifetime)");
  dsn_status("451 4.7.1 greylisted", 1, st);
  check(!strcmp(st, "4.7.1"), "status: delayed keeps class 4");
  dsn_status("550 no such user", 0, st);
  check(!strcmp(st, "5.0.0"), "status: no enhanced code: 5.0.0");
  dsn_status("5.1234.1 bogus", 0, st);
  check(!strcmp(st, "5.0.0"), "status: a malformed code is not taken");
  dsn_status("", 1, st);
  check(!strcmp(st, "4.0.0"), "status: empty text, delayed: 4.0.0");

  check(dsn_header_len("A: b\nC: d\n\nbody\n", 16) == 11, "header: up to and including the empty line");
  check(dsn_header_len("A: b\r\n\r\nbody", 12) == 8, "header: CRLF empty line");
  check(dsn_header_len("A: b\nC: d", 9) == 5, "header: no body and no final newline: whole lines");
  {
    size_t n = (size_t)DSN_HEADERS_MAX * 2;
    char *big = malloc(n);
    for (size_t k = 0; k < n; k++) big[k] = (k % 80 == 79) ? '\n' : 'x';
    check(dsn_header_len(big, n) <= DSN_HEADERS_MAX && big[dsn_header_len(big, n) - 1] == '\n',
          "header: a huge header is cut at a line end within DSN_HEADERS_MAX");
    free(big);
  }
  {
    char const msg[] = "From: alice@here.test\nTo: bob@example.test\nSubject: hi\n"
                       "X-Trap: --=_mailroom_1763893836.042117.4711_0\n\nsecret body\n";
    struct dsn_rcpt r[2] = { { "bob@example.test", "550 5.1.1 <bob@example.test>: no such user", 0 },
                             { "carol@local.test", "5.1.1 no such user here: carol\r\nInjected: yes", 0 } };
    struct dsn d = { .me = "mx.here.test", .to = "alice@here.test", .id = "1763893836.042117.4711",
                     .sender = "alice@here.test", .arrival = 1763893836, .now = 1763893900, .delayed = 0,
                     .rcpt = r, .n = 2, .msg = msg, .msglen = sizeof msg - 1 };
    stralloc sa = STRALLOC_ZERO;
    check(!dsn_build(&sa, &d), "bounce: built");
    check(contains(&sa, "From: Mail Delivery System <MAILER-DAEMON@mx.here.test>\n") && contains(&sa, "\nTo: alice@here.test\n"),
          "bounce: From MAILER-DAEMON@me, To the sender");
    check(contains(&sa, "Content-Type: multipart/report; report-type=delivery-status;\n boundary=\"=_mailroom_1763893836.042117.4711_1\""),
          "bounce: multipart/report, the boundary changed away from one in the header");
    check(count(&sa, "\n--=_mailroom_1763893836.042117.4711_1\n") == 3 && contains(&sa, "\n--=_mailroom_1763893836.042117.4711_1--\n"),
          "bounce: three parts and the closing boundary");
    check(contains(&sa, "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.here.test\n"),
          "bounce: Reporting-MTA");
    check(contains(&sa, "Arrival-Date: "), "bounce: Arrival-Date");
    check(contains(&sa, "\nFinal-Recipient: rfc822; bob@example.test\nAction: failed\nStatus: 5.1.1\n"
                        "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.test>: no such user\n"),
          "bounce: per-recipient fields, smtp diagnostic");
    check(contains(&sa, "Diagnostic-Code: X-mailroom; 5.1.1 no such user here: carol  Injected: yes\n") &&
            !contains(&sa, "\nInjected: yes"),
          "bounce: a local text is X-mailroom; CR LF in a text cannot start a field");
    check(contains(&sa, "Content-Type: text/rfc822-headers\n\nFrom: alice@here.test\n") && contains(&sa, "Subject: hi\n") &&
            !contains(&sa, "secret body"),
          "bounce: the original header, not the body");
    check(!contains(&sa, "\r"), "bounce: no CR anywhere");
    stralloc_free(&sa);
    d.delayed = 1;
    d.n = 1;
    r[0].text = "451 4.7.1 try again later";
    check(!dsn_build(&sa, &d), "delay: built");
    check(contains(&sa, "Action: delayed\nStatus: 4.7.1\n") && contains(&sa, "Last-Attempt-Date: ") &&
            contains(&sa, "Subject: Delivery delayed") && !contains(&sa, "carol"),
          "delay: Action delayed, Status 4.x.x, only the listed recipient");
    stralloc_free(&sa);
  }
  return failed;
}
