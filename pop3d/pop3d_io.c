/* The client connection: lines read with a maximum length and an absolute deadline, and
   responses written through one buffer flushed once per response (a RETR included), with a
   deadline on every wait. The fds may be blocking or not: a read or write is only tried
   once poll says it can go. In `onebyte` mode (mailroom-popup) input is read a byte at a
   time, so that a pipelined command after PASS stays in the socket for mailroom-pop3d. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include "pop3d.h"

/* 1 ready, 0 deadline passed (or a bound of b ended the session: b->cut), -1 error. */
static int waitfd(int fd, short events, tain const *deadline, struct connbound *b, int dir, tain *idleat)
{
  for (;;) {
    iopause_fd x = { .fd = fd, .events = events, .revents = 0 };
    tain d;
    enum cb_kind kind;
    int r;
    tain_now_g();
    kind = connbound_deadline(b, dir, deadline, idleat, &d);
    r = iopause_g(&x, 1, &d);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (!r) {
      if (connbound_expired(b, kind, idleat)) return 0;
      continue;
    }
    return 1; /* readable, writable, or an error/hangup the read or write will report */
  }
}

void pop3_in_init(struct pop3_in *in, int fd, unsigned int timeout, int onebyte)
{
  in->fd = fd;
  in->timeout = timeout;
  in->onebyte = onebyte;
  in->len = 0;
  in->bound = 0;
}

int pop3_in_hasline(struct pop3_in const *in)
{
  return memchr(in->buf, '\n', in->len) != 0;
}

int pop3_getline(struct pop3_in *in, char *line, size_t *len)
{
  tain deadline, idleat = TAIN_ZERO;
  tain_now_g();
  tain_addsec_g(&deadline, (int)in->timeout);
  connbound_idlestart(in->bound, &idleat);
  /* our response went out: the client's turn (its rate counts from its first byte) */
  if (!in->len) connbound_turn(in->bound, CB_IN);
  for (;;) {
    char *lf = memchr(in->buf, '\n', in->len);
    ssize_t r;
    if (lf) {
      size_t n = (size_t)(lf - in->buf), keep;
      if (n + 1 > POP3_LINE_MAX) {
        errno = E2BIG;
        return -1;
      }
      keep = n && in->buf[n - 1] == '\r' ? n - 1 : n;
      memcpy(line, in->buf, keep);
      line[keep] = 0;
      *len = keep;
      in->len -= n + 1;
      memmove(in->buf, lf + 1, in->len);
      connbound_turn(in->bound, CB_OUT); /* our turn: the response, at the client's pace */
      return 1;
    }
    if (in->len >= POP3_LINE_MAX) {
      errno = E2BIG;
      return -1;
    }
    r = waitfd(in->fd, IOPAUSE_READ, &deadline, in->bound, CB_IN, &idleat);
    if (r < 0) return -1;
    if (!r) {
      errno = ETIMEDOUT;
      return -1;
    }
    r = read(in->fd, in->buf + in->len, in->onebyte ? 1 : sizeof in->buf - in->len);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    if (!r) return 0; /* a partial last line is dropped: a command needs its line end */
    in->len += (size_t)r;
    connbound_bytes(in->bound, CB_IN, (uint64_t)r);
    connbound_idlestart(in->bound, &idleat); /* idle is silence: a drip is minrate's */
  }
}

void pop3_out_init(struct pop3_out *out, int fd, unsigned int timeout)
{
  out->fd = fd;
  out->timeout = timeout;
  out->len = 0;
  out->bound = 0;
}

int pop3_flush(struct pop3_out *out)
{
  size_t done = 0;
  while (done < out->len) {
    ssize_t w = write(out->fd, out->buf + done, out->len - done);
    if (w > 0) {
      done += (size_t)w;
      connbound_bytes(out->bound, CB_OUT, (uint64_t)w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      tain deadline, idleat = TAIN_ZERO;
      int r;
      tain_now_g();
      tain_addsec_g(&deadline, (int)out->timeout);
      connbound_idlestart(out->bound, &idleat);
      r = waitfd(out->fd, IOPAUSE_WRITE, &deadline, out->bound, CB_OUT, &idleat);
      if (r < 0) return -1;
      if (!r) {
        errno = ETIMEDOUT;
        return -1;
      }
      continue;
    }
    if (!w) errno = EPIPE;
    return -1;
  }
  out->len = 0;
  return 0;
}

char *pop3_room(struct pop3_out *out, size_t n)
{
  if (n > sizeof out->buf) {
    errno = EINVAL;
    return 0;
  }
  if (sizeof out->buf - out->len < n && pop3_flush(out) < 0) return 0;
  return out->buf + out->len;
}

void pop3_commit(struct pop3_out *out, size_t n)
{
  out->len += n;
}

int pop3_put(struct pop3_out *out, char const *s, size_t n)
{
  while (n) {
    size_t k = sizeof out->buf - out->len;
    if (!k) {
      if (pop3_flush(out) < 0) return -1;
      continue;
    }
    if (k > n) k = n;
    memcpy(out->buf + out->len, s, k);
    out->len += k;
    s += k;
    n -= k;
  }
  return 0;
}

int pop3_puts(struct pop3_out *out, char const *s)
{
  return pop3_put(out, s, strlen(s));
}

void pop3_linger(struct pop3_in *in, struct pop3_out *out)
{
  char buf[4096];
  size_t total = 0;
  tain deadline;
  if (pop3_flush(out) < 0) return;
  (void)shutdown(out->fd, SHUT_WR);
  tain_now_g();
  tain_addsec_g(&deadline, 2);
  while (total < 1048576) {
    ssize_t r;
    if (waitfd(in->fd, IOPAUSE_READ, &deadline, 0, CB_IN, 0) <= 0) return;
    r = read(in->fd, buf, sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) return;
    total += (size_t)r;
  }
}

void pop3_told(char const *line)
{
  size_t len = strlen(line), w = 0;
  while (w < len) {
    ssize_t r = write(1, line + w, len - w);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) break; /* the client is gone: nobody to tell */
    w += (size_t)r;
  }
  _exit(POP3_EXIT_TOLD);
}

void pop3_stderr_check(void)
{
  struct stat a, b;
  if (fstat(1, &a) < 0 || fstat(2, &b) < 0) return;
  if (a.st_dev == b.st_dev && a.st_ino == b.st_ino && S_ISSOCK(b.st_mode)) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) return;
    if (fd != 2) {
      dup2(fd, 2);
      close(fd);
    }
  }
}

void pop3_nodelay(int fd)
{
  int one = 1;
  /* ENOTSOCK (a pipe in a test), EOPNOTSUPP (a Unix socket): nothing to do. */
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
