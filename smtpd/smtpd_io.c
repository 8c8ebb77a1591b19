/* The client's side: one input buffer that every command and the DATA stream are taken
   from (so pipelined commands are never lost, nor read twice), and one reply buffer that
   is written out before we wait for the client (RFC 2920: replies to a group of commands
   go out together, and never later than the next wait). Both fds are non-blocking; each
   wait has a deadline of io->timeout seconds (control/timeoutsmtpd), and the session's
   bounds (lib/connbound.h, control/smtpdlimits) when io->bound is set. */
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>

#include "connbound.h"
#include "smtpd.h"

int smtpd_write_until(int fd, char const *s, size_t n, tain const *deadline)
{
  while (n) {
    iopause_fd x = { .fd = fd, .events = IOPAUSE_WRITE, .revents = 0 };
    ssize_t w = write(fd, s, n);
    int r;
    if (w > 0) {
      s += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
    r = iopause_g(&x, 1, deadline);
    if (r < 0 && errno != EINTR) return -1;
    if (!r) return (errno = ETIMEDOUT, -1);
    if (x.revents & (POLLERR | POLLNVAL)) return (errno = EPIPE, -1);
  }
  return 0;
}

static void deadline_in(tain *d, unsigned int secs)
{
  tain_now_g();
  tain_addsec_g(d, secs);
}

void smtpd_io_init(smtpd_io *io, int infd, int outfd, unsigned int timeout)
{
  buffer_init(&io->in, &buffer_read, infd, io->inbuf, sizeof io->inbuf);
  buffer_init(&io->out, &buffer_write, outfd, io->outbuf, sizeof io->outbuf);
  io->timeout = timeout;
  io->bound = 0;
  ndelay_on(infd);
  ndelay_on(outfd);
}

/* Writes both parts of the ring in one writev(), looping only on a short write. Two write()s
   here were issue 18: when the replies wrapped the end of outbuf (every 14 messages or so
   on a kept connection), the second write()'s few bytes waited behind Nagle's algorithm
   until the client ACKed the first part, and a client that waits for the whole reply line
   before it answers sends that ACK only when its delayed-ACK timer fires (40 ms on
   Linux). One writev() makes one segment: the group of replies leaves at once. */
static int writev_until(int fd, struct iovec *v, unsigned int n, tain const *deadline, struct connbound *b)
{
  tain idleat = TAIN_ZERO;
  connbound_idlestart(b, &idleat);
  while (n && !v->iov_len) {
    v++;
    n--;
  }
  while (n) {
    iopause_fd x = { .fd = fd, .events = IOPAUSE_WRITE, .revents = 0 };
    ssize_t w = writev(fd, v, (int)n);
    int r;
    if (w > 0) {
      size_t left = (size_t)w;
      while (n && left >= v->iov_len) {
        left -= v->iov_len;
        v++;
        n--;
      }
      if (n) {
        v->iov_base = (char *)v->iov_base + left;
        v->iov_len -= left;
      }
      while (n && !v->iov_len) {
        v++;
        n--;
      }
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
    {
      tain d;
      enum cb_kind kind = connbound_deadline(b, CB_OUT, deadline, &idleat, &d);
      r = iopause_g(&x, 1, &d);
      if (r < 0 && errno != EINTR) return -1;
      if (!r) {
        if (connbound_expired(b, kind, &idleat)) return (errno = ETIMEDOUT, -1);
        continue;
      }
    }
    if (x.revents & (POLLERR | POLLNVAL)) return (errno = EPIPE, -1);
  }
  return 0;
}

int smtpd_io_flush(smtpd_io *io)
{
  struct iovec v[2];
  tain deadline;
  size_t n;
  buffer_rpeek(&io->out, v);
  n = v[0].iov_len + v[1].iov_len;
  if (!n) return 0;
  deadline_in(&deadline, io->timeout);
  if (writev_until(buffer_fd(&io->out), v, 2, &deadline, io->bound) < 0) return -1;
  buffer_rseek(&io->out, n);
  return 0;
}

int smtpd_io_put(smtpd_io *io, char const *s, size_t n)
{
  while (n) {
    size_t room = buffer_available(&io->out), k = n < room ? n : room;
    if (!k) {
      if (smtpd_io_flush(io) < 0) return -1;
      continue;
    }
    buffer_putnoflush(&io->out, s, k);
    s += k;
    n -= k;
  }
  return 0;
}

ssize_t smtpd_io_fill(smtpd_io *io)
{
  tain deadline, idleat = TAIN_ZERO;
  int fd = buffer_fd(&io->in);
  /* replies went out: the client's turn begins (its rate is measured from its first byte) */
  if (buffer_len(&io->out)) connbound_turn(io->bound, CB_IN);
  if (smtpd_io_flush(io) < 0) return -1;
  deadline_in(&deadline, io->timeout);
  connbound_idlestart(io->bound, &idleat);
  for (;;) {
    struct iovec v[2];
    iopause_fd x = { .fd = fd, .events = IOPAUSE_READ, .revents = 0 };
    ssize_t r;
    int k;
    buffer_wpeek(&io->in, v);
    if (!v[0].iov_len && !v[1].iov_len) return (ssize_t)buffer_len(&io->in); /* full */
    r = readv(fd, v, v[1].iov_len ? 2 : 1);
    if (r > 0) {
      buffer_wseek(&io->in, (size_t)r);
      connbound_bytes(io->bound, CB_IN, (uint64_t)r);
      return r;
    }
    if (!r) return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
    {
      tain d;
      enum cb_kind kind = connbound_deadline(io->bound, CB_IN, &deadline, &idleat, &d);
      k = iopause_g(&x, 1, &d);
      if (k < 0 && errno != EINTR) return -1;
      if (!k && connbound_expired(io->bound, kind, &idleat)) return (errno = ETIMEDOUT, -1);
    }
  }
}

char const *smtpd_io_why(smtpd_io const *io)
{
  return io->bound && io->bound->cut ? io->bound->cut : "timeout";
}
