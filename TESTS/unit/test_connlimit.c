/* Unit tests of lib/connlimit.c (control/smtpdlimits and pop3dlimits, client keys of IPv4
   and IPv6 prefixes), lib/connslot.c (slot files held by flock: the limit, a slot freed
   by a process's death, the count by name and by lock, stale files reaped, the overload
   flag) and lib/connbound.c (which deadline a wait gets). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <skalibs/tai.h>

#include "connbound.h"
#include "connlimit.h"
#include "connslot.h"

#include "check.h"

static struct connlimit const def = CONNLIMIT_DEFAULTS;

static void parse_ok(char const *label, char const *text, size_t len, struct connlimit *c)
{
  unsigned int line;
  char const *why = "";
  *c = def;
  check(connlimit_parse(text, len, c, &line, &why) == 0, label, why);
}

static void parse_bad(char const *label, char const *text, size_t len, unsigned int wantline, char const *wantwhy)
{
  struct connlimit c = def;
  unsigned int line = 0;
  char const *why = 0;
  char msg[200];
  int r = connlimit_parse(text, len, &c, &line, &why);
  snprintf(msg, sizeof msg, "r=%d line=%u why=%s", r, line, why ? why : "-");
  check(r < 0 && line == wantline && why && !strcmp(why, wantwhy) && !memcmp(&c, &def, sizeof c), label, msg);
}

static void test_parse(void)
{
  struct connlimit c;
  static char const good[] = "# limits\n\nperclient 5\nprefix4\t24\nprefix6 48  \r\nsessions 1000\n"
                             "overload 90\noverloadtimeout 5\nsessiontime 0\nminrate 0\nrategrace 10";
  static char big[CONNLIMIT_FILE_MAX + 10], longline[1500], bin[] = "perclient 5\nprefix4 2\0004\n";
  parse_ok("parse: empty file keeps the defaults", "", 0, &c);
  check(!memcmp(&c, &def, sizeof c), "parse: empty file: defaults unchanged", "changed");
  parse_ok("parse: every name", good, sizeof good - 1, &c);
  check(c.perclient == 5 && c.prefix4 == 24 && c.prefix6 == 48 && c.sessions == 1000 && c.overload == 90 &&
            c.overloadtimeout == 5 && c.sessiontime == 0 && c.minrate == 0 && c.rategrace == 10,
        "parse: every value read", "wrong value");
  parse_bad("parse: unknown name", "perclient 5\nmaxconn 3\n", 22, 2, "unknown name");
  parse_bad("parse: name twice", "prefix4 24\nprefix4 32\n", 22, 2, "name given twice");
  parse_bad("parse: no value", "perclient\n", 10, 1, "no value");
  parse_bad("parse: negative", "perclient -1\n", 13, 1, "value is not a number");
  parse_bad("parse: trailing junk", "perclient 10x\n", 14, 1, "value is not a number");
  parse_bad("parse: two values", "perclient 10 20\n", 16, 1, "value is not a number");
  parse_bad("parse: prefix4 33", "prefix4 33\n", 11, 1, "value out of range");
  parse_bad("parse: prefix6 0", "prefix6 0\n", 10, 1, "value out of range");
  parse_bad("parse: overload 0", "overload 0\n", 11, 1, "value out of range");
  parse_bad("parse: overload 101", "overload 101\n", 13, 1, "value out of range");
  parse_bad("parse: overflowing number", "sessions 99999999999999999999\n", 30, 1, "value out of range");
  parse_bad("parse: 4294967296 wraps nothing", "minrate 4294967296\n", 19, 1, "value out of range");
  parse_bad("parse: NUL byte", bin, sizeof bin - 1, 2, "NUL byte");
  memset(longline, 'a', sizeof longline);
  parse_bad("parse: overlong line", longline, sizeof longline, 1, "line too long");
  memset(big, '\n', sizeof big);
  parse_bad("parse: file too long", big, sizeof big, 0, "file too long");
  parse_bad("parse: binary", "\x01\xff\xfe 3\n", 6, 1, "unknown name");
  parse_bad("parse: uppercase name", "PERCLIENT 3\n", 12, 1, "unknown name");
  parse_bad("parse: name prefix only", "per 3\n", 6, 1, "unknown name");
  parse_ok("parse: comment after blank lines", "\n\n   # x 1\n\t\n", 13, &c);
  c = def;
  c.sessions = 3;
  c.overload = 10;
  check(connlimit_threshold(&c) == 1, "threshold: at least 1", "not 1");
  c.sessions = 400;
  c.overload = 70;
  check(connlimit_threshold(&c) == 280, "threshold: 70% of 400", "not 280");
}

static void key_is(char const *label, char const *ip, unsigned int p4, unsigned int p6, char const *want)
{
  struct connlimit c = def;
  char key[CONNLIMIT_KEY_MAX + 1] = "";
  c.prefix4 = p4;
  c.prefix6 = p6;
  if (!want) {
    check(connlimit_key(ip, &c, key) < 0, label, key);
    return;
  }
  check(connlimit_key(ip, &c, key) == 0 && !strcmp(key, want), label, key);
}

static void test_key(void)
{
  key_is("key: IPv4 /32", "192.0.2.77", 32, 64, "v4-c000024d-32");
  key_is("key: IPv4 /24", "192.0.2.77", 24, 64, "v4-c0000200-24");
  key_is("key: IPv4 /20", "198.51.100.200", 20, 64, "v4-c6336000-20");
  key_is("key: IPv4 /1", "200.1.1.1", 1, 64, "v4-80000000-1");
  key_is("key: IPv4-mapped is IPv4", "::ffff:192.0.2.77", 32, 64, "v4-c000024d-32");
  key_is("key: IPv6 /64", "2001:db8:1:2:3:4:5:6", 32, 64, "v6-20010db8000100020000000000000000-64");
  key_is("key: IPv6 /64 same subnet", "2001:db8:1:2::ffff", 32, 64, "v6-20010db8000100020000000000000000-64");
  key_is("key: IPv6 /128", "::1", 32, 128, "v6-00000000000000000000000000000001-128");
  key_is("key: IPv6 /56", "2001:db8:1:2ff::1", 32, 56, "v6-20010db8000102000000000000000000-56");
  key_is("key: not an address", "unknown", 32, 64, 0);
  key_is("key: empty", "", 32, 64, 0);
  key_is("key: path in it", "../../etc/passwd", 32, 64, 0);
  key_is("key: overlong", "1111111111111111111111111111111111111111111111111111111111", 32, 64, 0);
  key_is("key: IPv4 with junk", "1.2.3.4 ", 32, 64, 0);
}

static int held_now(char const *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  long n = connslot_count(fd, 0, 0);
  close(fd);
  return (int)n;
}

static void test_slots(void)
{
  char dir[] = "/tmp/mrunit.connslot.XXXXXX";
  struct connslot s[4] = { CONNSLOT_ZERO, CONNSLOT_ZERO, CONNSLOT_ZERO, CONNSLOT_ZERO }, x = CONNSLOT_ZERO;
  int fds[2], st, dirfd;
  pid_t pid;
  char c;
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    exit(111);
  }
  check(connslot_take(&x, "/tmp/mrunit.connslot.none/x", "v4-01020304-32", 3) < 0 && errno == ENOENT,
        "slots: no folder is ENOENT (limits off)", "other");
  connslot_close(&x);
  for (int i = 0; i < 3; i++) check(connslot_take(&s[i], dir, "v4-01020304-32", 3) == 1, "slots: take under the limit", "refused");
  check(connslot_take(&s[3], dir, "v4-01020304-32", 3) == 0, "slots: the limit refuses the next", "taken");
  connslot_close(&s[3]);
  check(connslot_take(&s[3], dir, "v4-05060708-32", 3) == 1, "slots: another client is not counted", "refused");
  check(held_now(dir) == 4, "slots: count by lock is 4", "wrong");
  connslot_close(&s[1]);
  check(held_now(dir) == 3, "slots: a release frees one", "wrong");
  check(connslot_take(&s[1], dir, "v4-01020304-32", 3) == 1 && !strcmp(s[1].name, "v4-01020304-32.1"),
        "slots: the freed number is taken again", s[1].name);
  for (int i = 0; i < 4; i++) connslot_close(&s[i]);
  check(held_now(dir) == 0, "slots: all released: 0", "not 0");

  /* a process killed while it holds slots leaks none; its files stay, stale */
  if (pipe(fds) < 0) exit(111);
  pid = fork();
  if (!pid) {
    struct connslot k[2] = { CONNSLOT_ZERO, CONNSLOT_ZERO };
    close(fds[0]);
    if (connslot_take(&k[0], dir, "v6-20010db8000000000000000000000000-64", 2) != 1 ||
        connslot_take(&k[1], dir, "v6-20010db8000000000000000000000000-64", 2) != 1)
      _exit(1);
    if (write(fds[1], "x", 1) != 1) _exit(1);
    for (;;) pause();
  }
  close(fds[1]);
  check(read(fds[0], &c, 1) == 1, "slots: child took 2", "no");
  close(fds[0]);
  check(connslot_take(&x, dir, "v6-20010db8000000000000000000000000-64", 2) == 0, "slots: the child's client is full", "taken");
  connslot_close(&x);
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  dirfd = open(dir, O_RDONLY | O_DIRECTORY);
  check(connslot_count(dirfd, 1000, 0) == 2, "slots: by name the stale files count", "not 2");
  check(connslot_count(dirfd, 0, 0) == 0, "slots: by lock after SIGKILL: 0", "not 0");
  check(connslot_count(dirfd, 0, 1) == 0 && connslot_count(dirfd, 1000, 0) == 0, "slots: stale files reaped", "still there");
  check(connslot_take(&x, dir, "v6-20010db8000000000000000000000000-64", 2) == 1, "slots: the client may come back", "refused");
  connslot_close(&x);
  /* the overload flag: made once, removed once, never counted as a slot */
  check(!connslot_inmode(dirfd) && connslot_setmode(dirfd, 1) == 1 && connslot_setmode(dirfd, 1) == 0 && connslot_inmode(dirfd),
        "slots: mode on once", "no");
  check(connslot_count(dirfd, 0, 0) == 0, "slots: the flag is not a slot", "counted");
  {
    int first = connslot_setmode(dirfd, 0), second = connslot_setmode(dirfd, 0);
    check(first == 1 && second == 0 && !connslot_inmode(dirfd), "slots: mode off once", "no");
  }
  {
    long load;
    int changed;
    for (int i = 0; i < 3; i++) connslot_take(&s[i], dir, "v4-0a000001-32", 0);
    check(connslot_overloaded(dirfd, 4, 3, 1, &load, &changed) == 0 && !changed && load == 3, "overload: 3 of 4: off", "on");
    check(connslot_overloaded(dirfd, 3, 2, 1, &load, &changed) == 1 && changed && load == 3, "overload: 3 of 3: turns on", "off");
    check(connslot_overloaded(dirfd, 3, 2, 1, &load, &changed) == 1 && !changed, "overload: stays on, no change", "changed");
    connslot_close(&s[2]);
    check(connslot_overloaded(dirfd, 3, 2, 1, &load, &changed) == 1 && !changed, "overload: 2 (low) keeps it on", "off");
    connslot_close(&s[1]);
    check(connslot_overloaded(dirfd, 3, 2, 1, &load, &changed) == 0 && changed && load == 1, "overload: 1 (below low) turns off", "on");
    check(!connslot_inmode(dirfd), "overload: the flag is gone", "there");
    connslot_close(&s[0]);
  }
  close(dirfd);
  rmdir(dir);
}

