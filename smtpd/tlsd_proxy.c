/* The proxy: bytes between the client's connection (fds 0 and 1) and the server program's
   pipes, in clear until the server asks for TLS on the control socket, encrypted after the
   handshake. The only code of mailroom that calls libtls. One loop, no thread: every step
   that can be done without waiting is done, then one poll with a deadline.

   STARTTLS (RFC 3207 5, CVE-2011-0411): the server flushes what it wrote, then sends 'S'
   with its go-ahead reply ("220 Ready to start TLS", "+OK begin TLS") on the control
   socket. Here the server's pending output is written out in clear, whatever the client
   sent that was not handed over yet is dropped (what is in our buffer and what can be read
   now), and only then is the go-ahead written: the client's first handshake bytes can only
   arrive after it, so none is lost to the plaintext side, and no plaintext is passed on
   after the server asked for TLS. Then the handshake is made, and the
   server gets a NEW pipe for its input (with the TLS text), so that even the bytes already
   in the old pipe are never read as commands. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <tls.h>

#include <skalibs/strerr.h>

#include "tlsd.h"

#define BUFSZ 16384

struct dir {
  char b[BUFSZ];
  size_t len, pos;
};

struct px {
  struct tls *srv, *c; /* c: the connection once encrypted */
  int cin, cout, ctl;  /* to the server's stdin, from its stdout, control */
  int neteof, childeof;
  struct dir up, down; /* up: client -> server, down: server -> client */
  struct tlsd_opts const *o;
};

static long ms_left(struct timespec const *dl)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (dl->tv_sec - t.tv_sec) * 1000 + (dl->tv_nsec - t.tv_nsec) / 1000000;
}

static void deadline(struct timespec *dl, unsigned int secs)
{
  clock_gettime(CLOCK_MONOTONIC, dl);
  dl->tv_sec += secs;
}

/* Waits for fd to be ready for events, until dl: 1, 0 timeout, -1 error. */
static int wait1(int fd, short events, struct timespec const *dl)
{
  for (;;) {
    struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
    long l = ms_left(dl);
    int r;
    if (l <= 0) return 0;
    r = poll(&p, 1, (int)l);
    if (r > 0) return 1;
    if (!r) return 0;
    if (errno != EINTR) return -1;
  }
}

/* Writes everything to the client in clear (before the handshake), bounded in time. */
static int net_write_all(char const *s, size_t n, unsigned int secs)
{
  struct timespec dl;
  deadline(&dl, secs);
  while (n) {
    ssize_t w = write(1, s, n);
    if (w > 0) {
      s += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (wait1(1, POLLOUT, &dl) <= 0) return -1;
    } else return -1;
  }
  return 0;
}

int tlsd_handshake(struct tls *srv, struct tls **c, unsigned int secs)
{
  struct timespec dl;
  if (tls_accept_fds(srv, c, 0, 1) < 0) {
    strerr_warnw("tls_accept_fds: ", tls_error(srv));
    return -1;
  }
  deadline(&dl, secs);
  for (;;) {
    int r = tls_handshake(*c);
    if (!r) return 0;
    if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
      if (wait1(r == TLS_WANT_POLLIN ? 0 : 1, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT, &dl) <= 0) {
        strerr_warnw("TLS handshake: timed out or connection lost");
        return -1;
      }
      continue;
    }
    strerr_warnw("TLS handshake failed: ", tls_error(*c) ? tls_error(*c) : "?");
    return -1;
  }
}

void tlsd_info(struct tls *c, char *info)
{
  char const *v = tls_conn_version(c), *ci = tls_conn_cipher(c);
  size_t vl = v ? strlen(v) : 0, cl = ci ? strlen(ci) : 0;
  if (!vl || !cl || vl + cl + 2 > TLSD_INFO_MAX) {
    memcpy(info, "TLS unknown", 12);
    return;
  }
  memcpy(info, v, vl);
  info[vl] = ' ';
  memcpy(info + vl + 1, ci, cl + 1);
  if (!tlsctl_info_ok(info, info)) memcpy(info, "TLS unknown", 12);
}

