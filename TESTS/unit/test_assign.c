/* Unit tests of lib/assign.c: the users/assign line parser, and real lookups through a cdb
   written with tinycdb's cdb_make (so a link order that binds skalibs' cdb_* fails here). */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cdb.h>
#include "assign.h"

struct tally { int pass, fail; };

static void check(struct tally *t, int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (ok) t->pass++; else t->fail++;
}

/* Parses s (len bytes, NULs allowed); compares with the expected key and value. */
static void good(struct tally *t, char const *label, char const *s, size_t len,
                 char const *wantkey, char const *wantval, size_t wantvallen)
{
  char key[ASSIGN_KEY_MAX], val[ASSIGN_VAL_MAX];
  size_t kl = 0, vl = 0;
  char const *why = 0;
  int r = assign_parseline(s, len, key, &kl, sizeof key, val, &vl, sizeof val, &why);
  int ok = r == 1 && kl == strlen(wantkey) && !memcmp(key, wantkey, kl)
           && vl == wantvallen && !memcmp(val, wantval, vl);
  if (!ok) fprintf(stderr, "  %s: r=%d why=%s\n", label, r, why ? why : "-");
  check(t, ok, label);
}

/* Expects -1, errno EINVAL, and a reason containing want. */
static void bad(struct tally *t, char const *label, char const *s, size_t len, char const *want)
{
  char key[ASSIGN_KEY_MAX], val[ASSIGN_VAL_MAX];
  size_t kl, vl;
  char const *why = 0;
  int r;
  errno = 0;
  r = assign_parseline(s, len, key, &kl, sizeof key, val, &vl, sizeof val, &why);
  int ok = r == -1 && errno == EINVAL && why && strstr(why, want);
  if (!ok) fprintf(stderr, "  %s: r=%d why=%s\n", label, r, why ? why : "-");
  check(t, ok, label);
}

#define S(x) x, sizeof(x) - 1

