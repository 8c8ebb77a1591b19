/* Running the injector under sendmail: a child with the message pipe on fd 0 and the
   envelope pipe on fd 1 (qmail-queue's interface), and what its exit code means. */
#include <signal.h>
#include <unistd.h>

#include <skalibs/djbunix.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>

#include "exitcodes.h"
#include "fdspawn.h"
#include "qqerr.h"
#include "inject.h"
#include "qwclient.h"

int inject_qq_start(inject_qq *qq, char const *prog)
{
  int m[2], e[2];
  pid_t pid;
  if (pipecoe(m) < 0) return -1;
  if (pipecoe(e) < 0) goto close_m;
  {
    char const *argv[2] = { prog, 0 };
    /* fds 0-2 were open before the pipes were made, so the read ends are above 2 and
       the moves cannot overwrite each other. SIGPIPE, ignored here, is back at its default:
       the injector or a filter expects it. */
    int const moves[2][2] = { { m[0], 0 }, { e[0], 1 } };
    pid = fdspawn(prog, argv, moves, 2);
  }
  if (pid < 0) goto close_e;
  close(m[0]);
  close(e[0]);
  qq->pid = pid;
  qq->sock = -1;
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

int inject_qq_writer(inject_qq *qq, char const *sock)
{
  qwclient c;
  if (qwclient_start(&c, sock, 0) < 0) return -1;
  qq->pid = c.pid;
  qq->sock = c.sock;
  qq->msgfd = c.msgfd;
  qq->envfd = c.envfd;
  return 0;
}

int inject_qq_verdict(inject_qq *qq, unsigned int secs)
{
  char id[QID_MAX + 1];
  qwclient c = { .sock = qq->sock, .msgfd = -1, .envfd = -1 };
  int r = qwclient_verdict(&c, secs, id);
  qwclient_close(&c);
  qq->sock = -1;
  return r;
}