/* Sends the TLS text and fd (the new read end of the server's input) on ctl. */
static int ctl_send(int ctl, char const *info, int fd)
{
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(sizeof(int))];
  } cm;
  struct iovec v = { .iov_base = (void *)info, .iov_len = strlen(info) };
  struct msghdr m;
  struct cmsghdr *c;
  memset(&m, 0, sizeof m);
  memset(&cm, 0, sizeof cm);
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = cm.b;
  m.msg_controllen = sizeof cm.b;
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(ctl, &m, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* The server asked for TLS. 0 encrypted from now on, -1 the session is over. */
static int starttls(struct px *p, char const *go, size_t golen)
{
  char info[TLSD_INFO_MAX + 1];
  int np[2];
  /* what the server wrote before asking ("220 Ready to start TLS") goes out in clear */
  if (p->down.len - p->down.pos &&
      net_write_all(p->down.b + p->down.pos, p->down.len - p->down.pos, p->o->timeout) < 0)
    return -1;
  p->down.len = p->down.pos = 0;
  for (;;) {
    ssize_t r = read(p->cout, p->down.b, sizeof p->down.b);
    if (r > 0) {
      if (net_write_all(p->down.b, (size_t)r, p->o->timeout) < 0) return -1;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    break;
  }
  /* the client's bytes sent after STARTTLS and before the go-ahead: never passed on, and
     what it sends from now on is its side of the handshake */
  p->up.len = p->up.pos = 0;
  for (;;) {
    ssize_t r = read(0, p->up.b, sizeof p->up.b);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    if (!r) return -1; /* the client went away */
    break;             /* EAGAIN: nothing more now (fd 0 is non-blocking) */
  }
  if (net_write_all(go, golen, p->o->timeout) < 0) return -1;
  if (tlsd_handshake(p->srv, &p->c, p->o->hstimeout) < 0) return -1;
  tlsd_info(p->c, info);
  if (pipe2(np, O_CLOEXEC) < 0) return -1;
  if (ctl_send(p->ctl, info, np[0]) < 0) {
    close(np[0]);
    close(np[1]);
    return -1;
  }
  close(np[0]);
  close(p->cin);
  p->cin = np[1];
  fcntl(p->cin, F_SETFL, fcntl(p->cin, F_GETFL) | O_NONBLOCK);
  strerr_warni("STARTTLS: ", info);
  return 0;
}

/* Client -> us. 1 progress, 0 nothing now (*want: what to wait for), -1 the client is gone. */
static int net_read(struct px *p, short *want)
{
  ssize_t r;
  if (p->c) {
    r = tls_read(p->c, p->up.b, sizeof p->up.b);
    if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
      *want = r == TLS_WANT_POLLIN ? POLLIN : POLLOUT;
      return 0;
    }
  } else {
    r = read(0, p->up.b, sizeof p->up.b);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
      *want = POLLIN;
      return 0;
    }
  }
  if (r <= 0) return -1;
  p->up.len = (size_t)r;
  p->up.pos = 0;
  return 1;
}

/* Us -> client. Same returns. */
static int net_write(struct px *p, short *want)
{
  ssize_t w;
  size_t n = p->down.len - p->down.pos;
  if (p->c) {
    w = tls_write(p->c, p->down.b + p->down.pos, n);
    if (w == TLS_WANT_POLLIN || w == TLS_WANT_POLLOUT) {
      *want = w == TLS_WANT_POLLIN ? POLLIN : POLLOUT;
      return 0;
    }
  } else {
    w = write(1, p->down.b + p->down.pos, n);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      *want = POLLOUT;
      return 0;
    }
  }
  if (w <= 0) return -1;
  p->down.pos += (size_t)w;
  if (p->down.pos == p->down.len) p->down.len = p->down.pos = 0;
  return 1;
}

