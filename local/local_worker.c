/* mailroom-local -w: a warm deliverer, started by mailroom-lspawn under one user's uid, with
   a SOCK_SEQPACKET socket on fd 0 (INTERNALS.md "Warm local deliverers"). Each packet is a
   job (lwproto.h) with the queue's message file in SCM_RIGHTS; each job gets one reply
   packet. It takes every job waiting on the socket (up to LOCAL_BATCH_MAX) and runs them as
   a group: the jobs whose deliveries are Maildir lines only are written to tmp/, made
   durable together (every file fsynced, linked into new/, each new/ fsynced once) and only
   then answered; the others run one by one as the one-shot mailroom-local runs them. It
   trusts lspawn's jobs (lspawn is root and made them), and keeps no per-home state across
   jobs but the Maildir name counter. EOF on the socket: finish, exit 0. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "exitcodes.h"
#include "local.h"
#include "lwproto.h"
#include "maildir.h"

#define LOCAL_BATCH_MAX 32        /* jobs taken off the socket before a group is run */
#define LOCAL_WORKER_WAIT 3600000 /* ms without a job: lspawn closes us long before that */

/* Where a job of the group stands. */
#define J_DONE 0    /* answered in phase 1 (failure before any delivery) */
#define J_PENDING 1 /* Maildir files in tmp/, waiting for the commit */
#define J_LATER 2   /* a program, forward or mbox line: run on its own after the commit */

typedef struct wjob_s wjob;
struct wjob_s {
  char pkt[LW_JOB_MAX + 1];
  lwjob j;
  int fd;
  int state;
  int code;
  char text[LOCAL_TEXT_MAX + 1];
  local l;
};

typedef struct worker_s worker;
struct worker_s {
  int sock;
  int eof;
  maildir_ctx md; /* its counter keeps the names of all jobs unique */
  unsigned int n;
  wjob job[LOCAL_BATCH_MAX];
};

/* One packet into w->job[w->n]. 1 taken, 0 nothing there (or EOF: w->eof), -1 malformed or
   a socket error: the worker stops (lspawn answers Z for what it had sent). */
static int take(worker *w, int wait)
{
  wjob *jb = &w->job[w->n];
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(2 * sizeof(int))];
  } c;
  struct iovec iov = { .iov_base = jb->pkt, .iov_len = sizeof jb->pkt };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof c.buf };
  struct cmsghdr *h;
  int fds = 0, fd = -1, bad = 0;
  ssize_t r;
  for (;;) {
    r = recvmsg(w->sock, &m, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT));
    if (r >= 0 || errno != EINTR) break;
  }
  if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  for (h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
      int k;
      memcpy(&k, CMSG_DATA(h) + i * sizeof(int), sizeof k);
      if (fds++) close(k);
      else fd = k;
    }
  }
  if (!r && !fds) {
    w->eof = 1;
    return 0;
  }
  if (fds != 1 || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) bad = 1;
  if (!bad && lwproto_job_parse(jb->pkt, (size_t)r, &jb->j) < 0) bad = 1;
  if (bad) {
    if (fd >= 0) close(fd);
    return -1;
  }
  jb->fd = fd;
  w->n++;
  return 1;
}

