/* mailroom-popup: POP3's AUTHORIZATION state, as qmail-popup. Runs as root under tcpserver
   or inetd with the client on fds 0 and 1, because the checkpassword program it runs must
   be able to become the user. It reads bounded lines, one byte at a time (what follows PASS
   is the next program's), passes `user\0password\0timestamp\0` on fd 3 to the checkpassword
   program (the password is never in an argument, the environment or a log), and waits for it:
   exit 1 is a wrong password, answered after a delay; after a number of failures the
   connection ends. It trusts the client with nothing but its lines. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "auto_home.h"
#include "control.h"
#include "pop3d.h"
#include "tlsctl.h"

#define USAGE "mailroom-popup [ -d delay_ms ] [ -f maxfail ] [ -t timeout ] [ -T | -P ] hostname checkprogram [ args... ]"
#define DELAY_MS 2000   /* after each failed login (Dovecot's auth_failure_delay is 2 s too) */
#define MAXFAIL 10      /* failed logins before the connection ends */
#define DELAY_MAX 60000
#define HOST_MAX 255
#define TIMEOUT_MAX 86400
#define TIMEOUT_CONTROL "control/timeoutpop3d" /* seconds, as mailroom-pop3d reads it */
/* The fd 3 record must fit the checkpassword interface's 512 bytes: the timestamp gets what
   the longest user name and password leave (a long host name is cut in it). */
#define STAMP_MAX (POP3_CP_MAX - POP3_USER_MAX - POP3_PASS_MAX - 3)
_Static_assert(STAMP_MAX >= 40, "no room for the checkpassword timestamp");

struct popup {
  struct pop3_in in;
  struct pop3_out out;
  unsigned int delay, maxfail, fails, errors;
  char const *host;
  char const *const *prog;
  char user[POP3_USER_MAX + 1];
  size_t userlen;
  char stamp[STAMP_MAX + 1];
  int tlsctl;                      /* mailroom-tlsd's control socket: STLS offered; or -1 */
  int needtls;                     /* USER and PASS only under TLS */
  char tls[TLSD_INFO_MAX + 1];     /* "TLSv1.3 CIPHER" once encrypted, else "" */
  struct pop3_limit lim;           /* the client's slot, held until we exit; the bounds */
};

/* The replies. */
#define R_GREETING "+OK %s POP3 server ready\r\n"
#define R_USER "+OK send PASS\r\n"
#define R_BADUSER "-ERR [AUTH] invalid user name\r\n"
#define R_USERFIRST "-ERR USER first\r\n"
#define R_AUTHFAIL "-ERR [AUTH] authorization failed\r\n"
#define R_AUTHLAST "-ERR [AUTH] authorization failed: too many failures, closing the connection\r\n"
#define R_MISUSE "-ERR [SYS/PERM] the password check is misconfigured\r\n"
#define R_TEMP "-ERR [SYS/TEMP] temporary failure checking the password or opening the mailbox\r\n"
#define R_NOAUTH "-ERR only USER and PASS are supported\r\n"
#define R_NOTLS "-ERR STLS is not supported\r\n"
#define R_STLS "+OK begin TLS negotiation\r\n"
#define R_TLSACTIVE "-ERR TLS is already active\r\n"
#define R_NEEDTLS "-ERR [AUTH] USER and PASS need an encrypted connection: use STLS first\r\n"
#define R_LOGINFIRST "-ERR log in first (USER and PASS)\r\n"
#define R_UNKNOWN "-ERR unknown command\r\n"
#define R_SYNTAX "-ERR syntax error in arguments\r\n"
#define R_TOOMANY "-ERR too many errors: closing the connection\r\n"
#define R_TOOLONG "-ERR command line too long: closing the connection\r\n"
#define R_TIMEOUT "-ERR autologout: no command for too long\r\n"
#define R_QUIT "+OK bye\r\n"

