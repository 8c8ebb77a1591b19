/* The connection to a POP3 server: TCP with a deadline, TLS by libtls (POP3S from the first
   byte, or after STLS), and a bounded line reader. skalibs' timed_getlnmax reads a buffer
   on a file descriptor, but libtls keeps decrypted bytes the descriptor's readiness does
   not show: so one reader for both, every wait an iopause with the caller's deadline. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tls.h>

#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>

#include "fetch.h"

#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

static void seterr(fetch_conn *c, char const *what, char const *why)
{
  snprintf(c->err, sizeof c->err, "%s: %s", what, why ? why : "unknown error");
}

/* waits for ev on c->fd until deadline: 1, 0 timeout, -1 error */
static int waitfd(fetch_conn *c, short ev, tain const *deadline)
{
  iopause_fd x = { .fd = c->fd, .events = ev, .revents = 0 };
  for (;;) {
    int r = iopause_g(&x, 1, deadline);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r;
    return 1;
  }
}

int fetch_conn_open(fetch_conn *c, char const *host, uint16_t port, tain const *deadline)
{
  struct addrinfo hints, *res = 0, *ai;
  char ps[8];
  int e;
  c->fd = -1;
  c->tls = 0;
  c->rpos = c->rlen = 0;
  c->err[0] = c->tlsinfo[0] = 0;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  snprintf(ps, sizeof ps, "%u", (unsigned)port);
  e = getaddrinfo(host, ps, &hints, &res);
  if (e) {
    seterr(c, "unable to find the server's address", gai_strerror(e));
    return -1;
  }
  seterr(c, "unable to connect", "no address");
  for (ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol), w, se = 0;
    socklen_t sl = sizeof se;
    if (fd < 0) continue;
    c->fd = fd;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
      seterr(c, "unable to connect", strerror(errno));
    } else if ((w = waitfd(c, IOPAUSE_WRITE, deadline)) <= 0) {
      seterr(c, "unable to connect", w ? strerror(errno) : "timed out");
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &se, &sl) < 0 || se) {
      seterr(c, "unable to connect", strerror(se ? se : errno));
    } else {
      freeaddrinfo(res);
      return 0;
    }
    fd_close(fd);
    c->fd = -1;
  }
  freeaddrinfo(res);
  return -1;
}

int fetch_conn_tls(fetch_conn *c, char const *cafile, char const *name, tain const *deadline)
{
  struct tls_config *cfg;
  char const *ca = cafile && *cafile ? cafile : SYSTEM_CA;
  /* bytes the server sent before the handshake came in clear: they must not be read as
     answers under TLS (the STARTTLS injection of CVE-2011-0411) */
  if (c->rpos < c->rlen) {
    seterr(c, "TLS", "the server sent data after its answer to STLS");
    return -1;
  }
  if (tls_init() < 0 || !(cfg = tls_config_new())) {
    seterr(c, "TLS", "out of memory");
    return -1;
  }
  if (tls_config_set_ca_file(cfg, ca) < 0) {
    char buf[240];
    snprintf(buf, sizeof buf, "unable to load the CA file %.100s: %.80s", ca, tls_config_error(cfg));
    seterr(c, "TLS", buf);
    tls_config_free(cfg);
    return -1;
  }
  c->tls = tls_client();
  if (!c->tls) {
    tls_config_free(cfg);
    seterr(c, "TLS", "out of memory");
    return -1;
  }
  if (tls_configure(c->tls, cfg) < 0 || tls_connect_socket(c->tls, c->fd, name) < 0) {
    seterr(c, "TLS set-up", tls_error(c->tls));
    tls_config_free(cfg);
    return -1;
  }
  tls_config_free(cfg);
  for (;;) {
    int r = tls_handshake(c->tls), w;
    if (!r) break;
    if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT) {
      seterr(c, "TLS handshake", tls_error(c->tls));
      return -1;
    }
    w = waitfd(c, r == TLS_WANT_POLLIN ? IOPAUSE_READ : IOPAUSE_WRITE, deadline);
    if (w <= 0) {
      seterr(c, "TLS handshake", w ? strerror(errno) : "timed out");
      return -1;
    }
  }
  snprintf(c->tlsinfo, sizeof c->tlsinfo, "%s %s", tls_conn_version(c->tls) ? tls_conn_version(c->tls) : "TLS",
           tls_conn_cipher(c->tls) ? tls_conn_cipher(c->tls) : "");
  for (char *p = c->tlsinfo; *p; p++)
    if (*p < 0x21 || *p > 0x7e || *p == '(' || *p == ')' || *p == ';' || *p == '"' || *p == '\\') *p = p[1] ? '_' : 0;
  return 0;
}

