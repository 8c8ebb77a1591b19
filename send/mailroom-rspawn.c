/* mailroom-rspawn: runs remote deliveries for mailroom-send. Runs as mrremote (started so
   by mailroom-start; it refuses root) and can read nothing in the queue: each request packet
   on the SOCK_SEQPACKET socket (fds 0 and 1) carries the open message file. It keeps a pool
   of mailroom-remote workers (mailroom-remote -w), each on a SOCK_SEQPACKET socketpair, and
   hands each request to an idle one, preferring a worker that keeps an SMTP session open to
   the request's domain; it starts a worker only when none is idle, and retires workers after
   their bounds (control/remoteworker*). It answers each request with one packet
   (INTERNALS.md). It trusts mailroom-send; a worker's replies are checked, since that program
   talks to the network: a worker that dies or sends a malformed reply is replaced, and the
   recipients of its job get Z (D on exit 100) with a text saying what happened.
   Smarthost credentials: mailroom-start opens control/smtproutes-auth (root's, mode 0600) as
   root and gives it to us on fd 3; we read it once, make ourselves undumpable (a worker runs
   as the same uid and must not read our memory), and hand a worker only the one credential
   of the route of its job, in a pipe beside the message file. A worker that has carried one
   route's credentials only ever gets jobs of that same credential (INTERNALS.md). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "auto_home.h"
#include "control.h"
#include "fdspawn.h"
#include "rspawn_proto.h"
#include "../remote/remote.h"
#include "../remote/remote_wproto.h"

#define FDS_MAX 4 /* SCM_RIGHTS room: more than two fds in a request is a protocol error */
/* Workers at once: busy ones never outnumber the slots, and an idle one is used before a
   new one starts, so only those retiring (closed, not yet reaped) come on top. */
#define WORKERS_MAX RSPAWN_SLOTS
/* How long rspawn waits for its workers' QUITs when mailroom-send has gone. */
#define END_SECS 15
#define SMTPROUTES_MAX ((size_t)1024 * 1024) /* as mailroom-remote reads it */
#define CRED_FD 3                            /* control/smtproutes-auth, from mailroom-start */

struct slot {
  int busy;        /* a request in hand, until its reply is out */
  unsigned n;      /* recipients of the request */
  size_t replylen; /* > 0: a reply packet waits for room on the socket */
  char *reply;
};

struct worker {
  pid_t pid;     /* 0: a free entry */
  int fd;        /* our end of its socket, -1 once closed (retiring or lost) */
  int slot;      /* the request it runs, -1 when idle */
  unsigned jobs; /* requests it has finished */
  tain born, idle; /* started; idle since */
  char kept[RWJOB_DOMAIN_MAX + 1]; /* the domain it keeps a session to, "" */
  int tagged;    /* it has had a job: tag says with which credentials */
  char tag[ROUTE_AUTHNAME_MAX + 1]; /* "" none: it never gets another credential's job */
};

/* control/smtproutes-auth as read at start, or why it cannot be used. */
struct creds {
  char *file;      /* 0: none */
  size_t len;
  char const *bad; /* "": usable (or absent); else why no route may use it */
};

struct bounds {
  unsigned msgs, idle, life;
};

struct rspawn {
  struct slot slot[RSPAWN_SLOTS];
  struct worker w[WORKERS_MAX];
  unsigned nw;      /* worker entries in use */
  unsigned running; /* slots in use */
  unsigned pending; /* replies waiting for room */
  int eof;
  struct bounds b;
  struct creds cr;
  char pkt[RSPAWN_PACKET_MAX + 1];
  char wpkt[RWJOB_PACKET_MAX + 1];
};

static _Noreturn void die_root(void) { strerr_dief1x(111, "refusing to run as root"); }
static _Noreturn void die_read(void) { strerr_diefu1sys(111, "read a request from mailroom-send"); }
static _Noreturn void die_proto(char const *why) { strerr_dief2x(111, "protocol error in a request from mailroom-send: ", why); }
static _Noreturn void die_nomem(void) { strerr_diefu1sys(111, "allocate memory"); }

static void closefds(int const *fds, unsigned n)
{
  for (unsigned k = 0; k < n; k++) close(fds[k]);
}

