/* mailroom-passwd: adds, changes, removes and lists the POP3 users of users/password.cdb,
   the database of mailroom-checkpassword. Run by the admin (root: the cdb is 0640 root:mrauth,
   readable by mailroom-tlsd's SMTP AUTH verifier and by nobody else; lib/sh/modes).
   The password comes on stdin (never in an argument, so never in ps or a shell history):
   from a terminal it is asked twice without echo. Every change rewrites the whole cdb as
   password.cdb.tmp, fsynced, renamed over the old one, users/ fsynced: a reader sees the old
   database or the new one. Two runs at once are refused (flock on users/). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <cdb.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/posixplz.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "assign.h"
#include "auto_home.h"
#include "pop3d.h"
#include "roles.h"

#define USAGE "mailroom-passwd [ -6 ] [ -k ] [ -u uid ] [ -g gid ] [ -d home ] add|change|remove user | mailroom-passwd list"

enum op { OP_ADD, OP_CHANGE, OP_REMOVE, OP_LIST };

struct opts {
  enum op op;
  char const *user;
  int method, keep;
  char const *uid, *gid, *home;
};

static void wipe(void *s, size_t n)
{
  volatile char *v = s;
  while (n--) *v++ = 0;
}

/* Before the tmp file exists. */
static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }
static _Noreturn void die_home(void) { strerr_diefusys(111, "chdir to ", auto_home); }
static _Noreturn void die_lock(void) { strerr_diefusys(111, "lock users/"); }
static _Noreturn void die_locked(void) { strerr_dief(111, "another mailroom-passwd is running (users/ is locked)"); }
static _Noreturn void die_badname(char const *u) { strerr_dief(100, "invalid user name (1 to 128 printable bytes, no space, no '/', not . or ..): ", u); }
static _Noreturn void die_noassign(char const *u) { strerr_dief(100, "no -u, -g and -d given, and users/assign has no entry for ", u); }
static _Noreturn void die_assign(void) { strerr_diefusys(111, "read users/assign.cdb"); }
static _Noreturn void die_readpass(void) { strerr_diefusys(111, "read the password on stdin"); }
static _Noreturn void die_longpass(void) { strerr_dief(100, "password longer than 256 bytes"); }
static _Noreturn void die_emptypass(void) { strerr_dief(100, "empty password (or none on stdin)"); }
static _Noreturn void die_nulpass(void) { strerr_dief(100, "password holds a NUL byte"); }
static _Noreturn void die_mismatch(void) { strerr_dief(100, "the two passwords differ"); }
static _Noreturn void die_hash(void) { strerr_diefusys(111, "hash the password"); }
static _Noreturn void die_open(void) { strerr_diefusys(111, "open ", POP3_PW_CDB); }
static _Noreturn void die_opentmp(void) { strerr_diefusys(111, "open ", POP3_PW_TMP); }

/* After it exists: remove it first, so that a failed run leaves the old cdb alone. */
#define die_tmp(e, ...) (unlink_void(POP3_PW_TMP), (e) == 111 ? strerr_diefsys(e, __VA_ARGS__) : strerr_dief(e, __VA_ARGS__))
static _Noreturn void die_write(void) { die_tmp(111, "unable to write ", POP3_PW_TMP); }
static _Noreturn void die_corrupt(void) { die_tmp(111, POP3_PW_CDB, " holds a malformed entry: not changed"); }
static _Noreturn void die_exists(char const *u) { die_tmp(100, "user ", u, " exists already (use change)"); }
static _Noreturn void die_nouser(char const *u) { die_tmp(100, "no such user: ", u); }
static _Noreturn void die_field(char const *why) { die_tmp(100, "invalid entry: ", why); }

/* One line of stdin, without its LF (or CRLF), into p (POP3_PASS_MAX + 2 bytes). */
static size_t readline0(char *p)
{
  size_t len = 0;
  for (;;) {
    ssize_t r = read(0, p + len, 1);
    if (r < 0) {
      if (errno == EINTR) continue;
      die_readpass();
    }
    if (!r || p[len] == '\n') break;
    if (++len > POP3_PASS_MAX) die_longpass();
  }
  if (len && p[len - 1] == '\r') len--;
  p[len] = 0;
  return len;
}

static void prompt(char const *s)
{
  if (write(2, s, strlen(s)) < 0) return; /* a prompt nobody sees changes nothing */
}

