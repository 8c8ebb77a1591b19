#ifndef MAILROOM_ENVELOPE_H
#define MAILROOM_ENVELOPE_H
/* The qmail-queue envelope: F sender \0 (T recipient \0)+ \0, with optional parameter
   records (DSN, AUTH=) after the sender and after each recipient:

       F sender \0 [E envid \0] [R FULL|HDRS \0] [A auth \0]
       (T recipient \0 [N notify \0] [O orcpt \0])+ \0

   each parameter at most once in its place, in any order there. An envelope without them
   is qmail's, so every queue file written before them still reads the same. Values are
   as lib/dsnparam.h checks them (xtext as the client sent it; N in canonical form).
   Pure code, libc only. */
#include <stddef.h>

#include "dsnparam.h"

#define ENV_ADDR_MAX 1000
#define ENV_RCPT_MAX 100000
/* The most bytes the parameter records add: after the sender (E, R, A) and after one
   recipient (N, O), letters and NULs included. */
#define ENV_MPARAMS_MAX ((DSN_ENVID_MAX + 2) + (4 + 2) + (DSN_AUTH_MAX + 2))
#define ENV_RPARAMS_MAX ((DSN_NOTIFY_MAX + 2) + (DSN_ORCPT_MAX + 2))

/* Outcomes of envelope_check(). */
#define ENV_OK 0
#define ENV_ETRUNC -1    /* a field or the final \0 is missing */
#define ENV_EFORMAT -2   /* a record does not start with F/T, no recipient, bytes after the end */
#define ENV_ETOOLONG -3  /* an address over ENV_ADDR_MAX */
#define ENV_EBADCHAR -4  /* CR or LF in an address */
#define ENV_ETOOMANY -5  /* more than ENV_RCPT_MAX recipients */
#define ENV_EPARAM -6    /* a parameter record malformed, repeated or out of place */

/* Checks a whole envelope s[0..len). On ENV_OK, *nrcpt gets the recipient count. */
extern int envelope_check(char const *s, size_t len, size_t *nrcpt);
/* After envelope_check() said ENV_OK: the sender (without 'F'), and the i-th recipient
   (without 'T'), NUL-terminated inside s. envelope_rcpt walks from the start: use
   envelope_next for loops. */
extern char const *envelope_sender(char const *s);
/* Returns the first recipient after the sender: call with prev = 0, then with the last
   answer; returns 0 at the end. Parameter records are skipped. */
extern char const *envelope_next(char const *s, char const *prev);
/* The value of the sender's parameter record letter ('E', 'R', 'A'), or 0 if none. */
extern char const *envelope_mparam(char const *s, char letter);
/* The value of a recipient's parameter record letter ('N', 'O'), or 0 if none; rcpt is
   what envelope_next returned. */
extern char const *envelope_rparam(char const *rcpt, char letter);
extern char const *envelope_strerror(int e);
#endif
