/* mailroom-qctl: hold, release, requeue, delete or expire queued messages, chosen by id,
   sender, recipient or domain. Run by root (or the instance's user when not installed as
   root). When mailroom-send runs (it holds queue/lock/sendlock), each command goes to it as
   one line on the FIFO queue/lock/ctl and qctl waits, bounded, for the effect to show on
   disk; otherwise qctl takes the lock and changes the files itself. Either way nothing races
   a delivery (INTERNALS.md, "Queue control"). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "auto_home.h"
#include "qctl.h"

#define USAGE "mailroom-qctl [ --json ] [ -t seconds ] hold|release|requeue|delete|expire id... | --all | --sender addr | --rcpt addr | --domain domain"
#define WAIT_DEFAULT 30 /* seconds for a running mailroom-send to show the effect */
#define WAIT_MAX 3600
#define LINE_MAX_CTL 256 /* send/send.h CTL_LINE_MAX: below PIPE_BUF, so each write is atomic */

static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }
static _Noreturn void die_fifo(void) { strerr_diefu1sys(111, "write to queue/lock/ctl (is mailroom-send running?)"); }

struct sel {
  int all;
  char const *sender, *rcpt, *domain;
};

/* 1 if message m is selected: every criterion given must hold. */
static int selected(struct qt_msg const *m, struct sel const *s)
{
  int rc = !s->rcpt, dom = !s->domain;
  if (s->sender && strcasecmp(m->sender, s->sender) != 0) return 0;
  for (unsigned i = 0; i < m->nrcpt; i++) {
    if (m->r[i].state != 'T' && m->r[i].state != 'F') continue;
    if (s->rcpt && !strcasecmp(m->r[i].addr, s->rcpt)) rc = 1;
    if (s->domain && qt_domainis(m->r[i].addr, s->domain)) dom = 1;
  }
  return rc && dom;
}

static void writeline(int fd, char const *line, time_t deadline)
{
  size_t n = strlen(line);
  for (;;) {
    ssize_t w = write(fd, line, n);
    if (w == (ssize_t)n) return;
    if (w >= 0) strerr_dief1x(101, "short write on queue/lock/ctl");
    if (errno == EINTR) continue;
    if (errno != EAGAIN) die_fifo();
    if (time(0) >= deadline) strerr_dief1x(111, "queue/lock/ctl stays full: mailroom-send does not read it");
    poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 100);
  }
}