static size_t readpass(char *p)
{
  struct termios t, quiet;
  char again[POP3_PASS_MAX + 2];
  size_t len, len2;
  int tty = isatty(0) && tcgetattr(0, &t) == 0;
  if (!tty) {
    len = readline0(p);
  } else {
    quiet = t;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(0, TCSAFLUSH, &quiet);
    prompt("Password: ");
    len = readline0(p);
    prompt("\nAgain: ");
    len2 = readline0(again);
    prompt("\n");
    tcsetattr(0, TCSAFLUSH, &t);
    if (len != len2 || memcmp(p, again, len) != 0) {
      wipe(again, sizeof again);
      wipe(p, POP3_PASS_MAX + 2);
      die_mismatch();
    }
    wipe(again, sizeof again);
  }
  if (!len) die_emptypass();
  if (memchr(p, 0, len)) die_nulpass();
  return len;
}

/* -u, -g, -d over *pw; for a new user, what they leave out comes from users/assign. */
static void fields(struct opts const *o, struct pop3_pw *pw, int isnew)
{
  if (isnew && (!o->uid || !o->gid || !o->home)) {
    struct assign_user au;
    int r = assign_lookup(0, o->user, &au);
    if (r < 0) die_assign();
    if (!r) die_noassign(o->user);
    pw->uid = au.uid;
    pw->gid = au.gid;
    if (strlen(au.home) > POP3_PATH_MAX) die_noassign(o->user);
    memcpy(pw->home, au.home, strlen(au.home) + 1);
  }
  if (o->uid && pop3_scan_id(o->uid, strlen(o->uid), &pw->uid) < 0) die_usage();
  if (o->gid && pop3_scan_id(o->gid, strlen(o->gid), &pw->gid) < 0) die_usage();
  if (o->home) {
    if (strlen(o->home) > POP3_PATH_MAX) die_usage();
    memcpy(pw->home, o->home, strlen(o->home) + 1);
  }
}

static void put(struct cdb_make *cm, char const *user, size_t ulen, struct pop3_pw const *pw)
{
  char val[POP3_PW_VAL_MAX];
  size_t vlen;
  char const *why = "?";
  if (pop3_pw_pack(pw, val, sizeof val, &vlen, &why) < 0) die_field(why);
  if (cdb_make_add(cm, user, (unsigned)ulen, val, (unsigned)vlen) < 0) die_write();
  wipe(val, sizeof val);
}

static void list(int fd)
{
  struct cdb c;
  unsigned int pos;
  int r;
  if (fd < 0) return;
  if (cdb_init(&c, fd) < 0) strerr_diefusys(111, "read ", POP3_PW_CDB);
  cdb_seqinit(&pos, &c);
  while ((r = cdb_seqnext(&pos, &c)) > 0) {
    struct pop3_pw pw;
    char num[2][ULONG_FMT];
    if (pop3_pw_unpack(cdb_getdata(&c), cdb_datalen(&c), &pw) < 0) strerr_dief(111, POP3_PW_CDB, " holds a malformed entry");
    num[0][ulong_fmt(num[0], pw.uid)] = 0;
    num[1][ulong_fmt(num[1], pw.gid)] = 0;
    if (buffer_put(buffer_1, cdb_getkey(&c), cdb_keylen(&c)) < 0 || buffer_puts(buffer_1, " ") < 0
        || buffer_puts(buffer_1, num[0]) < 0 || buffer_puts(buffer_1, " ") < 0 || buffer_puts(buffer_1, num[1]) < 0
        || buffer_puts(buffer_1, " ") < 0 || buffer_puts(buffer_1, pw.home) < 0 || buffer_puts(buffer_1, "\n") < 0)
      strerr_diefusys(111, "write to stdout");
    wipe(pw.hash, sizeof pw.hash);
  }
  if (r < 0) strerr_diefusys(111, "read ", POP3_PW_CDB);
  if (!buffer_flush(buffer_1)) strerr_diefusys(111, "write to stdout");
}

/* The new cdb's mode, its group set on fd first: as root 0640 group mrauth (the SMTP AUTH
   verifier's), as lib/sh/modes has it; without that group, or not as root, 0600. */
static mode_t cdb_mode(int fd)
{
  struct group *gr;
  if (geteuid()) return 0600;
  gr = getgrnam(ROLE_AUTH);
  if (!gr) {
    strerr_warnw("no group ", ROLE_AUTH, " (make setup as root creates it): ", POP3_PW_CDB, " is 0600, SMTP AUTH cannot read it");
    return 0600;
  }
  if (fchown(fd, (uid_t)-1, gr->gr_gid) < 0) die_write();
  return 0640;
}