static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }
static _Noreturn void die_home(void) { strerr_diefusys(111, "chdir to ", auto_home); }
static _Noreturn void die_control(void) { strerr_dief(111, "unable to read a number of seconds from ", TIMEOUT_CONTROL); }
static _Noreturn void die_write(void) { _exit(111); } /* the client is gone: nobody to tell */

/* The end of the session: the slot back (and overload mode off when the load fell). */
static _Noreturn void leave(struct popup *p, int e)
{
  pop3_limit_end(&p->lim);
  _exit(e);
}

static void say(struct popup *p, char const *t)
{
  if (pop3_puts(&p->out, t) < 0 || pop3_flush(&p->out) < 0) die_write();
}
static _Noreturn void sayexit(struct popup *p, char const *t, int e)
{
  say(p, t);
  leave(p, e);
}
/* The connection ends at our initiative, the client may still be sending. */
static _Noreturn void sayclose(struct popup *p, char const *t)
{
  if (pop3_puts(&p->out, t) < 0) die_write();
  pop3_linger(&p->in, &p->out);
  leave(p, 100);
}

/* For the log: the client's name, printable and short, as a client may send anything. */
static char const *logname(struct popup const *p, char *buf, size_t max)
{
  size_t n = p->userlen < max - 1 ? p->userlen : max - 1;
  for (size_t i = 0; i < n; i++) buf[i] = (p->user[i] > 0x20 && p->user[i] < 0x7f) ? p->user[i] : '?';
  buf[n] = 0;
  return buf;
}

static void wipe(void *s, size_t n)
{
  volatile char *v = s;
  while (n--) *v++ = 0;
}

static void pause_ms(unsigned int ms)
{
  struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) ;
}

/* The real uid and gid of process pid from /proc (the kernel's word, not the child's). */
static int ids_of(pid_t pid, uid_t *uid, gid_t *gid)
{
  char fn[40], buf[4096];
  char const *u, *g;
  unsigned int uv, gv;
  ssize_t r;
  int fd;
  snprintf(fn, sizeof fn, "/proc/%ld/status", (long)pid);
  fd = open(fn, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  r = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (r <= 0) return -1;
  buf[r] = 0;
  u = strstr(buf, "\nUid:\t");
  g = strstr(buf, "\nGid:\t");
  if (!u || !g || !uint_scan(u + 6, &uv) || !uint_scan(g + 6, &gv)) return -1;
  *uid = (uid_t)uv;
  *gid = (gid_t)gv;
  return 0;
}

/* mailroom-pop3d said it runs (as the user): popup becomes that user too, so that no root
   process waits out the session. A child still root (another program that wrote early), or
   a switch that fails, leaves popup as it was, as qmail-popup always is. */
static void follow_child(pid_t pid)
{
  uid_t uid;
  gid_t gid;
  if (ids_of(pid, &uid, &gid) < 0) {
    strerr_warnwu("read the ids of the mailbox server: staying root until it ends");
    return;
  }
  if (!uid || !gid) return;
  if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0 || getuid() != uid || geteuid() != uid
      || getegid() != gid) {
    strerr_warnwusys("switch to the mailbox server's user");
    return;
  }
}

