/* mailroom-checkpassword: a checkpassword-interface program (fd 3 carries
   user\0password\0timestamp\0, at most 512 bytes) over users/password.cdb, and over the
   system's shadow file when control/popshadow says so. Run as root by mailroom-popup (or
   any program speaking the interface): on a right password it becomes the user (groups, gid,
   uid, each checked; never root), enters the home and runs the rest of its arguments.
   It trusts the cdb only after checking each entry, and the client with nothing: a wrong
   password, an unknown user and a locked account all cost one hash and give exit 1.
   With MAILROOM_VERIFYONLY set (by mailroom-tlsd's SMTP AUTH verifier, which runs it as
   mrauth, a group that may read the cdb) it only verifies: exit 0 or 1, no uid switch, no
   program run. That mode can grant nothing a right password does not already prove. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/iopause.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "auto_home.h"
#include "control.h"
#include "pop3d.h"
#include "tlsctl.h"

#define USAGE "mailroom-checkpassword program [ args... ]  (or MAILROOM_VERIFYONLY=1 mailroom-checkpassword [ args... ])"
#define FD3_TIMEOUT 60 /* seconds for the caller to write fd 3 and close it */
#define SHADOW_CONTROL "control/popshadow"

struct account {
  struct pop3_pw pw;
  int found;
  int system; /* from passwd/shadow: supplementary groups from the group file */
};

static void wipe(void *s, size_t n)
{
  volatile char *v = s;
  while (n--) *v++ = 0;
}

/* Before the password is checked: the interface's exit codes, a log line, nothing to the
   client (mailroom-popup answers for these). */
static _Noreturn void die_usage(void) { strerr_warnw("usage: " USAGE); _exit(POP3_EXIT_MISUSE); }
static _Noreturn void die_fd3(void) { strerr_warnwusys("read the checkpassword data on fd 3"); _exit(POP3_EXIT_MISUSE); }
static _Noreturn void die_fd3big(void) { strerr_warnw("more than 512 bytes on fd 3"); _exit(POP3_EXIT_MISUSE); }
static _Noreturn void die_fd3fmt(void) { strerr_warnw("fd 3 does not hold user\\0password\\0"); _exit(POP3_EXIT_MISUSE); }
static _Noreturn void die_home(void) { strerr_warnwusys("chdir to ", auto_home); _exit(POP3_EXIT_TEMP); }
static _Noreturn void die_cdb(void) { strerr_warnwusys("read ", POP3_PW_CDB); _exit(POP3_EXIT_TEMP); }
static _Noreturn void die_control(void) { strerr_warnwusys("read ", SHADOW_CONTROL); _exit(POP3_EXIT_TEMP); }
/* After a right password, a failure is told to the client (fd 1 is the connection, as the
   interface has it) in POP3's words, so that it learns why; then exit 100: told. */
static _Noreturn void die_badhome(char const *u) { strerr_warnw("user ", u, " has no usable home (not absolute, or . or ..)"); pop3_told("-ERR [SYS/PERM] this user's home folder is invalid\r\n"); }
static _Noreturn void die_notroot(char const *u) { strerr_warnw("not root: unable to switch to user ", u); pop3_told("-ERR [SYS/PERM] the server cannot switch to this user (it does not run as root)\r\n"); }
static _Noreturn void die_switch(char const *u) { strerr_warnwusys("switch to user ", u); pop3_told("-ERR [SYS/TEMP] the server cannot switch to this user\r\n"); }
static _Noreturn void die_nohome(char const *u, char const *h) { strerr_warnw("home folder of ", u, " is missing: ", h); pop3_told("-ERR [SYS/PERM] this user's home folder is missing\r\n"); }
static _Noreturn void die_chdir(char const *u, char const *h) { strerr_warnwusys("enter home folder of ", u, ": ", h); pop3_told("-ERR [SYS/TEMP] unable to enter this user's home folder\r\n"); }
static _Noreturn void die_env(void) { strerr_warnwusys("set the environment"); pop3_told("-ERR [SYS/TEMP] out of memory\r\n"); }
static _Noreturn void die_exec(char const *p) { strerr_warnwusys("run ", p); _exit(POP3_EXIT_TEMP); }

/* Reads fd 3 to its end: the record, NUL-terminated at most POP3_CP_MAX bytes. */
static size_t readfd3(char *buf)
{
  size_t len = 0;
  tain deadline;
  tain_now_g();
  tain_addsec_g(&deadline, FD3_TIMEOUT);
  for (;;) {
    iopause_fd x = { .fd = 3, .events = IOPAUSE_READ, .revents = 0 };
    ssize_t r;
    int k = iopause_g(&x, 1, &deadline);
    if (k < 0) {
      if (errno == EINTR) continue;
      die_fd3();
    }
    if (!k) {
      errno = ETIMEDOUT;
      die_fd3();
    }
    r = read(3, buf + len, POP3_CP_MAX + 1 - len);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      die_fd3();
    }
    if (!r) break;
    len += (size_t)r;
    if (len > POP3_CP_MAX) die_fd3big();
  }
  close(3);
  return len;
}

