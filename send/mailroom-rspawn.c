/* mailroom-rspawn: starts remote deliveries for mailroom-send. Runs as mrremote (started so
   by mailroom-start; it refuses root) and can read nothing in the queue: each request packet
   on the SOCK_SEQPACKET socket (fds 0 and 1) carries the open message file. For each one it
   runs mailroom-remote with that file on fd 0, reads its per-recipient records (bounded)
   and answers with one packet (INTERNALS.md). It trusts mailroom-send; mailroom-remote's
   output is checked, since that program talks to the network. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "auto_home.h"
#include "fdspawn.h"
#include "rspawn_proto.h"

#define FDS_MAX 4 /* SCM_RIGHTS room: more than one fd in a request is a protocol error */

struct slot {
  pid_t pid;     /* 0: free */
  int fd;        /* the read end of the child's report pipe, -1 when closed */
  int exited, status;
  unsigned n;    /* recipients of the request */
  size_t len;    /* bytes of report read */
  int truncated; /* more came than RSPAWN_RECORDS_MAX */
  char *rec;     /* RSPAWN_RECORDS_MAX bytes, allocated at the first use */
  size_t replylen; /* > 0: a reply packet waits for room on the socket */
  char *reply;
};

struct rspawn {
  struct slot slot[RSPAWN_SLOTS];
  unsigned running; /* slots in use: child running or reply unsent */
  unsigned pending; /* replies waiting for room */
  int eof;
  char pkt[RSPAWN_PACKET_MAX + 1];
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
  sl->pid = 0;
  r->running--;
}

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
  r->slot[k].pid = -1; /* in use until the reply is out */
  r->running++;
  queue_reply(r, k, res, n);
}

/* mailroom-remote with the message on fd 0 from offset 0 and the report pipe on fd 1. */
static void start(struct rspawn *r, struct rreq const *q, int msgfd)
{
  struct slot *sl = &r->slot[q->slot];
  char prog[1024];
  char const *argv[4 + RSPAWN_RCPT_MAX + 1];
  unsigned a = 0;
  int p[2];
  pid_t pid;
  if (lseek(msgfd, 0, SEEK_SET) < 0) {
    refuse(r, q->slot, q->n, 'Z', "4.3.0 mailroom-rspawn was unable to rewind the message file");
    return;
  }
  if (pipe2(p, O_CLOEXEC) < 0) {
    refuse(r, q->slot, q->n, 'Z', "4.3.0 mailroom-rspawn was unable to make a pipe");
    return;
  }
  snprintf(prog, sizeof prog, "%s/bin/mailroom-remote", auto_home);
  argv[a++] = "mailroom-remote";
  argv[a++] = rspawn_domain(q->rcpt[0]);
  argv[a++] = q->sender;
  argv[a++] = q->msglen;
  for (unsigned i = 0; i < q->n; i++) argv[a++] = q->rcpt[i];
  argv[a] = 0;
  {
    int const moves[2][2] = { { msgfd, 0 }, { p[1], 1 } };
    pid = fdspawn(prog, argv, moves, 2);
  }
  close(p[1]);
  if (pid < 0) {
    close(p[0]);
    refuse(r, q->slot, q->n, 'Z', "4.3.0 mailroom-rspawn was unable to run mailroom-remote");
    return;
  }
  if (!sl->rec && !(sl->rec = malloc(RSPAWN_RECORDS_MAX))) die_nomem();
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  sl->pid = pid;
  sl->fd = p[0];
  sl->exited = 0;
  sl->n = q->n;
  sl->len = 0;
  sl->truncated = 0;
  r->running++;
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
  if (nfd != 1) die_proto("not exactly one file descriptor");
  if (rreq_parse(r->pkt, (size_t)len, &q) < 0) die_proto("malformed packet");
  if (r->slot[q.slot].pid) die_proto("slot in use");
  start(r, &q, fds[0]);
  closefds(fds, nfd);
}

static void drain(struct slot *sl)
{
  char buf[4096];
  for (;;) {
    ssize_t n = read(sl->fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!n) {
        close(sl->fd);
        sl->fd = -1;
      }
      return;
    }
    if ((size_t)n > RSPAWN_RECORDS_MAX - sl->len) {
      sl->truncated = 1; /* read on, so the child is never stuck writing */
      n = (ssize_t)(RSPAWN_RECORDS_MAX - sl->len);
    }
    memcpy(sl->rec + sl->len, buf, (size_t)n);
    sl->len += (size_t)n;
  }
}

/* The child has exited and its pipe is drained or closed: make the reply. */
static void finish(struct rspawn *r, unsigned k)
{
  static struct rres res[RSPAWN_RCPT_MAX];
  struct slot *sl = &r->slot[k];
  char note[200];
  char num[16];
  if (sl->fd >= 0) {
    drain(sl);
    if (sl->fd >= 0) close(sl->fd); /* a grandchild holding the pipe does not hold us */
    sl->fd = -1;
  }
  rrec_results(sl->rec, sl->len, sl->truncated, sl->status, sl->n, res, note, sizeof note);
  if (*note) {
    snprintf(num, sizeof num, "%u", k);
    strerr_warnw4x("slot ", num, ": ", note);
  }
  sl->pid = -1; /* until the reply is out */
  queue_reply(r, k, res, sl->n);
}

static void reap(struct rspawn *r)
{
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
    for (unsigned k = 0; k < RSPAWN_SLOTS; k++)
      if (r->slot[k].pid == pid) {
        r->slot[k].status = st;
        finish(r, k);
        break;
      }
}

int main(void)
{
  static struct rspawn r;
  static iopause_fd x[3 + RSPAWN_SLOTS];
  static unsigned map[RSPAWN_SLOTS];
  int spfd;
  PROG = "mailroom-rspawn";
  if (!getuid() || !geteuid()) die_root();
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  for (unsigned k = 0; k < RSPAWN_SLOTS; k++) r.slot[k].fd = -1;
  spfd = selfpipe_init();
  if (spfd < 0 || selfpipe_trap(SIGCHLD) < 0) strerr_diefu1sys(111, "set up signals");
  sig_ignore(SIGPIPE);
  sig_ignore(SIGTERM); /* mailroom-send ends us by closing its end, after its last request */
  tain_now_set_stopwatch_g();
  while (!r.eof || r.running) {
    unsigned n = 1, base;
    int rx = -1, wx = -1;
    x[0] = (iopause_fd){ .fd = spfd, .events = IOPAUSE_READ };
    if (!r.eof) x[rx = (int)n++] = (iopause_fd){ .fd = 0, .events = IOPAUSE_READ };
    if (r.pending) x[wx = (int)n++] = (iopause_fd){ .fd = 1, .events = IOPAUSE_WRITE };
    base = n;
    for (unsigned k = 0; k < RSPAWN_SLOTS; k++)
      if (r.slot[k].pid > 0 && r.slot[k].fd >= 0) {
        map[n - base] = k;
        x[n++] = (iopause_fd){ .fd = r.slot[k].fd, .events = IOPAUSE_READ };
      }
    tain_now_g();
    if (iopause_g(x, n, &tain_infinite) < 0) strerr_diefu1sys(111, "iopause");
    for (unsigned k = base; k < n; k++)
      if (x[k].revents) drain(&r.slot[map[k - base]]);
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
