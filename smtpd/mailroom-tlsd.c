/* mailroom-tlsd: TLS for mailroom-smtpd and mailroom-popup in a process of its own, in the
   spirit of UCSPI-TLS and s6-tlsd. Started by tcpserver (as root) with the client on fds 0
   and 1, it loads the certificate and key, forks the server program with pipes in place of
   the connection, switches to its own uid, and passes bytes between the two: in clear until
   the server asks for TLS on the control socket (STARTTLS, STLS), encrypted after the
   handshake; with -i (ports 465, 995) it makes the handshake first. The key never reaches
   the server program (it runs as another uid, in a process that never held it), and the
   TLS library never runs in the server's process. With -a it also forks, before the key is
   loaded, the password verifier of SMTP AUTH (tlsd_auth.c), switched to -v/-V (mrauth: as
   root, it refuses to leave the verifier root). It trusts its options and the files they
   name; the client only with bytes, which it never interprets. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <tls.h>

#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>

#include "auto_home.h"
#include "tlsd.h"

#define USAGE "mailroom-tlsd [ -i ] [ -c certfile ] [ -k keyfile ] [ -u uid -g gid ] [ -U uid -G gid ] [ -a checkprog [ -v uid -V gid ] ] [ -d delay_ms ] [ -f maxfail ] [ -t timeout ] prog [ args... ]"
#define CERT_DEFAULT "control/servercert.pem"
#define KEY_DEFAULT "control/serverkey.pem"
#define TIMEOUT_DEFAULT 1200 /* as control/timeoutsmtpd's default */
#define HANDSHAKE_TIMEOUT 60
#define DELAY_DEFAULT 2000   /* ms after a wrong password, as mailroom-popup */
#define DELAY_MAX 60000
#define MAXFAIL_DEFAULT 3    /* wrong passwords per connection */
#define ID_MAX 4294967294UL

static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }
static _Noreturn void die_home(void) { strerr_diefusys(111, "chdir to ", auto_home); }
static _Noreturn void die_tls(char const *what, char const *e) { strerr_dief(111, "unable to ", what, ": ", e ? e : "unknown error"); }
static _Noreturn void die_sys(char const *what) { strerr_diefusys(111, what); }
static _Noreturn void die_ids(void) { strerr_dief(100, "-u, -g, -U, -G, -v, -V: uid and gid 1..4294967294, given in pairs"); }
static _Noreturn void die_rootauth(void) { strerr_dief(100, "-a as root needs -v uid -V gid: the verifier must not run as root"); }

struct ids {
  unsigned long uid, gid;
  int set;
};

static void scan_id(char const *s, unsigned long *n)
{
  if (!ulong0_scan(s, n) || !*n || *n > ID_MAX) die_ids();
}

/* Groups, gid, uid, each checked, then verified: never root afterwards. */
static void become(struct ids const *x)
{
  gid_t g = (gid_t)x->gid;
  if (!x->set) return;
  if (setgroups(1, &g) < 0 || setgid(g) < 0 || setuid((uid_t)x->uid) < 0) die_sys("switch uid and gid");
  if (!getuid() || !geteuid() || getgid() != g) strerr_dief(111, "still root after switching uid");
}

