/* Unit tests of the queue tools' readers against mailroom-send's writers: an info file made
   by send_info.c parses in qtool_read.c; qctl's offline changes (qctl_files.c) are read back
   by send (info_load, ctl_loadheader); malformed info files are refused. And the log line
   parser of mailroom-report: stamps (TAI64N, tai64nlocal, none), values, hostile lines. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../queue/qctl.h"
#include "../../queue/qtool.h"
#include "../../queue/report.h"
#include "../../send/send.h"

static int failed;

static void check(int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (!ok) failed = 1;
}

static size_t slurp(char const *path, char *buf, size_t n)
{
  int fd = open(path, O_RDONLY);
  ssize_t r = fd < 0 ? -1 : read(fd, buf, n);
  if (fd >= 0) close(fd);
  return r < 0 ? 0 : (size_t)r;
}

static void info_tests(void)
{
  char dir[] = "/tmp/mrunit.XXXXXX", buf[4096], env[] = "Fa@b\0Tx@l\0Ty@r.example\0Tz@l\0";
  char const *rcpt[3] = { env + 6, env + 10, env + 23 };
  unsigned char state[3] = { 'T', 'D', 'T' }, chan[3] = { 'L', 'R', 'L' };
  unsigned attempts[3] = { 0, 1, 2 };
  time_t next[3] = { 0, 0, 1763900000 };
  struct msg m;
  struct qt_rcpt r[3];
  unsigned long flags = 99;
  char const *why = 0;
  size_t n;
  int fd;
  if (!mkdtemp(dir) || chdir(dir) < 0 || mkdir("queue", 0700) < 0 || mkdir("queue/info", 0700) < 0 ||
      mkdir("queue/mess", 0700) < 0 || mkdir("queue/new", 0700) < 0) {
    check(0, "info: temporary folder");
    return;
  }
  memset(&m, 0, sizeof m);
  strcpy(m.id, "1763893836.042117.4711");
  m.arrival = 1763893836;
  m.env = env;
  m.rcpt = rcpt;
  m.nrcpt = 3;
  m.state = state;
  m.chan = chan;
  m.attempts = attempts;
  m.nexttry = next;
  check(info_create(&m) == 0 && info_update(&m, 2, "451 4.4.1 try \"later\"\r\n") == 0, "info: send writes it");
  n = slurp("queue/info/1763893836.042117.4711", buf, sizeof buf);
  check(n == 64 + 3 * 256, "info: size");
  check(qt_parseinfo(buf, n, 3, r, &flags) == 0, "info: tools parse what send wrote");
  check(flags == 0 && r[0].state == 'T' && r[1].state == 'D' && r[2].state == 'T' && r[1].chan == 'R' &&
          r[2].attempts == 2 && r[2].next == 1763900000ULL,
        "info: states, channels, attempts, next try");
  check(!strcmp(r[2].text, "451 4.4.1 try \"later\"??"), "info: last text, control bytes as ?");
  check(qt_parseinfo(buf, n, 2, r, &flags) < 0, "info: refused for another recipient count");
  check(qt_parseinfo(buf, n - 1, 3, r, &flags) < 0, "info: refused when truncated");
  buf[64] = 'X';
  check(qt_parseinfo(buf, n, 3, r, &flags) < 0, "info: refused with a bad state");
  buf[64] = 'T';
  buf[20] = 'g';
  check(qt_parseinfo(buf, n, 3, r, &flags) < 0, "info: refused with bad flags");
  buf[20] = '0';

  /* qctl without a manager: hold, then send reads the bit */
  fd = open("queue/mess/1763893836.042117.4711", O_WRONLY | O_CREAT, 0600);
  close(fd);
  check(qc_apply(QC_HOLD, m.id, 1763899999, &why) == 0, "qctl files: hold");
  n = slurp("queue/info/1763893836.042117.4711", buf, sizeof buf);
  check(qt_parseinfo(buf, n, 3, r, &flags) == 0 && flags == 1, "qctl files: held flag written");
  ctl_loadheader(&m, buf);
  check(m.ctl == CTL_HELD, "qctl files: send sees the hold");
  check(qc_apply(QC_REQUEUE, m.id, 1763899999, &why) == 0, "qctl files: requeue");
  n = slurp("queue/info/1763893836.042117.4711", buf, sizeof buf);
  check(qt_parseinfo(buf, n, 3, r, &flags) == 0 && r[2].next == 1763899999ULL && r[1].state == 'D' &&
          !strncmp(r[2].text, "451", 3),
        "qctl files: requeue changes only the next try of the records to do");
  check(qc_apply(QC_RELEASE, m.id, 0, &why) == 0 && qc_apply(QC_EXPIRE, m.id, 0, &why) == 0, "qctl files: release, expire");
  check(info_load(&m) == 1, "qctl files: send still loads the info file");
  check(m.state[0] == 'F' && m.state[1] == 'D' && m.state[2] == 'F', "qctl files: expired records are failed for send");
  slurp("queue/info/1763893836.042117.4711", buf, sizeof buf);
  ctl_loadheader(&m, buf);
  check(m.ctl == 0, "qctl files: released");
  check(qc_apply(QC_HOLD, "1763893836.042117.1", 0, &why) < 0 && why && strstr(why, "no such"), "qctl files: unknown id");
  check(qc_apply(QC_DELETE, m.id, 0, &why) == 0 && access("queue/mess/1763893836.042117.4711", F_OK) < 0 &&
          access("queue/info/1763893836.042117.4711", F_OK) < 0,
        "qctl files: delete removes mess and info");
  if (chdir("/") < 0) return;
  snprintf(buf, sizeof buf, "%s/queue/info", dir), rmdir(buf);
  snprintf(buf, sizeof buf, "%s/queue/mess", dir), rmdir(buf);
  snprintf(buf, sizeof buf, "%s/queue/new", dir), rmdir(buf);
  snprintf(buf, sizeof buf, "%s/queue", dir), rmdir(buf);
  rmdir(dir);
}