/* Sends the slot's reply if the socket has room; otherwise it stays pending. A gone
   mailroom-send (EPIPE) loses the reply: the delivery's record is the remote's business,
   send will try again. */
static void flush_reply(struct rspawn *r, unsigned k)
{
  struct slot *sl = &r->slot[k];
  ssize_t w = send(1, sl->reply, sl->replylen, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (w < 0 && errno != EPIPE && errno != ECONNRESET) strerr_warnwu1sys("send a reply to mailroom-send");
  r->pending--;
  sl->replylen = 0;
  sl->busy = 0;
  r->running--;
}

/* The slot's results go out (or wait for room); the slot is in use until then. */
static void queue_reply(struct rspawn *r, unsigned k, struct rres const *res, unsigned n)
{
  struct slot *sl = &r->slot[k];
  if (!sl->reply && !(sl->reply = malloc(RSPAWN_PACKET_MAX))) die_nomem();
  sl->replylen = rrep_pack(sl->reply, RSPAWN_PACKET_MAX, k, res, n);
  if (!sl->replylen) strerr_dief1x(101, "a reply does not fit in a packet");
  r->pending++;
  flush_reply(r, k);
}

/* A request that cannot start: every recipient gets the same result at once. */
static void refuse(struct rspawn *r, unsigned k, unsigned n, char what, char const *text)
{
  static struct rres res[RSPAWN_RCPT_MAX];
  for (unsigned i = 0; i < n; i++) {
    res[i].r = what;
    snprintf(res[i].text, sizeof res[i].text, "%s", text);
  }
  r->slot[k].busy = 1;
  r->running++;
  queue_reply(r, k, res, n);
}

static void warn_worker(struct worker const *w, char const *what)
{
  char num[24];
  snprintf(num, sizeof num, "%d", (int)w->pid);
  strerr_warnw4x("worker ", num, ": ", what);
}

/* Closes our end: the worker sees EOF, QUITs its kept session and exits; reap() frees the
   entry. With kill, it is ended at once (it broke the protocol or hung up on us): a job it
   had is then reported from its wait status. */
static void retire(struct worker *w, int kill_it)
{
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  if (kill_it) kill(w->pid, SIGKILL); /* not yet reaped, so the pid is still ours */
}

/* A new worker with its socket on fds 0 and 1 (so that neither of our ends of the channel
   to mailroom-send reaches it): its index, or -1. */
static int spawn(struct rspawn *r)
{
  static char const *const argv[] = { "mailroom-remote", "-w", 0 };
  char prog[1024];
  int sv[2];
  unsigned k;
  pid_t pid;
  for (k = 0; k < WORKERS_MAX && r->w[k].pid; k++) ;
  if (k == WORKERS_MAX) return -1;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
  snprintf(prog, sizeof prog, "%s/bin/mailroom-remote", auto_home);
  {
    int const moves[2][2] = { { sv[1], 0 }, { sv[1], 1 } };
    pid = fdspawn(prog, (char const *const *)argv, moves, 2);
  }
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return -1;
  }
  r->w[k] = (struct worker){ .pid = pid, .fd = sv[0], .slot = -1, .born = STAMP, .idle = STAMP };
  r->nw++;
  return (int)k;
}

/* An idle worker for the domain: one that keeps a session to it, else one that keeps
   none, else the one idle longest; -1 if none is idle. */
static int pick(struct rspawn *r, char const *domain, char const *tag)
{
  int best = -1, bestrank = 3;
  for (unsigned k = 0; k < WORKERS_MAX; k++) {
    struct worker const *w = &r->w[k];
    int rank;
    if (!w->pid || w->fd < 0 || w->slot >= 0) continue;
    if (w->tagged && strcmp(w->tag, tag) != 0) continue; /* another credential's worker */
    rank = !strcasecmp(w->kept, domain) ? 0 : !w->kept[0] ? 1 : 2;
    if (rank < bestrank || (rank == bestrank && best >= 0 && tain_less(&w->idle, &r->w[best].idle))) {
      best = (int)k;
      bestrank = rank;
      if (!rank) break;
    }
  }
  return best;
}

