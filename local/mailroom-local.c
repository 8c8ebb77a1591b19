/* mailroom-local: delivers one message to one local recipient, as the recipient's dot file
   (.qmail, .qmail-EXT, .qmail-default) or the default delivery says: Maildir, mbox,
   |program, forward. Run by mailroom-lspawn as the recipient (never root), in their home,
   with the queue's message file on fd 0 and a pipe to lspawn on fds 1 and 2. It trusts its
   arguments (lspawn made them), the user's dot files only as far as the user, and reads
   fd 0 no further than msglen: the envelope after it must never reach a delivery. */
#include <errno.h>
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
#include "dotqmail.h"
#include "exitcodes.h"
#include "qqerr.h"
#include "local.h"
#include "maildir.h"

#define USAGE "mailroom-local -- user home local dash ext domain sender msglen [defaultdelivery]"

/* The one line of text, cut to LOCAL_TEXT_MAX and printable, on fd 1, then the exit. strerr
   cannot bound a line, and this one goes into a log record and a bounce. */
#define die(e, ...) \
  die_v(e, strerr_array(__VA_ARGS__), sizeof(strerr_array(__VA_ARGS__)) / sizeof(char const *))
static _Noreturn void die_v(int e, char const *const *v, unsigned int n)
{
  char t[LOCAL_TEXT_MAX + 2];
  size_t len = 0;
  for (unsigned int i = 0; i < n; i++) local_textcat(t, &len, LOCAL_TEXT_MAX, v[i]);
  t[len++] = '\n';
  if (write(1, t, len) < 0) _exit(e);
  _exit(e);
}

static char const *num(char *buf, unsigned int n)
{
  buf[uint_fmt(buf, n)] = 0;
  return buf;
}

/* Where a program's or the injector's own first line can stand as our text. */
static int hascode(char const *s, char c)
{
  return s[0] == c && s[1] == '.' && s[2] >= '0' && s[2] <= '9';
}

static char const *dotlabel(local const *l)
{
  return l->usedefault ? "the default delivery" : l->dotname;
}

static char const *qqtext(int code)
{
  int perm;
  return qq_describe(code, &perm);
}

static _Noreturn void die_usage(void) { die(EX_TEMP, "4.3.5 usage: " USAGE); }
static _Noreturn void die_root(void) { die(EX_TEMP, "4.3.0 mailroom-local refuses to run as root"); }
static _Noreturn void die_nomem(void) { die(EX_TEMP, "4.3.0 out of memory"); }
static _Noreturn void die_homemissing(local const *l) { die(EX_TEMP, "4.2.1 home directory missing: ", l->home); }
static _Noreturn void die_home(local const *l) { die(EX_TEMP, "4.3.0 unable to enter home directory ", l->home, ": ", strerror(l->err)); }
static _Noreturn void die_homewritable(local const *l) { die(EX_TEMP, "4.7.0 home directory ", l->home, " is world-writable"); }
static _Noreturn void die_homesticky(void) { die(EX_TEMP, "4.2.1 home directory is sticky: user is editing a dot file"); }
static _Noreturn void die_readmsg(local const *l) { die(EX_TEMP, "4.3.0 unable to read message: ", strerror(l->err)); }
static _Noreturn void die_shortmsg(void) { die(EX_TEMP, "4.3.0 unable to read message: file shorter than msglen"); }
static _Noreturn void die_loop(void) { die(EX_PERM, "5.4.6 this message is looping: it already has my Delivered-To line"); }
static _Noreturn void die_nomailbox(local const *l) { die(EX_PERM, "5.1.1 sorry, no mailbox here by that name", l->textlen ? "; " : "", l->text); }
static _Noreturn void die_dotopen(local const *l) { die(EX_TEMP, "4.3.0 unable to read ", l->obj, ": ", strerror(l->err)); }
static _Noreturn void die_dotbig(local const *l) { die(EX_TEMP, "4.7.0 ", dotlabel(l), " is bigger than 65536 bytes"); }
static _Noreturn void die_dotsyntax(local const *l, char *b) { die(EX_TEMP, "4.7.0 ", dotlabel(l), " line ", num(b, l->lineno), ": ", dotqmail_strerror(l->err)); }
static _Noreturn void die_fwdonly(local const *l) { die(EX_TEMP, "4.7.0 ", l->dotname, " has its x bit set (forwards only) but a file or program line"); }
static _Noreturn void die_quota(local const *l) { die(EX_TEMP, "4.2.2 mailbox ", l->obj, " is over quota"); }
static _Noreturn void die_diskfull(local const *l) { die(EX_TEMP, "4.3.1 no space left on device for ", l->obj); }
static _Noreturn void die_mdmissing(local const *l, char const *what) { die(EX_TEMP, "4.2.1 maildir ", l->obj, what); }
static _Noreturn void die_maildir(local const *l, char const *what) { die(EX_TEMP, "4.3.0 unable to ", what, " maildir ", l->obj, ": ", strerror(l->err)); }
static _Noreturn void die_mboxopen(local const *l) { die(EX_TEMP, "4.2.1 unable to open mbox ", l->obj, ": ", strerror(l->err)); }
static _Noreturn void die_mboxlock(local const *l) { die(EX_TEMP, "4.3.0 mbox ", l->obj, " has been locked for 30 seconds straight"); }
static _Noreturn void die_mboxwrite(local const *l) { die(EX_TEMP, "4.3.0 unable to write mbox ", l->obj, ": ", strerror(l->err)); }
static _Noreturn void die_spawn(local const *l) { die(EX_TEMP, "4.3.0 unable to start a child: ", strerror(l->err)); }
static _Noreturn void die_prog(local const *l, int e, char const *code, char *b) { die(e, code, " program exited ", num(b, (unsigned int)l->status), l->out[0] ? ": " : "", l->out); }
static _Noreturn void die_progsig(local const *l, char *b) { die(EX_TEMP, "4.3.0 program killed by signal ", num(b, (unsigned int)l->status), l->out[0] ? ": " : "", l->out); }
static _Noreturn void die_progtimeout(void) { die(EX_TEMP, "4.3.0 program timed out after 86400 seconds"); }
static _Noreturn void die_fwd(local const *l, int e, char const *code, char *b) { die(e, code, " unable to forward message: ", qqtext(l->status), " (exit ", num(b, (unsigned int)l->status), ")", l->out[0] ? ": " : "", l->out); }
static _Noreturn void die_fwdsig(local const *l, char *b) { die(EX_TEMP, "4.3.0 unable to forward message: injector killed by signal ", num(b, (unsigned int)l->status)); }
static _Noreturn void die_fwdtimeout(void) { die(EX_TEMP, "4.3.0 unable to forward message: injector timed out"); }