/* Copies every entry but the user's, then writes the user's as the operation wants. */
static void rewrite(struct opts const *o, int fdold, struct pop3_pw *fresh)
{
  struct cdb_make cm;
  size_t ulen = strlen(o->user);
  int found = 0, fdtmp = open(POP3_PW_TMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  struct pop3_pw pw;
  if (fdtmp < 0) die_opentmp();
  if (fchmod(fdtmp, cdb_mode(fdtmp)) < 0 || cdb_make_start(&cm, fdtmp) < 0) die_write();
  if (fdold >= 0) {
    struct cdb c;
    unsigned int pos;
    int r;
    if (cdb_init(&c, fdold) < 0) die_corrupt();
    cdb_seqinit(&pos, &c);
    while ((r = cdb_seqnext(&pos, &c)) > 0) {
      char const *k = cdb_getkey(&c);
      unsigned int kl = cdb_keylen(&c);
      if (!k || !pop3_user_ok(k, kl) || pop3_pw_unpack(cdb_getdata(&c), cdb_datalen(&c), &pw) < 0) die_corrupt();
      if (kl == ulen && !memcmp(k, o->user, ulen)) {
        found = 1;
        if (o->op == OP_ADD) die_exists(o->user);
        if (o->op == OP_REMOVE) continue;
        if (!o->keep) memcpy(pw.hash, fresh->hash, strlen(fresh->hash) + 1);
        fields(o, &pw, 0);
        put(&cm, k, kl, &pw);
        continue;
      }
      if (cdb_make_add(&cm, k, kl, cdb_getdata(&c), cdb_datalen(&c)) < 0) die_write();
    }
    if (r < 0) die_corrupt();
    cdb_free(&c);
  }
  if (!found && o->op != OP_ADD) die_nouser(o->user);
  if (o->op == OP_ADD) {
    fields(o, fresh, 1);
    put(&cm, o->user, ulen, fresh);
  }
  wipe(&pw, sizeof pw);
  if (cdb_make_finish(&cm) < 0 || fd_sync(fdtmp) < 0 || close(fdtmp) < 0) die_write();
  if (rename(POP3_PW_TMP, POP3_PW_CDB) < 0) die_tmp(111, "unable to rename ", POP3_PW_TMP, " to ", POP3_PW_CDB);
}

int main(int argc, char const *const *argv)
{
  subgetopt g = SUBGETOPT_ZERO;
  struct opts o = { .method = POP3_HASH_YESCRYPT };
  struct pop3_pw fresh;
  int fdold, fddir;

  PROG = "mailroom-passwd";
  for (;;) {
    int opt = subgetopt_r(argc, argv, "6ku:g:d:", &g);
    if (opt == -1) break;
    switch (opt) {
      case '6': o.method = POP3_HASH_SHA512; break;
      case 'k': o.keep = 1; break;
      case 'u': o.uid = g.arg; break;
      case 'g': o.gid = g.arg; break;
      case 'd': o.home = g.arg; break;
      default: die_usage();
    }
  }
  argc -= g.ind;
  argv += g.ind;
  if (argc == 1 && !strcmp(argv[0], "list")) o.op = OP_LIST;
  else if (argc == 2 && !strcmp(argv[0], "add")) o.op = OP_ADD;
  else if (argc == 2 && !strcmp(argv[0], "change")) o.op = OP_CHANGE;
  else if (argc == 2 && !strcmp(argv[0], "remove")) o.op = OP_REMOVE;
  else die_usage();
  if ((o.keep && o.op != OP_CHANGE) || (o.op >= OP_REMOVE && (o.uid || o.gid || o.home))) die_usage();
  o.user = argv[1];
  umask(077);
  if (chdir(auto_home) < 0) die_home();
  fdold = open(POP3_PW_CDB, O_RDONLY | O_CLOEXEC);
  if (fdold < 0 && errno != ENOENT) die_open();
  if (o.op == OP_LIST) {
    list(fdold);
    return 0;
  }
  if (!pop3_user_ok(o.user, strlen(o.user))) die_badname(o.user);

  fddir = open("users", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fddir < 0) die_lock();
  if (flock(fddir, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) die_locked();
    die_lock();
  }
  /* The cdb opened before the lock may have been replaced by the run that held it. */
  if (fdold >= 0) close(fdold);
  fdold = open(POP3_PW_CDB, O_RDONLY | O_CLOEXEC);
  if (fdold < 0 && errno != ENOENT) die_open();

  memset(&fresh, 0, sizeof fresh);
  if (o.op == OP_ADD || (o.op == OP_CHANGE && !o.keep)) {
    char pass[POP3_PASS_MAX + 2];
    readpass(pass);
    if (pop3_hash(pass, o.method, fresh.hash, sizeof fresh.hash) < 0) {
      wipe(pass, sizeof pass);
      die_hash();
    }
    wipe(pass, sizeof pass);
  }
  rewrite(&o, fdold, &fresh);
  /* The rename is durable once users/ is; the new cdb is in place already. */
  if (fd_sync(fddir) < 0) strerr_diefusys(111, "fsync users/");
  return 0;
}