static void parser_cases(struct tally *t)
{
  char big[ASSIGN_LINE_MAX];
  char junk[64];
  char key[4], val[ASSIGN_VAL_MAX];
  size_t kl, vl, i;
  char const *why = 0;

  good(t, "parse exact", S("=demo:mrmail:1001:1002:/srv/mail/demo:::"),
       "=demo", S("mrmail\0" "1001\0" "1002\0" "/srv/mail/demo\0" "\0" "\0"));
  good(t, "parse wildcard with dash", S("+demo-:mrmail:1001:1002:/srv/mail/demo:-::"),
       "+demo-", S("mrmail\0" "1001\0" "1002\0" "/srv/mail/demo\0" "-\0" "\0"));
  good(t, "parse catch-all wildcard", S("+:alias:7790:2108:/var/qmail/alias:-:catch-:"),
       "+", S("alias\0" "7790\0" "2108\0" "/var/qmail/alias\0" "-\0" "catch-\0"));
  good(t, "parse lowercases the local part only", S("=Demo.User:MrMail:5:6:/Home/X:-:Ext:"),
       "=demo.user", S("MrMail\0" "5\0" "6\0" "/Home/X\0" "-\0" "Ext\0"));
  good(t, "parse canonical numbers", S("=a:u:007:0:/h:::"), "=a", S("u\0" "7\0" "0\0" "/h\0" "\0" "\0"));
  good(t, "parse 8-bit home", S("=a:u:1:1:/h\xc3\xa9:::"), "=a", S("u\0" "1\0" "1\0" "/h\xc3\xa9\0" "\0" "\0"));
  check(t, assign_parseline(S("."), key, &kl, sizeof key, val, &vl, sizeof val, &why) == 0, "parse final dot");

  bad(t, "reject missing fields", S("=demo:mrmail:1001:1002:/h::"), "fewer than 7");
  bad(t, "reject missing last colon", S("=demo:mrmail:1001:1002:/h::x"), "fewer than 7");
  bad(t, "reject missing colons", S("=demo mrmail 1001 1002 /h"), "fewer than 7");
  bad(t, "reject bytes after 7th colon", S("=demo:u:1:1:/h:::x"), "after the 7th colon");
  bad(t, "reject extra field", S("=demo:u:1:1:/h::::"), "after the 7th colon");
  bad(t, "reject non-numeric uid", S("=demo:u:abc:1:/h:::"), "uid");
  bad(t, "reject negative uid", S("=demo:u:-1:1:/h:::"), "uid");
  bad(t, "reject empty uid", S("=demo:u::1:/h:::"), "uid");
  bad(t, "reject uid 0", S("=demo:u:0:1:/h:::"), "uid 0");
  bad(t, "reject uid 4294967295", S("=demo:u:4294967295:1:/h:::"), "uid");
  bad(t, "reject uid 11 digits", S("=demo:u:00000000001:1:/h:::"), "uid");
  bad(t, "reject non-numeric gid", S("=demo:u:1:1x:/h:::"), "gid");
  bad(t, "reject empty user", S("=demo::1:1:/h:::"), "empty user");
  bad(t, "reject relative home", S("=demo:u:1:1:h:::"), "absolute");
  bad(t, "reject empty home", S("=demo:u:1:1::::"), "absolute");
  bad(t, "reject bad dash", S("=demo:u:1:1:/h:x::"), "dash");
  bad(t, "reject double dash", S("=demo:u:1:1:/h:--::"), "dash");
  bad(t, "reject empty exact local", S("=:u:1:1:/h:::"), "empty local");
  bad(t, "reject NUL byte", S("=de\0mo:u:1:1:/h:::"), "NUL");
  bad(t, "reject NUL at end", S("=demo:u:1:1:/h:::\0"), "NUL");
  bad(t, "reject CR", S("=demo:u:1:1:/h:::\r"), "control");
  bad(t, "reject tab", S("=demo:u:1:1:/h\t:::"), "control");
  bad(t, "reject empty line", S(""), "empty line");
  bad(t, "reject dot with junk", S(".x"), "after the final");
  bad(t, "reject comment line", S("# a comment"), "does not start");
  bad(t, "reject no prefix char", S("demo:u:1:1:/h:::"), "does not start");

  for (i = 0; i < sizeof junk; i++) junk[i] = (char)(0x80 + (i * 37) % 128);
  bad(t, "reject binary junk (8-bit)", junk, sizeof junk, "does not start");
  for (i = 0; i < sizeof junk; i++) junk[i] = (char)((i * 53 + 7) % 256);
  bad(t, "reject binary junk (control)", junk, sizeof junk, "");

  /* Overlong fields. */
  big[0] = '=';
  memset(big + 1, 'a', ASSIGN_FIELD_MAX);
  memcpy(big + 1 + ASSIGN_FIELD_MAX, ":u:1:1:/h:::", 12);
  bad(t, "reject overlong local part", big, 1 + ASSIGN_FIELD_MAX + 12, "local part too long");
  memcpy(big, "=a:", 3);
  memset(big + 3, 'u', ASSIGN_USER_MAX);
  memcpy(big + 3 + ASSIGN_USER_MAX, ":1:1:/h:::", 10);
  bad(t, "reject overlong user", big, 3 + ASSIGN_USER_MAX + 10, "user name too long");
  memcpy(big, "=a:u:1:1:/", 10);
  memset(big + 10, 'h', ASSIGN_FIELD_MAX);
  memcpy(big + 10 + ASSIGN_FIELD_MAX, ":::", 3);
  bad(t, "reject overlong home", big, 10 + ASSIGN_FIELD_MAX + 3, "home folder too long");
  memcpy(big, "=a:u:1:1:/h::", 13);
  memset(big + 13, 'e', ASSIGN_FIELD_MAX);
  big[13 + ASSIGN_FIELD_MAX] = ':';
  bad(t, "reject overlong extension", big, 13 + ASSIGN_FIELD_MAX + 1, "extension too long");
  big[0] = '=';
  memset(big + 1, 'a', ASSIGN_FIELD_MAX - 1);
  memcpy(big + ASSIGN_FIELD_MAX, ":u:1:1:/h:::", 12);
  {
    char k[ASSIGN_KEY_MAX], v[ASSIGN_VAL_MAX];
    int r = assign_parseline(big, ASSIGN_FIELD_MAX + 12, k, &kl, sizeof k, v, &vl, sizeof v, &why);
    check(t, r == 1 && kl == ASSIGN_FIELD_MAX, "accept the longest local part, key fits ASSIGN_KEY_MAX");
  }
  errno = 0;
  check(t, assign_parseline(S("=demo:u:1:1:/h:::"), key, &kl, sizeof key, val, &vl, sizeof val, &why) == -1
           && errno == EINVAL, "reject key buffer too small");
}