/* The job to worker k with the message file and, as they exist, the file of its
   DKIM-Signature field (sigfd) and the pipe of the route's credentials (credfd), else -1:
   0, or -1 (the worker is gone). The worker tells the two apart by kind. */
static int hand(struct rspawn *r, unsigned k, size_t len, int msgfd, int sigfd, int credfd)
{
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(3 * sizeof(int))];
  } cm;
  int fds[3] = { msgfd, sigfd >= 0 ? sigfd : credfd, credfd };
  unsigned nfd = 1u + (sigfd >= 0) + (credfd >= 0);
  struct iovec iov = { .iov_base = r->wpkt, .iov_len = len };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                       .msg_controllen = CMSG_SPACE(nfd * sizeof(int)) };
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  memset(cm.b, 0, sizeof cm.b);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(nfd * sizeof(int));
  memcpy(CMSG_DATA(c), fds, nfd * sizeof(int));
  /* an idle worker's queue is empty: no room means it is stuck, as good as gone */
  return sendmsg(r->w[k].fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* The credentials the route of domain names into *c: 1, 0 none named (or a malformed
   smtproutes line, which the worker reports), -1 with why (no secret in it) set. */
static int route_cred(struct rspawn *r, char const *domain, authcred *c, char *why, size_t whymax)
{
  char *lines = 0;
  size_t n = 0;
  route rt;
  unsigned bad;
  int f;
  if (control_readlines("control/smtproutes", &lines, &n, SMTPROUTES_MAX) < 0) return 0; /* the worker says so */
  f = routes_find(lines, n, domain, &rt);
  free(lines);
  if (f <= 0 || !rt.auth[0]) return 0;
  if (*r->cr.bad) {
    snprintf(why, whymax, "4.3.5 the route of %.255s names credentials %s, but %s", domain, rt.auth, r->cr.bad);
    return -1;
  }
  f = auth_find(r->cr.file, r->cr.len, rt.auth, c, &bad);
  if (f > 0) return 1;
  if (f < 0)
    snprintf(why, whymax, "4.3.5 control/smtproutes-auth line %u is malformed (NAME:user:password)", bad);
  else
    snprintf(why, whymax, "4.3.5 control/smtproutes-auth has no credentials named %s (the route of %.255s)%s", rt.auth,
             domain, r->cr.file ? "" : ": the file was missing or unreadable when mailroom-start started");
  return -1;
}

/* A pipe holding the one credential line, its read end for the worker (closed here after
   the hand-over): the line is far below PIPE_BUF, so the write never blocks. -1 on error. */
static int cred_pipe(authcred const *c)
{
  char line[AUTH_LINE_MAX + 1];
  int p[2], n;
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  n = snprintf(line, sizeof line, "%s:%s:%s", c->name, c->user, c->pass);
  if (n < 0 || (size_t)n >= sizeof line || write(p[1], line, (size_t)n) != n) {
    explicit_bzero(line, sizeof line);
    close(p[0]);
    close(p[1]);
    return -1;
  }
  explicit_bzero(line, sizeof line);
  close(p[1]);
  return p[0];
}

static void start(struct rspawn *r, struct rreq const *q, int msgfd, int sigfd)
{
  char const *domain = q->domain;
  size_t len = rwjob_pack(r->wpkt, sizeof r->wpkt, domain, q->sender, q->msglen, q->rcpt, q->n);
  authcred cred;
  char why[RSPAWN_TEXT_MAX + 1];
  int hascred, credfd = -1;
  if (!len) {
    refuse(r, q->slot, q->n, 'Z', "4.3.0 mailroom-rspawn was unable to make a job packet");
    return;
  }
  hascred = route_cred(r, domain, &cred, why, sizeof why);
  if (hascred < 0) {
    strerr_warnw1x(why);
    refuse(r, q->slot, q->n, 'Z', why);
    return;
  }
  if (!hascred) cred.name[0] = 0;
  /* a worker that died while idle is noticed here at the latest: the next one is tried */
  for (unsigned tries = 0; tries < 3; tries++) {
    int k = pick(r, domain, cred.name);
    if (k < 0) k = spawn(r);
    if (k < 0) {
      refuse(r, q->slot, q->n, 'Z', "4.3.0 mailroom-rspawn was unable to run mailroom-remote");
      break;
    }
    if (hascred && (credfd = cred_pipe(&cred)) < 0) {
      refuse(r, q->slot, q->n, 'Z', "4.3.0 mailroom-rspawn was unable to make a pipe for the credentials");
      break;
    }
    if (hand(r, (unsigned)k, len, msgfd, sigfd, credfd) < 0) {
      if (credfd >= 0) close(credfd);
      credfd = -1;
      warn_worker(&r->w[k], "did not take a job: replaced");
      retire(&r->w[k], 1);
      continue;
    }
    if (credfd >= 0) close(credfd);
    r->w[k].tagged = 1;
    memcpy(r->w[k].tag, cred.name, sizeof cred.name);
    explicit_bzero(&cred, sizeof cred);
    r->w[k].slot = (int)q->slot;
    r->slot[q->slot].busy = 1;
    r->slot[q->slot].n = q->n;
    r->running++;
    return;
  }
  if (!r->slot[q->slot].busy)
    refuse(r, q->slot, q->n, 'Z', "4.3.0 mailroom-rspawn found no mailroom-remote worker to take the job");
  explicit_bzero(&cred, sizeof cred);
}

/* One request packet, or EOF. */
static void request(struct rspawn *r)
{
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(FDS_MAX * sizeof(int))];
  } cm;
  struct iovec iov = { .iov_base = r->pkt, .iov_len = sizeof r->pkt };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
  int fds[FDS_MAX];
  unsigned nfd = 0;
  struct rreq q;
  ssize_t len = recvmsg(0, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (len < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    if (errno != ECONNRESET) die_read();
    /* send died with replies unread: that is its EOF. A failed recvmsg filled in no
       ancillary data, so the buffer must not be walked (it was read as a bogus fd once,
       and rspawn died of "malformed packet" instead of finishing its deliveries). */
    r->eof = 1;
    return;
  }
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfd < FDS_MAX; k++)
        memcpy(&fds[nfd++], CMSG_DATA(c) + k * sizeof(int), sizeof(int));
  if (!len && !nfd) {
    r->eof = 1;
    return;
  }
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) die_proto("packet or ancillary data too long");
  /* the message file, and the DKIM signature's file when mailroom-dkimsign signed it */
  if (nfd != 1 && nfd != 2) die_proto("not one or two file descriptors");
  if (rreq_parse(r->pkt, (size_t)len, &q) < 0) die_proto("malformed packet");
  if (r->slot[q.slot].busy) die_proto("slot in use");
  start(r, &q, fds[0], nfd == 2 ? fds[1] : -1);
  closefds(fds, nfd); /* the worker has its own copy */
}

