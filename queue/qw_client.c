/* mailroom-queued's clients: the connection, the request with its two descriptors, and the
   non-blocking reads of the message (straight into tmp/ID) and the envelope (into memory,
   bounded). The writer trusts nothing a client sends: every failure is a verdict with
   mailroom-queue's exit code, and removes the client's tmp/ file. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>

#include "control.h"
#include "envelope.h"
#include "exitcodes.h"
#include "qwproto.h"
#include "qw.h"

/* Descriptors a request may carry before the rest is cut (MSG_CTRUNC): one more than
   allowed, so that "too many" is seen as such, not as truncation. */
#define FDS_RECV (QW_NFDS + 1)

static void closefd(int *fd)
{
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void qw_client_verdict(qw_client *c, int code)
{
  char buf[QW_PACKET_MAX];
  size_t n = qwproto_verdict(buf, code, code ? 0 : c->n.id);
  if (send(c->sock, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EPIPE && errno != ECONNRESET)
    strerr_warnwusys("send a verdict");
}

void qw_client_close(qw *w, qw_client *c)
{
  closefd(&c->sock);
  closefd(&c->msgfd);
  closefd(&c->envfd);
  closefd(&c->tmpfd);
  stralloc_free(&c->env);
  if (c->state == QW_READY) w->nready--;
  c->state = QW_FREE;
  c->tmpmade = c->newmade = 0;
  w->n--;
}

void qw_client_drop(qw *w, qw_client *c)
{
  if (c->newmade) unlink(c->n.newfn);
  if (c->tmpmade) unlink(c->n.tmpfn);
  qw_client_close(w, c);
}

static void warn_client(qw_client const *c, int code, char const *why)
{
  char u[UINT_FMT], k[UINT_FMT];
  u[uint_fmt(u, (unsigned int)c->uid)] = 0;
  k[uint_fmt(k, (unsigned int)code)] = 0;
  strerr_warnw("refused uid=", u, " code=", k, c->n.id[0] ? " msg=" : "", c->n.id, ": ", why);
}

void qw_client_fail(qw *w, qw_client *c, int code, char const *why)
{
  int e = errno;
  warn_client(c, code, why);
  qw_client_verdict(c, code);
  qw_client_drop(w, c);
  errno = e;
}

static void set_deadlines(qw *w, qw_client *c)
{
  tain_addsec_g(&c->idle, w->timeout);
  tain_addsec_g(&c->death, QWRITE_DEATH);
}

/* One packet of at most QW_PACKET_MAX + 1 bytes into pkt, with the descriptors it carries:
   the first FDS_RECV into fds (*nfd of them, ours to close, whatever the packet says), the
   rest closed at once. Its length, or -1 with errno; *trunc when the kernel cut it. */
static ssize_t recv_request(int sock, char *pkt, int *fds, unsigned int *nfd, int *trunc)
{
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(FDS_RECV * sizeof(int))];
  } cm;
  struct iovec iov = { .iov_base = pkt, .iov_len = QW_PACKET_MAX + 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
  ssize_t len = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  *nfd = 0;
  *trunc = 0;
  if (len < 0) return -1;
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
    size_t k, m;
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    m = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (k = 0; k < m; k++) {
      int fd;
      memcpy(&fd, CMSG_DATA(h) + k * sizeof(int), sizeof(int));
      if (*nfd < FDS_RECV) fds[(*nfd)++] = fd;
      else close(fd);
    }
  }
  *trunc = !!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
  return len;
}

/* Reads and drops one waiting packet, closing the descriptors it carries. */
static void discard_request(int sock)
{
  char pkt[QW_PACKET_MAX + 1];
  int fds[FDS_RECV], trunc;
  unsigned int nfd, i;
  if (recv_request(sock, pkt, fds, &nfd, &trunc) < 0) return;
  for (i = 0; i < nfd; i++) close(fds[i]);
}

