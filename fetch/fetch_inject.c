/* The hand-off to the injector, through sendmail's own path (queue/inject_qq.c:
   $MAILROOM_QUEUE if set, so a filter can sit in between, else bin/mailroom-queue), so that
   whatever reaches the queue from sendmail reaches it from here too. The message goes
   whole, then the envelope: an injector that saw no complete envelope accepts nothing,
   which is what makes a crash of mailroom-fetch at any moment leave nothing half-queued. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>

#include "auto_home.h"
#include "fetch.h"
#include "../queue/inject.h" /* inject_qq_start: sendmail's own path to the injector */

#define QUEUE_PATH_MAX 4096

int fetch_inject(char const *head, size_t hn, char const *m, size_t n, char const *sender, char const *rcpt,
                 char const **why)
{
  char fn[QUEUE_PATH_MAX];
  char const *prog = getenv("MAILROOM_QUEUE");
  inject_qq qq;
  stralloc env = STRALLOC_ZERO;
  int wstat, werr = 0;
  if (!prog || !*prog) {
    size_t l = strlen(auto_home);
    if (l + sizeof "/bin/mailroom-queue" > sizeof fn) return *why = "the home is too long", -1;
    memcpy(fn, auto_home, l);
    memcpy(fn + l, "/bin/mailroom-queue", sizeof "/bin/mailroom-queue");
    prog = fn;
  }
  if (!stralloc_catb(&env, "F", 1) || !stralloc_cats(&env, sender) || !stralloc_catb(&env, "\0T", 2)
      || !stralloc_cats(&env, rcpt) || !stralloc_catb(&env, "\0\0", 2)) {
    stralloc_free(&env);
    return *why = "out of memory", -1;
  }
  if (inject_qq_start(&qq, prog) < 0) {
    stralloc_free(&env);
    return *why = "unable to run the injector", -1;
  }
  /* a failed write means the injector stopped reading: its exit code says why, and the
     envelope is never sent, so it cannot accept a cut message */
  if (allwrite(qq.msgfd, head, hn) < hn || allwrite(qq.msgfd, m, n) < n) werr = errno ? errno : EPIPE;
  fd_close(qq.msgfd);
  if (!werr && allwrite(qq.envfd, env.s, env.len) < env.len) werr = errno ? errno : EPIPE;
  fd_close(qq.envfd);
  stralloc_free(&env);
  if (wait_pid(qq.pid, &wstat) < 0) return *why = "unable to wait for the injector", -1;
  if (WIFSIGNALED(wstat)) return *why = "the injector was killed by a signal", -1;
  if (!WEXITSTATUS(wstat) && werr) return *why = "the injector exited 0 without reading everything", -1;
  return WEXITSTATUS(wstat);
}
