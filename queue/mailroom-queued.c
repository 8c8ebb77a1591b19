/* mailroom-queued: the queue writer, mailroom-queue as a long-lived service (issue 14).
   Runs supervised as the queue owner (mrqueue), listens on HOME/queued/socket, and takes
   messages from mailroom-smtpd and sendmail: each client passes the read ends of its
   message and envelope pipes (lib/qwproto.h), writes them as it would for mailroom-queue,
   and gets mailroom-queue's exit code and the queue id. Messages that are complete at the
   same time are committed together: every file fsynced, named in new/, new/ fsynced once,
   then each client told (doc/INTERNALS.md, "The queue writer"). It trusts nothing a
   client sends: requests are checked strictly, every read is bounded in size and time,
   and a failure leaves nothing in new/ and removes the client's tmp/ file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>

#include "auto_home.h"
#include "control.h"
#include "exitcodes.h"
#include "qwclient.h"
#include "qw.h"

#define CLIENTS_DEFAULT 300  /* control/queuedclients */
#define CLIENTS_LIMIT 100000
/* control/timeoutqueued: seconds without a byte from a client. The default is
   timeoutsmtpd's, so a message smtpd still waits for is never timed out here first. It must
   stay below QWRITE_DEATH, itself below send's 36 hours. */
#define TIMEOUT_DEFAULT 1200
#define TIMEOUT_LIMIT 86400
#define FDS_RESERVED 32      /* the listener, the selfpipe, stdio, a refused client, control files */
#define BACKLOG 256
#define EMFILE_PAUSE_MS 100  /* no accept for this long after running out of descriptors */
#define PATH_MAX_LEN 4096

static _Noreturn void die_root(void) { strerr_dief(EX_PERM, "must not run as root: run it as the queue owner (setuidgid mrqueue)"); }
static _Noreturn void die_home(void) { strerr_diefusys(EX_TEMP, "chdir to ", auto_home); }
static _Noreturn void die_control(char const *f) { strerr_diefusys(EX_TEMP, "read control/", f); }
static _Noreturn void die_path(void) { strerr_dief(EX_TEMP, "the mailroom home path is too long"); }
static _Noreturn void die_nomem(void) { strerr_dief(EX_TEMP, "out of memory"); }
static _Noreturn void die_signals(void) { strerr_diefusys(EX_TEMP, "set up signals"); }
static _Noreturn void die_socket(void) { strerr_diefusys(EX_TEMP, "listen on ", auto_home, "/", QW_SOCKET); }
static _Noreturn void die_queue(void) { strerr_diefusys(EX_TEMP, "chdir to ", auto_home, "/queue"); }
static _Noreturn void die_iopause(void) { strerr_diefusys(EX_TEMP, "iopause"); }

static unsigned long readnum(char const *f, unsigned long def, unsigned long max)
{
  char fn[64] = "control/";
  unsigned long u;
  memcpy(fn + 8, f, strlen(f) + 1);
  if (control_readulong(fn, &u, def) < 0) die_control(f);
  return !u || u > max ? def : u;
}

/* The soft limit of descriptors raised to the hard one; the clients that then fit. */
static unsigned int fit_clients(unsigned int want)
{
  struct rlimit rl;
  rlim_t room;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return want;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  room = rl.rlim_cur > FDS_RESERVED + QW_FDS_PER_CLIENT ? (rl.rlim_cur - FDS_RESERVED) / QW_FDS_PER_CLIENT : 1;
  if (room < want) {
    char a[UINT_FMT], b[UINT_FMT];
    a[uint_fmt(a, want)] = 0;
    b[uint_fmt(b, (unsigned int)room)] = 0;
    strerr_warnw("control/queuedclients is ", a, " but the descriptor limit fits ", b, ": using ", b);
    return (unsigned int)room;
  }
  return want;
}

/* Binds beside the socket and renames over it: a client never sees the name missing
   while the writer restarts. Mode 0777: anyone may inject, as through the setuid
   mailroom-queue; the folder is the queue owner's. */
static int listen_socket(void)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  static char const tmp[] = QW_SOCKET ".new";
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die_socket();
  memcpy(sa.sun_path, tmp, sizeof tmp);
  if (unlink(tmp) < 0 && errno != ENOENT) die_socket();
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die_socket();
  if (chmod(tmp, 0777) < 0 || listen(fd, BACKLOG) < 0) die_socket();
  if (rename(tmp, QW_SOCKET) < 0) die_socket();
  return fd;
}

/* Reads the signals; 1 when we must stop. */
static int signals(void)
{
  int sig, stop = 0;
  while ((sig = selfpipe_read()) > 0)
    if (sig == SIGTERM || sig == SIGINT) stop = 1;
  if (sig < 0) strerr_diefusys(EX_TEMP, "read the selfpipe");
  return stop;
}

/* What is complete is committed; the rest is dropped (its clients see EOF: a temporary
   failure, never an acceptance). */