/* one read or tls_read into c->rbuf: >0 bytes, 0 end, -1 error (c->err) */
static ssize_t fill(fetch_conn *c, tain const *deadline)
{
  for (;;) {
    ssize_t r;
    short ev = IOPAUSE_READ;
    int w;
    if (c->tls) {
      r = tls_read(c->tls, c->rbuf, sizeof c->rbuf);
      if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) ev = r == TLS_WANT_POLLIN ? IOPAUSE_READ : IOPAUSE_WRITE;
      else if (r < 0) {
        seterr(c, "TLS read", tls_error(c->tls));
        return -1;
      } else return r;
    } else {
      r = read(c->fd, c->rbuf, sizeof c->rbuf);
      if (r >= 0) return r;
      if (errno != EAGAIN && errno != EINTR) {
        seterr(c, "read", strerror(errno));
        return -1;
      }
    }
    w = waitfd(c, ev, deadline);
    if (w <= 0) {
      errno = w ? errno : ETIMEDOUT;
      seterr(c, "read", w ? strerror(errno) : "timed out");
      return -1;
    }
  }
}

int fetch_conn_getline(fetch_conn *c, char *line, size_t max, size_t *len, tain const *deadline)
{
  size_t n = 0;
  for (;;) {
    while (c->rpos < c->rlen) {
      char ch = c->rbuf[c->rpos++];
      if (ch == '\n') {
        *len = n;
        return 1;
      }
      if (n >= max) {
        errno = EMSGSIZE;
        snprintf(c->err, sizeof c->err, "the server sent a line longer than %zu bytes", max);
        return -1;
      }
      line[n++] = ch;
    }
    {
      ssize_t r = fill(c, deadline);
      if (r < 0) return -1;
      if (!r) {
        errno = EPIPE;
        seterr(c, "read", "the server closed the connection");
        return -1;
      }
      c->rpos = 0;
      c->rlen = (size_t)r;
    }
  }
}

int fetch_conn_put(fetch_conn *c, char const *s, size_t n, tain const *deadline)
{
  while (n) {
    ssize_t r;
    short ev = IOPAUSE_WRITE;
    int w;
    if (c->tls) {
      r = tls_write(c->tls, s, n);
      if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) ev = r == TLS_WANT_POLLIN ? IOPAUSE_READ : IOPAUSE_WRITE;
      else if (r < 0) {
        seterr(c, "TLS write", tls_error(c->tls));
        return -1;
      }
    } else {
      r = write(c->fd, s, n);
      if (r < 0 && errno != EAGAIN && errno != EINTR) {
        seterr(c, "write", strerror(errno));
        return -1;
      }
    }
    if (r > 0) {
      s += r;
      n -= (size_t)r;
      continue;
    }
    w = waitfd(c, ev, deadline);
    if (w <= 0) {
      seterr(c, "write", w ? strerror(errno) : "timed out");
      return -1;
    }
  }
  return 0;
}

void fetch_conn_close(fetch_conn *c)
{
  if (c->tls) {
    /* a close_notify if it goes at once; the server has nothing more to say to us */
    (void)tls_close(c->tls);
    tls_free(c->tls);
    c->tls = 0;
  }
  if (c->fd >= 0) fd_close(c->fd);
  c->fd = -1;
}