static int yes(void *ctx) { ++*(int *)ctx; return 1; }
static int no(void *ctx) { ++*(int *)ctx; return 0; }

static void test_bound(void)
{
  struct connlimit c = def;
  struct connbound b;
  tain wait, idleat, d;
  int calls = 0;
  enum cb_kind k;
  c.sessiontime = 100;
  c.minrate = 10;
  c.rategrace = 5;
  c.overloadtimeout = 3;
  tain_now_set_stopwatch_g();
  connbound_init(&b, &c, &no, &calls);
  tain_addsec_g(&wait, 1200);
  connbound_idlestart(&b, &idleat);
  k = connbound_deadline(&b, CB_IN, &wait, &idleat, &d);
  check(k == CB_IDLE, "bound: an idle check comes first", "other");
  check(connbound_expired(&b, k, &idleat) == 0 && calls == 1 && !b.cut, "bound: not overloaded: wait on", "cut");
  connbound_turn(&b, CB_IN);
  k = connbound_deadline(&b, CB_IN, &wait, 0, &d);
  check(k == CB_END, "bound: before the turn's first byte no rate deadline", "other");
  connbound_bytes(&b, CB_IN, 1);
  k = connbound_deadline(&b, CB_IN, &wait, 0, &d);
  check(k == CB_RATE, "bound: a dripping turn gets the rate deadline", "other");
  {
    tain g;
    tain_addsec_g(&g, 6);
    check(tain_less(&d, &g), "bound: rate deadline is the grace for few bytes", "later");
  }
  connbound_bytes(&b, CB_IN, 10000);
  k = connbound_deadline(&b, CB_IN, &wait, 0, &d);
  check(k == CB_END, "bound: 10000 bytes at 10/s: the session's end is nearer", "other");
  check(connbound_expired(&b, CB_RATE, 0) == 1 && !strcmp(b.cut, "slowdata"), "bound: rate expiry says slowdata", "no");
  connbound_init(&b, &c, &yes, &calls);
  check(connbound_expired(&b, CB_IDLE, &idleat) == 1 && !strcmp(b.cut, "overload"), "bound: overloaded idle is cut", "no");
  check(connbound_expired(&b, CB_END, 0) == 1 && !strcmp(b.cut, "sessiontime"), "bound: the session's end", "no");
  check(connbound_deadline(0, CB_IN, &wait, 0, &d) == CB_WAIT && !tain_less(&d, &wait) && !tain_less(&wait, &d), "bound: none: the wait", "no");
}

int main(void)
{
  test_parse();
  test_key();
  test_slots();
  test_bound();
  printf("%d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