/* A cdb from users/assign lines, made with tinycdb's cdb_make. 0 or -1. */
static int makecdb(char const *path, char const *const *lines, size_t n)
{
  struct cdb_make cm;
  char key[ASSIGN_KEY_MAX], val[ASSIGN_VAL_MAX];
  size_t kl, vl, i;
  char const *why;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  if (cdb_make_start(&cm, fd) < 0) return -1;
  for (i = 0; i < n; i++) {
    if (assign_parseline(lines[i], strlen(lines[i]), key, &kl, sizeof key, val, &vl, sizeof val, &why) != 1)
      return -1;
    if (cdb_make_add(&cm, key, (unsigned)kl, val, (unsigned)vl) < 0) return -1;
  }
  if (cdb_make_finish(&cm) < 0) return -1;
  return close(fd);
}

static int is(struct assign_user const *u, char const *user, unsigned long uid, unsigned long gid,
              char const *home, char const *dash, char const *ext)
{
  return !strcmp(u->user, user) && u->uid == uid && u->gid == gid && !strcmp(u->home, home)
         && !strcmp(u->dash, dash) && !strcmp(u->ext, ext);
}

static void lookup_cases(struct tally *t, char const *dir)
{
  static char const *const lines[] = {
    "=demo:mrmail:1001:1002:/srv/mail/demo:::",
    "+demo-:mrmail:1001:1002:/srv/mail/demo:-::",
    "+demo-foo-:mrmail:1001:1002:/srv/mail/demo:-:foo-:",
    "=postmaster:mrmail:1001:1002:/srv/mail/demo:::",
    "+list-:lists:2001:2002:/srv/lists:-:pre-:",
  };
  static char const *const catchall[] = { "+:alias:3001:3002:/srv/alias:-::", "=x:u:1:1:/h:::" };
  char p[512], q[512], r[512];
  struct assign_user u;
  struct cdb_make cm;
  int fd;

  snprintf(p, sizeof p, "%s/assign.cdb", dir);
  if (makecdb(p, lines, sizeof lines / sizeof *lines) < 0) { perror("makecdb"); check(t, 0, "make cdb"); return; }
  check(t, assign_lookup(p, "demo", &u) == 1 && is(&u, "mrmail", 1001, 1002, "/srv/mail/demo", "", ""),
        "lookup exact");
  check(t, assign_lookup(p, "DeMo", &u) == 1 && is(&u, "mrmail", 1001, 1002, "/srv/mail/demo", "", ""),
        "lookup exact, any case");
  check(t, assign_lookup(p, "postmaster", &u) == 1 && u.uid == 1001, "lookup postmaster");
  check(t, assign_lookup(p, "demo-bar", &u) == 1 && is(&u, "mrmail", 1001, 1002, "/srv/mail/demo", "-", "bar"),
        "lookup wildcard with ext");
  check(t, assign_lookup(p, "Demo-Bar-Baz", &u) == 1 && is(&u, "mrmail", 1001, 1002, "/srv/mail/demo", "-", "bar-baz"),
        "lookup wildcard, ext lowercase with dashes");
  check(t, assign_lookup(p, "demo-foo-x", &u) == 1 && !strcmp(u.ext, "foo-x"),
        "lookup longest wildcard wins, prepend + rest");
  check(t, assign_lookup(p, "demo-", &u) == 1 && is(&u, "mrmail", 1001, 1002, "/srv/mail/demo", "-", ""),
        "lookup wildcard, empty rest");
  check(t, assign_lookup(p, "list-announce", &u) == 1 && is(&u, "lists", 2001, 2002, "/srv/lists", "-", "pre-announce"),
        "lookup wildcard with prepend");
  check(t, assign_lookup(p, "nosuchuser-mailroom-test", &u) == 0, "lookup missing");
  check(t, assign_lookup(p, "demox", &u) == 0, "lookup no partial exact match");

  /* A catch-all '+' entry takes every local part the exact entries leave. */
  snprintf(q, sizeof q, "%s/catchall.cdb", dir);
  if (makecdb(q, catchall, 2) == 0) {
    check(t, assign_lookup(q, "anybody-at-all", &u) == 1 && is(&u, "alias", 3001, 3002, "/srv/alias", "-", "anybody-at-all"),
          "lookup catch-all");
    check(t, assign_lookup(q, "x", &u) == 1 && u.uid == 1, "lookup exact before catch-all");
  } else check(t, 0, "make catch-all cdb");

  /* No cdb at all: passwd decides; root (uid 0) is never a mail user. */
  snprintf(r, sizeof r, "%s/absent.cdb", dir);
  check(t, assign_lookup(r, "nosuchuser-mailroom-test", &u) == 0, "missing cdb is not an error");
  check(t, assign_lookup(r, "root", &u) == 0, "passwd: root is not a mail user");
  check(t, assign_lookup(r, "root-ext", &u) == 0, "passwd: root-ext is not a mail user");
  if (getpwnam("daemon"))
    check(t, assign_lookup(r, "daemon", &u) == 0, "passwd: a user whose home is not its own is not a mail user");
  {
    struct passwd *pw = getpwuid(getuid());
    struct stat st;
    char name[ASSIGN_USER_MAX + 16];
    if (pw && pw->pw_uid && strlen(pw->pw_name) < ASSIGN_USER_MAX && stat(pw->pw_dir, &st) == 0
        && st.st_uid == pw->pw_uid) {
      snprintf(name, sizeof name, "%s-Some-Ext", pw->pw_name);
      check(t, assign_lookup(r, pw->pw_name, &u) == 1 && u.uid == pw->pw_uid && !strcmp(u.dash, ""),
            "passwd: the calling user");
      check(t, assign_lookup(r, name, &u) == 1 && u.uid == pw->pw_uid && !strcmp(u.dash, "-")
               && !strcmp(u.ext, "some-ext"), "passwd: user-ext split at the first dash");
    }
  }

  /* A corrupt cdb is a temporary error, not "no such user". */
  snprintf(q, sizeof q, "%s/short.cdb", dir);
  fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0 && write(fd, "junk", 4) == 4 && close(fd) == 0) {
    errno = 0;
    check(t, assign_lookup(q, "demo", &u) == -1 && errno != 0, "corrupt cdb: temporary error");
  } else check(t, 0, "write short.cdb");
  /* An entry that mailroom-newu would never write: uid 0, and a value without NULs. */
  snprintf(q, sizeof q, "%s/evil.cdb", dir);
  fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0 && cdb_make_start(&cm, fd) == 0
      && cdb_make_add(&cm, "=evil", 5, "root\0" "0\0" "0\0" "/root\0" "\0" "\0", 17) == 0
      && cdb_make_add(&cm, "=junk", 5, "junk", 4) == 0
      && cdb_make_finish(&cm) == 0 && close(fd) == 0) {
    errno = 0;
    check(t, assign_lookup(q, "evil", &u) == -1 && errno == EPROTO, "cdb entry with uid 0 refused");
    errno = 0;
    check(t, assign_lookup(q, "junk", &u) == -1 && errno == EPROTO, "malformed cdb entry refused");
  } else check(t, 0, "write evil.cdb");
  {
    char longlocal[ASSIGN_FIELD_MAX + 10];
    memset(longlocal, 'a', sizeof longlocal - 1);
    longlocal[sizeof longlocal - 1] = 0;
    check(t, assign_lookup(p, longlocal, &u) == 0, "overlong local part: no such user");
  }
}

int main(void)
{
  struct tally t = { 0, 0 };
  char dir[] = "/tmp/test_assign.XXXXXX";
  char cmd[64];

  (void)setvbuf(stdout, 0, _IOLBF, 0); /* a crash (a wrong cdb link order) still shows the last case */
  parser_cases(&t);
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 111; }
  lookup_cases(&t, dir);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "test_assign: could not remove %s\n", dir);
  printf("# test_assign: %d passed, %d failed\n", t.pass, t.fail);
  return t.fail ? 1 : 0;
}
