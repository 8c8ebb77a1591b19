/* mailroom-qread: every queued message, one line each (id, age, size, sender, state), then
   one indented line per recipient still to do or failed (channel, state, tries, next retry,
   last result). Run as `mailq` it prints what sendmail's users expect, in Postfix's layout.
   Run by root or mrsend; reads the queue, changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include "auto_home.h"
#include "qtool.h"

#define USAGE "mailroom-qread [ --json ] [ --all ]"

static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }

static char const *statename(struct qt_msg const *m, unsigned i)
{
  switch (qt_bucket(m, i)) {
  case QT_NEW: return "new";
  case QT_FIRST: return "first-try";
  case QT_DEFERRED: return "deferred";
  case QT_HELD: return "held";
  case QT_BOUNCING: return "failed";
  default: return m->r[i].state == 'D' ? "delivered" : "bounced";
  }
}

static char const *msgstate(struct qt_msg const *m)
{
  if (m->where == 'n') return "new";
  return m->flags & QT_FLAG_HELD ? "held" : "queued";
}

static void text(struct qt_msg const *l, size_t n, time_t now, int all)
{
  char age[32], next[40];
  for (size_t k = 0; k < n; k++) {
    struct qt_msg const *m = &l[k];
    qt_age(age, sizeof age, (long long)now - (long long)m->arrival);
    qt_putf(buffer_1, "%s %s %llu <%s> %s %u\n", m->id, age, m->msglen, m->sender, msgstate(m), m->nrcpt);
    for (unsigned i = 0; i < m->nrcpt; i++) {
      struct qt_rcpt const *r = &m->r[i];
      if (!all && r->state != 'T' && r->state != 'F') continue;
      if (r->state == 'T' && r->next > (unsigned long long)now) {
        char a[32];
        qt_age(a, sizeof a, (long long)(r->next - (unsigned long long)now));
        snprintf(next, sizeof next, "in %s", a);
      } else
        snprintf(next, sizeof next, "%s", r->state == 'T' ? "now" : "-");
      qt_putf(buffer_1, "  %s %s tries=%u next=%s <%s>", r->chan == 'R' ? "remote" : "local", statename(m, i),
              r->attempts, next, r->addr);
      if (r->vaddr) qt_putf(buffer_1, " virtual=<%s>", r->vaddr);
      if (r->text[0]) qt_putf(buffer_1, " last=\"%s\"", r->text);
      qt_put(buffer_1, "\n");
    }
  }
}

static void json(struct qt_msg const *l, size_t n, time_t now, int all)
{
  qt_put(buffer_1, "[");
  for (size_t k = 0; k < n; k++) {
    struct qt_msg const *m = &l[k];
    int first = 1;
    qt_put(buffer_1, k ? ",\n{\"id\":" : "\n{\"id\":");
    qt_json_str(buffer_1, m->id);
    qt_putf(buffer_1, ",\"arrival\":%llu,\"age\":%lld,\"size\":%llu,\"state\":\"%s\",\"sender\":", m->arrival,
            (long long)now - (long long)m->arrival, m->msglen, msgstate(m));
    qt_json_str(buffer_1, m->sender);
    qt_put(buffer_1, ",\"recipients\":[");
    for (unsigned i = 0; i < m->nrcpt; i++) {
      struct qt_rcpt const *r = &m->r[i];
      if (!all && r->state != 'T' && r->state != 'F') continue;
      qt_put(buffer_1, first ? "{\"address\":" : ",{\"address\":");
      first = 0;
      qt_json_str(buffer_1, r->addr);
      qt_putf(buffer_1, ",\"channel\":\"%s\",\"state\":\"%s\",\"tries\":%u,\"next\":%llu,\"last\":",
              r->chan == 'R' ? "remote" : "local", statename(m, i), r->attempts, r->next);
      qt_json_str(buffer_1, r->text);
      if (r->vaddr) {
        qt_put(buffer_1, ",\"virtual\":");
        qt_json_str(buffer_1, r->vaddr);
      }
      qt_put(buffer_1, "}");
    }
    qt_put(buffer_1, "]}");
  }
  qt_put(buffer_1, "\n]\n");
}

/* Postfix's mailq layout: id (with ! when held), size, arrival, sender; then each recipient
   under the sender column, after its last error in parentheses. */
static void mailq(struct qt_msg const *l, size_t n)
{
  unsigned long long bytes = 0;
  if (!n) {
    qt_put(buffer_1, "Mail queue is empty\n");
    return;
  }
  qt_put(buffer_1, "-Queue ID-                  --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
  for (size_t k = 0; k < n; k++) {
    struct qt_msg const *m = &l[k];
    char date[40], id[QID_MAX + 2];
    time_t t = (time_t)m->arrival;
    struct tm tm;
    localtime_r(&t, &tm);
    if (!strftime(date, sizeof date, "%a %b %e %H:%M:%S", &tm)) date[0] = 0;
    snprintf(id, sizeof id, "%s%s", m->id, m->flags & QT_FLAG_HELD ? "!" : m->where == 'n' ? "*" : "");
    bytes += m->msglen;
    qt_putf(buffer_1, "%-27s %8llu %s  %s\n", id, m->msglen, date, m->sender[0] ? m->sender : "MAILER-DAEMON");
    for (unsigned i = 0; i < m->nrcpt; i++) {
      struct qt_rcpt const *r = &m->r[i];
      if (r->state != 'T' && r->state != 'F') continue;
      if (r->text[0]) qt_putf(buffer_1, "%*s(%s)\n", 40, "", r->text);
      qt_putf(buffer_1, "%*s%s\n", 58, "", r->addr);
    }
    qt_put(buffer_1, "\n");
  }
  qt_putf(buffer_1, "-- %llu Kbytes in %lu Request%s.\n", (bytes + 1023) / 1024, (unsigned long)n, n == 1 ? "" : "s");
}

int main(int argc, char const *const *argv)
{
  struct qt_cf cf = { 0 };
  struct qt_list l;
  char const *base = strrchr(argv[0], '/');
  int js = 0, all = 0, asmailq;
  PROG = "mailroom-qread";
  base = base ? base + 1 : argv[0];
  asmailq = !strcmp(base, "mailq");
  if (asmailq) PROG = "mailq";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) js = 1;
    else if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a")) all = 1;
    else if (asmailq && argv[i][0] == '-') continue; /* sendmail's mailq options (-v, -Ac, ...) */
    else die_usage();
  }
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  if (qt_config(&cf) < 0) strerr_diefu1sys(111, "read control/me or control/locals");
  if (qt_load(&l, &cf) < 0) strerr_diefu1sys(111, "read the queue (run as root or mrsend)");
  if (js) json(l.m, l.n, time(0), all);
  else if (asmailq) mailq(l.m, l.n);
  else text(l.m, l.n, time(0), all);
  qt_flush(buffer_1);
  if (l.bad) strerr_warnw1x("some queue files are not valid messages: run mailroom-qcheck");
  /* freed, not left to exit: LeakSanitizer (SANITIZE=1) reports what main's frame held */
  qt_free(&l);
  free(cf.locals);
  return 0;
}
