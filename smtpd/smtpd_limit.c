/* Connection limits for mailroom-smtpd (issue 19): control/smtpdlimits, the client's slot
   in slots/smtpd (lib/connslot.h), and the session's bounds (lib/connbound.h) that
   smtpd_io.c applies to each wait. The log lines ("connrefused", "overload", "conncut")
   are mailroom-report's. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "smtpd.h"

/* The load, and overload mode's changes logged: on at the threshold, off below 80% of it
   (so that a load around the threshold does not flap). Returns 1 while in the mode. */
static int overloaded(void *ctx)
{
  smtpd_limit *l = ctx;
  return connslot_check(l->slot.dirfd, &l->c, "smtpd");
}

int smtpd_limit_start(smtpd_limit *l, char const *ip, int trusted)
{
  static struct connlimit const def = CONNLIMIT_DEFAULTS;
  unsigned int line;
  char const *why;
  int r;
  l->c = def;
  l->on = 0;
  l->ip = ip;
  l->slot = (struct connslot)CONNSLOT_ZERO;
  if (connlimit_load(SMTPD_LIMITS, &l->c, &line, &why) < 0) {
    if (why) connslot_log("mailroom-smtpd: fatal: %s line %u: %s", SMTPD_LIMITS, line, why);
    return -1;
  }
  connbound_init(&l->b, &l->c, 0, 0);
  /* no client address (a pipe, a test): nothing to count it under */
  if (connlimit_key(ip, &l->c, l->key) < 0) return 0;
  /* a trusted client (RELAYCLIENT: the instance's own hosts, Postfix's mynetworks
     exception) is counted for the load but never refused */
  r = connslot_take(&l->slot, SMTPD_SLOTS, l->key, trusted ? 0 : l->c.perclient);
  if (r < 0) {
    int e = errno;
    if (e != ENOENT) connslot_log("mailroom-smtpd: warning: unable to take a slot in %s: %s: no connection limits", SMTPD_SLOTS, strerror(e));
    connslot_close(&l->slot);
    return 0;
  }
  if (!r) {
    connslot_log("connrefused service=smtpd ip=%s client=%s reason=perclient limit=%u", ip, l->key, l->c.perclient);
    connslot_close(&l->slot);
    return 1;
  }
  l->on = 1;
  connbound_init(&l->b, &l->c, &overloaded, l);
  if (connslot_inmode(l->slot.dirfd)) overloaded(l); /* the first after a flood turns it off */
  return 0;
}

void smtpd_limit_end(smtpd_limit *l)
{
  if (l->b.cut) connslot_log("conncut service=smtpd ip=%s reason=%s", l->ip, l->b.cut);
  if (!l->on) return;
  l->on = 0;
  connslot_release(&l->slot); /* the slot first: it no longer counts */
  if (connslot_inmode(l->slot.dirfd)) overloaded(l); /* the last ones out turn the mode off */
  connslot_close(&l->slot);
}
