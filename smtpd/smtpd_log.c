/* The log: one line per session, per transaction and per refused recipient, on fd 2
   (tcpserver's and the service's log), in mailroom-send's key=value form. Values come
   from the client, so every byte that could fake a field or a line is escaped. Under an
   inetd, fd 2 is the client's socket: a forked forwarder then takes fd 2's lines to
   syslog (facility mail), so that no log line ever reaches the client. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "smtpd.h"

int smtpd_log_esc(stralloc *sa, char const *s, size_t n, int quoted)
{
  static char const hex[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c > 32 || (c == 32 && quoted)) && c < 127 && c != '"' && c != '\\' && c != '<' && c != '>' && c != ',') {
      if (!stralloc_catb(sa, (char *)&c, 1)) return 0;
    } else {
      char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
      if (!stralloc_catb(sa, e, 4)) return 0;
    }
  }
  return 1;
}

void smtpd_log_line(char const *event, char const *text, size_t len)
{
  char line[SMTPD_LOG_MAX + 8];
  size_t w = 0, i;
  for (i = 0; "smtpd "[i]; i++) line[w++] = "smtpd "[i];
  for (i = 0; event[i] && w < 40; i++) line[w++] = event[i];
  line[w++] = ' ';
  if (len > SMTPD_LOG_MAX - w) {
    for (i = 0; i < SMTPD_LOG_MAX - w - 3; i++) line[w + i] = text[i];
    w += i;
    line[w++] = '.', line[w++] = '.', line[w++] = '.';
  } else {
    for (i = 0; i < len; i++) line[w + i] = text[i];
    w += len;
  }
  line[w++] = '\n';
  /* one write per line, so lines of concurrent sessions never mix in the log pipe */
  while (write(2, line, w) < 0 && errno == EINTR) ;
}

/* The forwarder's loop: lines from fd 0 to syslog, each cut at SMTPD_LOG_MAX. */
static void forward(void)
{
  char buf[SMTPD_LOG_MAX + 1];
  size_t len = 0;
  openlog("mailroom-smtpd", LOG_PID, LOG_MAIL);
  for (;;) {
    ssize_t r = read(0, buf + len, sizeof buf - 1 - len);
    size_t i, start = 0;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
    for (i = 0; i < len; i++) {
      if (buf[i] != '\n') continue;
      buf[i] = 0;
      syslog(LOG_INFO, "%s", buf + start);
      start = i + 1;
    }
    memmove(buf, buf + start, len - start);
    len -= start;
    if (len == sizeof buf - 1) {
      buf[len] = 0;
      syslog(LOG_INFO, "%s", buf);
      len = 0;
    }
  }
  if (len) {
    buf[len] = 0;
    syslog(LOG_INFO, "%s", buf);
  }
  _exit(0);
}

int smtpd_log_inetd(void)
{
  struct stat a, b;
  int p[2];
  pid_t pid;
  if (fstat(0, &a) < 0 || fstat(2, &b) < 0) return 0;
  if (!S_ISSOCK(b.st_mode) || a.st_dev != b.st_dev || a.st_ino != b.st_ino) return 0;
  if (pipe(p) < 0) return -1;
  pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (!pid) {
    /* the forwarder must not hold the client's connection open */
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(p[0], 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(111);
    close(null);
    close(p[0]);
    close(p[1]);
    forward();
  }
  close(p[0]);
  if (dup2(p[1], 2) < 0) return -1;
  close(p[1]);
  return 1;
}
