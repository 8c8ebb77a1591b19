/* The injector's exit codes as words. One table, so that sendmail, mailroom-smtpd and
   mailroom-local's forwards say the same thing about the same failure. */
#include "exitcodes.h"
#include "qqerr.h"

char const *qq_describe(int code, int *perm)
{
  *perm = 0;
  switch (code) {
    case QQ_OK: return "message accepted";
    case QQ_ADDR_TOO_LONG: *perm = 1; return "envelope address too long";
    case QQ_PERM_REFUSED: *perm = 1; return "message refused permanently (larger than databytes?)";
    case QQ_NOMEM: return "queue out of memory";
    case QQ_TIMEOUT: return "queue timed out reading the message";
    case QQ_WRITE: return "queue write error or disk full";
    case QQ_READ: return "queue unable to read the message or envelope";
    case QQ_CONFIG: return "queue unable to read a configuration file";
    case 56: return "trouble making a network connection";
    case QQ_HOME: return "trouble in the mailroom home directory";
    case QQ_QUEUEDIR:
    case 63:
    case 64:
    case 65:
    case 66: return "queue unable to create files";
    case QQ_TEMP_REFUSED: return "message refused temporarily";
    case 72: return "connection to the mail server timed out";
    case 73: return "connection to the mail server rejected";
    case 74: return "communication with the mail server failed";
    case QQ_BUG: return "queue internal bug";
    case QQ_ENVELOPE: *perm = 1; return "envelope format error";
    case QQ_NOEXEC: return "unable to run the queue";
  }
  /* qmail-queue(8): 11-40 are permanent, everything else temporary */
  if (code >= 11 && code <= 40) {
    *perm = 1;
    return "message refused permanently by the queue";
  }
  return "temporary queue problem";
}
