/* Unit tests for mailroom-send's scheduler: the retry heap's order, the FIFO behind it,
   the back-off schedule, and the info file's round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../send/send.h"

static int failed;

static void check(int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (!ok) failed = 1;
}

int main(void)
{
  static struct send s;
  struct msg m;
  unsigned char st[100], ch[100];
  int ok = 1;
  memset(&m, 0, sizeof m);
  m.state = st;
  m.chan = ch;
  memset(st, 'T', sizeof st);
  memset(ch, 'L', sizeof ch);
  chan_init(&s.ch[CHAN_LOCAL], "local", -1, -1, 4);
  chan_init(&s.ch[CHAN_REMOTE], "remote", -1, -1, 4);
  for (unsigned i = 0; i < 100; i++) sched_later(&s, &m, i, (time_t)(1000 + (i * 37) % 100));
  check(sched_next(&s) == 1000, "sched: earliest retry first");
  sched_due(&s, 1049);
  check(s.ch[CHAN_LOCAL].rlen == 50 && s.heaplen == 50, "sched: due retries move to the FIFO");
  for (size_t k = 0; k < s.ch[CHAN_LOCAL].rlen; k++) {
    struct job j = s.ch[CHAN_LOCAL].ready[(s.ch[CHAN_LOCAL].rhead + k) % s.ch[CHAN_LOCAL].rcap];
    if ((1000 + (j.i * 37) % 100) > 1049) ok = 0;
    if (k && (1000 + (j.i * 37) % 100) < (1000 + (s.ch[CHAN_LOCAL].ready[(s.ch[CHAN_LOCAL].rhead + k - 1) % s.ch[CHAN_LOCAL].rcap].i * 37) % 100)) ok = 0;
  }
  check(ok, "sched: FIFO holds them in time order");
  sched_due(&s, 5000);
  check(s.ch[CHAN_LOCAL].rlen == 100 && !s.heaplen && !sched_next(&s), "sched: all due");
  {
    struct config cf = { .retrybase = 10, .retrymax = 100 };
    check(sched_backoff(&cf, 1, 0) == 10 && sched_backoff(&cf, 2, 0) == 20 && sched_backoff(&cf, 3, 0) == 40 &&
            sched_backoff(&cf, 5, 0) == 100 && sched_backoff(&cf, 50, 0) == 100,
          "sched: back-off doubles up to retrymax");
  }
  {
    char dir[] = "/tmp/mr-sched-XXXXXX", cwd[4096];
    char env[] = "Fs@x\0Ta@x\0Tb@x\0\0";
    char const *rc[2] = { env + 6, env + 11 };
    unsigned att[2] = { 0, 0 };
    time_t nt[2] = { 0, 0 };
    unsigned char s2[2] = { 'T', 'T' }, c2[2] = { 'L', 'R' };
    struct msg im;
    memset(&im, 0, sizeof im);
    strcpy(im.id, "1763893836.042117.4711");
    im.arrival = 1763893836ULL;
    im.nrcpt = 2;
    im.rcpt = rc;
    im.state = s2;
    im.chan = c2;
    im.attempts = att;
    im.nexttry = nt;
    im.env = env;
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(dir) || chdir(dir) < 0) return 1;
    system("mkdir -p queue/info");
    check(info_create(&im) == 0, "info: create");
    s2[1] = 'D';
    att[1] = 3;
    nt[0] = 1763899999;
    att[0] = 2;
    check(info_update(&im, 1, "delivered \"fine\"\x01") == 0 && info_update(&im, 0, "deferred") == 0, "info: update");
    s2[0] = s2[1] = 'T';
    att[0] = att[1] = 0;
    nt[0] = 0;
    check(info_load(&im) == 1 && s2[0] == 'T' && s2[1] == 'D' && att[1] == 3 && att[0] == 2 && nt[0] == 1763899999 &&
            c2[1] == 'R',
          "info: load what was recorded");
    system("truncate -s 100 queue/info/1763893836.042117.4711");
    check(info_load(&im) == 0, "info: short file is unusable (picked up again)");
    system("printf 'garbage' > queue/info/1763893836.042117.4711");
    check(info_load(&im) == 0, "info: garbage is unusable");
    chdir(cwd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    system(cmd);
  }
  return failed;
}
