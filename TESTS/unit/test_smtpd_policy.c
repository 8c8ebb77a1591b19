/* Unit tests of lib/ctlmap.c (control key lists, text and cdb) and smtpd_rcpt.c (which
   recipients mailroom-smtpd accepts), in a scratch instance folder: control/locals,
   rcpthosts, recipients, and a users/assign.cdb written with tinycdb (so a link order that
   binds skalibs' cdb_* fails here). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cdb.h>

#include "assign.h"
#include "ctlmap.h"
#include "../../smtpd/smtpd.h"

#include "check.h"

static void put(char const *path, char const *text)
{
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f)) {
    perror(path);
    exit(111);
  }
}

static void make_assign(char const *const *lines, size_t n)
{
  struct cdb_make cm;
  size_t i;
  int fd = open("users/assign.cdb", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || cdb_make_start(&cm, fd) < 0) exit(111);
  for (i = 0; i < n; i++) {
    char key[ASSIGN_KEY_MAX], val[ASSIGN_VAL_MAX];
    size_t kl, vl;
    char const *why;
    if (assign_parseline(lines[i], strlen(lines[i]), key, &kl, sizeof key, val, &vl, sizeof val, &why) != 1) {
      fprintf(stderr, "bad assign line %s: %s\n", lines[i], why);
      exit(111);
    }
    if (cdb_make_add(&cm, key, (unsigned)kl, val, (unsigned)vl) < 0) exit(111);
  }
  if (cdb_make_finish(&cm) < 0 || close(fd) < 0) exit(111);
}

static void ctlmap_tests(void)
{
  unsigned long bad;
  long k;
  char big[1100];
  put("control/rcpthosts", "example.com\n  .Sub.Org \t\n# comment.org\n\nlast.net");
  check(ctlmap_has("rcpthosts", "example.com", 11) == 1, "ctlmap text: a line", "not found");
  check(ctlmap_has("rcpthosts", "EXAMPLE.com", 11) == 1, "ctlmap text: any case", "not found");
  check(ctlmap_has("rcpthosts", ".sub.org", 8) == 1, "ctlmap text: blanks cut", "not found");
  check(ctlmap_has("rcpthosts", "last.net", 8) == 1, "ctlmap text: last line without LF", "not found");
  check(ctlmap_has("rcpthosts", "# comment.org", 13) == 0, "ctlmap text: comment skipped", "found");
  check(ctlmap_has("rcpthosts", "example.co", 10) == 0, "ctlmap text: no prefix match", "found");
  check(ctlmap_has("rcpthosts", "", 0) == 0, "ctlmap text: empty key", "found");
  check(ctlmap_has("nosuchfile", "x", 1) == 0 && ctlmap_exists("nosuchfile") == 0, "ctlmap missing file",
        "not 0");
  k = ctlmap_make("rcpthosts", &bad);
  check(k == 3, "ctlmap make: 3 keys", "wrong count");
  put("control/rcpthosts", "changed.org\n");
  check(ctlmap_has("rcpthosts", "example.com", 11) == 1 && ctlmap_has("rcpthosts", "changed.org", 11) == 0,
        "ctlmap cdb wins over the text", "text read");
  check(ctlmap_has("rcpthosts", "Last.Net", 8) == 1, "ctlmap cdb: any case", "not found");
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  put("control/recipients", big);
  errno = 0;
  k = ctlmap_make("recipients", &bad);
  check(k == -1 && errno == EINVAL && bad == 1, "ctlmap make: overlong line refused", "accepted");
  check(access("control/recipients.cdb", F_OK) < 0 && access("control/recipients.cdb.tmp", F_OK) < 0,
        "ctlmap make: nothing left after a failure", "files left");
  check(ctlmap_has("recipients", big, strlen(big)) == 0, "ctlmap text: overlong line never matches", "matched");
  unlink("control/recipients");
  unlink("control/rcpthosts.cdb");
}

struct rc {
  char const *label;
  char const *addr;
  int relay;
  enum smtpd_rv want;
};

static struct rc const rcases[] = {
  { "rcpt local user", "alice@localhost", 0, RV_OK },
  { "rcpt local user, any case", "ALICE@LocalHost", 0, RV_OK },
  { "rcpt control/me is local", "alice@mx.example.net", 0, RV_OK },
  { "rcpt second local domain", "alice@example.net", 0, RV_OK },
  { "rcpt unknown local user", "bob@localhost", 0, RV_NOUSER },
  { "rcpt unknown local user, relay client", "bob@localhost", 1, RV_NOUSER },
  { "rcpt wildcard covers an extension", "list-anything@localhost", 0, RV_OK },
  { "rcpt wildcard prefix alone", "list-@localhost", 0, RV_OK },
  { "rcpt exact entry's extension", "alice-x@localhost", 0, RV_NOUSER },
  { "rcpt listed in control/recipients", "joe-ext@localhost", 0, RV_LISTED },
  { "rcpt listed, any case", "JOE-EXT@localhost", 0, RV_LISTED },
  { "rcpt root is no mail user", "root@localhost", 0, RV_NOUSER },
  { "rcpt quoted local part", "\"a b\"@localhost", 0, RV_NOUSER },
  { "rcpt rcpthosts domain", "x@relay.org", 0, RV_HOSTED },
  { "rcpt rcpthosts subdomain", "x@deep.a.hosted.org", 0, RV_HOSTED },
  { "rcpt .domain does not take the domain", "x@hosted.org", 0, RV_NORELAY },
  { "rcpt other domain refused", "x@elsewhere.com", 0, RV_NORELAY },
  { "rcpt other domain, relay client", "x@elsewhere.com", 1, RV_RELAY },
  { "rcpt lookalike domain", "x@notrelay.org", 0, RV_NORELAY },
};

static void policy_tests(void)
{
  static char const *const assign[] = { "=alice:alice:1001:1001:/home/alice:::", "+list-:lists:1002:1002:/home/lists:-::" };
  smtpd_policy pol;
  size_t i;
  put("control/locals", "localhost\nexample.net\n");
  put("control/rcpthosts", "relay.org\n.hosted.org\n");
  put("control/recipients", "joe-ext@localhost\n");
  make_assign(assign, sizeof assign / sizeof assign[0]);
  for (i = 0; i < sizeof rcases / sizeof rcases[0]; i++) {
    smtpd_path p;
    char arg[300], why[100];
    enum smtpd_perr e;
    enum smtpd_rv v;
    if (smtpd_rcpt_init(&pol, "mx.example.net", rcases[i].relay) < 0) exit(111);
    snprintf(arg, sizeof arg, "TO:<%s>", rcases[i].addr);
    e = smtpd_cmd_rcpt(arg, strlen(arg), 1, 0, &p);
    v = e == P_OK ? smtpd_rcpt_check(&pol, &p) : RV_TEMP;
    snprintf(why, sizeof why, "parse %d, verdict %d (%s), want %d", (int)e, (int)v, smtpd_rcpt_reason(v),
             (int)rcases[i].want);
    check(e == P_OK && v == rcases[i].want, rcases[i].label, why);
    smtpd_rcpt_free(&pol);
  }
  /* no rcpthosts at all: only local domains */
  unlink("control/rcpthosts");
  if (smtpd_rcpt_init(&pol, "mx.example.net", 0) < 0) exit(111);
  {
    smtpd_path p;
    smtpd_cmd_rcpt("TO:<x@relay.org>", 16, 1, 0, &p);
    check(smtpd_rcpt_check(&pol, &p) == RV_NORELAY, "rcpt without rcpthosts: never a relay", "accepted");
    smtpd_cmd_rcpt("TO:<alice@localhost>", 20, 1, 0, &p);
    check(smtpd_rcpt_check(&pol, &p) == RV_OK, "rcpt without rcpthosts: local domains", "refused");
  }
  smtpd_rcpt_free(&pol);
  /* a corrupt assign.cdb is a temporary failure, not "no such user" */
  put("users/assign.cdb", "garbage");
  if (smtpd_rcpt_init(&pol, "mx.example.net", 0) < 0) exit(111);
  {
    smtpd_path p;
    smtpd_cmd_rcpt("TO:<alice@localhost>", 20, 1, 0, &p);
    check(smtpd_rcpt_check(&pol, &p) == RV_TEMP, "rcpt corrupt users/assign.cdb: temporary", "not temporary");
  }
  smtpd_rcpt_free(&pol);
}

int main(void)
{
  char dir[] = "/tmp/test_smtpd_policy.XXXXXX";
  if (!mkdtemp(dir) || chdir(dir) < 0 || mkdir("control", 0755) < 0 || mkdir("users", 0755) < 0) {
    perror("scratch folder");
    return 111;
  }
  ctlmap_tests();
  policy_tests();
  {
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (chdir("/") < 0 || system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  printf("# test_smtpd_policy: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