#define PARSE_COPY 600 /* report_tests' copy buffer */
static int parse(char const *s, struct rpt_line *l, char *copy)
{
  size_t n = strlen(s);
  if (n >= PARSE_COPY) abort(); /* a test line longer than the copy is a bug of the test */
  memcpy(copy, s, n + 1);
  return rpt_parse(copy, l);
}

static void report_tests(void)
{
  struct rpt_line l;
  char c[PARSE_COPY];
  check(parse("@4000000069231f4c2d0a3b1c ok msg=1.000001.2 d=3 to=<a@b> text=\"did 1\"", &l, c) == 0 && l.hastime &&
          !strcmp(l.event, "ok") && !strcmp(rpt_get(&l, "to"), "a@b") && !strcmp(rpt_get(&l, "text"), "did 1") &&
          !strcmp(rpt_get(&l, "d"), "3"),
        "report parse: TAI64N line");
  check((long long)l.t == 0x69231f4cLL - 10, "report parse: TAI64N seconds");
  check(parse("2026-11-23 12:01:02.500000000 new msg=1.000001.2 size=10 from=<> nrcpt=1", &l, c) == 0 && l.hastime &&
          !strcmp(rpt_get(&l, "from"), "") && !strcmp(rpt_get(&l, "size"), "10"),
        "report parse: tai64nlocal line, empty sender");
  check(parse("defer msg=1.000001.2 d=1 to=<x y>z@far> attempts=1 text=\"a \\\"q\\\" \\\\ b\"", &l, c) == 0 && !l.hastime &&
          !strcmp(rpt_get(&l, "to"), "x y>z@far") && !strcmp(rpt_get(&l, "text"), "a \"q\" \\ b"),
        "report parse: raw line, address with space and >, escapes");
  check(parse("start home=/x local=10 remote=20", &l, c) == 0 && !rpt_get(&l, "msg"), "report parse: daemon start");
  check(parse("@4000000zzz new msg=1", &l, c) < 0, "report parse: bad TAI64N stamp");
  check(parse("@4000000069231f4c2d0a3b1c", &l, c) < 0, "report parse: stamp alone");
  check(parse("NEW msg=1", &l, c) < 0, "report parse: not an event word");
  check(parse("ok text=\"unterminated", &l, c) < 0, "report parse: unterminated quote");
  check(parse("ok to=<never closed", &l, c) < 0, "report parse: unterminated address");
  check(parse("ok =x", &l, c) < 0, "report parse: empty key");
  check(parse("2026-13-99 99:99:99 new", &l, c) < 0 || !l.hastime || 1, "report parse: odd local stamp does not crash");
}

static void age_tests(void)
{
  char a[32];
  qt_age(a, sizeof a, 5);
  check(!strcmp(a, "5s"), "age: seconds");
  qt_age(a, sizeof a, 3725);
  check(!strcmp(a, "1h02m"), "age: hours");
  qt_age(a, sizeof a, 90000);
  check(!strcmp(a, "1d01h"), "age: days");
  qt_age(a, sizeof a, -3);
  check(!strcmp(a, "0s"), "age: clock skew");
}

int main(void)
{
  info_tests();
  report_tests();
  age_tests();
  return failed;
}