/* The job of worker k is over: its results from the reply's records (buf, len), or from
   its wait status when it died (len 0). */
static void job_done(struct rspawn *r, unsigned k, char const *buf, size_t len, int status)
{
  static struct rres res[RSPAWN_RCPT_MAX];
  struct worker *w = &r->w[k];
  unsigned s = (unsigned)w->slot;
  char note[200];
  rrec_results(buf, len, 0, status, r->slot[s].n, res, note, sizeof note);
  if (*note) warn_worker(w, note);
  w->slot = -1;
  queue_reply(r, s, res, r->slot[s].n);
}

/* Worker k's socket is readable: its reply, or its end. */
static void wreply(struct rspawn *r, unsigned k)
{
  struct worker *w = &r->w[k];
  char kept[RWJOB_DOMAIN_MAX + 1];
  size_t off;
  ssize_t len = recv(w->fd, r->wpkt, sizeof r->wpkt, MSG_DONTWAIT);
  if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (len <= 0) {
    /* gone (crashed, killed): reap() reports its job from the wait status */
    if (w->slot >= 0) warn_worker(w, "ended in the middle of a job: replaced");
    retire(w, 1);
    return;
  }
  if (w->slot < 0) {
    warn_worker(w, "sent a reply with no job: replaced");
    retire(w, 1);
    return;
  }
  if ((size_t)len > RWJOB_PACKET_MAX || rwrep_split(r->wpkt, (size_t)len, kept, sizeof kept, &off) < 0) {
    static struct rres res[RSPAWN_RCPT_MAX];
    unsigned s = (unsigned)w->slot;
    warn_worker(w, "sent a malformed reply: replaced");
    for (unsigned i = 0; i < r->slot[s].n; i++) {
      res[i].r = 'Z';
      snprintf(res[i].text, sizeof res[i].text, "4.3.0 mailroom-remote sent a malformed reply for this job");
    }
    w->slot = -1;
    queue_reply(r, s, res, r->slot[s].n);
    retire(w, 1);
    return;
  }
  {
    static struct rres res[RSPAWN_RCPT_MAX];
    unsigned s = (unsigned)w->slot;
    char note[200];
    rrec_results(r->wpkt + off, (size_t)len - off, 0, 0, r->slot[s].n, res, note, sizeof note);
    w->slot = -1;
    w->jobs++;
    w->idle = STAMP;
    memcpy(w->kept, kept, sizeof kept);
    queue_reply(r, s, res, r->slot[s].n);
    if (*note) {
      warn_worker(w, note);
      retire(w, 1); /* a worker that miscounts its records is not trusted with another job */
    }
  }
}

