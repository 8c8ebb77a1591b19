/* Handing a message to the queue writer (lib/qwclient.h). Every wait is bounded (poll with
   a timeout); the socket is non-blocking, so no send or receive can hang. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qwclient.h"
#include "qwproto.h"

static void closeq(int *fd)
{
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void qwclient_close(qwclient *c)
{
  closeq(&c->sock);
  closeq(&c->msgfd);
  closeq(&c->envfd);
}

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One reply packet within the deadline: its kind ('G', 'V'), or -1 with errno. */
static int reply(int sock, long long deadline, int *code, char *id)
{
  char buf[QW_PACKET_MAX + 1];
  for (;;) {
    struct pollfd p = { .fd = sock, .events = POLLIN, .revents = 0 };
    ssize_t r = recv(sock, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
    long long left;
    int k;
    if (r > (ssize_t)QW_PACKET_MAX) return (errno = EPROTO, -1);
    if (r > 0) {
      k = qwproto_reply(buf, (size_t)r, code, id);
      return k ? k : (errno = EPROTO, -1);
    }
    if (!r || errno == ECONNRESET) return (errno = EPIPE, -1);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
    left = deadline - now_ms();
    if (left <= 0) return (errno = ETIMEDOUT, -1);
    if (poll(&p, 1, left > 60000 ? 60000 : (int)left) < 0 && errno != EINTR) return -1;
  }
}

int qwclient_start(qwclient *c, char const *path, int *refused)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  size_t n = strlen(path);
  int m[2] = { -1, -1 }, e[2] = { -1, -1 }, code = 0, k, err;
  char id[QID_MAX + 1];
  c->sock = c->msgfd = c->envfd = -1;
  c->pid = 0;
  if (refused) *refused = 0;
  if (n >= sizeof sa.sun_path) return (errno = ENAMETOOLONG, -1);
  memcpy(sa.sun_path, path, n + 1);
  c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->sock < 0) return -1;
  /* A unix socket connects at once or fails at once (EAGAIN when its backlog is full). */
  if (connect(c->sock, (struct sockaddr *)&sa, sizeof sa) < 0) goto fail;
  {
    struct ucred cr;
    socklen_t crl = sizeof cr;
    if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == 0) c->pid = cr.pid;
  }
  if (pipe2(m, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) goto fail;
  {
    union {
      struct cmsghdr h;
      char b[CMSG_SPACE(QW_NFDS * sizeof(int))];
    } cm;
    struct iovec iov = { .iov_base = (void *)QW_REQUEST, .iov_len = QW_REQUEST_LEN };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
    struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
    int fds[QW_NFDS] = { m[0], e[0] };
    memset(cm.b, 0, sizeof cm.b);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(h), fds, sizeof fds);
    if (sendmsg(c->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != QW_REQUEST_LEN) goto fail;
  }
  closeq(&m[0]);
  closeq(&e[0]);
  c->msgfd = m[1];
  c->envfd = e[1];
  k = reply(c->sock, now_ms() + QW_GO_WAIT * 1000LL, &code, id);
  if (k == 'G') return 0;
  if (k == 'V') {
    if (refused) *refused = code;
    errno = EBUSY;
  } else if (errno == EPIPE) errno = ECONNREFUSED;
  m[1] = e[1] = -1;
fail:
  err = errno;
  closeq(&m[0]);
  closeq(&m[1]);
  closeq(&e[0]);
  closeq(&e[1]);
  qwclient_close(c);
  errno = err;
  return -1;
}

int qwclient_verdict(qwclient *c, unsigned int secs, char *id)
{
  int code = 0, k;
  id[0] = 0;
  k = reply(c->sock, now_ms() + secs * 1000LL, &code, id);
  if (k < 0) return -1;
  if (k != 'V') return (errno = EPROTO, -1); /* a second go */
  return code;
}
