/* Connection limits for POP3 (issue 19): control/pop3dlimits, the client's slot in
   slots/pop3d taken by mailroom-popup (root, before anything else is read from the
   client) and held by it until the session ends, and the bounds on each program's part of
   the session (lib/connbound.h) that pop3d_io.c applies to each wait. mailroom-pop3d runs
   as the user: it can list the folder (mode 0755) to count the load but open none of the
   slot files (0600), so its count is by name. The log lines are mailroom-report's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "pop3d.h"

/* The load, and overload mode's changes (logged by whoever may change the flag: popup):
   on at the threshold, off below 80% of it. 1 while in the mode. */
static int overloaded(void *ctx)
{
  struct pop3_limit *l = ctx;
  return connslot_check(l->slot.dirfd, &l->c, "pop3d");
}

/* The client's address: TCPREMOTEIP, an IPv4 client of an IPv6 socket shown as IPv4. */
static int remote_ip(char *ip, size_t n)
{
  char const *e = getenv("TCPREMOTEIP");
  if (!e || !*e || strlen(e) >= n || strspn(e, "0123456789abcdefABCDEF.:") != strlen(e)) return -1;
  if (!strncmp(e, "::ffff:", 7) && strchr(e + 7, '.')) e += 7;
  memcpy(ip, e, strlen(e) + 1);
  return 0;
}

int pop3_limit_start(struct pop3_limit *l, char const *home, char const *prog, int take)
{
  static struct connlimit const def = CONNLIMIT_DEFAULTS;
  char file[POP3_PATH_MAX + sizeof POP3_LIMITS + 2], dir[POP3_PATH_MAX + sizeof POP3_SLOTS + 2];
  unsigned int line;
  char const *why;
  int r;
  l->c = def;
  l->slot = (struct connslot)CONNSLOT_ZERO;
  l->prog = prog;
  snprintf(file, sizeof file, "%s%s" POP3_LIMITS, home ? home : "", home ? "/" : "");
  snprintf(dir, sizeof dir, "%s%s" POP3_SLOTS, home ? home : "", home ? "/" : "");
  if (remote_ip(l->ip, sizeof l->ip) < 0) memcpy(l->ip, "unknown", sizeof "unknown");
  if (connlimit_load(file, &l->c, &line, &why) < 0) {
    if (why) connslot_log("mailroom-%s: fatal: %s line %u: %s", prog, file, line, why);
    return -1;
  }
  connbound_init(&l->b, &l->c, 0, 0);
  if (!take) {
    l->slot.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->slot.dirfd >= 0) connbound_init(&l->b, &l->c, &overloaded, l);
    return 0;
  }
  if (connlimit_key(l->ip, &l->c, l->key) < 0) return 0; /* no address: nothing to count */
  r = connslot_take(&l->slot, dir, l->key, l->c.perclient);
  if (r < 0) {
    int e = errno;
    if (e != ENOENT) connslot_log("mailroom-%s: warning: unable to take a slot in %s: %s: no connection limits", prog, dir, strerror(e));
    connslot_close(&l->slot);
    return 0;
  }
  if (!r) {
    connslot_log("connrefused service=pop3d ip=%s client=%s reason=perclient limit=%u", l->ip, l->key, l->c.perclient);
    connslot_close(&l->slot);
    return 1;
  }
  /* files of sessions that ended without removing theirs (popup, once it is the user,
     may not): reaped when the folder holds more names than the service has sessions, as
     then some must be stale (one getdents otherwise) */
  (void)connslot_count(l->slot.dirfd, (unsigned long)l->c.sessions + 1, 1);
  connbound_init(&l->b, &l->c, &overloaded, l);
  if (connslot_inmode(l->slot.dirfd)) overloaded(l); /* the first after a flood turns it off */
  return 0;
}

void pop3_limit_end(struct pop3_limit *l)
{
  if (l->b.cut) {
    connslot_log("conncut service=pop3d ip=%s reason=%s prog=%s", l->ip, l->b.cut, l->prog);
    l->b.cut = 0;
  }
  connslot_release(&l->slot); /* the slot first: it no longer counts */
  if (l->slot.dirfd >= 0 && connslot_inmode(l->slot.dirfd)) overloaded(l); /* the last ones out turn it off */
  connslot_close(&l->slot);
}
