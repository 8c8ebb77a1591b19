/* The server programs' side of mailroom-tlsd: the STARTTLS/STLS request on the control
   socket (one byte out; back one packet with the TLS text and, as SCM_RIGHTS, the new read
   end of the connection) and the password verifier's request (one packet user\0pass\0,
   back one byte). Both sockets are SOCK_SEQPACKET made by mailroom-tlsd, so a packet is
   never cut or merged. libc only: mailroom-smtpd is static, mailroom-popup is not. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "tlsctl.h"

int tlsctl_envfd(char const *name)
{
  char const *e = getenv(name);
  long n = 0;
  if (!e || !*e || strlen(e) > 4) return -1;
  for (; *e; e++) {
    if (*e < '0' || *e > '9') return -1;
    n = n * 10 + (*e - '0');
  }
  if (n <= 2 || fcntl((int)n, F_GETFD) < 0) return -1;
  return (int)n;
}

int tlsctl_info_ok(char const *s, char *out)
{
  size_t i, n;
  if (!s) return 0;
  n = strlen(s);
  if (!n || n >= TLSD_INFO_MAX) return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c > 0x7e || strchr("()\\;\"", c)) return 0;
  }
  memcpy(out, s, n + 1);
  return 1;
}

int tlsctl_user_ok(char const *s, size_t len)
{
  size_t i;
  if (!len || len > TLSD_USER_MAX) return 0;
  if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) return 0;
  for (i = 0; i < len; i++)
    if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '/') return 0;
  return 1;
}

/* Waits for fd to be readable, at most secs seconds: 1, or -1 (ETIMEDOUT, poll's). */
static int wait_in(int fd, unsigned int secs)
{
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    long left;
    int r;
    clock_gettime(CLOCK_MONOTONIC, &t);
    left = (long)secs * 1000 - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0) return (errno = ETIMEDOUT, -1);
    r = poll(&p, 1, (int)left);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return -1;
  }
}

int tlsctl_starttls(int ctl, char const *go, size_t golen, char *info)
{
  char req[1 + TLSD_GO_MAX];
  char buf[TLSD_INFO_MAX + 1];
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(sizeof(int))];
  } cm;
  struct iovec v = { .iov_base = buf, .iov_len = sizeof buf - 1 };
  struct msghdr m;
  struct cmsghdr *c;
  ssize_t r;
  int fd = -1;
  if (golen > TLSD_GO_MAX) return (errno = EINVAL, -1);
  req[0] = 'S';
  memcpy(req + 1, go, golen);
  if (write(ctl, req, 1 + golen) != (ssize_t)(1 + golen)) return -1;
  if (wait_in(ctl, TLSD_CTL_WAIT) < 0) return -1;
  memset(&m, 0, sizeof m);
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = cm.b;
  m.msg_controllen = sizeof cm.b;
  do r = recvmsg(ctl, &m, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -1;
  for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
  if (r <= 0 || fd < 0 || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    if (fd >= 0) close(fd);
    return (errno = EPROTO, -1);
  }
  buf[r] = 0;
  if (!tlsctl_info_ok(buf, info)) {
    close(fd);
    return (errno = EPROTO, -1);
  }
  /* the old pipe, with whatever the client pipelined before the handshake, goes now */
  if (dup2(fd, 0) < 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

int tlsctl_verify(int fd, char const *user, size_t ulen, char const *pass, size_t plen)
{
  char req[TLSD_REQ_MAX];
  char c;
  ssize_t r;
  volatile char *w;
  size_t i;
  if (ulen > TLSD_USER_MAX || plen > TLSD_PASS_MAX || ulen + plen + 2 > sizeof req) return TLSD_AUTH_BAD;
  memcpy(req, user, ulen);
  req[ulen] = 0;
  memcpy(req + ulen + 1, pass, plen);
  req[ulen + 1 + plen] = 0;
  r = send(fd, req, ulen + plen + 2, MSG_NOSIGNAL);
  for (w = req, i = 0; i < sizeof req; i++) w[i] = 0;
  if (r != (ssize_t)(ulen + plen + 2)) return TLSD_AUTH_TEMP;
  if (wait_in(fd, TLSD_AUTH_WAIT) < 0) return TLSD_AUTH_TEMP;
  do r = read(fd, &c, 1);
  while (r < 0 && errno == EINTR);
  if (r != 1) return TLSD_AUTH_LAST; /* the verifier is gone: no more tries */
  if (c == TLSD_AUTH_OK || c == TLSD_AUTH_BAD || c == TLSD_AUTH_LAST) return c;
  return TLSD_AUTH_TEMP;
}
