/* mailroom-lspawn's warm deliverers: one mailroom-local -w per recipient uid while that uid
   has work (INTERNALS.md "Warm local deliverers"). A worker never gets a job of another uid:
   it runs as the user, and anything running as that user can make it say anything, so lspawn
   takes from it only replies for the slots it gave it, strictly parsed (lwproto.h); one
   malformed packet and the worker is killed and its jobs answered Z. A worker that dies
   has its unanswered jobs answered Z; the next job of its uid starts a new one. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/sig.h>
#include <skalibs/tai.h>
#include "auto_home.h"
#include "lspawn.h"

/* The vforked child's last words, as a reply for the job that started it: formatted on its
   own stack and sent with one system call (see child()). */
__attribute__((format(printf, 3, 4)))
static _Noreturn void child_fail(int sock, unsigned slot, char const *fmt, ...)
{
  char text[LW_TEXT_MAX + 1], pkt[LW_REPLY_MAX];
  va_list ap;
  size_t n;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  n = lwproto_reply_fmt(pkt, slot, 111, text);
  if (send(sock, pkt, n, MSG_NOSIGNAL) < 0) _exit(111);
  _exit(111);
}

/* The child: become the user and run mailroom-local -w on the socket. Never returns.
   It runs after vfork, on the parent's memory until the exec: it touches only its own stack
   and makes system calls (the parent is single-threaded, so glibc's setuid family calls the
   kernel directly and changes this task's credentials alone). vfork rather than fork because
   copying the parent's page tables was most of the cost of a process creation here
   (INTERNALS.md, "Performance"); a worker now lives across many deliveries anyway. */
static void child(struct assign_user const *u, int sock, int devnull, unsigned slot)
{
  char prog[1024];
  char const *args[] = { "mailroom-local", "-w", 0 };
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, 0);
  sig_restore(SIGPIPE);
  /* fds 1 and 2 are not lspawn's: its fd 1 carries the replies to mailroom-send, and its
     fd 2 the log, which no process of the user's may write */
  if (dup2(sock, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0) _exit(111);
  if (!getuid()) {
    gid_t g = (gid_t)u->gid;
    if (setgroups(1, &g) < 0 || setgid(g) < 0 || setuid((uid_t)u->uid) < 0)
      child_fail(0, slot, "4.3.0 unable to switch to uid %lu gid %lu: %s", u->uid, u->gid, strerror(errno));
    if (!getuid() || !geteuid()) _exit(111);
  }
  if (chdir("/") < 0) _exit(111); /* each job enters its own home */
  snprintf(prog, sizeof prog, "%s/bin/mailroom-local", auto_home);
  execv(prog, (char *const *)args);
  child_fail(0, slot, "4.3.0 unable to run %s: %s", prog, strerror(errno));
}

/* The vfork in a frame of its own: nothing of the caller's is live across it. */
static pid_t spawn(struct assign_user const *u, int sock, int devnull, unsigned slot)
{
  /* posix_spawn cannot change the uid, and mailroom-local must not start as root: vfork,
     with a child that keeps to its stack and system calls (see child()). */
  pid_t pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork): the parent waits for nothing but the exec */
  if (!pid) child(u, sock, devnull, slot); /* NOLINT(clang-analyzer-unix.Vfork): child() execs or _exits */
  return pid;
}

void lspool_init(struct lspool *p, struct lsconf const *cf)
{
  memset(p, 0, sizeof *p);
  p->cf = *cf;
  p->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (unsigned k = 0; k < LW_SLOTS; k++) p->slot[k].fd = -1;
  for (unsigned i = 0; i < LSPAWN_WORKERS_MAX; i++) p->w[i].fd = -1;
}

int lspool_slotbusy(struct lspool const *p, unsigned slot)
{
  return p->slot[slot].busy;
}

static void slot_free(struct lspool *p, unsigned k)
{
  struct lsslot *s = &p->slot[k];
  free(s->pkt);
  if (s->fd >= 0) close(s->fd);
  memset(s, 0, sizeof *s);
  s->fd = -1;
}

static void answer(struct lspool *p, unsigned k, char r, char const *text)
{
  lspawn_reply(k, r, text);
  slot_free(p, k);
}

/* Every job the worker still has (sent or waiting) is answered Z with text. */
static void fail_jobs(struct lspool *p, unsigned w, char const *text)
{
  for (unsigned k = 0; k < LW_SLOTS; k++)
    if (p->slot[k].busy && p->slot[k].w == (int)w) answer(p, k, 'Z', text);
  p->w[w].inflight = 0;
  p->w[w].qhead = p->w[w].qtail = -1;
}

