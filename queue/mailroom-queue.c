/* mailroom-queue: the injector, qmail-queue's interface. Reads a message on fd 0 and its
   envelope on fd 1, writes them as one file into the queue (tmp/ID, fsync, link to new/ID,
   fsync new/: INTERNALS.md, states S1-S2), pokes mailroom-send through lock/trigger, and
   says by its exit code whether the message is accepted. Installed setuid mrqueue, the only
   setuid program of mailroom; it trusts the files under auto_home and nothing else.

   WARNING: the caller is anybody on the machine, and controls: the environment (never read
   here), argv (ignored), the cwd (we chdir to auto_home), the umask (set to 027), which fds
   are open (0 and 1 are its input and may be anything readable or nothing; 2 may be closed;
   fds above 2 are never touched), signal dispositions, the signal mask and pending alarms
   (SIGPIPE and SIGXFSZ are ignored so that errors are returned, alarm(0) cancels an
   inherited alarm), resource limits (RLIMIT_FSIZE, _NOFILE, _AS, _CPU: a limit makes us fail
   and clean up, never write a bad file), the timing (a 24-hour deadline bounds the run), and
   it can kill us at any moment: a tmp/ID left behind is never delivered and mailroom-send
   removes it (INTERNALS.md, S1). The message and envelope are bounded (databytes, the
   envelope limits) and checked before anything reaches new/. Nothing is executed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>

#include "auto_home.h"
#include "control.h"
#include "envelope.h"
#include "exitcodes.h"
#include "qwrite.h"
#include "syncdir.h"

/* The injector gives up after DEATH seconds (queue/qwrite.h: below send's 36 hours). */
#define DEATH QWRITE_DEATH
/* Bytes per read of the message. */
#define CHUNK 65536
#define ENV_BYTES_MAX QWRITE_ENV_MAX

typedef struct qctx_s {
  qwrite_name n;
  int tmpmade, newmade;    /* what cleanup() must remove */
  tain deadline;
} qctx;

/* Removes what this run wrote; errno survives it, for the message that follows. */
static void cleanup(qctx const *q)
{
  int e = errno;
  if (q->newmade) unlink(q->n.newfn);
  if (q->tmpmade) unlink(q->n.tmpfn);
  errno = e;
}

static _Noreturn void die_fd(void) { strerr_dief(QQ_READ, "fd 0 or fd 1 is not open (the message and envelope pipes)"); }
static _Noreturn void die_home(void) { strerr_diefusys(QQ_HOME, "chdir to ", auto_home); }
static _Noreturn void die_control(void) { strerr_diefusys(QQ_CONFIG, "read ", auto_home, "/control/databytes"); }
static _Noreturn void die_queuedir(void) { strerr_diefusys(QQ_QUEUEDIR, "chdir to ", auto_home, "/queue"); }
/* No block or no inode left is a full disk, not a broken queue: callers say "disk full". */
static _Noreturn void die_tmp(qctx const *q) { strerr_diefusys(qwrite_tmp_code(errno), "create queue/", q->n.tmpfn); }
static _Noreturn void die_nomem(qctx const *q) { cleanup(q); strerr_dief(QQ_NOMEM, "out of memory"); }
static _Noreturn void die_timeout(qctx const *q) { cleanup(q); strerr_dief(QQ_TIMEOUT, "timed out reading the message or envelope"); }
static _Noreturn void die_readmsg(qctx const *q) { cleanup(q); strerr_diefusys(QQ_READ, "read the message on fd 0"); }
static _Noreturn void die_readenv(qctx const *q) { cleanup(q); strerr_diefusys(QQ_READ, "read the envelope on fd 1"); }
static _Noreturn void die_write(qctx const *q) { cleanup(q); strerr_diefusys(QQ_WRITE, "write queue/", q->n.tmpfn); }
static _Noreturn void die_sync(qctx const *q, char const *f) { cleanup(q); strerr_diefusys(QQ_WRITE, "fsync queue/", f); }
static _Noreturn void die_exists(qctx const *q) { cleanup(q); strerr_dief(QQ_QUEUEDIR, "queue/", q->n.newfn, " already exists"); }
static _Noreturn void die_link(qctx const *q) { cleanup(q); strerr_diefusys(QQ_QUEUEDIR, "link queue/", q->n.tmpfn, " to queue/", q->n.newfn); }
static _Noreturn void die_unlink(qctx const *q) { cleanup(q); strerr_diefusys(QQ_QUEUEDIR, "unlink queue/", q->n.tmpfn); }
static _Noreturn void die_envlong(qctx const *q) { cleanup(q); strerr_dief(QQ_ENVELOPE, "envelope format error: envelope is larger than 100000 recipients of 1000 bytes"); }
static _Noreturn void die_envelope(qctx const *q, int e)
{
  cleanup(q);
  strerr_dief(qwrite_env_code(e), "envelope format error: ", envelope_strerror(e));
}
static _Noreturn void die_toobig(qctx const *q, unsigned long max)
{
  char fmt[ULONG_FMT];
  fmt[ulong_fmt(fmt, max)] = 0;
  cleanup(q);
  strerr_dief(QQ_PERM_REFUSED, "message is larger than databytes (", fmt, ")");
}

/* fd 2 is made to exist (on /dev/null) so that no file we open lands there and gets our
   diagnostics; fds 0 and 1 are the input and must be there already. */
