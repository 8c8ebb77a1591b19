#ifndef MAILROOM_QQERR_H
#define MAILROOM_QQERR_H
/* What an injector's exit code means (qmail-queue(8)'s codes, lib/exitcodes.h), for every
   caller that reports it: sendmail, mailroom-smtpd, the forwards of mailroom-local. */
#define QQ_NOEXEC 120 /* a caller's own code: its child could not run the injector */

/* A text for the code; *perm is set to 1 when the failure is permanent (11-40, 91). */
extern char const *qq_describe(int code, int *perm);
#endif