static int answer(worker const *w, unsigned slot, int code, char const *text)
{
  char buf[LW_REPLY_MAX];
  size_t n = lwproto_reply_fmt(buf, slot, code, text);
  for (;;) {
    ssize_t r = send(w->sock, buf, n, MSG_NOSIGNAL);
    if (r >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

/* The job's fields into its local state, everything else of the last job gone. */
static void load(worker *w, wjob *jb)
{
  local *l = &jb->l;
  local_reset(l);
  l->md = w->md;
  l->user = jb->j.user;
  l->home = jb->j.home;
  l->local = jb->j.local;
  l->dash = jb->j.dash;
  l->ext = jb->j.ext;
  l->domain = jb->j.domain;
  l->sender = jb->j.sender;
  l->msglen = jb->j.msglen;
  l->msgfd = jb->fd;
  if (jb->j.defaultdelivery[0]) l->defaultdelivery = jb->j.defaultdelivery;
}

/* Everything up to the dot file's lines, as the one-shot main runs it. */
static int prepare(local *l)
{
  return local_checkhome(l) < 0 || local_setup(l, (unsigned long long)time(0)) < 0
      || local_checkmsg(l) < 0 || local_loopcheck(l) < 0 || local_finddot(l) < 0
      || local_newsender(l) < 0 ? -1 : 0;
}

static void verdict(wjob *jb, int ok)
{
  local *l = &jb->l;
  if (ok) {
    jb->code = l->stop ? EX_OKSTOP : EX_OK;
    memcpy(jb->text, l->text, l->textlen + 1);
  } else jb->code = local_reply(l, jb->text);
  jb->state = J_DONE;
}

/* Runs the group of w->n jobs and answers each. -1 if the socket failed. */
static int group(worker *w)
{
  maildir_tmp *pend[LOCAL_BATCH_MAX * LOCAL_PEND_MAX];
  size_t np = 0;
  int e = 0;
  /* 1. each job up to its dot file; Maildir-only jobs write their tmp/ files */
  for (unsigned int i = 0; i < w->n; i++) {
    wjob *jb = &w->job[i];
    int r;
    load(w, jb);
    r = prepare(&jb->l);
    if (!r && !local_maildironly(&jb->l)) jb->state = J_LATER;
    else if (r < 0 || local_deliver_tmp(&jb->l) < 0) verdict(jb, 0);
    else {
      jb->state = J_PENDING;
      for (unsigned int k = 0; k < jb->l.npend; k++) pend[np++] = &jb->l.pend[k];
    }
    w->md = jb->l.md;
  }
  /* 2. the commit: data, names, each new/ once; only then a reply says delivered */
  maildir_commit_many(pend, np);
  for (unsigned int i = 0; i < w->n; i++) {
    wjob *jb = &w->job[i];
    if (jb->state == J_PENDING) verdict(jb, local_deliver_done(&jb->l) == 0);
    if (jb->state == J_DONE && !e && answer(w, jb->j.slot, jb->code, jb->text) < 0) e = -1;
  }
  /* 3. the others, one at a time, from the start: phase 1 left their environment behind */
  for (unsigned int i = 0; i < w->n; i++) {
    wjob *jb = &w->job[i];
    if (jb->state != J_LATER) continue;
    load(w, jb);
    verdict(jb, prepare(&jb->l) == 0 && local_deliver(&jb->l) == 0);
    w->md = jb->l.md;
    if (!e && answer(w, jb->j.slot, jb->code, jb->text) < 0) e = -1;
  }
  for (unsigned int i = 0; i < w->n; i++) {
    local_reset(&w->job[i].l);
    close(w->job[i].fd);
  }
  w->n = 0;
  return e;
}

int local_worker(int sock)
{
  worker *w = malloc(sizeof *w);
  int code = EX_OK;
  if (!w) return EX_TEMP;
  memset(w, 0, sizeof *w);
  w->sock = sock;
  for (unsigned int i = 0; i < LOCAL_BATCH_MAX; i++) local_init(&w->job[i].l);
  while (!w->eof) {
    struct pollfd p = { .fd = sock, .events = POLLIN };
    int r = poll(&p, 1, LOCAL_WORKER_WAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      code = r ? EX_TEMP : EX_OK;
      break;
    }
    /* every job already waiting joins the group, up to the bound */
    while (w->n < LOCAL_BATCH_MAX && !w->eof && (r = take(w, w->n == 0)) > 0)
      ;
    if (r < 0) code = EX_TEMP;
    if (w->n && group(w) < 0) code = EX_TEMP;
    if (code != EX_OK) break;
  }
  for (unsigned int i = 0; i < w->n; i++) close(w->job[i].fd);
  free(w);
  return code;
}
