/* mailroom-pop3d: POP3's TRANSACTION and UPDATE states for one Maildir (RFC 1939, 2449).
   Run by a checkpassword program (mailroom-checkpassword, checkpw, ...) as the user it has
   authenticated, in that user's home, with the client on fds 0 and 1: its first line answers
   the client's PASS. It refuses root, takes the Maildir path from its argument only (relative
   to the home, no ".."), and trusts nothing from the client: no client byte names a file.
   One session per Maildir at a time (flock); changes happen only after QUIT. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "auto_home.h"
#include "control.h"
#include "pop3d.h"

#define USAGE "mailroom-pop3d [ -t timeout ] maildir"
#define LOCKFILE "mailroom-pop3d.lock" /* in the Maildir; never removed: see the man page */
#define TIMEOUT_MAX 86400
#define TIMEOUT_CONTROL "control/timeoutpop3d" /* seconds, as mailroom-popup reads it */

/* Each failure before the session: the line the client gets, and the log line. The client
   then has its answer to PASS, so the exit is POP3_EXIT_TOLD and mailroom-popup adds none. */
#define tell(line, ...) (strerr_warnw(__VA_ARGS__), pop3_told(line))
#define tellsys(line, ...) (strerr_warnwusys(__VA_ARGS__), pop3_told(line))

static _Noreturn void die_usage(void) { tell("-ERR [SYS/PERM] mailbox server misconfigured\r\n", "usage: " USAGE); }
static _Noreturn void die_control(void) { tellsys("-ERR [SYS/TEMP] mailbox server misconfigured\r\n", "read a number from ", auto_home, "/", TIMEOUT_CONTROL); }
static _Noreturn void die_limits(void) { tellsys("-ERR [SYS/TEMP] mailbox server misconfigured\r\n", "read ", auto_home, "/", POP3_LIMITS); }
static _Noreturn void die_root(void) { tell("-ERR [SYS/PERM] mailbox server refuses to run as root\r\n", "refusing to run as root"); }
static _Noreturn void die_path(char const *m) { tell("-ERR [SYS/PERM] invalid mailbox path\r\n", "Maildir path must be relative to the home, without .. components: ", m); }
static _Noreturn void die_nomaildir(char const *m) { tell("-ERR [SYS/PERM] this user has no Maildir\r\n", "no Maildir ", m, " in the home"); }
static _Noreturn void die_chdir(char const *m) { tellsys("-ERR [SYS/TEMP] unable to open the mailbox\r\n", "enter Maildir ", m); }
static _Noreturn void die_lockopen(void) { tellsys("-ERR [SYS/TEMP] unable to lock the mailbox\r\n", "open ", LOCKFILE); }
static _Noreturn void die_inuse(void) { tell("-ERR [IN-USE] this mailbox is open in another POP3 session\r\n", "mailbox in use by another session"); }
static _Noreturn void die_notmaildir(void) { tell("-ERR [SYS/PERM] the mailbox is not a Maildir (no new/ or cur/)\r\n", "not a Maildir: no new/ or cur/"); }
static _Noreturn void die_scan(void) { tellsys("-ERR [SYS/TEMP] unable to read the mailbox\r\n", "list the Maildir"); }

/* mailroom-popup waits for this byte to switch to our user (pop3d.h, POP3_ENV_STARTED). */
static void tell_popup(void)
{
  char const *v = getenv(POP3_ENV_STARTED);
  unsigned int fd;
  struct stat st;
  if (!v) return;
  /* only a pipe: never a byte into some other file an outside environment might name */
  if (uint0_scan(v, &fd) && fd > 2 && fstat((int)fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
    if (write((int)fd, "S", 1) < 0) strerr_warnwusys("tell mailroom-popup we run");
    close((int)fd);
  }
  unsetenv(POP3_ENV_STARTED);
}

int main(int argc, char const *const *argv)
{
  static struct pop3d s; /* 70 KiB of buffers: not on the stack */
  static struct pop3_limit lim;
  subgetopt o = SUBGETOPT_ZERO;
  unsigned int timeout = POP3_TIMEOUT;
  char t[100];
  int lockfd, topt = 0;

  PROG = "mailroom-pop3d";
  umask(077);
  if (!fd_sanitize()) _exit(POP3_EXIT_TEMP);
  pop3_stderr_check();
  sig_ignore(SIGPIPE); /* a write error is seen and ends the session without UPDATE */
  for (;;) {
    int opt = subgetopt_r(argc, argv, "t:", &o);
    if (opt == -1) break;
    if (opt != 't' || !uint0_scan(o.arg, &timeout) || !timeout || timeout > TIMEOUT_MAX) die_usage();
    topt = 1;
  }
  if (!topt) {
    /* The instance's setting; the cwd is the user's home, so the path is absolute. */
    char path[POP3_PATH_MAX + sizeof TIMEOUT_CONTROL + 1];
    unsigned long u;
    snprintf(path, sizeof path, "%s/" TIMEOUT_CONTROL, auto_home);
    if (control_readulong(path, &u, POP3_TIMEOUT) < 0 || !u || u > TIMEOUT_MAX) die_control();
    timeout = (unsigned int)u;
  }
  argc -= o.ind;
  argv += o.ind;
  if (argc != 1) die_usage();
  if (!getuid() || !geteuid()) die_root();
  tell_popup();
  if (!pop3_relpath_ok(argv[0])) die_path(argv[0]);
  if (chdir(argv[0]) < 0) {
    if (errno == ENOENT || errno == ENOTDIR) die_nomaildir(argv[0]);
    die_chdir(argv[0]);
  }

  /* Held until exit: a second session gets [IN-USE] instead of racing this one. */
  lockfd = open(LOCKFILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lockfd < 0) die_lockopen();
  if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) die_inuse();
    die_lockopen();
  }

  if (pop3_box_scan(&s.box) < 0) {
    if (errno == ENOENT || errno == ENOTDIR) die_notmaildir();
    die_scan();
  }
  if (s.box.skipped) {
    char n[SIZE_FMT];
    n[size_fmt(n, s.box.skipped)] = 0;
    strerr_warnw("more than 1000000 messages: ", n, " left for a later session");
  }

  ndelay_on(0);
  ndelay_on(1);
  pop3_nodelay(1);
  s.lockfd = lockfd;
  pop3_in_init(&s.in, 0, timeout, 0);
  pop3_out_init(&s.out, 1, timeout);
  /* the session's bounds, and overload mode's count of slots/pop3d (mailroom-popup holds
     this session's slot) */
  if (pop3_limit_start(&lim, auto_home, "pop3d", 0) < 0) die_limits();
  s.in.bound = s.out.bound = &lim.b;
  snprintf(t, sizeof t, "+OK %zu messages (%llu octets)\r\n", s.box.n, (unsigned long long)s.box.total);
  if (pop3_puts(&s.out, t) < 0) _exit(POP3_EXIT_TEMP);
  {
    int r = pop3d_session(&s);
    pop3_limit_end(&lim);
    _exit(r);
  }
}