/* Runs the checkpassword program with the record on fd 3; returns its wait status. */
static int checkpassword(struct popup *p, char const *pass, size_t passlen)
{
  char rec[POP3_CP_MAX];
  size_t n = 0, sl = strlen(p->stamp);
  int fds[2], started[2], st;
  pid_t pid;
  char c;

  memcpy(rec, p->user, p->userlen); n += p->userlen; rec[n++] = 0;
  memcpy(rec + n, pass, passlen); n += passlen; rec[n++] = 0;
  memcpy(rec + n, p->stamp, sl); n += sl; rec[n++] = 0;
  if (pipe2(fds, O_CLOEXEC) < 0) {
    wipe(rec, sizeof rec);
    strerr_warnwusys("make a pipe");
    return -1;
  }
  if (pipe2(started, O_CLOEXEC) < 0) {
    wipe(rec, sizeof rec);
    close(fds[0]);
    close(fds[1]);
    strerr_warnwusys("make a pipe");
    return -1;
  }
  pid = fork();
  if (pid < 0) {
    wipe(rec, sizeof rec);
    close(fds[0]);
    close(fds[1]);
    close(started[0]);
    close(started[1]);
    strerr_warnwusys("fork");
    return -1;
  }
  if (!pid) {
    /* above fd 3, and without close-on-exec: it travels through checkpassword to pop3d */
    char num[UINT_FMT];
    int sfd = fcntl(started[1], F_DUPFD, 4);
    if (sfd < 0) _exit(111);
    num[uint_fmt(num, (unsigned int)sfd)] = 0;
    if (setenv(POP3_ENV_STARTED, num, 1) < 0) _exit(111);
    /* The next programs get the connection as inetd gives it: blocking, default signals. */
    if (fds[0] == 3) {
      if (uncoe(3) < 0) _exit(111);
    } else if (dup2(fds[0], 3) < 0) {
      _exit(111);
    }
    ndelay_off(0);
    ndelay_off(1);
    sig_restore(SIGPIPE);
    execvp(p->prog[0], (char *const *)p->prog);
    strerr_warnwusys("run ", p->prog[0]);
    _exit(111);
  }
  close(fds[0]);
  /* Less than PIPE_BUF: one write, and the child reads it whenever it likes. */
  if (write(fds[1], rec, n) != (ssize_t)n && errno != EPIPE) strerr_warnwusys("write to ", p->prog[0]);
  wipe(rec, sizeof rec);
  close(fds[1]);
  close(started[1]);
  /* A byte: pop3d runs as the user. EOF: the child ended (or never was pop3d). */
  for (;;) {
    ssize_t r = read(started[0], &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r == 1) follow_child(pid);
    break;
  }
  close(started[0]);
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) {
      strerr_warnwusys("wait for ", p->prog[0]);
      return -1;
    }
  ndelay_on(1);
  return st;
}

static void do_pass(struct popup *p, char const *pass, size_t passlen)
{
  char lb[64];
  int st;
  if (p->needtls && !p->tls[0]) {
    if (++p->errors >= POP3_ERRORS_MAX) sayclose(p, R_TOOMANY);
    say(p, R_NEEDTLS);
    return;
  }
  if (!p->userlen) {
    say(p, R_USERFIRST);
    return;
  }
  st = memchr(pass, 0, passlen) || passlen > POP3_PASS_MAX ? -2 : checkpassword(p, pass, passlen);
  if (st == -2 || (WIFEXITED(st) && WEXITSTATUS(st) == POP3_EXIT_BADPASS)) {
    p->fails++;
    strerr_warnw("authorization failed for ", logname(p, lb, sizeof lb));
    p->userlen = 0;
    pause_ms(p->delay);
    if (p->fails >= p->maxfail) sayclose(p, R_AUTHLAST);
    say(p, R_AUTHFAIL);
    return;
  }
  if (st >= 0 && WIFEXITED(st)) {
    switch (WEXITSTATUS(st)) {
      case POP3_EXIT_OK: leave(p, 0);        /* a session ran to its end */
      case POP3_EXIT_TOLD: leave(p, 100);    /* the client has its answer already */
      case POP3_EXIT_MISUSE: sayexit(p, R_MISUSE, 111);
      default: break;
    }
  }
  sayexit(p, R_TEMP, 111);
}

/* STLS (RFC 2595 4): mailroom-tlsd makes the handshake, and the connection starts afresh
   on a new pipe (whatever the client sent before it is never read). */
