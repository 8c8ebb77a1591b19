#ifndef MAILROOM_ENVELOPE_H
#define MAILROOM_ENVELOPE_H
/* The qmail-queue envelope: F sender \0 (T recipient \0)+ \0. Pure code, libc only. */
#include <stddef.h>

#define ENV_ADDR_MAX 1000
#define ENV_RCPT_MAX 100000

/* Outcomes of envelope_check(). */
#define ENV_OK 0
#define ENV_ETRUNC -1    /* a field or the final \0 is missing */
#define ENV_EFORMAT -2   /* a record does not start with F/T, no recipient, bytes after the end */
#define ENV_ETOOLONG -3  /* an address over ENV_ADDR_MAX */
#define ENV_EBADCHAR -4  /* CR or LF in an address */
#define ENV_ETOOMANY -5  /* more than ENV_RCPT_MAX recipients */

/* Checks a whole envelope s[0..len). On ENV_OK, *nrcpt gets the recipient count. */
extern int envelope_check(char const *s, size_t len, size_t *nrcpt);
/* After envelope_check() said ENV_OK: the sender (without 'F'), and the i-th recipient
   (without 'T'), NUL-terminated inside s. envelope_rcpt walks from the start: use
   envelope_next for loops. */
extern char const *envelope_sender(char const *s);
/* Returns the first recipient after the sender: call with prev = 0, then with the last
   answer; returns 0 at the end. */
extern char const *envelope_next(char const *s, char const *prev);
extern char const *envelope_strerror(int e);
#endif