int main(int argc, char const *const *argv)
{
  struct qt_cf cf = { 0 };
  struct qt_list l;
  struct sel s = { 0, 0, 0, 0 };
  char const **ids;
  struct qc_before *before;
  int *res;
  char const **why;
  size_t nids = 0;
  int cmd = -1, json = 0, lockfd, online, exitcode = 0, loaded = 0;
  unsigned wait = WAIT_DEFAULT;
  time_t now, deadline;
  unsigned long ndone = 0, ngone = 0, nfail = 0, nunknown = 0;
  PROG = "mailroom-qctl";
  ids = calloc((size_t)argc + 1, sizeof *ids);
  if (!ids) qt_die_nomem();
  for (int i = 1; i < argc; i++) {
    char const *a = argv[i];
    if (!strcmp(a, "--json")) json = 1;
    else if (!strcmp(a, "--all") || !strcmp(a, "-a") || !strcmp(a, "*")) s.all = 1;
    else if ((!strcmp(a, "-t") || !strcmp(a, "--wait")) && i + 1 < argc) {
      if (!uint0_scan(argv[++i], &wait) || wait > WAIT_MAX) die_usage();
    } else if ((!strcmp(a, "-s") || !strcmp(a, "--sender")) && i + 1 < argc) s.sender = argv[++i];
    else if ((!strcmp(a, "-r") || !strcmp(a, "--rcpt")) && i + 1 < argc) s.rcpt = argv[++i];
    else if ((!strcmp(a, "-d") || !strcmp(a, "--domain")) && i + 1 < argc) s.domain = argv[++i];
    else if (a[0] == '-') die_usage();
    else if (cmd < 0) {
      for (int c = 0; c < QC_N; c++)
        if (!strcmp(a, qc_name[c])) cmd = c;
      if (cmd < 0) strerr_dief3x(100, "unknown command ", a, ": want hold, release, requeue, delete or expire");
    } else {
      if (strlen(a) > QID_MAX || !qid_parse(a, 0, 0)) strerr_dief2x(100, "not a queue id: ", a);
      ids[nids++] = a;
    }
  }
  if (cmd < 0 || (!nids && !s.all && !s.sender && !s.rcpt && !s.domain)) die_usage();
  if (nids && (s.all || s.sender || s.rcpt || s.domain)) strerr_dief1x(100, "give ids or a selection, not both");
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);

  /* Who applies it: mailroom-send if it holds the lock, else we, holding it. */
  lockfd = open("queue/lock/sendlock", O_RDONLY | O_CLOEXEC);
  if (lockfd < 0 && errno != ENOENT) strerr_diefu1sys(111, "open queue/lock/sendlock");
  online = lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB) < 0;
  if (online && errno != EWOULDBLOCK) strerr_diefu1sys(111, "lock queue/lock/sendlock");

  if (!nids) {
    if (qt_config(&cf) < 0) strerr_diefu1sys(111, "read control/me or control/locals");
    if (qt_load(&l, &cf) < 0) strerr_diefu1sys(111, "read the queue (run as root)");
    loaded = 1;
    free(ids);
    ids = calloc(l.n + 1, sizeof *ids);
    if (!ids) qt_die_nomem();
    for (size_t k = 0; k < l.n; k++)
      if (s.all || selected(&l.m[k], &s)) ids[nids++] = l.m[k].id;
    if (!nids) {
      if (json) qt_putf(buffer_1, "{\"command\":\"%s\",\"mode\":\"%s\",\"results\":[]}\n", qc_name[cmd], online ? "send" : "files");
      else qt_put(buffer_1, "no message selected\n");
      qt_flush(buffer_1);
      free(ids);
      free(cf.locals);
      qt_free(&l);
      return 0;
    }
  }
  before = calloc(nids, sizeof *before);
  res = calloc(nids, sizeof *res);
  why = calloc(nids, sizeof *why);
  if (!before || !res || !why) qt_die_nomem();
  now = time(0);
  deadline = now + (time_t)wait;

  /* An id given that is not queued is an error of the caller, not a wait. */
  for (size_t k = 0; k < nids; k++) {
    char p1[QID_MAX + 20], p2[QID_MAX + 20];
    snprintf(p1, sizeof p1, "queue/mess/%s", ids[k]);
    snprintf(p2, sizeof p2, "queue/new/%s", ids[k]);
    if (access(p1, F_OK) < 0 && access(p2, F_OK) < 0) res[k] = -1, why[k] = "no such message", nunknown++;
  }
  if (online) {
    int fd = open("queue/lock/ctl", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    char line[LINE_MAX_CTL];
    if (fd < 0) die_fifo();
    for (size_t k = 0; k < nids; k++)
      if (!res[k]) qc_snapshot(ids[k], &before[k]);
    if (cmd == QC_REQUEUE && s.all) writeline(fd, "requeue *\n", deadline);
    else
      for (size_t k = 0; k < nids; k++) {
        if (res[k]) continue;
        snprintf(line, sizeof line, "%s %s\n", qc_name[cmd], ids[k]);
        writeline(fd, line, deadline);
      }
    close(fd);
    for (;;) {
      size_t left = 0;
      for (size_t k = 0; k < nids; k++)
        if (!res[k] && (res[k] = qc_done(cmd, ids[k], &before[k], now)) == 0) left++;
      if (!left || time(0) >= deadline) break;
      usleep(50000);
    }
    for (size_t k = 0; k < nids; k++)
      if (!res[k]) res[k] = -1, why[k] = "no effect seen on disk in time (see mailroom-send's log)";
  } else {
    for (size_t k = 0; k < nids; k++)
      if (!res[k]) res[k] = qc_apply(cmd, ids[k], now, &why[k]) < 0 ? -1 : 1;
  }

  if (json) qt_putf(buffer_1, "{\"command\":\"%s\",\"mode\":\"%s\",\"results\":[", qc_name[cmd], online ? "send" : "files");
  for (size_t k = 0; k < nids; k++) {
    char const *r = res[k] == 1 ? "done" : res[k] == 2 ? "gone" : "failed";
    if (res[k] == 1) ndone++;
    else if (res[k] == 2) ngone++;
    else nfail++;
    if (json) {
      qt_put(buffer_1, k ? ",{\"id\":" : "{\"id\":");
      qt_json_str(buffer_1, ids[k]);
      qt_putf(buffer_1, ",\"result\":\"%s\"", r);
      if (res[k] < 0) {
        qt_put(buffer_1, ",\"why\":");
        qt_json_str(buffer_1, why[k]);
      }
      qt_put(buffer_1, "}");
    } else if (res[k] < 0)
      qt_putf(buffer_1, "%s: %s failed: %s\n", ids[k], qc_name[cmd], why[k]);
    else
      qt_putf(buffer_1, "%s: %s\n", ids[k], res[k] == 1 ? "done" : "left the queue meanwhile (delivered or bounced)");
  }
  if (json) qt_put(buffer_1, "]}\n");
  else
    qt_putf(buffer_1, "%s: %lu done, %lu left the queue meanwhile, %lu failed (%s)\n", qc_name[cmd], ndone, ngone,
            nfail, online ? "applied by mailroom-send" : "mailroom-send not running: files changed directly");
  qt_flush(buffer_1);
  if (nfail) exitcode = nfail == nunknown ? 100 : 111;
  /* freed, not left to exit: LeakSanitizer (SANITIZE=1) reports what main's frame held */
  free(before);
  free(res);
  free(why);
  free(ids);
  free(cf.locals);
  if (loaded) qt_free(&l);
  return exitcode;
}
