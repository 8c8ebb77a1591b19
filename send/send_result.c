/* What the result of one delivery does: record it in the info file, log it, and schedule a
   retry, a delay warning, a bounce or the end of the message. */
#include <string.h>
#include <skalibs/strerr.h>
#include "send.h"

static void record(struct msg *m, unsigned i, char const *text)
{
  if (info_update(m, i, text) < 0) strerr_warnwu3sys("record the delivery of ", m->id, " in queue/info");
}

/* Once per message (info flag), when a recipient is still deferred delaywarn seconds after
   arrival; never for a bounce (<>) or a double bounce (#@[]). A warning that cannot be
   queued is tried again at the next deferral. */
static void delaywarn(struct send *s, struct msg *m, time_t now)
{
  char const *sender = m->env + 1;
  if (!s->cf.delaywarn || (m->flags & INFO_FLAG_DELAYWARNED)) return;
  if ((unsigned long long)now < m->arrival + s->cf.delaywarn) return;
  if (!*sender || !strcmp(sender, "#@[]")) return;
  {
    unsigned k = 0;
    while (k < m->nrcpt && !(m->state[k] == 'T' && m->attempts[k])) k++;
    if (k == m->nrcpt) return; /* nothing deferred */
  }
  if (bounce_send(s, m, 1) < 0) {
    strerr_warnwu3sys("queue the delay warning of ", m->id, ", will try again");
    return;
  }
  m->flags |= INFO_FLAG_DELAYWARNED;
  if (info_setflags(m) < 0) strerr_warnwu3sys("record the delay warning of ", m->id, " in queue/info");
}

void result_apply(struct send *s, struct msg *m, unsigned i, unsigned long long d, char r, char const *text,
                  time_t now)
{
  char q[TEXT_MAX * 2 + 1], dom[1100] = "";
  log_quote(q, sizeof q, text);
  if (m->chan[i] == 'R') {
    char const *at = strrchr(m->rcpt[i], '@');
    log_quote(dom + 8, sizeof dom - 8, at ? at + 1 : "");
    memcpy(dom, " domain=", 8);
  }
  m->attempts[i]++;
  if (r == 'K') {
    m->state[i] = 'D';
    m->todo--;
    log_line("ok", m, "d=%llu to=<%s> text=\"%s\"%s", d, m->rcpt[i], q, dom);
  } else if (r == 'D') {
    m->state[i] = 'F';
    m->todo--;
    m->failed++;
    log_line("fail", m, "d=%llu to=<%s> text=\"%s\"%s", d, m->rcpt[i], q, dom);
  } else if ((unsigned long long)now >= m->arrival + s->cf.lifetime) {
    /* Too old to try again: a temporary failure becomes permanent. */
    m->state[i] = 'F';
    m->todo--;
    m->failed++;
    log_line("fail", m, "d=%llu to=<%s> reason=queuelifetime text=\"%s\"%s", d, m->rcpt[i], q, dom);
  } else {
    m->nexttry[i] = sched_backoff(&s->cf, m->attempts[i], now);
    log_line("defer", m, "d=%llu to=<%s> attempts=%u next=%lld text=\"%s\"%s", d, m->rcpt[i], m->attempts[i],
             (long long)(m->nexttry[i] - now), q, dom);
    if (sched_later(s, m, i, m->nexttry[i]) < 0) strerr_diefu1sys(111, "schedule a retry");
  }
  record(m, i, text);
  /* NOTIFY=SUCCESS (after the record: the notice quotes the text): a local delivery is
     "delivered"; a remote one is "relayed" when mailroom-remote says the server took it
     without DSN (its text starts "relayed: "); a server with DSN got the parameters and
     reports itself (RFC 3461 5.2). */
  if (r == 'K' && (m->chan[i] == 'L' || !strncmp(text, RELAYED_PREFIX, sizeof RELAYED_PREFIX - 1)) &&
      notice_send(s, m, i, m->chan[i] == 'R') < 0)
    strerr_warnwu3sys("queue the success notice of ", m->id, ", not sent");
  if (!m->inflight) delaywarn(s, m, now);
  msg_progress(s, m, now);
}
