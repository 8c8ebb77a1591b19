/* mailroom-newu: compiles users/assign into users/assign.cdb, as qmail-newu does.
   Run by the admin (root) after editing users/assign; trusts nothing in the file: every
   line is checked, and one bad line, or a file without its final ".", leaves the old cdb
   in place. The new cdb is written as assign.cdb.tmp, fsynced, renamed, and users/ fsynced. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cdb.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/posixplz.h>
#include <skalibs/skamisc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "assign.h"
#include "auto_home.h"
#include "syncdir.h"

#define SRC "users/assign"
#define DST "users/assign.cdb"
#define TMP "users/assign.cdb.tmp"
#define USAGE "mailroom-newu"

/* Before TMP exists. */
static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }
static _Noreturn void die_home(void) { strerr_diefusys(111, "chdir to ", auto_home); }
static _Noreturn void die_opensrc(void) { strerr_diefusys(111, "open ", SRC); }
static _Noreturn void die_locked(void) { strerr_dief(111, SRC, " is locked: another mailroom-newu is running"); }
static _Noreturn void die_lock(void) { strerr_diefusys(111, "lock ", SRC); }
static _Noreturn void die_opentmp(void) { strerr_diefusys(111, "open ", TMP); }

/* After TMP exists: remove it first, so a failed run leaves only the old cdb. */
static _Noreturn void die_tmp(int e, char const *a, char const *b, char const *c, char const *d)
{
  int olderrno = errno;
  unlink_void(TMP);
  errno = olderrno;
  if (e == 111) strerr_diefsys(111, a, b, c, d);
  strerr_dief(e, a, b, c, d);
}
static _Noreturn void die_read(void) { die_tmp(111, "unable to read ", SRC, "", ""); }
static _Noreturn void die_write(void) { die_tmp(111, "unable to write ", TMP, "", ""); }
static _Noreturn void die_sync(void) { die_tmp(111, "unable to fsync ", TMP, "", ""); }
static _Noreturn void die_rename(void) { die_tmp(111, "unable to rename ", TMP, " to ", DST); }
static _Noreturn void die_line(char const *n, char const *why) { die_tmp(100, SRC " line ", n, ": ", why); }
static _Noreturn void die_toolong(char const *n) { die_line(n, "longer than 4096 bytes"); }
static _Noreturn void die_afterdot(char const *n) { die_line(n, "data after the final . line"); }
static _Noreturn void die_nodot(void) { die_tmp(100, SRC, ": no final . line (a truncated file is not applied)", "", ""); }

/* Reads the next line, without its newline, into line (ASSIGN_LINE_MAX + 2 bytes).
   1: a line, 0: end of file. The length is checked here: skalibs' getlnmax() wants room
   for one byte past the separator, so its own ERANGE comes one byte early. */
static int readline(buffer *b, char *line, size_t *len, char const *n)
{
  size_t w = 0;
  int r = getlnmax(b, line, ASSIGN_LINE_MAX + 2, &w, '\n');
  if (r < 0) {
    if (errno == ERANGE) die_toolong(n);
    die_read();
  }
  if (r > 0) w--; /* the newline */
  else if (!w) return 0;
  if (w > ASSIGN_LINE_MAX) die_toolong(n);
  *len = w;
  return 1;
}

static void compile(buffer *b, struct cdb_make *cm)
{
  char line[ASSIGN_LINE_MAX + 2];
  char key[ASSIGN_KEY_MAX + 1];
  char val[ASSIGN_VAL_MAX];
  char num[ULONG_FMT];
  unsigned long lineno = 0;
  size_t len, keylen, vallen;
  char const *why;
  int r;

  for (;;) {
    num[ulong_fmt(num, ++lineno)] = 0;
    if (!readline(b, line, &len, num)) die_nodot();
    r = assign_parseline(line, len, key, &keylen, ASSIGN_KEY_MAX, val, &vallen, sizeof val, &why);
    if (r < 0) die_line(num, why);
    if (!r) break;
    r = cdb_make_put(cm, key, (unsigned)keylen, val, (unsigned)vallen, CDB_PUT_INSERT);
    if (r < 0) die_write();
    if (r > 0) {
      key[keylen] = 0;
      strerr_warnw(SRC, " line ", num, ": duplicate ", key, ": the first entry wins");
    }
  }
  num[ulong_fmt(num, ++lineno)] = 0;
  if (readline(b, line, &len, num)) die_afterdot(num);
}

int main(int argc, char const *const *argv)
{
  char buf[BUFFER_INSIZE];
  buffer b;
  struct cdb_make cm;
  int fdsrc, fdtmp;

  PROG = "mailroom-newu";
  if (argc > 1) die_usage();
  umask(022);
  if (chdir(auto_home) < 0) die_home();

  fdsrc = open(SRC, O_RDONLY | O_CLOEXEC);
  if (fdsrc < 0) die_opensrc();
  /* Two runs at once would write one TMP together. */
  if (flock(fdsrc, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) die_locked();
    die_lock();
  }
  buffer_init(&b, &buffer_read, fdsrc, buf, sizeof buf);

  /* O_RDWR: tinycdb reads records back to find a duplicate key (CDB_PUT_INSERT). */
  fdtmp = open(TMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fdtmp < 0) die_opentmp();
  if (cdb_make_start(&cm, fdtmp) < 0) die_write();
  compile(&b, &cm);
  if (cdb_make_finish(&cm) < 0) die_write();
  if (fd_sync(fdtmp) < 0) die_sync();
  if (close(fdtmp) < 0) die_write();
  if (rename(TMP, DST) < 0) die_rename();

  /* The rename is durable only once users/ is. The new cdb is in place already: a
     failure here is reported, and running mailroom-newu again is harmless. */
  if (syncdir("users") < 0) strerr_diefusys(111, "fsync ", "users");
  return 0;
}