static void wclose(struct lsworker *wk)
{
  if (wk->fd >= 0) close(wk->fd);
  wk->fd = -1;
}

/* A worker that broke the protocol: killed, its jobs Z now, its entry freed when reaped. */
static void wkill(struct lspool *p, unsigned w, char const *text)
{
  kill(p->w[w].pid, SIGKILL);
  wclose(&p->w[w]);
  p->w[w].retiring = 1;
  fail_jobs(p, w, text);
}

/* Sends what waits, as far as the socket and LSPAWN_INFLIGHT_MAX let it; shuts the write
   side of a retiring worker once nothing waits. */
static void flush(struct lspool *p, unsigned w)
{
  struct lsworker *wk = &p->w[w];
  while (wk->fd >= 0 && wk->qhead >= 0 && wk->inflight < LSPAWN_INFLIGHT_MAX) {
    struct lsslot *s = &p->slot[wk->qhead];
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(sizeof(int))];
    } c;
    struct iovec iov = { .iov_base = s->pkt, .iov_len = s->len };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof c.buf };
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    ssize_t r;
    memset(c.buf, 0, sizeof c.buf);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &s->fd, sizeof(int));
    do r = sendmsg(wk->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return; /* lspool_fds waits for room */
      wkill(p, w, "4.3.0 unable to hand the delivery to mailroom-local: its socket failed");
      return;
    }
    free(s->pkt);
    s->pkt = 0;
    close(s->fd);
    s->fd = -1;
    wk->qhead = s->next;
    if (wk->qhead < 0) wk->qtail = -1;
    wk->inflight++;
  }
  if (wk->fd >= 0 && wk->retiring && !wk->shut && wk->qhead < 0) {
    shutdown(wk->fd, SHUT_WR); /* the worker reads EOF after its last job, finishes, exits */
    wk->shut = 1;
  }
}

static void retire(struct lspool *p, unsigned w)
{
  p->w[w].retiring = 1;
  flush(p, w);
}

static int start(struct lspool *p, unsigned slot, struct assign_user const *u)
{
  int sv[2], w = -1;
  pid_t pid;
  if (p->live >= LSPAWN_WORKERS_SOFT) { /* make room: the worker idle the longest goes */
    int best = -1;
    for (unsigned i = 0; i < LSPAWN_WORKERS_MAX; i++) {
      struct lsworker const *k = &p->w[i];
      if (k->pid && !k->retiring && !k->inflight && k->qhead < 0
          && (best < 0 || tain_less(&k->idle, &p->w[best].idle)))
        best = (int)i;
    }
    if (best >= 0) retire(p, (unsigned)best);
  }
  for (unsigned i = 0; i < LSPAWN_WORKERS_MAX && w < 0; i++)
    if (!p->w[i].pid) w = (int)i;
  if (w < 0 || p->devnull < 0) return -1;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
  pid = spawn(u, sv[1], p->devnull, slot);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return -1;
  }
  p->w[w] = (struct lsworker){ .pid = pid, .fd = sv[0], .uid = u->uid, .gid = u->gid, .qhead = -1, .qtail = -1,
                               .born = STAMP, .idle = STAMP };
  p->live++;
  return w;
}

void lspool_job(struct lspool *p, unsigned slot, struct assign_user const *u, char const *pkt, size_t len,
                int msgfd)
{
  struct lsslot *s = &p->slot[slot];
  int w = -1;
  for (unsigned i = 0; i < LSPAWN_WORKERS_MAX && w < 0; i++) {
    struct lsworker *k = &p->w[i];
    if (!k->pid || k->retiring || k->fd < 0 || k->uid != u->uid || k->gid != u->gid) continue;
    tain end;
    tain_addsec(&end, &k->born, (int)p->cf.life);
    if (k->jobs >= p->cf.msgs || !tain_less(&STAMP, &end)) retire(p, i); /* a fresh one takes over */
    else w = (int)i;
  }
  if (w < 0) w = start(p, slot, u);
  s->pkt = w < 0 ? 0 : malloc(len);
  if (!s->pkt) {
    close(msgfd);
    lspawn_reply(slot, 'Z', w < 0 ? "4.3.0 unable to start mailroom-local" : "4.3.0 out of memory");
    return;
  }
  memcpy(s->pkt, pkt, len);
  s->len = len;
  s->fd = msgfd;
  s->busy = 1;
  s->w = w;
  s->next = -1;
  if (p->w[w].qtail >= 0) p->slot[p->w[w].qtail].next = (int)slot;
  else p->w[w].qhead = (int)slot;
  p->w[w].qtail = (int)slot;
  p->w[w].jobs++;
  flush(p, (unsigned)w);
}