static void do_stls(struct popup *p)
{
  if (p->tlsctl < 0) {
    say(p, R_NOTLS);
    return;
  }
  if (p->tls[0]) {
    say(p, R_TLSACTIVE);
    return;
  }
  /* R_STLS is sent by mailroom-tlsd, once it reads no more plaintext from the client */
  if (tlsctl_starttls(p->tlsctl, R_STLS, sizeof R_STLS - 1, p->tls) < 0) {
    strerr_warnwu("start TLS");
    _exit(111);
  }
  if (setenv(TLSD_ENV_TLS, p->tls, 1) < 0) _exit(111); /* mailroom-pop3d may want to know */
  p->userlen = 0;
  pop3_in_init(&p->in, 0, p->in.timeout, 1);
  p->in.bound = &p->lim.b;
}

/* CAPA: pop3d's list, with STLS while it is offered (RFC 2595 4). */
static void do_capa(struct popup *p)
{
  char const *c = pop3_capa();
  size_t n = strlen(c);
  if (p->tlsctl < 0 || p->tls[0] || n < 3) {
    say(p, c);
    return;
  }
  if (pop3_put(&p->out, c, n - 3) < 0) die_write();
  say(p, "STLS\r\n.\r\n");
}

/* A client on the loopback interface (or on a pipe) may log in in clear by default. */
static int loopback(void)
{
  struct sockaddr_storage ss = { 0 }; /* family 0 (unknown) unless getpeername fills it */
  socklen_t sl = sizeof ss;
  char const *e = getenv("TCPREMOTEIP");
  if (e && *e) return !strncmp(e, "127.", 4) || !strcmp(e, "::1") || !strncasecmp(e, "::ffff:127.", 11);
  if (getpeername(0, (struct sockaddr *)&ss, &sl) < 0) return 1; /* not a socket */
  if (ss.ss_family == AF_INET) return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
  if (ss.ss_family == AF_INET6) {
    struct in6_addr const *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
  }
  return 1; /* AF_UNIX */
}

static void do_user(struct popup *p, char const *name, size_t len)
{
  char lb[64];
  if (p->needtls && !p->tls[0]) {
    if (++p->errors >= POP3_ERRORS_MAX) sayclose(p, R_TOOMANY);
    say(p, R_NEEDTLS);
    return;
  }
  if (!pop3_user_ok(name, len)) {
    /* '/', NUL, "..", a control byte: no checkpassword program ever sees it. */
    p->userlen = len < POP3_USER_MAX ? len : POP3_USER_MAX;
    memcpy(p->user, name, p->userlen);
    strerr_warnw("invalid user name from client: ", logname(p, lb, sizeof lb));
    p->userlen = 0;
    if (++p->fails >= p->maxfail) sayclose(p, R_AUTHLAST);
    say(p, R_BADUSER);
    return;
  }
  memcpy(p->user, name, len);
  p->userlen = len;
  say(p, R_USER);
}

static void loop(struct popup *p)
{
  char line[POP3_LINE_MAX];
  for (;;) {
    struct pop3_cmd c;
    size_t len;
    int r = pop3_getline(&p->in, line, &len);
    if (!r) leave(p, 0);
    if (r < 0) {
      if (errno == E2BIG) sayclose(p, R_TOOLONG);
      if (errno == ETIMEDOUT) {
        pop3_limit_end(&p->lim); /* logs the bound that cut the session, if one did */
        sayclose(p, R_TIMEOUT);
      }
      _exit(111);
    }
    r = pop3_parse(line, len, &c);
    switch (r) {
      case POP3_USER: do_user(p, c.arg, c.arglen); break;
      case POP3_PASS: do_pass(p, c.arg, c.arglen); break;
      case POP3_QUIT: sayexit(p, R_QUIT, 0);
      case POP3_CAPA: do_capa(p); break;
      case POP3_APOP: case POP3_AUTH: say(p, R_NOAUTH); break;
      case POP3_STLS: do_stls(p); break;
      default:
        if (r > 0) {
          say(p, R_LOGINFIRST);
          break;
        }
        if (++p->errors >= POP3_ERRORS_MAX) sayclose(p, R_TOOMANY);
        say(p, r == POP3_ESYNTAX ? R_SYNTAX : R_UNKNOWN);
    }
    wipe(line, sizeof line); /* it may have held a password */
  }
}

