/* The injector: mailroom-queue (or $MAILROOM_QUEUE) with the message pipe on fd 0 and
   the envelope pipe on fd 1 (qmail-queue's interface), started when DATA begins so that
   the message streams through and is never held here. Its exit code is the verdict.
   fd 3 is the write end of one more pipe: an injector that knows its queue id may write
   it there (one line); one that does not just exits, and the reply says "qp PID" as
   qmail-smtpd's does. Nothing here waits without a deadline: the pipes are non-blocking
   on our side and writes go through iopause. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/sig.h>
#include <skalibs/tai.h>

#include "smtpd.h"

#include "fdspawn.h"
#include "qwclient.h"
#define IDFD 3

static void deadline_in(tain *d, unsigned int secs)
{
  tain_now_g();
  tain_addsec_g(d, secs);
}

/* The injector with the message pipe on fd 0, the envelope pipe on fd 1 and the id pipe on
   fd 3. Any pipe end may itself be fd 3, so the id pipe's end is first moved above 9: the
   moves are done in order, and 0 and 1 are taken before 3 is overwritten. */
static pid_t spawn(int m, int e, int id, char const *prog)
{
  char const *argv[2] = { prog, 0 };
  int high = fcntl(id, F_DUPFD_CLOEXEC, 10);
  int const moves[3][2] = { { m, 0 }, { e, 1 }, { high, IDFD } };
  pid_t pid;
  if (high < 0) return -1;
  pid = fdspawn(prog, argv, moves, 3);
  close(high);
  return pid;
}

int smtpd_queue_start(smtpd_queue *q, char const *prog)
{
  int m[2], e[2], id[2];
  pid_t pid;
  q->pid = 0;
  q->werr = 0;
  q->id[0] = 0;
  q->msgfd = q->envfd = q->idfd = q->sock = -1;
  /* mailroom-queue writes its id on fd 3 only when asked (INTERNALS.md); the injector is
     the only program smtpd starts, so the variable is set in smtpd's own environment. */
  if (setenv("MAILROOM_QUEUEIDFD", "3", 1) < 0) return -1;
  if (pipecoe(m) < 0) return -1;
  if (pipecoe(e) < 0) goto close_m;
  if (pipecoe(id) < 0) goto close_e;
  pid = spawn(m[0], e[0], id[1], prog);
  if (pid < 0) goto close_id;
  close(m[0]);
  close(e[0]);
  close(id[1]);
  ndelay_on(m[1]);
  ndelay_on(e[1]);
  ndelay_on(id[0]);
  q->pid = pid;
  q->msgfd = m[1];
  q->envfd = e[1];
  q->idfd = id[0];
  buffer_init(&q->b, &buffer_write, m[1], q->buf, sizeof q->buf);
  return 0;
close_id:
  fd_close(id[0]);
  fd_close(id[1]);
close_e:
  fd_close(e[0]);
  fd_close(e[1]);
close_m:
  fd_close(m[0]);
  fd_close(m[1]);
  return -1;
}

int smtpd_queue_open(smtpd_queue *q, char const *prog, char const *sock)
{
  qwclient c;
  if (sock && qwclient_start(&c, sock, 0) == 0) {
    q->pid = c.pid;
    q->werr = 0;
    q->id[0] = 0;
    q->sock = c.sock;
    q->msgfd = c.msgfd;
    q->envfd = c.envfd;
    q->idfd = -1;
    ndelay_on(q->msgfd);
    ndelay_on(q->envfd);
    buffer_init(&q->b, &buffer_write, q->msgfd, q->buf, sizeof q->buf);
    return 0;
  }
  /* no writer, or a busy or broken one: the exec'd injector, as before it existed */
  return smtpd_queue_start(q, prog);
}

/* Writes what the buffer holds; a failure is remembered and the rest thrown away. */
static void qflush(smtpd_queue *q, unsigned int secs)
{
  struct iovec v[2];
  tain deadline;
  size_t n;
  buffer_rpeek(&q->b, v);
  n = v[0].iov_len + v[1].iov_len;
  if (!n) return;
  if (!q->werr) {
    deadline_in(&deadline, secs);
    if (smtpd_write_until(q->msgfd, v[0].iov_base, v[0].iov_len, &deadline) < 0 ||
        smtpd_write_until(q->msgfd, v[1].iov_base, v[1].iov_len, &deadline) < 0)
      q->werr = errno ? errno : EPIPE;
  }
  buffer_rseek(&q->b, n);
}

