/* mailroom-send's control files, read at start and on SIGHUP. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/strerr.h>
#include "control.h"
#include "send.h"

static void num(char const *file, unsigned long *u, unsigned long def, unsigned long min, unsigned long max)
{
  if (control_readulong(file, u, def) < 0) strerr_diefu2sys(111, "read ", file);
  if (*u < min) *u = min;
  if (*u > max) *u = max;
}

int config_read(struct config *cf)
{
  char *l;
  size_t n;
  if (control_readline("control/me", cf->me, sizeof cf->me, "localhost") < 0) strerr_diefu1sys(111, "read control/me");
  if (control_readlines("control/locals", &l, &n, 1 << 20) < 0) strerr_diefu1sys(111, "read control/locals");
  free(cf->locals);
  cf->locals = l;
  cf->localslen = n;
  num("control/concurrencylocal", &cf->conclocal, 10, 1, CONCURRENCY_MAX);
  num("control/concurrencyremote", &cf->concremote, 20, 1, CONCURRENCY_MAX);
  num("control/retrybase", &cf->retrybase, 300, 1, 86400);
  num("control/retrymax", &cf->retrymax, 14400, 1, 7UL * 86400);
  num("control/queuelifetime", &cf->lifetime, 604800, 0, 365 * 86400UL);
  num("control/concurrencydomain", &cf->concdomain, 10, 1, CONCURRENCY_MAX);
  num("control/delaywarn", &cf->delaywarn, 14400, 0, 365 * 86400UL);
  return 0;
}