int main(int argc, char const *const *argv)
{
  static struct popup p; /* buffers: not on the stack */
  subgetopt o = SUBGETOPT_ZERO;
  unsigned int timeout = POP3_TIMEOUT;
  char greet[HOST_MAX + 40];
  int topt = 0, tlsmode = 0;

  PROG = "mailroom-popup";
  if (!fd_sanitize()) _exit(111);
  pop3_stderr_check(); /* before any message: under inetd fd 2 is the client */
  p.delay = DELAY_MS;
  p.maxfail = MAXFAIL;
  for (;;) {
    int opt = subgetopt_r(argc, argv, "d:f:t:TP", &o);
    if (opt == -1) break;
    switch (opt) {
      case 'd': if (!uint0_scan(o.arg, &p.delay) || p.delay > DELAY_MAX) die_usage(); break;
      case 'f': if (!uint0_scan(o.arg, &p.maxfail) || !p.maxfail) die_usage(); break;
      case 't': if (!uint0_scan(o.arg, &timeout) || !timeout || timeout > TIMEOUT_MAX) die_usage(); topt = 1; break;
      case 'T': tlsmode = 1; break;
      case 'P': tlsmode = -1; break;
      default: die_usage();
    }
  }
  argc -= o.ind;
  argv += o.ind;
  if (argc < 2 || !argv[0][0] || strlen(argv[0]) > HOST_MAX) die_usage();
  p.host = argv[0];
  p.prog = argv + 1;
  umask(022);
  /* In the instance folder: a checkprogram given as bin/... is its own, and control/ is read. */
  if (chdir(auto_home) < 0) die_home();
  if (!topt) {
    unsigned long u;
    if (control_readulong(TIMEOUT_CONTROL, &u, POP3_TIMEOUT) < 0 || !u || u > TIMEOUT_MAX) die_control();
    timeout = (unsigned int)u;
  }
  /* before anything is read from the client: one slot try for a client over its limit */
  switch (pop3_limit_start(&p.lim, 0, "popup", 1)) {
    case -1: strerr_diefusys(111, "read ", POP3_LIMITS);
    case 1: pop3_told(POP3_R_PERCLIENT);
    default: break;
  }
  sig_ignore(SIGPIPE);
  /* under mailroom-tlsd: STLS, or TLS already (port 995); the next programs never get the
     control socket */
  p.tlsctl = tlsctl_envfd(TLSD_ENV_CTL);
  if (p.tlsctl >= 0 && fcntl(p.tlsctl, F_SETFD, FD_CLOEXEC) < 0) strerr_diefusys(111, "set FD_CLOEXEC");
  unsetenv(TLSD_ENV_CTL);
  unsetenv(TLSD_ENV_AUTH);
  if (!tlsctl_info_ok(getenv(TLSD_ENV_TLS), p.tls)) {
    p.tls[0] = 0;
    unsetenv(TLSD_ENV_TLS);
  }
  /* -T always, -P never, else for clients that are not on the loopback interface */
  p.needtls = tlsmode > 0 || (!tlsmode && !loopback());
  /* The checkpassword timestamp (qmail-popup's, for APOP-capable checkers): <pid.time@host>. */
  snprintf(p.stamp, sizeof p.stamp, "<%ld.%lld@%s>", (long)getpid(), (long long)time(0), p.host);
  pop3_in_init(&p.in, 0, timeout, 1);
  pop3_out_init(&p.out, 1, timeout);
  p.in.bound = p.out.bound = &p.lim.b;
  ndelay_on(1);
  pop3_nodelay(1);
  snprintf(greet, sizeof greet, R_GREETING, p.host);
  say(&p, greet);
  loop(&p);
  return 0;
}