void smtpd_queue_put(smtpd_queue *q, char const *s, size_t n)
{
  while (n) {
    size_t room = buffer_available(&q->b), k = n < room ? n : room;
    if (!k) {
      qflush(q, SMTPD_QUEUE_WAIT);
      continue;
    }
    buffer_putnoflush(&q->b, s, k);
    s += k;
    n -= k;
  }
}

/* Reads what the injector wrote on fd 3 until it closes it or the deadline, and keeps
   the last line that is a well-formed queue id (a filter may write its own before the
   real injector does). */
#define IDBUF (4 * (QID_MAX + 2))

static void read_id(smtpd_queue *q, tain const *deadline)
{
  char buf[IDBUF];
  size_t len = 0, i, start = 0;
  for (;;) {
    iopause_fd x = { .fd = q->idfd, .events = IOPAUSE_READ, .revents = 0 };
    ssize_t r = read(q->idfd, buf + len, sizeof buf - len);
    if (r > 0) {
      len += (size_t)r;
      if (len == sizeof buf) break;
      continue;
    }
    if (!r) break;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
    r = iopause_g(&x, 1, deadline);
    if (!r || (r < 0 && errno != EINTR)) break;
  }
  for (i = 0; i < len; i++) {
    if (buf[i] != '\n') continue;
    if (i - start && i - start <= QID_MAX) {
      char id[QID_MAX + 1];
      memcpy(id, buf + start, i - start);
      id[i - start] = 0;
      if (qid_parse(id, 0, 0)) memcpy(q->id, id, i - start + 1);
    }
    start = i + 1;
  }
}

/* Reaps the injector, killing it at the deadline. */
static int reap(smtpd_queue *q, tain const *deadline)
{
  int wstat;
  unsigned int nap = 1;
  for (;;) {
    pid_t r = waitpid(q->pid, &wstat, WNOHANG);
    if (r == q->pid) break;
    if (r < 0 && errno != EINTR) return -1;
    tain_now_g();
    if (!tain_less(&STAMP, deadline)) {
      kill(q->pid, SIGKILL);
      while (waitpid(q->pid, &wstat, 0) < 0 && errno == EINTR) ;
      q->pid = 0;
      return (errno = ETIMEDOUT, -1);
    }
    /* a few ms at first: mailroom-queue is done as soon as its fsyncs are */
    usleep(nap * 1000);
    if (nap < 50) nap *= 2;
  }
  q->pid = 0;
  if (WIFSIGNALED(wstat)) return 256 + WTERMSIG(wstat);
  return WEXITSTATUS(wstat);
}

static void close_all(smtpd_queue *q)
{
  fd_close(q->msgfd);
  fd_close(q->envfd);
  fd_close(q->idfd);
  fd_close(q->sock);
  q->msgfd = q->envfd = q->idfd = q->sock = -1;
}

void smtpd_queue_abort(smtpd_queue *q)
{
  tain deadline;
  if (q->sock >= 0) {
    /* the writer sees the hang-up and the empty envelope, and removes its tmp/ file */
    close_all(q);
    q->pid = 0;
    return;
  }
  if (!q->pid) return;
  /* no envelope: the injector refuses the message and removes what it wrote */
  close_all(q);
  deadline_in(&deadline, SMTPD_QUEUE_WAIT);
  reap(q, &deadline);
}

int smtpd_queue_finish(smtpd_queue *q, char const *env, size_t envlen)
{
  tain deadline;
  int r;
  qflush(q, SMTPD_QUEUE_WAIT);
  fd_close(q->msgfd);
  q->msgfd = -1;
  deadline_in(&deadline, SMTPD_QUEUE_WAIT);
  /* after a failed message write the envelope is never sent: the injector must not
     accept a message it did not read whole */
  if (!q->werr && smtpd_write_until(q->envfd, env, envlen, &deadline) < 0) q->werr = errno;
  fd_close(q->envfd);
  q->envfd = -1;
  if (q->sock >= 0) {
    qwclient c = { .sock = q->sock, .msgfd = -1, .envfd = -1 };
    r = qwclient_verdict(&c, SMTPD_QUEUE_WAIT, q->id);
    close_all(q);
    q->pid = 0;
    /* the writer went away after the hand-off: "the queue crashed", a 451 */
    if (r < 0 && errno != ETIMEDOUT) r = 256;
    return r;
  }
  read_id(q, &deadline);
  fd_close(q->idfd);
  q->idfd = -1;
  r = reap(q, &deadline);
  return r;
}
