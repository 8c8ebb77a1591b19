/* mailroom-qcheck: finds and repairs a damaged queue after a crash or a restore: message
   files without a valid trailer or envelope (moved aside to queue/bad/), info files without
   their message or malformed (removed: mailroom-send rebuilds them), wrong owners and modes
   (the table of lib/sh/modes), stale temporary files, missing folders and FIFOs. Reports
   every change. Run by root while mailroom-send is stopped: when it runs (it holds
   queue/lock/sendlock) qcheck only reports, as with -n. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include "auto_home.h"
#include "qcheck.h"
#include "qtool.h"

#define USAGE "mailroom-qcheck [ -n ] [ --json ]"

static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }

static void role(char const *name, uid_t *uid, gid_t *gid, int *ok)
{
  struct passwd *pw = getpwnam(name);
  if (!pw) {
    *ok = 0;
    return;
  }
  *uid = pw->pw_uid;
  *gid = pw->pw_gid;
}

int main(int argc, char const *const *argv)
{
  struct qc_state st;
  int lockfd;
  PROG = "mailroom-qcheck";
  memset(&st, 0, sizeof st);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--dry-run")) st.dry = 1;
    else if (!strcmp(argv[i], "--json")) st.json = 1;
    else die_usage();
  }
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  if (chdir("queue") < 0) strerr_diefu3sys(111, "enter ", auto_home, "/queue");
  lockfd = open("lock/sendlock", O_RDONLY | O_CLOEXEC);
  if (lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
    if (errno != EWOULDBLOCK) strerr_diefu1sys(111, "lock queue/lock/sendlock");
    st.dry = 1;
    st.sendruns = 1;
  }
  /* Owners: the role users when run as root and they exist; otherwise the instance is one
     user's and only modes are checked. */
  st.owners = !getuid();
  if (st.owners) {
    gid_t g;
    role("mrqueue", &st.uqueue, &g, &st.owners);
    role("mrsend", &st.usend, &st.gsend, &st.owners);
  }
  if (st.json) qt_put(buffer_1, "{\"problems\":[");
  qc_dirs(&st);
  qc_locks(&st);
  qc_tmp(&st);
  qc_messages(&st, "new");
  qc_messages(&st, "mess");
  qc_infos(&st);
  qc_report(&st);
  if (st.errors) return 111;
  return st.found > st.fixed ? 100 : 0;
}
