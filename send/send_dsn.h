#ifndef MAILROOM_SEND_DSN_H
#define MAILROOM_SEND_DSN_H
/* RFC 3464 delivery status notifications (bounces and delay warnings). Pure: the caller
   gathers the texts and the original header, this builds the message bytes. */
#include <stddef.h>
#include <time.h>
#include <skalibs/stralloc.h>

#define DSN_HEADERS_MAX 65536 /* bytes of the original header quoted in text/rfc822-headers */
/* RET=FULL returns the whole message in a failure report up to this size; a larger one
   gets its header alone, and the report says so (RFC 3461 4.3 lets the MTA truncate). */
#define DSN_FULL_MAX (1024ULL * 1024)

/* What a report says of its recipients (RFC 3464 2.3.3's Action). */
#define DSN_FAILED 0
#define DSN_DELAYED 1
#define DSN_DELIVERED 2 /* a local delivery of a NOTIFY=SUCCESS recipient */
#define DSN_RELAYED 3   /* handed to a server without DSN (RFC 3461 5.2.2) */

struct dsn_rcpt {
  char const *addr;
  char const *text;  /* the last result: a remote server's reply or a local program's text */
  char const *orcpt; /* the ORCPT parameter as sent (addr-type;xtext), or 0 */
};

struct dsn {
  char const *me;     /* control/me: Reporting-MTA and MAILER-DAEMON@me */
  char const *to;     /* the report's recipient */
  char const *id;     /* the queue id of the original message */
  char const *sender; /* the original envelope sender, for the human-readable part */
  unsigned long long arrival;
  time_t now;
  int delayed; /* DSN_FAILED (a bounce), DSN_DELAYED (a warning), DSN_DELIVERED, DSN_RELAYED */
  char const *envid; /* the ENVID parameter as sent (xtext), or 0 */
  int full;          /* the whole message is in msg and goes back as message/rfc822 (RET=FULL) */
  int cut;           /* RET=FULL was asked for, but the message was too large: headers only */
  struct dsn_rcpt const *rcpt;
  unsigned n;
  char const *msg; /* the original message (at least its header; all of it with full) */
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