static _Noreturn void die_maildirwhy(local const *l)
{
  int noent = l->err == ENOENT || l->err == ENOTDIR;
  if (l->err == EDQUOT) die_quota(l);
  if (l->err == ENOSPC) die_diskfull(l);
  switch (l->stage) {
    case MAILDIR_SDIR: if (noent) die_mdmissing(l, " is missing"); die_maildir(l, "open");
    case MAILDIR_STMP: if (noent) die_mdmissing(l, " has no tmp/ folder"); die_maildir(l, "create a file in");
    case MAILDIR_SREAD: die_readmsg(l);
    case MAILDIR_SNEW: if (noent) die_mdmissing(l, " has no new/ folder"); die_maildir(l, "link into");
    case MAILDIR_SSYNC: die_maildir(l, "sync new/ of");
    default: die_maildir(l, "write to");
  }
}

static _Noreturn void reply_failure(local const *l)
{
  char b[UINT_FMT];
  switch (l->why) {
    case LW_NOMEM: die_nomem();
    case LW_HOMEMISSING: die_homemissing(l);
    case LW_HOME: die_home(l);
    case LW_HOMEWRITABLE: die_homewritable(l);
    case LW_HOMESTICKY: die_homesticky();
    case LW_READMSG: die_readmsg(l);
    case LW_SHORTMSG: die_shortmsg();
    case LW_LOOP: die_loop();
    case LW_NOMAILBOX: die_nomailbox(l);
    case LW_DOTOPEN: die_dotopen(l);
    case LW_DOTBIG: die_dotbig(l);
    case LW_DOTSYNTAX: die_dotsyntax(l, b);
    case LW_FWDONLY: die_fwdonly(l);
    case LW_MAILDIR: die_maildirwhy(l);
    case LW_MBOXOPEN: die_mboxopen(l);
    case LW_MBOXLOCK: die_mboxlock(l);
    case LW_MBOXWRITE:
      if (l->err == EDQUOT) die_quota(l);
      if (l->err == ENOSPC) die_diskfull(l);
      die_mboxwrite(l);
    case LW_SPAWN: die_spawn(l);
    case LW_PROGPERM: if (hascode(l->out, '5')) die(EX_PERM, l->out); die_prog(l, EX_PERM, "5.0.0", b);
    case LW_PROGTEMP: if (hascode(l->out, '4')) die(EX_TEMP, l->out); die_prog(l, EX_TEMP, "4.0.0", b);
    case LW_PROGSIG: die_progsig(l, b);
    case LW_PROGTIMEOUT: die_progtimeout();
    case LW_FWDPERM: die_fwd(l, EX_PERM, "5.3.0", b);
    case LW_FWDTEMP: die_fwd(l, EX_TEMP, "4.3.0", b);
    case LW_FWDSIG: die_fwdsig(l, b);
    case LW_FWDTIMEOUT: die_fwdtimeout();
    default: die(EX_TEMP, "4.3.0 internal error in mailroom-local");
  }
}

int main(int argc, char const *const *argv)
{
  subgetopt o = SUBGETOPT_ZERO;
  local l;
  uint64_t msglen;

  PROG = "mailroom-local";
  umask(077);
  if (!getuid() || !geteuid()) die_root();
  if (!fd_sanitize()) die(EX_TEMP, "4.3.0 unable to open /dev/null: ", strerror(errno));
  sig_ignore(SIGPIPE); /* a program that stops reading is judged by its exit code */
  if (subgetopt_r(argc, argv, "", &o) != -1) die_usage();
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
      || local_newsender(&l) < 0 || local_deliver(&l) < 0)
    reply_failure(&l);
  die(l.stop ? EX_OKSTOP : EX_OK, l.text);
}