static void fds_check(void)
{
  int closed0 = fcntl(0, F_GETFD) < 0, closed1 = fcntl(1, F_GETFD) < 0;
  if (fcntl(2, F_GETFD) < 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) _exit(QQ_READ);
    if (fd != 2) {
      if (dup2(fd, 2) < 0) _exit(QQ_READ);
      close(fd);
    }
  }
  if (closed0 || closed1) die_fd();
}

/* One read of at most n bytes, waiting at most until the deadline. Poll then a blocking
   read: the caller's fds are left in blocking mode, since their flags are shared with it. */
static ssize_t deadline_read(int fd, char *buf, size_t n, tain const *deadline)
{
  iopause_fd x = { .fd = fd, .events = IOPAUSE_READ, .revents = 0 };
  for (;;) {
    ssize_t r;
    int k = iopause_g(&x, 1, deadline);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (!k) return (errno = ETIMEDOUT, -1);
    r = read(fd, buf, n);
    if (r >= 0) return r;
    if (errno != EINTR && errno != EAGAIN) return -1;
  }
}

static int make_tmp(qctx *q)
{
  qwrite_clock last = { 0, 0 };
  int fd = qwrite_create(&q->n, (unsigned long)getpid(), &last);
  if (fd < 0) die_tmp(q);
  q->tmpmade = 1;
  return fd;
}

/* fd 0 into the file; returns the message length. */
static unsigned long long copy_message(qctx *q, int fd, unsigned long databytes)
{
  char buf[CHUNK];
  unsigned long long len = 0;
  for (;;) {
    ssize_t r = deadline_read(0, buf, sizeof buf, &q->deadline);
    if (r < 0) {
      if (errno == ETIMEDOUT) die_timeout(q);
      die_readmsg(q);
    }
    if (!r) return len;
    len += (unsigned long long)r;
    if (databytes && len > databytes) die_toobig(q, databytes);
    if (allwrite(fd, buf, (size_t)r) < (size_t)r) die_write(q);
  }
}

/* fd 1, to its end, into env. */
static void read_envelope(qctx *q, stralloc *env)
{
  for (;;) {
    ssize_t r;
    size_t room;
    if (!stralloc_readyplus(env, CHUNK)) die_nomem(q);
    room = env->a - env->len;
    if (room > ENV_BYTES_MAX + 1 - env->len) room = ENV_BYTES_MAX + 1 - env->len;
    r = deadline_read(1, env->s + env->len, room, &q->deadline);
    if (r < 0) {
      if (errno == ETIMEDOUT) die_timeout(q);
      die_readenv(q);
    }
    if (!r) return;
    env->len += (size_t)r;
    if (env->len > ENV_BYTES_MAX) die_envlong(q);
  }
}

/* After the message is safe: tell a caller that asked for it (mailroom-smtpd, for its 250
   reply) the queue id, as one line on fd 3. Only when the caller says so in the environment
   and fd 3 is a pipe, so a file some script left open on fd 3 is never written to. SIGPIPE
   is ignored: a reader that went away cannot turn an accepted message into a failure. */
static void report_id(qctx const *q)
{
  char line[QID_MAX + 2];
  char const *x = getenv("MAILROOM_QUEUEIDFD");
  struct stat st;
  size_t n = strlen(q->n.id);
  if (!x || strcmp(x, "3") != 0 || fstat(3, &st) < 0 || !S_ISFIFO(st.st_mode)) return;
  memcpy(line, q->n.id, n);
  line[n++] = '\n';
  if (write(3, line, n) < 0) strerr_warnwusys("report the queue id on fd 3");
}

int main(int argc, char const *const *argv)
{
  qctx q = { .tmpmade = 0, .newmade = 0 };
  stralloc env = STRALLOC_ZERO;
  unsigned long databytes;
  unsigned long long msglen;
  size_t nrcpt;
  int fd, e;
  PROG = "mailroom-queue";
  umask(027);
  fds_check();
  sig_ignore(SIGPIPE);
  sig_ignore(SIGXFSZ);
  alarm(0);
  tain_now_set_stopwatch_g();
  tain_addsec_g(&q.deadline, DEATH);

  if (chdir(auto_home) < 0) die_home();
  if (control_readulong("control/databytes", &databytes, 0) < 0) die_control();
  if (chdir("queue") < 0) die_queuedir();

  fd = make_tmp(&q);
  msglen = copy_message(&q, fd, databytes);
  read_envelope(&q, &env);
  e = envelope_check(env.s, env.len, &nrcpt);
  if (e != ENV_OK) die_envelope(&q, e);
  if (qwrite_tail(fd, msglen, env.s, env.len) < 0) die_write(&q);
  stralloc_free(&env);
  if (fsync(fd) < 0) die_sync(&q, q.n.tmpfn);
  if (close(fd) < 0) die_write(&q);

  if (link(q.n.tmpfn, q.n.newfn) < 0) {
    if (errno == EEXIST) die_exists(&q);
    die_link(&q);
  }
  q.newmade = 1;
  if (unlink(q.n.tmpfn) < 0) die_unlink(&q);
  q.tmpmade = 0;
  if (syncdir("new") < 0) die_sync(&q, "new");
  q.newmade = 0; /* accepted: from here on nothing is undone */
  report_id(&q);
  qwrite_trigger();
  return QQ_OK;
}
