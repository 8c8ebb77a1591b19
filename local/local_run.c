/* Runs a child (a |program or the injector) with the message on its fd 0 through a pipe:
   fd 0 of mailroom-local also holds the envelope after msglen bytes, so the child never
   gets it. One event loop feeds the input, reads the first line of output and waits for
   the child's exit (SIGCHLD through the selfpipe), all under one deadline. A child that
   stops reading early is not an error in itself: its exit code decides. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/tai.h>
#include "local.h"

#define DRAIN_MAX 65536 /* output read after the child's exit (a grandchild may go on) */

extern char **environ;

typedef struct feed_s feed;
struct feed_s {
  local *l;
  local_run_t *r;
  int in;  /* write end to the child's fd 0, -1 when done */
  int env; /* write end to its fd 1, or -1 */
  int out; /* read end of its output, -1 at EOF */
  unsigned long long total; /* headlen + msglen */
  unsigned long long filled;
  size_t envpos;
  size_t bpos;
  size_t blen;
  size_t outlen;
  int outdone; /* the first line is complete */
  char buf[LOCAL_COPY_BUF];
};

static void child(local_run_t const *r, int in, int out, int env)
{
  char const *v[3];
  sig_blocknone(); /* the selfpipe blocked SIGCHLD, and SIGPIPE was ignored */
  sig_restore(SIGPIPE);
  sig_restore(SIGCHLD);
  setpgid(0, 0);
  if (dup2(in, 0) < 0 || dup2(env >= 0 ? env : out, 1) < 0 || dup2(out, 2) < 0) _exit(111);
  execve(r->argv[0], (char *const *)r->argv, environ);
  v[0] = "4.3.0 unable to run ";
  v[1] = r->argv[0];
  v[2] = ": ";
  for (unsigned int i = 0; i < 3; i++)
    if (write(2, v[i], strlen(v[i])) < 0) _exit(111);
  v[0] = strerror(errno);
  if (write(2, v[0], strlen(v[0])) < 0 || write(2, "\n", 1) < 0) _exit(111);
  _exit(111);
}

static void closefd(int *fd)
{
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Fills f->buf with the next bytes of head + message. 0, or -1 with l->why set. */
static int refill(feed *f)
{
  local_run_t *r = f->r;
  f->bpos = f->blen = 0;
  while (f->blen < sizeof f->buf && f->filled < f->total) {
    size_t want = sizeof f->buf - f->blen;
    ssize_t k;
    if (f->filled < r->headlen) {
      if (want > r->headlen - f->filled) want = r->headlen - (size_t)f->filled;
      memcpy(f->buf + f->blen, r->head + f->filled, want);
      k = (ssize_t)want;
    } else {
      unsigned long long moff = f->filled - r->headlen;
      if (want > f->l->msglen - moff) want = (size_t)(f->l->msglen - moff);
      k = pread(f->l->msgfd, f->buf + f->blen, want, (off_t)moff);
      if (k < 0) {
        if (errno == EINTR) continue;
        return (f->l->why = LW_READMSG, f->l->err = errno, -1);
      }
      if (!k) return (f->l->why = LW_SHORTMSG, -1);
    }
    f->blen += (size_t)k;
    f->filled += (unsigned long long)k;
  }
  return 0;
}

static int feed_in(feed *f)
{
  for (;;) {
    ssize_t w;
    if (f->bpos == f->blen) {
      if (f->filled == f->total) {
        closefd(&f->in);
        return 0;
      }
      if (refill(f) < 0) return -1;
    }
    w = write(f->in, f->buf + f->bpos, f->blen - f->bpos);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) closefd(&f->in); /* EPIPE: it is done */
      return 0;
    }
    f->bpos += (size_t)w;
  }
}

static void feed_env(feed *f)
{
  while (f->envpos < f->r->fd1len) {
    ssize_t w = write(f->env, f->r->fd1 + f->envpos, f->r->fd1len - f->envpos);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) break;
      return;
    }
    f->envpos += (size_t)w;
  }
  closefd(&f->env);
}

