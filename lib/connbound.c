/* Session bounds (lib/connbound.h). */
#include <skalibs/tai.h>

#include "connbound.h"

void connbound_init(struct connbound *b, struct connlimit const *c, int (*overloaded)(void *), void *ctx)
{
  tain_now_g();
  b->hasend = c->sessiontime > 0;
  if (b->hasend) tain_addsec_g(&b->end, (int)c->sessiontime);
  b->minrate = c->minrate;
  b->grace = c->rategrace;
  b->idle = overloaded ? c->overloadtimeout : 0;
  b->w[0].on = b->w[1].on = 0;
  b->w[0].armed = b->w[1].armed = 0;
  b->w[0].bytes = b->w[1].bytes = 0;
  b->overloaded = overloaded;
  b->ctx = ctx;
  b->cut = 0;
}

void connbound_turn(struct connbound *b, int dir)
{
  if (!b) return;
  b->w[dir].on = 0;
  b->w[dir].armed = 1;
  b->w[dir].bytes = 0;
}

void connbound_bytes(struct connbound *b, int dir, uint64_t n)
{
  struct cb_window *w;
  if (!b || !n) return;
  w = &b->w[dir];
  if (!w->armed) return;
  if (!w->on) {
    w->on = 1;
    tain_copynow(&w->start);
    w->bytes = 0;
  }
  w->bytes += n;
}

void connbound_idlestart(struct connbound const *b, tain *idleat)
{
  if (!b || !b->idle) return;
  tain_now_g();
  tain_addsec_g(idleat, (int)b->idle);
}

/* The rate deadline of window w: start + max(grace, bytes / minrate) seconds. */
static void rate_deadline(struct connbound const *b, struct cb_window const *w, tain *d)
{
  uint64_t ms = w->bytes * 1000 / b->minrate, g = (uint64_t)b->grace * 1000;
  tain dt;
  if (ms < g) ms = g;
  if (ms > 86400000ULL * 30) ms = 86400000ULL * 30;
  tain_from_millisecs(&dt, (int)ms);
  tain_add(d, &w->start, &dt);
}

enum cb_kind connbound_deadline(struct connbound *b, int dir, tain const *wait, tain const *idleat, tain *d)
{
  enum cb_kind k = CB_WAIT;
  *d = *wait;
  if (!b) return k;
  if (b->hasend && tain_less(&b->end, d)) {
    *d = b->end;
    k = CB_END;
  }
  if (b->minrate && b->w[dir].on) {
    tain r;
    rate_deadline(b, &b->w[dir], &r);
    if (tain_less(&r, d)) {
      *d = r;
      k = CB_RATE;
    }
  }
  if (b->idle && idleat && tain_less(idleat, d)) {
    *d = *idleat;
    k = CB_IDLE;
  }
  return k;
}

int connbound_expired(struct connbound *b, enum cb_kind k, tain *idleat)
{
  if (!b) return 1;
  switch (k) {
    case CB_WAIT: return 1;
    case CB_END: b->cut = "sessiontime"; return 1;
    case CB_RATE: b->cut = "slowdata"; return 1;
    case CB_IDLE:
      if (b->overloaded && b->overloaded(b->ctx) > 0) {
        b->cut = "overload";
        return 1;
      }
      connbound_idlestart(b, idleat);
      return 0;
  }
  return 1;
}