int tlsd_proxy(struct tls *srv, struct tls *c, int cin, int cout, int ctl, struct tlsd_opts const *o)
{
  static struct px p; /* 32 KiB of buffers: not on the stack */
  struct timespec idle;
  p.srv = srv;
  p.c = c;
  p.cin = cin;
  p.cout = cout;
  p.ctl = ctl;
  p.o = o;
  deadline(&idle, o->timeout);
  while (!p.childeof || p.down.len) {
    struct pollfd f[5];
    short nwr = 0, nww = 0;
    int progress = 0, n = 0, r;
    /* client -> server */
    if (!p.neteof && !p.up.len) {
      r = net_read(&p, &nwr);
      if (r < 0) {
        p.neteof = 1;
        if (p.cin >= 0) close(p.cin), p.cin = -1; /* the server sees the end */
      }
      progress |= r != 0;
    }
    if (p.up.len) {
      ssize_t w = p.cin >= 0 ? write(p.cin, p.up.b + p.up.pos, p.up.len - p.up.pos) : -1;
      if (w > 0) {
        p.up.pos += (size_t)w;
        if (p.up.pos == p.up.len) p.up.len = p.up.pos = 0;
        progress = 1;
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        p.up.len = p.up.pos = 0; /* the server stopped reading: drop */
        progress = 1;
      }
    }
    /* server -> client */
    if (!p.childeof && !p.down.len) {
      ssize_t k = read(p.cout, p.down.b, sizeof p.down.b);
      if (k > 0) p.down.len = (size_t)k, p.down.pos = 0, progress = 1;
      else if (!k || (errno != EAGAIN && errno != EINTR)) p.childeof = 1, progress = 1;
    }
    if (p.down.len) {
      r = net_write(&p, &nww);
      if (r < 0) return 0; /* the client is gone: nothing more to do */
      progress |= r;
    }
    /* the control socket: only read when nothing is pending from the server, so that its
       reply before 'S' is surely read first (it wrote it before) */
    if (p.ctl >= 0 && !p.c) {
      char b[1 + TLSD_GO_MAX];
      ssize_t k = recv(p.ctl, b, sizeof b, MSG_DONTWAIT);
      if (k >= 1 && b[0] == 'S') {
        if (starttls(&p, b + 1, (size_t)k - 1) < 0) return -1;
        progress = 1;
      } else if (!k || (k < 0 && errno != EAGAIN && errno != EINTR)) {
        close(p.ctl);
        p.ctl = -1;
      }
    }
    if (progress) {
      deadline(&idle, o->timeout);
      continue;
    }
    if (!p.neteof && !p.up.len) f[n++] = (struct pollfd){ .fd = nwr == POLLOUT ? 1 : 0, .events = nwr ? nwr : POLLIN };
    if (p.up.len && p.cin >= 0) f[n++] = (struct pollfd){ .fd = p.cin, .events = POLLOUT };
    if (!p.childeof && !p.down.len) f[n++] = (struct pollfd){ .fd = p.cout, .events = POLLIN };
    if (p.down.len) f[n++] = (struct pollfd){ .fd = nww == POLLIN ? 0 : 1, .events = nww ? nww : POLLOUT };
    if (p.ctl >= 0 && !p.c) f[n++] = (struct pollfd){ .fd = p.ctl, .events = POLLIN };
    {
      long l = ms_left(&idle);
      if (l <= 0) {
        strerr_warnw("nothing moved for the timeout (-t): closing the connection");
        return -1;
      }
      r = poll(f, (nfds_t)n, (int)l);
      if (r < 0 && errno != EINTR) return -1;
    }
  }
  if (p.c) {
    struct timespec dl;
    deadline(&dl, 5);
    for (;;) {
      int r = tls_close(p.c);
      if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
        if (wait1(r == TLS_WANT_POLLIN ? 0 : 1, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT, &dl) <= 0) break;
        continue;
      }
      break;
    }
  }
  return 0;
}
