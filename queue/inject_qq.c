/* Running the injector under sendmail: a child with the message pipe on fd 0 and the
   envelope pipe on fd 1 (qmail-queue's interface), and what its exit code means. */
#include <signal.h>
#include <unistd.h>

#include <skalibs/djbunix.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>

#include "exitcodes.h"
#include "inject.h"

int inject_qq_start(inject_qq *qq, char const *prog)
{
  int m[2], e[2];
  pid_t pid;
  if (pipecoe(m) < 0) return -1;
  if (pipecoe(e) < 0) goto close_m;
  pid = fork();
  if (pid < 0) goto close_e;
  if (!pid) {
    char const *argv[2] = { prog, 0 };
    /* fds 0-2 were open before the pipes were made, so the read ends are above 2 and
       dup2 leaves the copies without close-on-exec. */
    if (fd_move2(0, m[0], 1, e[0]) < 0) {
      strerr_warnwusys("move pipes for ", prog);
      _exit(INJECT_QQ_NOEXEC);
    }
    sig_restore(SIGPIPE); /* ignored here; the injector or a filter expects the default */
    execv(prog, (char *const *)argv);
    strerr_warnwusys("exec ", prog);
    _exit(INJECT_QQ_NOEXEC);
  }
  close(m[0]);
  close(e[0]);
  qq->pid = pid;
  qq->msgfd = m[1];
  qq->envfd = e[1];
  return 0;
close_e:
  fd_close(e[0]);
  fd_close(e[1]);
close_m:
  fd_close(m[0]);
  fd_close(m[1]);
  return -1;
}

char const *inject_qq_describe(int code, int *perm)
{
  *perm = 0;
  switch (code) {
    case QQ_OK: return "message accepted";
    case QQ_ADDR_TOO_LONG: *perm = 1; return "envelope address too long";
    case QQ_PERM_REFUSED: *perm = 1; return "refused permanently, e.g. larger than databytes";
    case QQ_NOMEM: return "out of memory";
    case QQ_TIMEOUT: return "timeout";
    case QQ_WRITE: return "write error or disk full";
    case QQ_READ: return "unable to read the message or envelope";
    case QQ_CONFIG: return "unable to read a configuration file";
    case 56: return "trouble making a network connection";
    case QQ_HOME: return "trouble in the mailroom home directory";
    case QQ_QUEUEDIR:
    case 63:
    case 64:
    case 65:
    case 66: return "trouble creating files in the queue";
    case QQ_TEMP_REFUSED: return "message refused temporarily";
    case 72: return "connection to the mail server timed out";
    case 73: return "connection to the mail server rejected";
    case 74: return "communication with the mail server failed";
    case QQ_BUG: return "internal bug";
    case QQ_ENVELOPE: *perm = 1; return "envelope format error";
    case INJECT_QQ_NOEXEC: return "unable to run the injector";
    default:
      /* qmail-queue(8): 11-40 are permanent, everything else temporary */
      if (code >= 11 && code <= 40) {
        *perm = 1;
        return "permanent problem";
      }
      return "temporary problem";
  }
}
