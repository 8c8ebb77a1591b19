/* mailroom-newcontrol: compiles the key lists mailroom-smtpd looks up, control/rcpthosts
   and control/recipients, and the rules of control/virtualdomains (lib/vdomain_db.c,
   refused whole if one line is malformed or a duplicate), into control/NAME.cdb (tinycdb; written as NAME.cdb.tmp,
   fsynced, renamed), as mailroom-newu does for users/assign. Run by the admin (root) after
   an edit; lib/sh/setup.d/smtpd.sh runs it. With no argument it does both files; a list
   whose text is gone has its cdb removed, so the text stays the one source. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <skalibs/strerr.h>
#include <skalibs/types.h>

#include "auto_home.h"
#include "ctlmap.h"
#include "exitcodes.h"
#include "vdomain_db.h"

#define USAGE "mailroom-newcontrol [ rcpthosts | recipients | virtualdomains ] ..."

static char const *const known[] = { "rcpthosts", "recipients", "virtualdomains" };

static _Noreturn void die_usage(void) { strerr_dieusage(EX_PERM, USAGE); }
static _Noreturn void die_home(void) { strerr_diefusys(EX_TEMP, "chdir to ", auto_home); }
static _Noreturn void die_long(char const *n, unsigned long line)
{
  char fmt[ULONG_FMT];
  fmt[ulong_fmt(fmt, line)] = 0;
  strerr_dief(EX_PERM, "control/", n, " line ", fmt, " is longer than 1024 bytes: control/", n, ".cdb not changed");
}
static _Noreturn void die_bad(char const *n, unsigned long line, char const *why)
{
  char fmt[ULONG_FMT];
  fmt[ulong_fmt(fmt, line)] = 0;
  strerr_dief(EX_PERM, "control/", n, " line ", fmt, ": ", why, ": control/", n, ".cdb not changed");
}
static _Noreturn void die_make(char const *n) { strerr_diefusys(EX_TEMP, "make control/", n, ".cdb"); }
static _Noreturn void die_unlink(char const *n) { strerr_diefusys(EX_TEMP, "remove control/", n, ".cdb"); }

static int is_known(char const *n)
{
  size_t i;
  for (i = 0; i < sizeof known / sizeof known[0]; i++)
    if (!strcmp(n, known[i])) return 1;
  return 0;
}

static void one(char const *n)
{
  char cdb[64];
  unsigned long bad;
  char const *why = 0;
  long k = strcmp(n, "virtualdomains") ? ctlmap_make(n, &bad) : vdomain_make(&bad, &why);
  if (k >= 0) {
    char fmt[ULONG_FMT];
    fmt[ulong_fmt(fmt, (unsigned long)k)] = 0;
    strerr_warni("control/", n, ".cdb: ", fmt, strcmp(n, "virtualdomains") ? " keys" : " rules");
    return;
  }
  if (errno == EINVAL && bad && why) die_bad(n, bad, why);
  if (errno == EINVAL && bad) die_long(n, bad);
  if (errno != ENOENT) die_make(n);
  /* no text: no cdb either */
  snprintf(cdb, sizeof cdb, "control/%s.cdb", n); /* n is one of known[] */
  if (unlink(cdb) < 0) {
    if (errno != ENOENT) die_unlink(n);
    return;
  }
  strerr_warni("control/", n, " is missing: removed control/", n, ".cdb");
}

int main(int argc, char const *const *argv)
{
  int i;
  PROG = "mailroom-newcontrol";
  for (i = 1; i < argc; i++)
    if (!is_known(argv[i])) die_usage();
  if (chdir(auto_home) < 0) die_home();
  if (argc < 2) {
    size_t k;
    for (k = 0; k < sizeof known / sizeof known[0]; k++) one(known[k]);
  } else
    for (i = 1; i < argc; i++) one(argv[i]);
  return 0;
}
