/* mailroom-lspawn: starts local deliveries for mailroom-send. The one long-running root
   process, as qmail-lspawn: it reads requests from mailroom-send on fd 0, finds each
   recipient's user (users/assign.cdb, then the system's users), and runs mailroom-local
   under that user's uid and gid, never root; it replies on fd 1 (INTERNALS.md). It trusts
   mailroom-send, and the instance's users/ and control/ files; nothing from the network. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "assign.h"
#include "auto_home.h"
#include "vfchild.h"
#include "control.h"
#include "msgfile.h"
#include "qid.h"

#define SLOTS 1000       /* mailroom-send's CONCURRENCY_MAX: slot numbers are below it */
#define TEXT_MAX 900     /* a reply's text (INTERNALS.md) */
#define REQUEST_MAX (11 + QID_MAX + 1 + 2 * 1001 + 8)

struct slot {
  pid_t pid;  /* 0: free */
  int fd;     /* the read end of the child's stdout/stderr, -1 when closed */
  int exited, status;
  size_t len;
  char out[TEXT_MAX + 1];
};

struct lspawn {
  struct slot slot[SLOTS];
  unsigned running;
  char me[256];
  char dd[CONTROL_LINE_MAX]; /* control/defaultdelivery */
  char req[REQUEST_MAX];
  size_t reqlen;
};

static _Noreturn void die_read(void) { strerr_diefu1sys(111, "read requests from mailroom-send"); }
static _Noreturn void die_proto(void) { strerr_dief1x(111, "protocol error in a request from mailroom-send"); }

/* One line of printable text for the reply. */
static size_t clean(char *out, char const *in, size_t len)
{
  size_t w = 0;
  for (size_t i = 0; i < len && w < TEXT_MAX; i++) {
    unsigned char c = (unsigned char)in[i]; /* NOLINT(clang-analyzer-core.uninitialized.Assign): the first len bytes of a slot's out were read into it (drain) */
    if (c == '\n') {
      if (w) break;
      continue;
    }
    out[w++] = (c >= 32 && c < 127) ? (char)c : ' ';
  }
  while (w && out[w - 1] == ' ') w--;
  out[w] = 0;
  return w;
}

static void reply(unsigned slot, char result, char const *text)
{
  char buf[16 + TEXT_MAX + 4];
  int n = snprintf(buf, sizeof buf, "%u", slot);
  size_t tl = clean(buf + n + 2, text, strlen(text));
  buf[n] = 0;
  buf[n + 1] = result;
  /* send may be gone (killed): the reply is lost and the delivery will be repeated. */
  allwrite(1, buf, (size_t)n + 2 + tl + 1);
}

/* The child: become the user and run mailroom-local. Never returns.
   It runs after vfork, on the parent's memory until the exec: it touches only its own stack
   and makes system calls (the parent is single-threaded, so glibc's setuid family calls the
   kernel directly and changes this task's credentials alone). vfork rather than fork because
   copying the parent's page tables was most of the cost of a delivery's process creation here
   (INTERNALS.md, "Performance"). */
static void child(struct assign_user const *u, int msgfd, int outfd, char const *const *args)
{
  char prog[1024];
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, 0);
  sig_restore(SIGPIPE);
  if (dup2(msgfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0) _exit(111);
  if (!getuid()) {
    gid_t g = (gid_t)u->gid;
    if (!u->uid) vfchild_fail(1, 111, "4.3.0 refusing to deliver as root for %s\n", u->user);
    if (setgroups(1, &g) < 0 || setgid(g) < 0 || setuid((uid_t)u->uid) < 0)
      vfchild_fail(1, 111, "4.3.0 unable to switch to uid %lu gid %lu: %s\n", u->uid, u->gid, strerror(errno));
    if (!getuid() || !geteuid()) _exit(111);
  }
  if (chdir(u->home) < 0)
    vfchild_fail(1, 111, "4.2.1 unable to enter home directory %s: %s\n", u->home, strerror(errno));
  snprintf(prog, sizeof prog, "%s/bin/mailroom-local", auto_home);
  execv(prog, (char *const *)args);
  vfchild_fail(1, 111, "4.3.0 unable to run %s: %s\n", prog, strerror(errno));
}

