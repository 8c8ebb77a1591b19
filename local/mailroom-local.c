/* mailroom-local: delivers one message to one local recipient, as the recipient's dot file
   (.qmail, .qmail-EXT, .qmail-default) or the default delivery says: Maildir, mbox,
   |program, forward. Run by mailroom-lspawn as the recipient (never root), in their home,
   with the queue's message file on fd 0 and a pipe to lspawn on fds 1 and 2. It trusts its
   arguments (lspawn made them), the user's dot files only as far as the user, and reads
   fd 0 no further than msglen: the envelope after it must never reach a delivery.
   With -w it is a warm deliverer instead: jobs from lspawn on a socket (local_worker.c). */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "exitcodes.h"
#include "local.h"

#define USAGE "mailroom-local -- user home local dash ext domain sender msglen [defaultdelivery] | mailroom-local -w"

/* The one-shot mode's last words: the line on fd 1, then the exit code. */
static _Noreturn void finish(int e, char const *text)
{
  char t[LOCAL_TEXT_MAX + 2];
  size_t len = 0;
  local_textcat(t, &len, LOCAL_TEXT_MAX, text);
  t[len++] = '\n';
  if (write(1, t, len) < 0) _exit(e);
  _exit(e);
}

static _Noreturn void die_usage(void) { finish(EX_TEMP, "4.3.5 usage: " USAGE); }
static _Noreturn void die_root(void) { finish(EX_TEMP, "4.3.0 mailroom-local refuses to run as root"); }
static _Noreturn void die_devnull(void) { finish(EX_TEMP, "4.3.0 unable to open /dev/null"); }

int main(int argc, char const *const *argv)
{
  subgetopt o = SUBGETOPT_ZERO;
  local l;
  uint64_t msglen;
  int worker = 0;
  char text[LOCAL_TEXT_MAX + 1];

  PROG = "mailroom-local";
  umask(077);
  if (!getuid() || !geteuid()) die_root();
  if (!fd_sanitize()) die_devnull();
  sig_ignore(SIGPIPE); /* a program that stops reading is judged by its exit code */
  for (int c; (c = subgetopt_r(argc, argv, "w", &o)) != -1;) {
    if (c != 'w') die_usage();
    worker = 1;
  }
  /* mailroom-lspawn's warm deliverer: the socket on fd 0, no arguments (local_worker.c) */
  if (worker) _exit(o.ind == argc ? local_worker(0) : EX_TEMP);
  argc -= o.ind;
  argv += o.ind;
  if (argc != 8 && argc != 9) die_usage();
  if (argv[1][0] != '/' || !argv[7][0] || uint64_scan(argv[7], &msglen) != strlen(argv[7]))
    die_usage();

  local_init(&l);
  l.user = argv[0];
  l.home = argv[1];
  l.local = argv[2];
  l.dash = argv[3];
  l.ext = argv[4];
  l.domain = argv[5];
  l.sender = argv[6];
  l.msglen = msglen;
  l.msgfd = 0;
  if (argc == 9 && argv[8][0]) l.defaultdelivery = argv[8];

  if (local_checkhome(&l) < 0 || local_setup(&l, (unsigned long long)time(0)) < 0
      || local_checkmsg(&l) < 0 || local_loopcheck(&l) < 0 || local_finddot(&l) < 0
      || local_newsender(&l) < 0 || local_deliver(&l) < 0) {
    int e = local_reply(&l, text);
    finish(e, text);
  }
  finish(l.stop ? EX_OKSTOP : EX_OK, l.text);
}