int qw_accept(qw *w, int lsock)
{
  for (;;) {
    qw_client *c = 0;
    struct ucred cr;
    socklen_t crl = sizeof cr;
    int fd = accept4(lsock, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
    unsigned int i;
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) return -1;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        strerr_warnwusys("accept a connection");
      return 0;
    }
    if (w->n >= w->max) {
      /* over the limit: say so at once (the client falls back to mailroom-queue). A request
         already waiting is read first: closing a unix socket with unread data resets the
         peer, which would lose the verdict. */
      qw_client tmp = { .sock = fd };
      discard_request(fd);
      qw_client_verdict(&tmp, QQ_TEMP_REFUSED);
      close(fd);
      continue;
    }
    for (i = 0; i < w->max; i++)
      if (w->c[i].state == QW_FREE) {
        c = &w->c[i];
        break;
      }
    if (!c) { /* cannot happen: n < max */
      close(fd);
      continue;
    }
    memset(c, 0, sizeof *c);
    c->env = stralloc_zero;
    c->sock = fd;
    c->msgfd = c->envfd = c->tmpfd = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == 0) {
      c->uid = cr.uid;
      c->pid = cr.pid;
    } else c->uid = (uid_t)-1;
    c->state = QW_REQ;
    set_deadlines(w, c);
    w->n++;
  }
}

/* A passed descriptor must be something to read a stream from: a FIFO or a socket, opened
   for reading. A regular file, a tty, a directory, a device or a pipe's write end is not. */
static int readable_stream(int fd)
{
  struct stat st;
  int fl;
  if (fstat(fd, &st) < 0) return 0;
  if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) return 0;
  fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) return 0;
  return 1;
}

/* A fresh tmp/ID (queue/qwrite.c: unique within the process). 0, or -1 with errno. */
static int make_tmp(qw *w, qw_client *c)
{
  c->tmpfd = qwrite_create(&c->n, w->pid, &w->last);
  if (c->tmpfd < 0) return -1;
  c->tmpmade = 1;
  return 0;
}

static void request(qw *w, qw_client *c)
{
  char pkt[QW_PACKET_MAX + 1];
  int fds[FDS_RECV] = { -1, -1, -1 };
  unsigned int nfd = 0, i;
  int r, ok, trunc;
  ssize_t len = recv_request(c->sock, pkt, fds, &nfd, &trunc);
  if (len < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    qw_client_drop(w, c); /* ECONNRESET: the client went away */
    return;
  }
  r = qwproto_request(pkt, (size_t)len, nfd, trunc);
  ok = r == QWR_OK && readable_stream(fds[0]) && readable_stream(fds[1]);
  if (!ok) {
    for (i = 0; i < nfd; i++) close(fds[i]);
    if (r == QWR_EMPTY) qw_client_drop(w, c);
    else qw_client_fail(w, c, QQ_READ, r != QWR_OK ? qwproto_strerror(r) : "a descriptor is not a pipe or socket open for reading");
    return;
  }
  c->msgfd = fds[0];
  c->envfd = fds[1];
  /* the read ends are ours alone (the client closed its copies): non-blocking is safe */
  if (ndelay_on(c->msgfd) < 0 || ndelay_on(c->envfd) < 0) {
    qw_client_fail(w, c, QQ_READ, "make the pipes non-blocking");
    return;
  }
  if (control_readulong(w->dbfile, &c->databytes, 0) < 0) {
    qw_client_fail(w, c, QQ_CONFIG, "unable to read control/databytes");
    return;
  }
  if (make_tmp(w, c) < 0) {
    int code = qwrite_tmp_code(errno);
    strerr_warnwusys("create queue/", c->n.tmpfn);
    qw_client_fail(w, c, code, "unable to create the tmp/ file");
    return;
  }
  if (send(c->sock, QW_GO, QW_GO_LEN, MSG_NOSIGNAL | MSG_DONTWAIT) != QW_GO_LEN) {
    qw_client_drop(w, c);
    return;
  }
  c->state = QW_MSG;
  set_deadlines(w, c);
}