static void start(struct lspawn *l, unsigned slot, char const *id, char const *sender, char const *rcpt)
{
  struct slot *sl = &l->slot[slot];
  struct assign_user u;
  char local[1024], path[QID_MAX + 16], lenstr[24];
  char const *at = strrchr(rcpt, '@'), *domain = at ? at + 1 : l->me;
  size_t ll = at ? (size_t)(at - rcpt) : strlen(rcpt);
  unsigned long long msglen;
  char *env;
  size_t envlen;
  int msgfd, p[2], r;
  pid_t pid;
  if (sl->pid) die_proto();
  if (!ll || ll >= sizeof local) {
    reply(slot, 'D', "5.1.3 bad recipient address: empty or overlong local part");
    return;
  }
  memcpy(local, rcpt, ll);
  local[ll] = 0;
  r = assign_lookup(0, local, &u);
  if (r < 0) {
    reply(slot, 'Z', "4.3.0 unable to look up the user: temporary failure reading users/assign.cdb");
    return;
  }
  if (!r) {
    char t[TEXT_MAX + 1100];
    snprintf(t, sizeof t, "5.1.1 no such user here: %s", local);
    reply(slot, 'D', t);
    return;
  }
  snprintf(path, sizeof path, "queue/mess/%s", id);
  msgfd = msgfile_open(path, &msglen, &env, &envlen);
  if (msgfd < 0) {
    reply(slot, 'Z', "4.3.0 unable to open the message file in the queue");
    return;
  }
  free(env);
  if (pipe2(p, O_CLOEXEC) < 0) {
    close(msgfd);
    reply(slot, 'Z', "4.3.0 unable to make a pipe");
    return;
  }
  snprintf(lenstr, sizeof lenstr, "%llu", msglen);
  {
    char const *args[] = { "mailroom-local", "--", u.user, u.home, local, u.dash, u.ext, domain, sender, lenstr,
                           l->dd, 0 };
    /* posix_spawn cannot change the uid, and mailroom-local must not start as root: vfork,
       with a child that keeps to its stack and system calls (see child()). */
    pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork): the parent waits for nothing but the exec */
    if (!pid) child(&u, msgfd, p[1], args); /* NOLINT(clang-analyzer-unix.Vfork): child() execs or _exits */
  }
  close(msgfd);
  close(p[1]);
  if (pid < 0) {
    close(p[0]);
    reply(slot, 'Z', "4.3.0 unable to fork");
    return;
  }
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  sl->pid = pid;
  sl->fd = p[0];
  sl->exited = 0;
  sl->len = 0;
  l->running++;
}

static void drain(struct slot *sl)
{
  char buf[4096];
  for (;;) {
    ssize_t r = read(sl->fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (!r) {
        close(sl->fd);
        sl->fd = -1;
      }
      return;
    }
    if (sl->len < TEXT_MAX) {
      size_t n = (size_t)r > TEXT_MAX - sl->len ? TEXT_MAX - sl->len : (size_t)r;
      memcpy(sl->out + sl->len, buf, n);
      sl->len += n;
    }
  }
}

/* A child has exited: whatever it printed is in its pipe already (a grandchild that keeps the
   pipe open does not hold the reply back). */
static void finish(struct lspawn *l, unsigned k)
{
  struct slot *sl = &l->slot[k];
  char text[TEXT_MAX + 64];
  int st = sl->status;
  char r = 'Z';
  if (sl->fd >= 0) {
    drain(sl);
    if (sl->fd >= 0) close(sl->fd);
  }
  sl->out[sl->len] = 0;
  if (WIFEXITED(st)) r = WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 99 ? 'K' : WEXITSTATUS(st) == 100 ? 'D' : 'Z';
  clean(text, sl->out, sl->len);
  if (!*text) {
    if (WIFEXITED(st)) snprintf(text, sizeof text, "%s mailroom-local exited %d", r == 'K' ? "2.0.0" : r == 'D' ? "5.3.0" : "4.3.0", WEXITSTATUS(st));
    else snprintf(text, sizeof text, "4.3.0 mailroom-local was killed by signal %d", WTERMSIG(st));
  }
  reply(k, r, text);
  sl->pid = 0;
  sl->fd = -1;
  l->running--;
}

