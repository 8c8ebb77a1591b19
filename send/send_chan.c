/* A delivery channel: the pipe pair to a spawner (mailroom-lspawn or mailroom-rspawn) and
   its slots. Requests and replies are NUL-terminated fields (INTERNALS.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/strerr.h>
#include "send.h"

/* slot (10) + result (1) + text + two NULs: anything longer is a broken spawner. */
#define REPLY_MAX (10 + 1 + TEXT_MAX + 2)

int chan_init(struct chan *c, char const *name, int wfd, int rfd, unsigned conc)
{
  memset(c, 0, sizeof *c);
  c->name = name;
  c->wfd = wfd;
  c->rfd = rfd;
  c->conc = conc;
  c->slot = calloc(conc, sizeof *c->slot);
  c->rbuf = malloc(REPLY_MAX);
  return c->slot && c->rbuf ? 0 : -1;
}

static int request(struct chan *c, unsigned slot, struct msg const *m, unsigned i)
{
  char num[16];
  char const *sender = m->env + 1;
  size_t nl = (size_t)snprintf(num, sizeof num, "%u", slot) + 1;
  size_t il = strlen(m->id) + 1, sl = strlen(sender) + 1, rl = strlen(m->rcpt[i]) + 1;
  char buf[16 + QID_MAX + 2 * 1002];
  memcpy(buf, num, nl);
  memcpy(buf + nl, m->id, il);
  memcpy(buf + nl + il, sender, sl);
  memcpy(buf + nl + il + sl, m->rcpt[i], rl);
  return allwrite(c->wfd, buf, nl + il + sl + rl) == nl + il + sl + rl ? 0 : -1;
}

void chan_dispatch(struct send *s, struct chan *c)
{
  unsigned k = 0;
  while (c->rlen && (c->wfd < 0 || c->busy < c->conc) && !s->stopping) {
    struct job j = c->ready[c->rhead];
    c->rhead = (c->rhead + 1) % c->rcap;
    c->rlen--;
    if (j.m->state[j.i] != 'T') continue;
    if (ctl_park(s, j.m, j.i)) continue; /* held (send_ctl.c) */
    if (c->wfd < 0) {
      result_apply(s, j.m, j.i, 0, 'Z', "4.3.2 no delivery program runs for this channel yet", time(0));
      continue;
    }
    while (c->slot[k].m) k++;
    j.d = ++s->dcount;
    c->slot[k] = j;
    c->busy++;
    j.m->inflight++;
    log_line("start", j.m, "d=%llu chan=%s to=<%s>", j.d, c->name, j.m->rcpt[j.i]);
    if (request(c, k, j.m, j.i) < 0) strerr_diefu2sys(111, "write to ", c->name);
  }
}

/* Reads what the spawner has sent and applies every complete reply. Returns 0, or -1 when
   the spawner has gone (EOF). */
int chan_read(struct send *s, struct chan *c, time_t now)
{
  ssize_t r = read(c->rfd, c->rbuf + c->rbuflen, REPLY_MAX - c->rbuflen);
  if (r < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
  if (!r) return -1;
  c->rbuflen += (size_t)r;
  for (;;) {
    char *z1 = memchr(c->rbuf, 0, c->rbuflen), *z2, *end;
    unsigned long slot;
    struct job j;
    if (!z1) break;
    z2 = memchr(z1 + 1, 0, c->rbuflen - (size_t)(z1 + 1 - c->rbuf));
    if (!z2) break;
    slot = strtoul(c->rbuf, &end, 10);
    if (end != z1 || end == c->rbuf || slot >= c->conc || !c->slot[slot].m || !z1[1] || !strchr("KZD", z1[1]))
      strerr_dief2x(111, "protocol error in reply from ", c->name);
    j = c->slot[slot];
    c->slot[slot].m = 0;
    c->busy--;
    j.m->inflight--;
    result_apply(s, j.m, j.i, j.d, z1[1], z1 + 2, now);
    c->rbuflen -= (size_t)(z2 + 1 - c->rbuf);
    memmove(c->rbuf, z2 + 1, c->rbuflen);
  }
  if (c->rbuflen == REPLY_MAX) strerr_dief2x(111, "overlong reply from ", c->name);
  return 0;
}