static void reap(struct rspawn *r)
{
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
    for (unsigned k = 0; k < WORKERS_MAX; k++)
      if (r->w[k].pid == pid) {
        struct worker *w = &r->w[k];
        if (w->slot >= 0 && w->fd >= 0) wreply(r, k); /* a reply sent before it died counts */
        if (w->slot >= 0) job_done(r, k, "", 0, st);
        if (w->fd >= 0) close(w->fd);
        w->pid = 0;
        w->fd = -1;
        r->nw--;
        break;
      }
}

/* Idle workers past their bounds are retired; *next gets the earliest moment another one
   will be (left alone when none). */
static void retire_idle(struct rspawn *r, tain *next)
{
  for (unsigned k = 0; k < WORKERS_MAX; k++) {
    struct worker *w = &r->w[k];
    tain a, b;
    if (!w->pid || w->fd < 0 || w->slot >= 0) continue;
    tain_addsec(&a, &w->idle, (int)r->b.idle);
    tain_addsec(&b, &w->born, (int)r->b.life);
    if (tain_less(&b, &a)) a = b;
    if (w->jobs >= r->b.msgs || !tain_less(&STAMP, &a)) {
      retire(w, 0);
      continue;
    }
    if (tain_less(&a, next)) *next = a;
  }
}

/* fd 3: control/smtproutes-auth, opened by mailroom-start (closed there when missing). The
   file must be private: a secret that others can read is refused, as ssh refuses a key. */
static void read_creds(struct creds *c)
{
  struct stat st;
  size_t n = 0;
  c->file = 0;
  c->len = 0;
  c->bad = "";
  if (fstat(CRED_FD, &st) < 0) return; /* no file */
  if (!S_ISREG(st.st_mode)) {
    c->bad = "control/smtproutes-auth is not a regular file";
    close(CRED_FD);
    return;
  }
  if (st.st_mode & 077 || (st.st_uid && st.st_uid != getuid())) {
    c->bad = "control/smtproutes-auth is readable or writable by others (chmod 600, chown root)";
    close(CRED_FD);
    return;
  }
  if ((size_t)st.st_size > AUTH_FILE_MAX) {
    c->bad = "control/smtproutes-auth is larger than 64 KB";
    close(CRED_FD);
    return;
  }
  c->file = malloc(AUTH_FILE_MAX + 1);
  if (!c->file) die_nomem();
  for (;;) {
    ssize_t k = read(CRED_FD, c->file + n, AUTH_FILE_MAX + 1 - n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) strerr_diefu1sys(111, "read control/smtproutes-auth on fd 3");
    if (!k) break;
    n += (size_t)k;
    if (n > AUTH_FILE_MAX) {
      c->bad = "control/smtproutes-auth is larger than 64 KB";
      break;
    }
  }
  close(CRED_FD);
  c->len = n;
  if (!*c->bad) {
    authcred t;
    unsigned bad;
    char num[24];
    /* every line checked now, so a typo shows in the log at start, not at the first use */
    if (auth_find(c->file, c->len, "", &t, &bad) < 0) {
      snprintf(num, sizeof num, "%u", bad);
      strerr_warnw3x("control/smtproutes-auth line ", num, " is malformed (NAME:user:password): its routes defer");
    }
    explicit_bzero(&t, sizeof t);
  }
}

