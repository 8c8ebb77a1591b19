/* mailroom-smtpd: the SMTP receiver (RFC 5321 with PIPELINING, 8BITMIME, SIZE,
   ENHANCEDSTATUSCODES, SMTPUTF8). Started per connection by tcpserver or an inetd, as its
   own user (mrsmtpd), with the client on fds 0 and 1 and its log on fd 2. It trusts the
   files under auto_home and the environment its starter sets (TCPREMOTEIP, RELAYCLIENT,
   MAILROOM_QUEUE, MAILROOM_SUBMISSION, and mailroom-tlsd's MAILROOM_TLS, MAILROOM_TLSCTL,
   MAILROOM_AUTHFD: STARTTLS and AUTH, smtpd_auth.c); everything from the client is bounded in size and time, checked, and
   either refused with a reply or handed to mailroom-queue. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>

#include "auto_home.h"
#include "control.h"
#include "exitcodes.h"
#include "smtpd.h"
#include "qwclient.h"

#define QUEUE_PATH_MAX 4096

/* Before the conversation starts: a 421 to the client, then the reason in the log. */
static void unavailable(void)
{
  static char const r[] = "421 4.3.0 service not available (see the server's log), closing connection\r\n";
  ssize_t w = write(1, r, sizeof r - 1);
  (void)w;
}
static _Noreturn void die_root(void) { unavailable(); strerr_dief(EX_TEMP, "refusing to run as root: start me as mrsmtpd (tcpserver -u -g, or user in inetd.conf)"); }
static _Noreturn void die_home(void) { unavailable(); strerr_diefusys(EX_TEMP, "chdir to ", auto_home); }
static _Noreturn void die_control(char const *f) { unavailable(); strerr_diefusys(EX_TEMP, "read ", auto_home, "/", f); }
static _Noreturn void die_path(void) { unavailable(); strerr_dief(EX_TEMP, "the path of mailroom-queue is too long"); }
static _Noreturn void die_nomem(void) { unavailable(); strerr_dief(EX_TEMP, "out of memory"); }
/* The client holds control/smtpdlimits' perclient sessions already (logged: connrefused). */
static _Noreturn void die_perclient(void)
{
  static char const r[] = "421 4.7.0 too many connections from your address, try again later\r\n";
  ssize_t w = write(1, r, sizeof r - 1);
  (void)w;
  _exit(EX_TEMP);
}

/* fd 2 must exist, so that no file we open becomes it and gets our log. */
static void fds_check(void)
{
  if (fcntl(2, F_GETFD) < 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) _exit(EX_TEMP);
    if (fd != 2) {
      if (dup2(fd, 2) < 0) _exit(EX_TEMP);
      close(fd);
    }
  }
  if (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0) strerr_dief(EX_TEMP, "fd 0 or fd 1 (the client) is not open");
}

static unsigned long readnum(char const *file, unsigned long def)
{
  unsigned long u;
  if (control_readulong(file, &u, def) < 0) die_control(file);
  return u;
}

/* The client's address: TCPREMOTEIP from tcpserver, else the socket's peer (inetd,
   xinetd), else "unknown" (a pipe, a test). */
static void client_ip(char *ip, size_t n)
{
  struct sockaddr_storage ss = { 0 }; /* family 0 (unknown) unless getpeername fills it */
  socklen_t sl = sizeof ss;
  char const *e = getenv("TCPREMOTEIP");
  if (e && *e && strlen(e) < n && strspn(e, "0123456789abcdefABCDEF.:") == strlen(e)) {
    /* an IPv4 client of an IPv6 socket is shown as IPv4 */
    if (!strncasecmp(e, "::ffff:", 7) && strchr(e + 7, '.') && !strchr(e + 7, ':')) e += 7;
    memcpy(ip, e, strlen(e) + 1);
    return;
  }
  memcpy(ip, "unknown", sizeof "unknown");
  if (getpeername(0, (struct sockaddr *)&ss, &sl) < 0) return;
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, (socklen_t)n);
  } else if (ss.ss_family == AF_INET6) {
    struct in6_addr const *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) inet_ntop(AF_INET, a->s6_addr + 12, ip, (socklen_t)n);
    else inet_ntop(AF_INET6, a, ip, (socklen_t)n);
  }
}