/* Reads what the child printed, keeping its first line. Returns the bytes read. */
static size_t read_out(feed *f)
{
  char tmp[1024];
  ssize_t k = read(f->out, tmp, sizeof tmp);
  if (k < 0) {
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) closefd(&f->out);
    return 0;
  }
  if (!k) {
    closefd(&f->out);
    return 0;
  }
  for (ssize_t i = 0; i < k && !f->outdone; i++) {
    if (tmp[i] == '\n') f->outdone = 1;
    else if (f->outlen < LOCAL_OUT_MAX) f->r->out[f->outlen++] = tmp[i];
  }
  f->r->out[f->outlen] = 0;
  return (size_t)k;
}

static void killwait(pid_t pid, int *wstat)
{
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  while (waitpid(pid, wstat, 0) < 0 && errno == EINTR)
    ;
}

/* The loop; returns 1 when the child exited, 0 timeout, -1 error (why set). */
static int loop(feed *f, pid_t pid, int sfd)
{
  tain deadline;
  tain_now_g();
  tain_addsec_g(&deadline, f->r->timeout);
  for (;;) {
    iopause_fd x[4];
    unsigned int n = 1;
    int iin = -1, ienv = -1, iout = -1;
    int k;
    x[0].fd = sfd;
    x[0].events = IOPAUSE_READ;
    if (f->in >= 0) x[iin = n++] = (iopause_fd){ .fd = f->in, .events = IOPAUSE_WRITE };
    if (f->env >= 0) x[ienv = n++] = (iopause_fd){ .fd = f->env, .events = IOPAUSE_WRITE };
    if (f->out >= 0) x[iout = n++] = (iopause_fd){ .fd = f->out, .events = IOPAUSE_READ };
    k = iopause_g(x, n, &deadline);
    if (k < 0) {
      if (errno == EINTR) continue;
      return (f->l->why = LW_SPAWN, f->l->err = errno, -1);
    }
    if (!k) return 0;
    if (x[0].revents & IOPAUSE_READ) {
      int s;
      while ((s = selfpipe_read()) > 0)
        ;
      if (s < 0) return (f->l->why = LW_SPAWN, f->l->err = errno, -1);
      if (waitpid(pid, &f->r->wstat, WNOHANG) == pid) return 1;
    }
    if (iin >= 0 && x[iin].revents && feed_in(f) < 0) return -1;
    if (ienv >= 0 && x[ienv].revents) feed_env(f);
    if (iout >= 0 && x[iout].revents) read_out(f);
  }
}

int local_run(local *l, local_run_t *r)
{
  int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, penv[2] = { -1, -1 };
  feed f;
  pid_t pid;
  int sfd;
  int e;

  r->wstat = 0;
  r->timedout = 0;
  r->out[0] = 0;
  if (pipecoe(pin) < 0 || pipecoe(pout) < 0 || (r->fd1 && pipecoe(penv) < 0)) goto fail_pipes;
  sfd = selfpipe_init();
  if (sfd < 0) goto fail_pipes;
  if (selfpipe_trap(SIGCHLD) <= 0) goto fail_selfpipe;
  pid = fork();
  if (pid < 0) goto fail_selfpipe;
  if (!pid) child(r, pin[0], pout[1], penv[0]);
  setpgid(pid, pid); /* as the child does: whichever comes first */
  closefd(&pin[0]);
  closefd(&pout[1]);
  closefd(&penv[0]);

  memset(&f, 0, sizeof f);
  f.l = l;
  f.r = r;
  f.in = pin[1];
  f.env = penv[1];
  f.out = pout[0];
  f.total = r->headlen + l->msglen;
  ndelay_on(f.in);
  ndelay_on(f.out);
  if (f.env >= 0) ndelay_on(f.env);

  e = loop(&f, pid, sfd);
  if (e <= 0) {
    int why = l->why, err = l->err;
    killwait(pid, &r->wstat);
    r->timedout = !e;
    l->why = why;
    l->err = err;
  }
  for (size_t drained = 0; f.out >= 0 && drained < DRAIN_MAX;) {
    size_t k = read_out(&f);
    if (!k) break;
    drained += k;
  }
  closefd(&f.in);
  closefd(&f.env);
  closefd(&f.out);
  selfpipe_finish();
  return e < 0 ? -1 : 0;

fail_selfpipe:
  e = errno;
  selfpipe_finish();
  errno = e;
fail_pipes:
  l->why = LW_SPAWN;
  l->err = errno;
  closefd(&pin[0]);
  closefd(&pin[1]);
  closefd(&pout[0]);
  closefd(&pout[1]);
  closefd(&penv[0]);
  closefd(&penv[1]);
  return -1;
}
