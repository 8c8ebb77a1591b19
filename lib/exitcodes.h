#ifndef MAILROOM_EXITCODES_H
#define MAILROOM_EXITCODES_H
/* Exit codes are an interface (STYLE.md). Delivery programs and tools: */
#define EX_OK 0
#define EX_OKSTOP 99 /* delivered, and stop processing the dot file */
#define EX_PERM 100  /* permanent failure / usage */
#define EX_BUG 101   /* cannot happen */
#define EX_TEMP 111  /* temporary failure */

/* The injector: qmail-queue(8)'s codes, kept so that qmail-smtpd-style callers work. */
#define QQ_OK 0
#define QQ_ADDR_TOO_LONG 11
#define QQ_PERM_REFUSED 31 /* mailroom: message larger than databytes */
#define QQ_NOMEM 51
#define QQ_TIMEOUT 52
#define QQ_WRITE 53 /* write error, disk full */
#define QQ_READ 54  /* unable to read the message or envelope */
#define QQ_CONFIG 55
#define QQ_HOME 61
#define QQ_QUEUEDIR 62
#define QQ_TEMP_REFUSED 71
#define QQ_BUG 81
#define QQ_ENVELOPE 91 /* envelope format error */
#endif