int main(void)
{
  smtpd_conf cf;
  smtpd_io io;
  smtpd_limit lim;
  char qpath[QUEUE_PATH_MAX];
  char const *q;
  int r;
  PROG = "mailroom-smtpd";
  fds_check();
  if (smtpd_log_inetd() < 0) strerr_diefusys(EX_TEMP, "start the syslog forwarder for fd 2");
  if (sig_ignore(SIGPIPE) < 0) strerr_diefusys(EX_TEMP, "ignore SIGPIPE");
  sig_restore(SIGCHLD); /* an inherited SIG_IGN would make the injector unwaitable */
  tain_now_set_stopwatch_g();
  if (!geteuid() || !getuid()) die_root();
  if (chdir(auto_home) < 0) die_home();

  if (control_readline("control/me", cf.me, sizeof cf.me, "localhost") < 0) die_control("control/me");
  cf.databytes = readnum("control/databytes", 0);
  if (!cf.databytes) cf.databytes = SMTPD_DATABYTES_DEFAULT;
  cf.maxrcpt = readnum("control/maxrcpt", SMTPD_RCPT_DEFAULT);
  if (!cf.maxrcpt || cf.maxrcpt > SMTPD_RCPT_LIMIT) cf.maxrcpt = SMTPD_RCPT_LIMIT;
  cf.timeout = (unsigned int)readnum("control/timeoutsmtpd", SMTPD_TIMEOUT_DEFAULT);
  if (!cf.timeout || cf.timeout > 86400) cf.timeout = SMTPD_TIMEOUT_DEFAULT;
  client_ip(cf.ip, sizeof cf.ip);
  /* before any other work: a client over its limit costs one slot try and a reply */
  r = smtpd_limit_start(&lim, cf.ip, !!getenv("RELAYCLIENT"));
  if (r < 0) die_control(SMTPD_LIMITS);
  if (r > 0) die_perclient();

  cf.queuesock = 0;
  q = getenv("MAILROOM_QUEUE");
  if (!q || !*q) {
    size_t hl = strlen(auto_home);
    if (hl + sizeof "/bin/mailroom-queue" > sizeof qpath) die_path();
    memcpy(qpath, auto_home, hl);
    memcpy(qpath + hl, "/bin/mailroom-queue", sizeof "/bin/mailroom-queue");
    q = qpath;
    cf.queuesock = QW_SOCKET; /* relative to the home, our cwd */
  }
  cf.queueprog = q;
  if (smtpd_rcpt_init(&cf.pol, cf.me, !!getenv("RELAYCLIENT")) < 0) {
    if (errno == ENOMEM) die_nomem();
    die_control("control/locals");
  }

  /* under mailroom-tlsd: the control socket, the verifier, TLS already (implicit TLS) */
  cf.tlsctl = tlsctl_envfd(TLSD_ENV_CTL);
  cf.authfd = tlsctl_envfd(TLSD_ENV_AUTH);
  if (!tlsctl_info_ok(getenv(TLSD_ENV_TLS), cf.tls)) cf.tls[0] = 0;
  cf.submission = !!getenv("MAILROOM_SUBMISSION");
  /* neither socket is the injector's business */
  if ((cf.tlsctl >= 0 && fcntl(cf.tlsctl, F_SETFD, FD_CLOEXEC) < 0) ||
      (cf.authfd >= 0 && fcntl(cf.authfd, F_SETFD, FD_CLOEXEC) < 0))
    strerr_diefusys(EX_TEMP, "set FD_CLOEXEC");

  smtpd_io_init(&io, 0, 1, cf.timeout);
  io.bound = &lim.b;
  r = smtpd_session(&cf, &io);
  smtpd_limit_end(&lim);
  smtpd_rcpt_free(&cf.pol);
  return r;
}
