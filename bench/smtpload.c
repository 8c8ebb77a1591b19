/* smtpload: the SMTP client of `make bench` (what Postfix's smtp-source does, kept in the
   project so the bench runs without Postfix). CONC threads, each with blocking sockets and
   a timeout on every read and write, share COUNT messages: a connection carries up to
   PERCONN of them, then QUIT. Every reply is read before the next command (no pipelining),
   as a plain client does. Prints one line:
   "smtpload sent=N ok=N fail=N conns=N secs=X rate=R" (ok: messages answered 250 after DATA).
   Usage: smtpload [-c CONC] [-m PERCONN] [-s SIZE] [-r RCPTS] [-t SECS] IP PORT COUNT FROM RCPT
   RCPT may hold one %d, replaced by the recipient's number (0..RCPTS-1). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CONC_MAX 500
#define COUNT_MAX 10000000UL
#define SIZE_MAX_ (64UL << 20)
#define RCPT_MAX 1000
#define LINE_MAX_ 1000 /* one reply line, RFC 5321 4.5.3.1.5: 512; generous */
#define ADDR_MAX 256

struct job {
  struct sockaddr_storage sa;
  socklen_t salen;
  unsigned long count, perconn, rcpts;
  unsigned timeout;
  char const *from, *rcpt;
  char *body; /* CRLF lines, dot-stuffed, ending in ".\r\n" */
  size_t bodylen;
  atomic_ulong next, ok, fail, conns;
};

struct conn {
  int fd;
  char buf[4096];
  size_t len;
};

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sendall(int fd, char const *s, size_t n)
{
  while (n) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads one reply (multi-line included); returns its code, or -1. */
static int reply(struct conn *c)
{
  for (unsigned lines = 0; lines < 100;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      size_t l = (size_t)(nl - c->buf) + 1;
      int code = -1, last = 0;
      /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): l bytes up to the newline were received */
      if (l >= 4 && c->buf[0] >= '0' && c->buf[0] <= '9') {
        code = (int)strtol(c->buf, 0, 10);
        last = c->buf[3] != '-';
      }
      memmove(c->buf, c->buf + l, c->len - l);
      c->len -= l;
      lines++;
      if (code < 0) return -1;
      if (last) return code;
      continue;
    }
    if (c->len == sizeof c->buf) return -1; /* a line over 4 KB: not SMTP */
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    c->len += (size_t)r;
  }
  return -1;
}

static int cmd(struct conn *c, char const *line)
{
  if (sendall(c->fd, line, strlen(line)) < 0) return -1;
  return reply(c);
}

/* One message on an open connection: 1 if accepted, 0 if refused, -1 if the connection broke. */
static int message(struct job *j, struct conn *c)
{
  char line[LINE_MAX_];
  unsigned long okr = 0;
  int code;
  snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", j->from);
  code = cmd(c, line);
  if (code < 0) return -1;
  if (code != 250) return 0;
  for (unsigned long r = 0; r < j->rcpts; r++) {
    char addr[ADDR_MAX];
    /* the pattern was checked in main: at most one %d and nothing else */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(addr, sizeof addr, j->rcpt, (int)r);
#pragma GCC diagnostic pop
    snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", addr);
    code = cmd(c, line);
    if (code < 0) return -1;
    okr += code == 250;
  }
  if (!okr) return cmd(c, "RSET\r\n") < 0 ? -1 : 0;
  code = cmd(c, "DATA\r\n");
  if (code < 0) return -1;
  if (code != 354) return 0;
  if (sendall(c->fd, j->body, j->bodylen) < 0) return -1;
  code = reply(c);
  if (code < 0) return -1;
  return code == 250;
}

static void *worker(void *arg)
{
  struct job *j = arg;
  struct timeval tv = { (time_t)j->timeout, 0 };
  int one = 1;
  for (;;) {
    unsigned long first = atomic_fetch_add(&j->next, j->perconn), n;
    struct conn c;
    if (first >= j->count) break;
    n = j->count - first < j->perconn ? j->count - first : j->perconn;
    atomic_fetch_add(&j->conns, 1);
    c.len = 0;
    c.fd = socket(j->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      atomic_fetch_add(&j->fail, n);
      continue;
    }
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, (struct sockaddr *)&j->sa, j->salen) < 0 || reply(&c) != 220 || cmd(&c, "EHLO bench.test\r\n") != 250) {
      close(c.fd);
      atomic_fetch_add(&j->fail, n);
      continue;
    }
    unsigned long done = 0;
    for (; done < n; done++) {
      int r = message(j, &c);
      if (r < 0) break;
      atomic_fetch_add(r ? &j->ok : &j->fail, 1);
    }
    if (done < n) atomic_fetch_add(&j->fail, n - done);
    else cmd(&c, "QUIT\r\n");
    close(c.fd);
  }
  return 0;
}

