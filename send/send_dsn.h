#ifndef MAILROOM_SEND_DSN_H
#define MAILROOM_SEND_DSN_H
/* RFC 3464 delivery status notifications (bounces and delay warnings). Pure: the caller
   gathers the texts and the original header, this builds the message bytes. */
#include <stddef.h>
#include <time.h>
#include <skalibs/stralloc.h>

#define DSN_HEADERS_MAX 65536 /* bytes of the original header quoted in text/rfc822-headers */

struct dsn_rcpt {
  char const *addr;
  char const *text; /* the last result: a remote server's reply or a local program's text */
};

struct dsn {
  char const *me;     /* control/me: Reporting-MTA and MAILER-DAEMON@me */
  char const *to;     /* the report's recipient */
  char const *id;     /* the queue id of the original message */
  char const *sender; /* the original envelope sender, for the human-readable part */
  unsigned long long arrival;
  time_t now;
  int delayed; /* 1: Action: delayed (a warning); 0: Action: failed (a bounce) */
  struct dsn_rcpt const *rcpt;
  unsigned n;
  char const *msg; /* the original message (at least its header) */
  size_t msglen;
};

/* The enhanced status code in text ("5.1.1", also after an SMTP code: "550 5.1.1 ..."),
   with its class made 5 (failed) or 4 (delayed); a default when there is none. out needs
   16 bytes. */
extern void dsn_status(char const *text, int delayed, char *out);
/* The length of the original header: up to and including the empty line, at most
   DSN_HEADERS_MAX and cut at a line end. */
extern size_t dsn_header_len(char const *msg, size_t len);
/* Appends the whole report to sa. 0, or -1 (out of memory). */
extern int dsn_build(stralloc *sa, struct dsn const *d);
#endif