static void message(qw *w, qw_client *c)
{
  unsigned int i;
  for (i = 0; i < QW_READS_PER_WAKE; i++) {
    ssize_t r = read(c->msgfd, w->chunk, sizeof w->chunk);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      qw_client_fail(w, c, QQ_READ, "unable to read the message pipe");
      return;
    }
    if (!r) {
      closefd(&c->msgfd);
      c->state = QW_ENV;
      return;
    }
    tain_addsec_g(&c->idle, w->timeout);
    c->msglen += (unsigned long long)r;
    if (c->databytes && c->msglen > c->databytes) {
      qw_client_fail(w, c, QQ_PERM_REFUSED, "message is larger than databytes");
      return;
    }
    if (allwrite(c->tmpfd, w->chunk, (size_t)r) < (size_t)r) {
      strerr_warnwusys("write queue/", c->n.tmpfn);
      qw_client_fail(w, c, QQ_WRITE, "unable to write the tmp/ file");
      return;
    }
  }
}

static void envelope(qw *w, qw_client *c)
{
  unsigned int i;
  size_t nrcpt;
  int e;
  for (i = 0; i < QW_READS_PER_WAKE; i++) {
    size_t room;
    ssize_t r;
    if (!stralloc_readyplus(&c->env, QW_CHUNK)) {
      qw_client_fail(w, c, QQ_NOMEM, "out of memory for the envelope");
      return;
    }
    room = c->env.a - c->env.len;
    if (room > QWRITE_ENV_MAX + 1 - c->env.len) room = QWRITE_ENV_MAX + 1 - c->env.len;
    r = read(c->envfd, c->env.s + c->env.len, room);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      qw_client_fail(w, c, QQ_READ, "unable to read the envelope pipe");
      return;
    }
    if (!r) break;
    tain_addsec_g(&c->idle, w->timeout);
    c->env.len += (size_t)r;
    if (c->env.len > QWRITE_ENV_MAX) {
      qw_client_fail(w, c, QQ_ENVELOPE, "envelope is larger than 100000 recipients of 1000 bytes");
      return;
    }
  }
  if (i == QW_READS_PER_WAKE) return; /* more to read next turn */
  closefd(&c->envfd);
  e = envelope_check(c->env.s, c->env.len, &nrcpt);
  if (e != ENV_OK) {
    qw_client_fail(w, c, qwrite_env_code(e), envelope_strerror(e));
    return;
  }
  if (qwrite_tail(c->tmpfd, c->msglen, c->env.s, c->env.len) < 0) {
    strerr_warnwusys("write queue/", c->n.tmpfn);
    qw_client_fail(w, c, QQ_WRITE, "unable to write the tmp/ file");
    return;
  }
  stralloc_free(&c->env);
  c->state = QW_READY;
  w->nready++;
}

void qw_client_io(qw *w, qw_client *c, int fd)
{
  if (fd == c->sock) {
    if (c->state == QW_REQ) {
      request(w, c);
      return;
    }
    /* after the request the client sends nothing: this is its hang-up (or garbage).
       Either way it will not hear a verdict; nothing it sent is kept. */
    qw_client_drop(w, c);
    return;
  }
  if (c->state == QW_MSG && fd == c->msgfd) message(w, c);
  else if (c->state == QW_ENV && fd == c->envfd) envelope(w, c);
}

void qw_deadlines(qw *w, tain *d)
{
  unsigned int i;
  for (i = 0; i < w->max; i++) {
    qw_client *c = &w->c[i];
    tain const *t;
    if (c->state == QW_FREE || c->state == QW_READY) continue;
    t = tain_less(&c->idle, &c->death) ? &c->idle : &c->death;
    if (!tain_future(t)) {
      errno = ETIMEDOUT;
      qw_client_fail(w, c, QQ_TIMEOUT, "timed out reading the request, message or envelope");
      continue;
    }
    if (tain_less(t, d)) *d = *t;
  }
}
