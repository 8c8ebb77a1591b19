/* mailroom-showctl: qmail-showctl's job. Prints every control file of the instance with
   its value or the default that applies and what it means, then names each mistake it
   finds: a malformed line (by file and line number), a number where none is, a value out
   of range, a virtual domain that control/locals takes first, a cdb older than its text,
   a file no program reads, a key others may read, a missing control/me. Run by the admin
   (root, or anyone who can read control/); reads, changes nothing. */
#include <string.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include "auto_home.h"
#include "exitcodes.h"
#include "qtool.h"
#include "showctl.h"

#define USAGE "mailroom-showctl [ --json ]"

static _Noreturn void die_usage(void) { strerr_dieusage(EX_PERM, USAGE); }
static _Noreturn void die_home(void) { strerr_diefusys(EX_TEMP, "chdir to ", auto_home); }
static _Noreturn void die_control(void) { strerr_diefusys(EX_TEMP, "read ", auto_home, "/control"); }

int main(int argc, char const *const *argv)
{
  struct sc_report r = { 0 };
  int json = 0;
  size_t nm;
  PROG = "mailroom-showctl";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) json = 1;
    else die_usage();
  }
  if (chdir(auto_home) < 0) die_home();
  if (sc_check(&r) < 0) die_control();
  if (json) sc_json(&r, auto_home);
  else sc_print(&r, auto_home);
  qt_flush(buffer_1);
  nm = r.nm;
  sc_free(&r);
  /* mistakes found: a permanent problem of the configuration, as the other tools' 100 */
  return nm ? EX_PERM : 0;
}
