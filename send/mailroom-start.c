/* mailroom-start: starts the queue manager and its spawners, as qmail-start does. The send
   service's run script runs it as root: it forks mailroom-lspawn (which stays root), and
   mailroom-rspawn as mrremote when it is installed, then becomes mrsend and execs
   mailroom-send with the lspawn pipes on fds 3 and 4 and its end of the remote channel, a
   SOCK_SEQPACKET socket pair, on fds 5 and 6 (rspawn has the other end on 0 and 1; the
   socket carries the message files, which mrremote could not open: INTERNALS.md), and
   control/smtproutes-auth, root's smarthost credentials, opened as root and given to rspawn
   on fd 3 (nothing else of it is readable by mrremote). Run by an ordinary user, every
   program stays that user. stdout and stderr are the log, inherited by all three.
   With control/dkim/ (DKIM keys) and bin/mailroom-dkimsign, the signer sits in the remote
   channel as mrdkim: send's socket goes to it (its fd 0), and a second pair joins it (fd 3)
   to rspawn (INTERNALS.md, "DKIM signing"). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/strerr.h>
#include "auto_home.h"
#include "roles.h"

static _Noreturn void die_pipe(void) { strerr_diefu1sys(111, "make a pipe"); }
static _Noreturn void die_fork(void) { strerr_diefu1sys(111, "fork"); }
static _Noreturn void die_user(char const *u) { strerr_dief3x(111, "no user ", u, ": run make setup as root"); }
static _Noreturn void die_drop(char const *u) { strerr_diefu2sys(111, "switch to user ", u); }

/* Becomes a role user. Only root switches; an ordinary user runs everything as itself. */
static void become(char const *role)
{
  struct passwd *pw;
  gid_t g;
  if (getuid()) return;
  pw = getpwnam(role);
  if (!pw) die_user(role);
  g = pw->pw_gid;
  if (setgroups(1, &g) < 0 || setgid(g) < 0 || setuid(pw->pw_uid) < 0) die_drop(role);
  if (!getuid() || !geteuid()) die_drop(role);
}

/* A pipe with both ends above the fds we are about to fill, so dup2 never clobbers one. */
static void hipipe(int p[2])
{
  int q[2];
  if (pipe(q) < 0) die_pipe();
  p[0] = fcntl(q[0], F_DUPFD_CLOEXEC, 10);
  p[1] = fcntl(q[1], F_DUPFD_CLOEXEC, 10);
  if (p[0] < 0 || p[1] < 0) die_pipe();
  close(q[0]);
  close(q[1]);
}

/* A SOCK_SEQPACKET pair with both ends above the fds we are about to fill. */
static void hisocket(int p[2])
{
  int q[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) < 0) strerr_diefu1sys(111, "make a socket pair");
  p[0] = fcntl(q[0], F_DUPFD_CLOEXEC, 10);
  p[1] = fcntl(q[1], F_DUPFD_CLOEXEC, 10);
  if (p[0] < 0 || p[1] < 0) strerr_diefu1sys(111, "make a socket pair");
  close(q[0]);
  close(q[1]);
}

/* Forks a spawner with requests on its fd 0 and replies on its fd 1: two pipes (req, rep),
   or, with sock, one socket whose ends are sock[0] (send's) and sock[1] (the spawner's). */
static void spawner(char const *prog, char const *role, int req[2], int rep[2], int const *sock, char const *secret)
{
  pid_t pid;
  if (sock) {
    req[0] = rep[1] = sock[1];
    req[1] = rep[0] = sock[0];
  } else {
    hipipe(req);
    hipipe(rep);
  }
  pid = fork();
  if (pid < 0) die_fork();
  if (!pid) {
    char path[1024];
    char *argv[2];
    int fd = -1;
    if (secret) {
      /* opened before the switch: the file is root's alone; an fd above 3, so the dup2
         below never lands on one of ours */
      int f = open(secret, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
      if (f < 0 && errno != ENOENT) strerr_warnwu2sys("open ", secret);
      if (f >= 0 && (fd = fcntl(f, F_DUPFD_CLOEXEC, 10)) < 0) _exit(111);
      if (f >= 0) close(f);
    }
    if (role) become(role);
    if (dup2(req[0], 0) < 0 || dup2(rep[1], 1) < 0) _exit(111);
    /* fd 3 is the secret, or nothing at all (never a stray fd we inherited) */
    if (secret && (fd >= 0 ? dup2(fd, 3) < 0 : close(3) < 0 && errno != EBADF)) _exit(111);
    snprintf(path, sizeof path, "%s/bin/%s", auto_home, prog);
    argv[0] = (char *)prog;
    argv[1] = 0;
    execv(path, argv);
    strerr_diefu2sys(111, "run ", path);
  }
  close(req[0]);
  if (!sock) close(rep[1]);
}

/* The DKIM signer as mrdkim, between send (sock, its fd 0) and rspawn (toward, its fd 3). */
static void signer(int sock, int toward)
{
  pid_t pid = fork();
  if (pid < 0) die_fork();
  if (!pid) {
    char path[1024];
    become(ROLE_DKIM);
    if (dup2(sock, 0) < 0 || dup2(toward, 3) < 0) _exit(111);
    snprintf(path, sizeof path, "%s/bin/mailroom-dkimsign", auto_home);
    execl(path, "mailroom-dkimsign", (char *)0);
    strerr_diefu2sys(111, "run ", path);
  }
  close(sock);
  close(toward);
}

int main(void)
{
  char path[1024];
  int lreq[2], lrep[2], rreq[2], rrep[2], rsock[2], null;
  PROG = "mailroom-start";
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  spawner("mailroom-lspawn", 0, lreq, lrep, 0, 0);
  snprintf(path, sizeof path, "%s/bin/mailroom-rspawn", auto_home);
  if (access(path, X_OK) == 0) {
    struct stat st;
    hisocket(rsock);
    snprintf(path, sizeof path, "%s/bin/mailroom-dkimsign", auto_home);
    if (stat("control/dkim", &st) == 0 && S_ISDIR(st.st_mode) && access(path, X_OK) == 0) {
      int dsock[2];
      hisocket(dsock);
      spawner("mailroom-rspawn", ROLE_REMOTE, rreq, rrep, dsock, "control/smtproutes-auth");
      signer(rsock[1], dsock[0]);
      rreq[1] = rrep[0] = rsock[0];
    } else
      spawner("mailroom-rspawn", ROLE_REMOTE, rreq, rrep, rsock, "control/smtproutes-auth");
  } else rreq[1] = rrep[0] = -1;
  null = open("/dev/null", O_RDONLY);
  if (null < 0 || dup2(null, 0) < 0) strerr_diefu1sys(111, "open /dev/null");
  if (dup2(lreq[1], 3) < 0 || dup2(lrep[0], 4) < 0) strerr_diefu1sys(111, "set up fds 3 and 4");
  if (rreq[1] >= 0 && (dup2(rreq[1], 5) < 0 || dup2(rrep[0], 6) < 0)) strerr_diefu1sys(111, "set up fds 5 and 6");
  become(ROLE_SEND);
  snprintf(path, sizeof path, "%s/bin/mailroom-send", auto_home);
  execl(path, "mailroom-send", (char *)0);
  strerr_diefu2sys(111, "run ", path);
}