static void reap(struct lspawn *l)
{
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
    for (unsigned k = 0; k < SLOTS; k++)
      if (l->slot[k].pid == pid) {
        l->slot[k].status = st;
        finish(l, k);
        break;
      }
}

/* Takes every complete request (four NUL-terminated fields) out of the buffer. */
static void requests(struct lspawn *l)
{
  for (;;) {
    char const *f[4];
    size_t i = 0;
    unsigned long slot;
    char *end;
    for (int k = 0; k < 4; k++) {
      char *z = memchr(l->req + i, 0, l->reqlen - i);
      if (!z) {
        if (l->reqlen == sizeof l->req) die_proto();
        return;
      }
      f[k] = l->req + i;
      i = (size_t)(z - l->req) + 1;
    }
    slot = strtoul(f[0], &end, 10);
    if (!*f[0] || *end || slot >= SLOTS || !qid_parse(f[1], 0, 0)) die_proto();
    start(l, (unsigned)slot, f[1], f[2], f[3]);
    l->reqlen -= i;
    memmove(l->req, l->req + i, l->reqlen);
  }
}

int main(void)
{
  static struct lspawn l;
  int spfd, eof = 0;
  PROG = "mailroom-lspawn";
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  if (control_readline("control/me", l.me, sizeof l.me, "localhost") < 0) strerr_diefu1sys(111, "read control/me");
  if (control_readline("control/defaultdelivery", l.dd, sizeof l.dd, "./Maildir/") < 0)
    strerr_diefu1sys(111, "read control/defaultdelivery");
  for (unsigned k = 0; k < SLOTS; k++) l.slot[k].fd = -1;
  spfd = selfpipe_init();
  if (spfd < 0 || selfpipe_trap(SIGCHLD) < 0) strerr_diefu1sys(111, "set up signals");
  sig_ignore(SIGPIPE);
  sig_ignore(SIGTERM); /* mailroom-send ends us by closing our stdin, after its last request */
  tain_now_set_stopwatch_g();
  while (!eof || l.running) {
    iopause_fd x[2 + SLOTS];
    unsigned map[SLOTS], n = 1;
    x[0] = (iopause_fd){ .fd = spfd, .events = IOPAUSE_READ };
    if (!eof) x[n++] = (iopause_fd){ .fd = 0, .events = IOPAUSE_READ };
    unsigned base = n;
    for (unsigned k = 0; k < SLOTS; k++)
      if (l.slot[k].pid && l.slot[k].fd >= 0) {
        map[n - base] = k;
        x[n++] = (iopause_fd){ .fd = l.slot[k].fd, .events = IOPAUSE_READ };
      }
    tain_now_g();
    if (iopause_g(x, n, &tain_infinite) < 0) strerr_diefu1sys(111, "iopause");
    for (unsigned k = base; k < n; k++)
      if (x[k].revents) drain(&l.slot[map[k - base]]);
    if (!eof && (x[1].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))) { /* NOLINT(misc-redundant-expression): skalibs' IOPAUSE_READ and IOPAUSE_EXCEPT both hold POLLHUP */
      ssize_t r = read(0, l.req + l.reqlen, sizeof l.req - l.reqlen);
      if (r < 0 && errno != EINTR && errno != EAGAIN) die_read();
      if (!r) eof = 1;
      if (r > 0) {
        l.reqlen += (size_t)r;
        requests(&l);
      }
    }
    if (x[0].revents & IOPAUSE_READ) {
      while (selfpipe_read() > 0) ;
      reap(&l);
    }
  }
  return 0;
}
