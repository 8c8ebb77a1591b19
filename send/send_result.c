/* What the result of one delivery does: record it in the info file, log it, and schedule a
   retry, a bounce or the end of the message. */
#include <string.h>
#include <skalibs/strerr.h>
#include "send.h"

static void record(struct msg *m, unsigned i, char const *text)
{
  if (info_update(m, i, text) < 0) strerr_warnwu3sys("record the delivery of ", m->id, " in queue/info");
}

void result_apply(struct send *s, struct msg *m, unsigned i, unsigned long long d, char r, char const *text,
                  time_t now)
{
  char q[TEXT_MAX * 2 + 1];
  log_quote(q, sizeof q, text);
  m->attempts[i]++;
  if (r == 'K') {
    m->state[i] = 'D';
    m->todo--;
    log_line("ok", m, "d=%llu to=<%s> text=\"%s\"", d, m->rcpt[i], q);
  } else if (r == 'D') {
    m->state[i] = 'F';
    m->todo--;
    m->failed++;
    log_line("fail", m, "d=%llu to=<%s> text=\"%s\"", d, m->rcpt[i], q);
  } else if ((unsigned long long)now >= m->arrival + s->cf.lifetime) {
    /* Too old to try again: a temporary failure becomes permanent. */
    m->state[i] = 'F';
    m->todo--;
    m->failed++;
    log_line("fail", m, "d=%llu to=<%s> reason=queuelifetime text=\"%s\"", d, m->rcpt[i], q);
  } else {
    m->nexttry[i] = sched_backoff(&s->cf, m->attempts[i], now);
    log_line("defer", m, "d=%llu to=<%s> attempts=%u next=%lld text=\"%s\"", d, m->rcpt[i], m->attempts[i],
             (long long)(m->nexttry[i] - now), q);
    if (sched_later(s, m, i, m->nexttry[i]) < 0) strerr_diefu1sys(111, "schedule a retry");
  }
  record(m, i, text);
  if (!m->todo && !m->inflight) msg_finish(s, m);
}