static unsigned long num(char const *s, unsigned long max)
{
  char *end;
  unsigned long x;
  errno = 0;
  x = strtoul(s, &end, 10);
  if (errno || !*s || *end || !x || x > max) {
    fprintf(stderr, "smtpload: fatal: bad number %s (1 to %lu)\n", s, max);
    exit(100);
  }
  return x;
}

static _Noreturn void usage(void)
{
  fprintf(stderr, "usage: smtpload [-c CONC] [-m PERCONN] [-s SIZE] [-r RCPTS] [-t SECS] IP PORT COUNT FROM RCPT\n");
  exit(100);
}

/* The message: a few headers, then lines of 76 letters up to about size bytes. */
static void makebody(struct job *j, unsigned long size)
{
  size_t cap = size + 1024, n;
  char *b = malloc(cap);
  if (!b) {
    fprintf(stderr, "smtpload: fatal: out of memory\n");
    exit(111);
  }
  n = (size_t)snprintf(b, cap, "From: <%s>\r\nTo: <bench@bench.test>\r\nSubject: bench\r\n"
                               "Message-ID: <bench@bench.test>\r\n\r\n", j->from);
  while (n + 78 <= size) {
    for (int k = 0; k < 76; k++) b[n + (size_t)k] = (char)('a' + (n + (size_t)k) % 26);
    b[n + 76] = '\r';
    b[n + 77] = '\n';
    n += 78;
  }
  memcpy(b + n, ".\r\n", 3);
  j->body = b;
  j->bodylen = n + 3;
}

int main(int argc, char **argv)
{
  static struct job j;
  static pthread_t th[CONC_MAX];
  unsigned long conc = 1, size = 2048, port;
  struct sockaddr_in *s4 = (struct sockaddr_in *)&j.sa;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&j.sa;
  char const *p;
  double t0, t1;
  int opt;
  j.perconn = 1;
  j.rcpts = 1;
  j.timeout = 120;
  while ((opt = getopt(argc, argv, "c:m:s:r:t:")) != -1) {
    switch (opt) {
    case 'c': conc = num(optarg, CONC_MAX); break;
    case 'm': j.perconn = num(optarg, COUNT_MAX); break;
    case 's': size = num(optarg, SIZE_MAX_); break;
    case 'r': j.rcpts = num(optarg, RCPT_MAX); break;
    case 't': j.timeout = (unsigned)num(optarg, 3600); break;
    default: usage();
    }
  }
  if (argc - optind != 5) usage();
  port = num(argv[optind + 1], 65535);
  j.count = num(argv[optind + 2], COUNT_MAX);
  j.from = argv[optind + 3];
  j.rcpt = argv[optind + 4];
  if (strlen(j.from) > 200 || strlen(j.rcpt) > 200) usage();
  p = strchr(j.rcpt, '%');
  if (p && (p[1] != 'd' || strchr(p + 1, '%'))) {
    fprintf(stderr, "smtpload: fatal: RCPT may hold one %%d and no other %%\n");
    return 100;
  }
  if (!p && j.rcpts > 1) {
    fprintf(stderr, "smtpload: fatal: several recipients need a %%d in RCPT\n");
    return 100;
  }
  memset(&j.sa, 0, sizeof j.sa);
  if (inet_pton(AF_INET, argv[optind], &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((unsigned short)port);
    j.salen = sizeof *s4;
  } else if (inet_pton(AF_INET6, argv[optind], &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((unsigned short)port);
    j.salen = sizeof *s6;
  } else {
    fprintf(stderr, "smtpload: fatal: not an IP address: %s\n", argv[optind]);
    return 100;
  }
  makebody(&j, size);
  t0 = now();
  for (unsigned long i = 0; i < conc; i++)
    if (pthread_create(&th[i], 0, worker, &j)) {
      fprintf(stderr, "smtpload: fatal: unable to start a thread\n");
      return 111;
    }
  for (unsigned long i = 0; i < conc; i++) pthread_join(th[i], 0);
  t1 = now();
  printf("smtpload sent=%lu ok=%lu fail=%lu conns=%lu secs=%.6f rate=%.1f\n", j.count, (unsigned long)j.ok,
         (unsigned long)j.fail, (unsigned long)j.conns, t1 - t0, (double)j.ok / (t1 - t0));
  return j.fail ? 1 : 0;
}