unsigned lspool_fds(struct lspool *p, iopause_fd *x, unsigned *map, tain *deadline)
{
  unsigned n = 0;
  *deadline = tain_infinite;
  for (unsigned i = 0; i < LSPAWN_WORKERS_MAX; i++) {
    struct lsworker const *k = &p->w[i];
    if (!k->pid || k->fd < 0) continue;
    map[n] = i;
    x[n++] = (iopause_fd){ .fd = k->fd,
                           .events = IOPAUSE_READ | (k->qhead >= 0 && k->inflight < LSPAWN_INFLIGHT_MAX ? IOPAUSE_WRITE : 0) };
    if (!k->retiring && !k->inflight && k->qhead < 0) {
      tain t;
      tain_addsec(&t, &k->idle, (int)p->cf.idle);
      if (tain_less(&t, deadline)) *deadline = t;
    }
  }
  return n;
}

/* One reply packet from worker w. 0, or -1 after killing it for a malformed one. */
static int onereply(struct lspool *p, unsigned w, char const *buf, size_t len)
{
  lwreply r;
  struct lsslot *s;
  char text[LW_TEXT_MAX + 64];
  char res;
  if (len > LW_REPLY_MAX || lwproto_reply_parse(buf, len, &r) < 0) goto bad;
  s = &p->slot[r.slot];
  /* only a slot this worker has, and was sent (a queued one it cannot know of) */
  if (!s->busy || s->w != (int)w || s->pkt) goto bad;
  res = r.code == 0 || r.code == 99 ? 'K' : r.code == 100 ? 'D' : 'Z';
  if (r.textlen) memcpy(text, r.text, r.textlen + 1);
  else snprintf(text, sizeof text, "%s mailroom-local exited %d", res == 'K' ? "2.0.0" : res == 'D' ? "5.3.0" : "4.3.0", r.code);
  answer(p, r.slot, res, text);
  if (!--p->w[w].inflight && p->w[w].qhead < 0) p->w[w].idle = STAMP;
  return 0;
bad:
  wkill(p, w, "4.3.0 mailroom-local sent a malformed reply and was killed");
  return -1;
}

/* Reads every reply waiting. */
static void replies(struct lspool *p, unsigned w)
{
  struct lsworker *wk = &p->w[w];
  while (wk->fd >= 0) {
    char buf[LW_REPLY_MAX + 1];
    /* recv, not recvmsg: descriptors a worker might send along are discarded by the kernel */
    ssize_t r = recv(wk->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      r = 0; /* ECONNRESET: the same as EOF */
    }
    if (!r) { /* it closed its socket: it is exiting, or broken; reap() answers its jobs */
      if (wk->inflight || wk->qhead >= 0) kill(wk->pid, SIGKILL);
      wclose(wk);
      return;
    }
    if (onereply(p, w, buf, (size_t)r) < 0) return;
  }
}

void lspool_io(struct lspool *p, unsigned w, int revents)
{
  if (revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) replies(p, w); /* NOLINT(misc-redundant-expression): skalibs' IOPAUSE_READ and IOPAUSE_EXCEPT both hold POLLHUP */
  if (p->w[w].fd >= 0 && (revents & IOPAUSE_WRITE)) flush(p, w);
}

void lspool_timers(struct lspool *p, int all)
{
  for (unsigned i = 0; i < LSPAWN_WORKERS_MAX; i++) {
    struct lsworker *k = &p->w[i];
    tain t;
    if (!k->pid || k->retiring) continue;
    tain_addsec(&t, &k->idle, (int)p->cf.idle);
    if (all || (!k->inflight && k->qhead < 0 && !tain_less(&STAMP, &t))) retire(p, i);
  }
}

void lspool_reap(struct lspool *p)
{
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
    for (unsigned i = 0; i < LSPAWN_WORKERS_MAX; i++) {
      struct lsworker *k = &p->w[i];
      char text[128];
      if (k->pid != pid) continue;
      replies(p, i); /* what it said before it went counts */
      wclose(k);
      if (WIFEXITED(st)) snprintf(text, sizeof text, "4.3.0 mailroom-local exited %d with the delivery under way", WEXITSTATUS(st));
      else snprintf(text, sizeof text, "4.3.0 mailroom-local was killed by signal %d with the delivery under way", WTERMSIG(st));
      fail_jobs(p, i, text);
      memset(k, 0, sizeof *k);
      k->fd = -1;
      k->qhead = k->qtail = -1;
      p->live--;
      break;
    }
}