/* A system user, when control/popshadow allows: uid 0 and unusable entries are no users.
   An expired account is found, with a hash that never matches. */
static void system_user(char const *user, struct account *a)
{
  unsigned long on = 0;
  struct passwd *pw;
  struct spwd *sp;
  if (control_readulong(SHADOW_CONTROL, &on, 0) < 0) die_control();
  if (!on) return;
  pw = getpwnam(user);
  if (!pw || !pw->pw_uid || (unsigned long)pw->pw_uid > POP3_ID_MAX || (unsigned long)pw->pw_gid > POP3_ID_MAX) return;
  sp = getspnam(user);
  if (!sp && geteuid()) {
    /* verify-only as mrauth, or an instance without root: the shadow file is not ours to
       read (glibc's NSS leaves errno 0, so say it whenever a passwd user has no entry) */
    strerr_warnw(SHADOW_CONTROL, " is set but this uid cannot read the shadow file: system user ", user, " refused");
    return;
  }
  if (!sp || !sp->sp_pwdp || strlen(sp->sp_pwdp) > POP3_HASH_MAX || strlen(pw->pw_dir) > POP3_PATH_MAX) return;
  memcpy(a->pw.hash, sp->sp_pwdp, strlen(sp->sp_pwdp) + 1);
  if (sp->sp_expire > 0 && time(0) / 86400 >= sp->sp_expire) memcpy(a->pw.hash, "!expired", sizeof "!expired");
  a->pw.uid = (unsigned long)pw->pw_uid;
  a->pw.gid = (unsigned long)pw->pw_gid;
  memcpy(a->pw.home, pw->pw_dir, strlen(pw->pw_dir) + 1);
  a->found = a->system = 1;
}

static void become(char const *user, struct account const *a)
{
  gid_t g = (gid_t)a->pw.gid;
  if (getuid() && geteuid()) {
    /* Not root (an instance run by an ordinary user): only that user can log in. */
    if ((unsigned long)getuid() != a->pw.uid) die_notroot(user);
    return;
  }
  if ((a->system ? initgroups(user, g) : setgroups(1, &g)) < 0) die_switch(user);
  if (setgid(g) < 0 || setuid((uid_t)a->pw.uid) < 0) die_switch(user);
  if (!getuid() || !geteuid()) {
    errno = EPERM;
    die_switch(user);
  }
}

int main(int argc, char const *const *argv)
{
  char rec[POP3_CP_MAX + 2];
  struct account a;
  char const *user, *pass;
  char *z;
  size_t len, ulen;
  int ok, verify;

  PROG = "mailroom-checkpassword";
  pop3_stderr_check(); /* under inetd fd 2 is the client: no log line may reach it */
  z = getenv(TLSD_ENV_VERIFY);
  verify = z && *z;
  if (argc < 2 && !verify) die_usage();
  len = readfd3(rec);
  rec[len] = 0;
  z = memchr(rec, 0, len);
  if (!z || !memchr(z + 1, 0, len - (size_t)(z + 1 - rec))) die_fd3fmt();
  user = rec;
  ulen = (size_t)(z - rec);
  pass = z + 1;

  memset(&a, 0, sizeof a);
  if (chdir(auto_home) < 0) die_home();
  if (pop3_user_ok(user, ulen)) {
    int r = pop3_pw_lookup(POP3_PW_CDB, user, ulen, &a.pw);
    if (r < 0) {
      wipe(rec, sizeof rec);
      die_cdb();
    }
    a.found = r;
    if (!a.found) system_user(user, &a);
  }
  ok = pop3_verify(pass, a.found ? a.pw.hash : 0);
  wipe(rec + ulen, sizeof rec - ulen); /* the password; the user name is still needed */
  wipe(a.pw.hash, sizeof a.pw.hash);
  endspent();
  if (!ok) _exit(POP3_EXIT_BADPASS);
  if (verify) _exit(0); /* the password is right: all the verifier asks (the interface's 0) */

  if (!pop3_abspath_ok(a.pw.home)) die_badhome(user);
  become(user, &a);
  if (chdir(a.pw.home) < 0) {
    if (errno == ENOENT || errno == ENOTDIR) die_nohome(user, a.pw.home);
    die_chdir(user, a.pw.home);
  }
  if (setenv("USER", user, 1) < 0 || setenv("HOME", a.pw.home, 1) < 0) die_env();
  if (a.system) {
    struct passwd *pw = getpwnam(user);
    if (pw && pw->pw_shell && setenv("SHELL", pw->pw_shell, 1) < 0) die_env();
  }
  execvp(argv[1], (char *const *)(argv + 1));
  die_exec(argv[1]);
}