static void shutdown_all(qw *w)
{
  unsigned int i;
  char a[ULONG_FMT], b[ULONG_FMT];
  qw_commit(w);
  for (i = 0; i < w->max; i++)
    if (w->c[i].state != QW_FREE) qw_client_drop(w, &w->c[i]);
  a[ulong_fmt(a, (unsigned long)w->nmsgs)] = 0;
  b[ulong_fmt(b, (unsigned long)w->ncommits)] = 0;
  strerr_warni("exit messages=", a, " commits=", b);
}

/* who[k] is 1 + the slot of the client x[k] belongs to, 0 for the listener and the selfpipe. */
static void loop(qw *w, int lsock, int spfd, iopause_fd *x, unsigned int *who)
{
  tain pause_until = TAIN_ZERO;
  for (;;) {
    unsigned int i, nx = 0;
    tain deadline;
    int r;
    tain_add_g(&deadline, &tain_infinite_relative);
    x[nx].fd = spfd;
    x[nx].events = IOPAUSE_READ;
    who[nx++] = 0;
    if (!tain_future(&pause_until)) {
      x[nx].fd = lsock;
      x[nx].events = IOPAUSE_READ;
      who[nx++] = 0;
    } else deadline = pause_until;
    for (i = 0; i < w->max; i++) {
      qw_client *c = &w->c[i];
      int fd = c->state == QW_MSG ? c->msgfd : c->state == QW_ENV ? c->envfd : -1;
      if (c->state == QW_FREE || c->state == QW_READY) continue;
      x[nx].fd = c->sock;
      x[nx].events = IOPAUSE_READ;
      who[nx++] = i + 1;
      if (fd >= 0) {
        x[nx].fd = fd;
        x[nx].events = IOPAUSE_READ;
        who[nx++] = i + 1;
      }
    }
    qw_deadlines(w, &deadline);
    r = iopause_g(x, nx, &deadline);
    if (r < 0) {
      if (errno == EINTR) continue;
      die_iopause();
    }
    for (i = 0; i < nx; i++) {
      if (!x[i].revents) continue;
      if (x[i].fd == spfd) {
        if (signals()) return;
      } else if (x[i].fd == lsock && !who[i]) {
        if (qw_accept(w, lsock) < 0) {
          strerr_warnwusys("accept a connection (pausing)");
          tain t;
          tain_from_millisecs(&t, EMFILE_PAUSE_MS);
          tain_add_g(&pause_until, &t);
        }
      } else if (who[i] && w->c[who[i] - 1].state != QW_FREE && x[i].fd >= 0) {
        /* the slot may have been failed (and its fds closed) earlier in this turn */
        qw_client *c = &w->c[who[i] - 1];
        if (x[i].fd == c->sock || x[i].fd == c->msgfd || x[i].fd == c->envfd) qw_client_io(w, c, x[i].fd);
      }
    }
    qw_commit(w);
  }
}

int main(int argc, char const *const *argv)
{
  static qw w;
  char dbfile[PATH_MAX_LEN];
  size_t hl = strlen(auto_home);
  iopause_fd *x;
  unsigned int *who;
  int lsock, spfd;
  unsigned int want;
  PROG = "mailroom-queued";
  umask(027);
  if (!geteuid() || !getuid()) die_root();
  if (sig_ignore(SIGPIPE) < 0 || sig_ignore(SIGXFSZ) < 0) die_signals();
  spfd = selfpipe_init();
  if (spfd < 0 || selfpipe_trap(SIGTERM) < 0 || selfpipe_trap(SIGINT) < 0 || selfpipe_trap(SIGHUP) < 0)
    die_signals();
  tain_now_set_stopwatch_g();
  if (chdir(auto_home) < 0) die_home();
  if (hl + sizeof "/control/databytes" > sizeof dbfile) die_path();
  memcpy(dbfile, auto_home, hl);
  memcpy(dbfile + hl, "/control/databytes", sizeof "/control/databytes");
  w.dbfile = dbfile;
  want = (unsigned int)readnum("queuedclients", CLIENTS_DEFAULT, CLIENTS_LIMIT);
  w.timeout = (unsigned int)readnum("timeoutqueued", TIMEOUT_DEFAULT, TIMEOUT_LIMIT);
  w.max = fit_clients(want);
  w.pid = (unsigned long)getpid();
  w.c = calloc(w.max, sizeof *w.c);
  x = calloc(2 + 2 * (size_t)w.max, sizeof *x);
  who = calloc(2 + 2 * (size_t)w.max, sizeof *who);
  if (!w.c || !x || !who) die_nomem();
  lsock = listen_socket();
  if (chdir("queue") < 0) die_queue();
  {
    char a[UINT_FMT], b[UINT_FMT];
    a[uint_fmt(a, w.max)] = 0;
    b[uint_fmt(b, w.timeout)] = 0;
    strerr_warni("listening on ", auto_home, "/", QW_SOCKET, " clients=", a, " timeout=", b);
  }
  loop(&w, lsock, spfd, x, who);
  shutdown_all(&w);
  free(who);
  free(x);
  free(w.c);
  return 0;
}
