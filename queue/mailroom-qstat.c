/* mailroom-qstat: how much is queued, by state, and how old the oldest message is. Run by
   root or mrsend (queue/info is mrsend's alone); reads queue/new, mess and info, changes
   nothing, and does not disturb a running mailroom-send. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include "auto_home.h"
#include "qtool.h"

#define USAGE "mailroom-qstat [ --json ]"

static char const *const bucket_name[QT_NBUCKET] = { "new", "first_try", "deferred", "held", "bouncing", "done" };
static char const *const bucket_text[QT_NBUCKET] = {
  "new (not picked up yet)", "waiting for the first try", "deferred", "held", "failed, bounce pending",
  "done (message not removed yet)"
};

static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }

struct count {
  unsigned long msgs, rcpts;
};

int main(int argc, char const *const *argv)
{
  struct qt_cf cf = { 0 };
  struct qt_list l;
  struct count b[QT_NBUCKET] = { { 0, 0 } }, chan[2] = { { 0, 0 } }, total = { 0, 0 };
  struct count virt = { 0, 0 }; /* of the local channel's: a virtual domain's (vdomain.h) */
  unsigned long long bytes = 0;
  struct qt_msg const *oldest = 0;
  time_t now = time(0);
  int json = 0;
  char age[32];
  PROG = "mailroom-qstat";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) json = 1;
    else die_usage();
  }
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  if (qt_config(&cf) < 0) strerr_diefu1sys(111, "read control/me or control/locals");
  if (qt_load(&l, &cf) < 0) strerr_diefu1sys(111, "read the queue (run as root or mrsend)");
  for (size_t k = 0; k < l.n; k++) {
    struct qt_msg const *m = &l.m[k];
    int seen[QT_NBUCKET] = { 0 }, seenc[2] = { 0, 0 }, seenv = 0;
    total.msgs++;
    bytes += m->msglen;
    if (!oldest) oldest = m;
    for (unsigned i = 0; i < m->nrcpt; i++) {
      int q = qt_bucket(m, i), c = m->r[i].chan == 'R';
      b[q].rcpts++;
      if (!seen[q]++) b[q].msgs++;
      if (q == QT_DONE) continue;
      total.rcpts++;
      if (q == QT_BOUNCING) continue;
      chan[c].rcpts++;
      if (!seenc[c]++) chan[c].msgs++;
      if (m->r[i].vaddr) {
        virt.rcpts++;
        if (!seenv++) virt.msgs++;
      }
    }
  }
  if (json) {
    qt_putf(buffer_1, "{\"messages\":%lu,\"recipients\":%lu,\"bytes\":%llu", total.msgs, total.rcpts, bytes);
    for (int q = 0; q < QT_NBUCKET; q++)
      qt_putf(buffer_1, ",\"%s\":{\"messages\":%lu,\"recipients\":%lu}", bucket_name[q], b[q].msgs, b[q].rcpts);
    qt_putf(buffer_1, ",\"local\":{\"messages\":%lu,\"recipients\":%lu},\"remote\":{\"messages\":%lu,\"recipients\":%lu}",
            chan[0].msgs, chan[0].rcpts, chan[1].msgs, chan[1].rcpts);
    qt_putf(buffer_1, ",\"virtual\":{\"messages\":%lu,\"recipients\":%lu}", virt.msgs, virt.rcpts);
    qt_putf(buffer_1, ",\"unreadable\":%lu,\"oldest\":", l.bad);
    if (oldest) {
      qt_put(buffer_1, "{\"id\":");
      qt_json_str(buffer_1, oldest->id);
      qt_putf(buffer_1, ",\"age\":%lld}", (long long)now - (long long)oldest->arrival);
    } else
      qt_put(buffer_1, "null");
    qt_put(buffer_1, "}\n");
  } else {
    qt_putf(buffer_1, "messages: %lu  recipients to do: %lu  bytes: %llu\n", total.msgs, total.rcpts, bytes);
    for (int q = 0; q < QT_NBUCKET; q++)
      if (q != QT_DONE || b[q].rcpts)
        qt_putf(buffer_1, "  %-32s %8lu messages %8lu recipients\n", bucket_text[q], b[q].msgs, b[q].rcpts);
    qt_putf(buffer_1, "  %-32s %8lu messages %8lu recipients\n", "local channel (to do)", chan[0].msgs, chan[0].rcpts);
    qt_putf(buffer_1, "  %-32s %8lu messages %8lu recipients\n", "remote channel (to do)", chan[1].msgs, chan[1].rcpts);
    if (virt.rcpts)
      qt_putf(buffer_1, "  %-32s %8lu messages %8lu recipients\n", "of local: virtual domains", virt.msgs, virt.rcpts);
    if (oldest) {
      qt_age(age, sizeof age, (long long)now - (long long)oldest->arrival);
      qt_putf(buffer_1, "oldest: %s, %s old\n", oldest->id, age);
    }
    if (l.bad) qt_putf(buffer_1, "unreadable files: %lu (run mailroom-qcheck)\n", l.bad);
  }
  qt_flush(buffer_1);
  /* freed, not left to exit: LeakSanitizer (SANITIZE=1) reports what main's frame held */
  qt_free(&l);
  free(cf.locals);
  return 0;
}