static int nonblock(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void setenvfd(char const *name, int fd)
{
  char b[INT_FMT];
  b[int_fmt(b, fd)] = 0;
  if (setenv(name, b, 1) < 0) _exit(111);
}

/* The server program's side, after the fork: the pipes become fds 0 and 1, the control
   socket and the verifier keep their numbers (named in the environment); with implicit TLS
   it waits for the handshake's text on info first. Never returns. */
static _Noreturn void server(char const *const *argv, int in, int out, int ctl, int auth, int info,
                             struct ids const *ids)
{
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0) _exit(111);
  unsetenv(TLSD_ENV_TLS);
  unsetenv(TLSD_ENV_CTL);
  unsetenv(TLSD_ENV_AUTH);
  unsetenv(TLSD_ENV_VERIFY); /* for the verifier's checkpassword only, never mailroom-popup's */
  if (ctl >= 0) {
    if (fcntl(ctl, F_SETFD, 0) < 0) _exit(111);
    setenvfd(TLSD_ENV_CTL, ctl);
  }
  if (auth >= 0) {
    if (fcntl(auth, F_SETFD, 0) < 0) _exit(111);
    setenvfd(TLSD_ENV_AUTH, auth);
  }
  if (info >= 0) {
    char buf[TLSD_INFO_MAX + 1], ok[TLSD_INFO_MAX + 1];
    size_t n = 0;
    for (;;) {
      ssize_t r = read(info, buf + n, sizeof buf - 1 - n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      n += (size_t)r;
      if (n == sizeof buf - 1) break;
    }
    buf[n] = 0;
    if (!tlsctl_info_ok(buf, ok)) _exit(111); /* no handshake: nothing to serve */
    if (setenv(TLSD_ENV_TLS, ok, 1) < 0) _exit(111);
  }
  sig_restore(SIGPIPE);
  become(ids);
  execvp(argv[0], (char *const *)argv);
  strerr_diefusys(111, "run ", argv[0]);
}

int main(int argc, char const *const *argv)
{
  subgetopt o = SUBGETOPT_ZERO;
  struct tlsd_opts opt = { .timeout = TIMEOUT_DEFAULT, .hstimeout = HANDSHAKE_TIMEOUT };
  struct ids me = { 0, 0, 0 }, them = { 0, 0, 0 }, ver = { 0, 0, 0 };
  char const *cert = CERT_DEFAULT, *key = KEY_DEFAULT, *checkprog = 0;
  unsigned int delay = DELAY_DEFAULT, maxfail = MAXFAIL_DEFAULT;
  int implicit = 0, in[2], out[2], ctl[2] = { -1, -1 }, auth[2] = { -1, -1 }, info[2] = { -1, -1 };
  struct tls_config *cfg;
  struct tls *srv, *c = 0;
  int gotu = 0, gotg = 0, gotU = 0, gotG = 0, gotv = 0, gotV = 0, r;
  pid_t pid;

  PROG = "mailroom-tlsd";
  if (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0) _exit(111);
  for (;;) {
    int k = subgetopt_r(argc, argv, "ic:k:u:g:U:G:v:V:a:d:f:t:", &o);
    if (k == -1) break;
    switch (k) {
      case 'i': implicit = 1; break;
      case 'c': cert = o.arg; break;
      case 'k': key = o.arg; break;
      case 'u': scan_id(o.arg, &me.uid); gotu = 1; break;
      case 'g': scan_id(o.arg, &me.gid); gotg = 1; break;
      case 'U': scan_id(o.arg, &them.uid); gotU = 1; break;
      case 'G': scan_id(o.arg, &them.gid); gotG = 1; break;
      case 'v': scan_id(o.arg, &ver.uid); gotv = 1; break;
      case 'V': scan_id(o.arg, &ver.gid); gotV = 1; break;
      case 'a': checkprog = o.arg; break;
      case 'd': if (!uint0_scan(o.arg, &delay) || delay > DELAY_MAX) die_usage(); break;
      case 'f': if (!uint0_scan(o.arg, &maxfail) || !maxfail) die_usage(); break;
      case 't': if (!uint0_scan(o.arg, &opt.timeout) || !opt.timeout || opt.timeout > 86400) die_usage(); break;
      default: die_usage();
    }
  }
  argc -= o.ind;
  argv += o.ind;
  if (argc < 1 || gotu != gotg || gotU != gotG || gotv != gotV || (gotv && !checkprog)) die_usage();
  me.set = gotu;
  them.set = gotU;
  ver.set = gotv;
  if (checkprog && checkprog[0] != '/') strerr_dief(100, "-a needs an absolute path");
  if (checkprog && !ver.set && (!getuid() || !geteuid())) die_rootauth();
  if (sig_ignore(SIGPIPE) < 0) die_sys("ignore SIGPIPE");
  sig_restore(SIGCHLD);
  if (chdir(auto_home) < 0) die_home();

  /* the verifier first: a process that never held the key */
  if (checkprog) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, auth) < 0) die_sys("make the verifier's socket");
    pid = fork();
    if (pid < 0) die_sys("fork");
    if (!pid) {
      int nul = open("/dev/null", O_RDWR);
      close(auth[1]);
      if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0) _exit(111);
      become(&ver); /* mrauth: its group reads users/password.cdb, nothing else */
      tlsd_verifier(auth[0], checkprog, delay, maxfail);
    }
    close(auth[0]);
  }

  if (tls_init() < 0) die_tls("initialize libtls", "tls_init");
  cfg = tls_config_new();
  if (!cfg) die_tls("initialize libtls", "tls_config_new");
  if (tls_config_set_protocols(cfg, TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3) < 0)
    die_tls("set the TLS versions", tls_config_error(cfg));
  if (tls_config_set_cert_file(cfg, cert) < 0) die_tls("read the certificate", tls_config_error(cfg));
  if (tls_config_set_key_file(cfg, key) < 0) die_tls("read the key", tls_config_error(cfg));
  srv = tls_server();
  if (!srv) die_tls("initialize libtls", "tls_server");
  if (tls_configure(srv, cfg) < 0) die_tls("configure TLS", tls_error(srv));
  tls_config_clear_keys(cfg);

  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) die_sys("make pipes");
  if (!implicit && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) die_sys("make the control socket");
  if (implicit && pipe2(info, O_CLOEXEC) < 0) die_sys("make a pipe");
  pid = fork();
  if (pid < 0) die_sys("fork");
  if (!pid) {
    close(in[1]);
    close(out[0]);
    if (ctl[0] >= 0) close(ctl[0]);
    if (info[1] >= 0) close(info[1]);
    server(argv, in[0], out[1], ctl[1], auth[1], info[0], &them);
  }
  close(in[0]);
  close(out[1]);
  if (ctl[1] >= 0) close(ctl[1]);
  if (auth[1] >= 0) close(auth[1]);
  if (info[0] >= 0) close(info[0]);
  become(&me);
  /* the key is in this process's memory: no core dump, no ptrace by the same uid */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) die_sys("prctl PR_SET_DUMPABLE");

  if (implicit) {
    char text[TLSD_INFO_MAX + 1];
    if (tlsd_handshake(srv, &c, opt.hstimeout) < 0) {
      /* the server sees EOF on info; freed, not left to exit: LeakSanitizer (SANITIZE=1) */
      if (c) tls_free(c);
      tls_free(srv);
      tls_config_free(cfg);
      return 111;
    }
    tlsd_info(c, text);
    if (write(info[1], text, strlen(text)) < 0) die_sys("write to the server program");
    close(info[1]);
    strerr_warni("TLS: ", text);
  }
  if (nonblock(0) < 0 || nonblock(1) < 0 || nonblock(in[1]) < 0 || nonblock(out[0]) < 0) die_sys("set O_NONBLOCK");
  r = tlsd_proxy(srv, c, in[1], out[0], ctl[0], &opt);
  if (c) tls_free(c);
  tls_free(srv);
  tls_config_free(cfg);
  return r < 0 ? 111 : 0;
}
