/* The password verifier of SMTP AUTH. mailroom-smtpd runs as mrsmtpd and must not read the
   password database. So mailroom-tlsd, before it loads the TLS key, forks this process and
   switches it to mrauth, whose group may read users/password.cdb (0640 root:mrauth) and
   nothing else of worth: it reads one request at a time (a SOCK_SEQPACKET packet
   user\0password\0, nothing else), runs the checkpassword program as `checkprog /bin/true`
   with user\0password\0timestamp\0 on fd 3, /dev/null on fds 0 and 1 and MAILROOM_VERIFYONLY=1
   (mailroom-checkpassword then only verifies: no uid switch, /bin/true is never run), and
   answers one byte. A wrong password is answered after a delay; after maxfail of them it
   answers TLSD_AUTH_LAST and exits, so no server can try faster or longer than that. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <skalibs/sig.h>
#include <skalibs/strerr.h>

#include "tlsd.h"

#define CP_MAX 512 /* the checkpassword interface's fd 3 limit */

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

/* Runs checkprog /bin/true with rec[0..n) on fd 3: its wait status, or -1. */
static int run_check(char const *checkprog, char const *rec, size_t n)
{
  char const *argv[3] = { checkprog, "/bin/true", 0 };
  int p[2], st;
  pid_t pid;
  if (pipe(p) < 0) return -1;
  pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (!pid) {
    int nul = open("/dev/null", O_RDWR);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0) _exit(111);
    if (p[0] != 3) {
      if (dup2(p[0], 3) < 0) _exit(111);
      close(p[0]);
    }
    close(p[1]);
    sig_restore(SIGPIPE);
    execv(checkprog, (char *const *)argv);
    strerr_warnwusys("run ", checkprog);
    _exit(111);
  }
  close(p[0]);
  if (write(p[1], rec, n) != (ssize_t)n && errno != EPIPE) strerr_warnwusys("write to ", checkprog);
  close(p[1]);
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return st;
}

void tlsd_verifier(int fd, char const *checkprog, unsigned int delay_ms, unsigned int maxfail)
{
  unsigned int fails = 0;
  sig_ignore(SIGPIPE);
  /* passwords pass through this memory: no core dump, no ptrace by another mrauth process */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) strerr_diefusys(111, "prctl PR_SET_DUMPABLE");
  if (setenv(TLSD_ENV_VERIFY, "1", 1) < 0) strerr_diefusys(111, "set ", TLSD_ENV_VERIFY);
  for (;;) {
    char req[TLSD_REQ_MAX + 1], rec[CP_MAX];
    char ans;
    size_t ul, pl, sl;
    int st;
    ssize_t r = recv(fd, req, sizeof req, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) _exit(0);
    /* exactly user \0 password \0, each within its bound */
    ul = strnlen(req, (size_t)r);
    pl = ul < (size_t)r ? strnlen(req + ul + 1, (size_t)r - ul - 1) : 0;
    if ((size_t)r > TLSD_REQ_MAX || ul == (size_t)r || ul + 1 + pl + 1 != (size_t)r ||
        !tlsctl_user_ok(req, ul) || pl > TLSD_PASS_MAX) {
      st = 1 << 8; /* malformed: a wrong password, as far as the client is concerned */
    } else {
      char stamp[64];
      sl = (size_t)snprintf(stamp, sizeof stamp, "<%ld.%lld@mailroom-tlsd>", (long)getpid(), (long long)time(0));
      memcpy(rec, req, (size_t)r);
      memcpy(rec + r, stamp, sl + 1);
      st = run_check(checkprog, rec, (size_t)r + sl + 1);
      wipe(rec, sizeof rec);
    }
    wipe(req, sizeof req);
    if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) ans = TLSD_AUTH_OK;
    else if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1) {
      pause_ms(delay_ms);
      ans = ++fails >= maxfail ? TLSD_AUTH_LAST : TLSD_AUTH_BAD;
    } else {
      strerr_warnw("the password check failed: temporary error or misconfiguration of ", checkprog);
      ans = TLSD_AUTH_TEMP;
    }
    if (write(fd, &ans, 1) != 1 || ans == TLSD_AUTH_LAST) _exit(0);
  }
}
