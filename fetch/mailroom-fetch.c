/* mailroom-fetch: polls the POP3 accounts of control/fetchaccounts and hands each new
   message to the injector for its local recipient. Runs as its own role user (mrfetch),
   the only one that reads the accounts file (it holds passwords) and writes fetch/, the
   per-account state. Trusts nothing a server sends: every line, answer and message is
   bounded, every read has a deadline. One log line per message on stdout. */
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <skalibs/iopause.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>

#include "auto_home.h"
#include "control.h"
#include "exitcodes.h"
#include "fetch.h"

#define USAGE "mailroom-fetch [ -1 ] [ -t timeout ] [ -a account ]"
#define ACCOUNTS "control/fetchaccounts"
#define ACCOUNTS_FILE_MAX (1024 * 1024)
#define TIMEOUT_DEFAULT 60 /* seconds per read from a server */

static _Noreturn void die_usage(void) { strerr_dieusage(EX_PERM, USAGE); }
static _Noreturn void die_nomem(void) { strerr_dief(EX_TEMP, "out of memory"); }
static _Noreturn void die_root(void) { strerr_dief(EX_PERM, "refusing to run as root: run me as mrfetch"); }
static _Noreturn void die_home(void) { strerr_diefusys(EX_TEMP, "chdir to ", auto_home); }
static _Noreturn void die_accounts(void) { strerr_diefusys(EX_TEMP, "read ", ACCOUNTS); }
static _Noreturn void die_none(void) { strerr_dief(EX_PERM, "no usable account in ", ACCOUNTS); }
static void warn_line(unsigned n, char const *why)
{
  char fmt[UINT_FMT];
  fmt[uint_fmt(fmt, n)] = 0;
  strerr_warnw(ACCOUNTS, " account ", fmt, ": ", why, ": skipped");
}

typedef struct accounts_s {
  fetch_acct *a;
  tain *next;
  unsigned n;
} accounts;

/* The accounts (only: if not 0), each line checked; a bad one is skipped with a warning. */
static void read_accounts(accounts *as, char const *only)
{
  char *s;
  size_t len, i;
  unsigned line = 0;
  if (control_readlines(ACCOUNTS, &s, &len, ACCOUNTS_FILE_MAX) < 0) die_accounts();
  as->a = calloc(FETCH_ACCOUNTS_MAX, sizeof *as->a);
  as->next = calloc(FETCH_ACCOUNTS_MAX, sizeof *as->next);
  if (!as->a || !as->next) die_nomem();
  as->n = 0;
  for (i = 0; i < len; i += strlen(s + i) + 1) {
    fetch_acct *a = &as->a[as->n];
    char const *why;
    int dup = 0;
    line++;
    if (fetch_acct_parse(a, s + i, &why) < 0) {
      warn_line(line, why);
      continue;
    }
    for (unsigned j = 0; j < as->n; j++) dup |= !strcmp(as->a[j].name, a->name);
    if (dup) {
      warn_line(line, "a second account of that name");
      continue;
    }
    if (only && strcmp(only, a->name)) continue;
    if (as->n + 1 >= FETCH_ACCOUNTS_MAX) {
      warn_line(line, "more than 1000 accounts");
      break;
    }
    as->n++;
  }
  free(s);
}

int main(int argc, char const *const *argv)
{
  subgetopt l = SUBGETOPT_ZERO;
  fetch_ctx x = { .timeout = TIMEOUT_DEFAULT };
  accounts as;
  char const *only = 0;
  int once = 0, opt, failed = 0;
  PROG = "mailroom-fetch";
  while ((opt = subgetopt_r(argc, argv, "1t:a:", &l)) != -1) {
    switch (opt) {
    case '1': once = 1; break;
    case 't': if (!ulong0_scan(l.arg, &x.timeout) || !x.timeout || x.timeout > 3600) die_usage(); break;
    case 'a': only = l.arg; break;
    default: die_usage();
    }
  }
  if (!getuid() || !geteuid()) die_root();
  if (sig_ignore(SIGPIPE) < 0) strerr_diefusys(EX_TEMP, "ignore SIGPIPE");
  umask(077);
  if (chdir(auto_home) < 0) die_home();
  if (control_readline("control/me", x.me, sizeof x.me, "localhost") < 0) strerr_diefusys(EX_TEMP, "read control/me");
  read_accounts(&as, only);
  if (!as.n) die_none();
  tain_now_g();
  for (unsigned i = 0; i < as.n; i++) as.next[i] = STAMP;
  for (;;) {
    tain soonest = TAIN_INFINITE;
    tain_now_g();
    for (unsigned i = 0; i < as.n; i++) {
      if (tain_less(&STAMP, &as.next[i])) continue;
      if (fetch_poll(&x, &as.a[i]) < 0) failed = 1;
      tain_now_g();
      tain_addsec_g(&as.next[i], (int)as.a[i].interval);
    }
    if (once) break;
    for (unsigned i = 0; i < as.n; i++)
      if (tain_less(&as.next[i], &soonest)) soonest = as.next[i];
    iopause_g(0, 0, &soonest);
  }
  free(as.a);
  free(as.next);
  return failed ? EX_TEMP : EX_OK;
}