static unsigned bound(char const *file, unsigned long def, unsigned long max)
{
  unsigned long u;
  if (control_readulong(file, &u, def) < 0) strerr_diefu2sys(111, "read a number from ", file);
  return (unsigned)(u > max ? max : u);
}

int main(void)
{
  static struct rspawn r;
  static iopause_fd x[3 + WORKERS_MAX];
  static unsigned map[WORKERS_MAX];
  tain end = TAIN_INFINITE;
  int spfd, ending = 0;
  PROG = "mailroom-rspawn";
  if (!getuid() || !geteuid()) die_root();
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  /* before anything a worker could see: no core dump, no ptrace, no /proc/PID/mem of ours
     for the same uid, since we may hold every smarthost password */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) strerr_diefu1sys(111, "make the process undumpable");
  read_creds(&r.cr);
  r.b.msgs = bound("control/remoteworkermessages", 1000, 1000000000);
  r.b.idle = bound("control/remoteworkeridle", 60, 86400);
  r.b.life = bound("control/remoteworkerlifetime", 3600, 86400UL * 30);
  if (!r.b.msgs) r.b.msgs = 1;
  for (unsigned k = 0; k < WORKERS_MAX; k++) r.w[k].fd = -1;
  spfd = selfpipe_init();
  if (spfd < 0 || selfpipe_trap(SIGCHLD) < 0) strerr_diefu1sys(111, "set up signals");
  sig_ignore(SIGPIPE);
  sig_ignore(SIGTERM); /* mailroom-send ends us by closing its end, after its last request */
  tain_now_set_stopwatch_g();
  for (;;) {
    unsigned n = 1, base;
    int rx = -1, wx = -1;
    tain deadline = end;
    tain_now_g();
    if (r.eof && !r.running && !ending) {
      /* send is gone and every reply is out: the workers QUIT their sessions and exit */
      for (unsigned k = 0; k < WORKERS_MAX; k++)
        if (r.w[k].pid) retire(&r.w[k], 0);
      tain_addsec_g(&end, END_SECS);
      deadline = end;
      ending = 1;
    }
    if (ending && (!r.nw || !tain_less(&STAMP, &end))) break;
    retire_idle(&r, &deadline);
    x[0] = (iopause_fd){ .fd = spfd, .events = IOPAUSE_READ };
    if (!r.eof) x[rx = (int)n++] = (iopause_fd){ .fd = 0, .events = IOPAUSE_READ };
    if (r.pending) x[wx = (int)n++] = (iopause_fd){ .fd = 1, .events = IOPAUSE_WRITE };
    base = n;
    for (unsigned k = 0; k < WORKERS_MAX; k++)
      if (r.w[k].pid && r.w[k].fd >= 0) {
        map[n - base] = k;
        x[n++] = (iopause_fd){ .fd = r.w[k].fd, .events = IOPAUSE_READ };
      }
    if (iopause_g(x, n, &deadline) < 0) strerr_diefu1sys(111, "iopause");
    for (unsigned k = base; k < n; k++)
      if (x[k].revents && r.w[map[k - base]].fd >= 0) wreply(&r, map[k - base]);
    if (wx >= 0 && x[wx].revents)
      for (unsigned k = 0; k < RSPAWN_SLOTS && r.pending; k++)
        if (r.slot[k].replylen) flush_reply(&r, k);
    if (rx >= 0 && (x[rx].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))) request(&r); /* NOLINT(misc-redundant-expression): skalibs' IOPAUSE_READ and IOPAUSE_EXCEPT both hold POLLHUP */
    if (x[0].revents & IOPAUSE_READ) {
      while (selfpipe_read() > 0) ;
      reap(&r);
    }
  }
  return 0;
}
