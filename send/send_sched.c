/* Scheduling: a FIFO of deliveries due now per channel, and a heap of deliveries waiting
   for a retry. New mail joins the back of the FIFO, so a burst of new messages queues
   behind the deliveries already due instead of starving them (qmail's "silly syndrome"). */
#include <errno.h>
#include <stdlib.h>
#include "send.h"

/* Every FIFO, waiting-list and heap entry holds a reference on its message (msg_unref): a
   remote delivery takes the other due recipients of its message and domain along, so their
   own entries are left behind, to be skipped when they come up. */
static int fifo_room(struct chan *c)
{
  if (c->rlen == c->rcap) {
    size_t ncap = c->rcap ? c->rcap * 2 : 256;
    struct job *n = malloc(ncap * sizeof *n);
    if (!n) return -1;
    for (size_t k = 0; k < c->rlen; k++) n[k] = c->ready[(c->rhead + k) % c->rcap];
    free(c->ready);
    c->ready = n;
    c->rcap = ncap;
    c->rhead = 0;
  }
  return 0;
}

static int fifo_push(struct chan *c, struct msg *m, unsigned i)
{
  if (fifo_room(c) < 0) return -1;
  c->ready[(c->rhead + c->rlen) % c->rcap] = (struct job){ .m = m, .i = i };
  c->rlen++;
  m->refs++;
  return 0;
}

int sched_front(struct chan *c, struct job const *j)
{
  if (fifo_room(c) < 0) return -1;
  c->rhead = (c->rhead + c->rcap - 1) % c->rcap;
  c->ready[c->rhead] = *j;
  c->rlen++;
  return 0;
}

int sched_ready(struct send *s, struct msg *m, unsigned i)
{
  return fifo_push(&s->ch[m->chan[i] == 'R' ? CHAN_REMOTE : CHAN_LOCAL], m, i);
}

static void swap(struct retry *a, struct retry *b)
{
  struct retry t = *a;
  *a = *b;
  *b = t;
}

int sched_later(struct send *s, struct msg *m, unsigned i, time_t when)
{
  size_t k;
  if (s->heaplen == s->heapcap) {
    size_t ncap = s->heapcap ? s->heapcap * 2 : 256;
    struct retry *n = realloc(s->heap, ncap * sizeof *n);
    if (!n) return -1;
    s->heap = n;
    s->heapcap = ncap;
  }
  k = s->heaplen++;
  s->heap[k] = (struct retry){ when, m, i };
  m->refs++;
  while (k && s->heap[(k - 1) / 2].when > s->heap[k].when) {
    swap(&s->heap[(k - 1) / 2], &s->heap[k]);
    k = (k - 1) / 2;
  }
  return 0;
}

static void heap_pop(struct send *s)
{
  size_t k = 0;
  s->heap[0] = s->heap[--s->heaplen];
  for (;;) {
    size_t l = 2 * k + 1, r = l + 1, min = k;
    if (l < s->heaplen && s->heap[l].when < s->heap[min].when) min = l;
    if (r < s->heaplen && s->heap[r].when < s->heap[min].when) min = r;
    if (min == k) break;
    swap(&s->heap[k], &s->heap[min]);
    k = min;
  }
}

/* Moves every retry that is due into its channel's FIFO. A failed push leaves the entry in
   the heap for the next round. */
void sched_due(struct send *s, time_t now)
{
  while (s->heaplen && s->heap[0].when <= now) {
    struct retry r = s->heap[0];
    if (r.i == BOUNCE_RETRY || r.m->gone) {
      heap_pop(s);
      if (r.i == BOUNCE_RETRY) r.m->bounceretry = 0;
      if (!msg_unref(r.m)) msg_progress(s, r.m, now);
      continue;
    }
    if (sched_ready(s, r.m, r.i) < 0) return;
    heap_pop(s);
    r.m->refs--;
  }
}

time_t sched_next(struct send const *s)
{
  return s->heaplen ? s->heap[0].when : 0;
}

/* Exponential back-off: retrybase, twice that, ... up to retrymax between tries. */
time_t sched_backoff(struct config const *cf, unsigned attempts, time_t now)
{
  unsigned long d = cf->retrybase ? cf->retrybase : 1;
  for (unsigned k = 1; k < attempts && d < cf->retrymax; k++) d *= 2;
  if (d > cf->retrymax) d = cf->retrymax;
  return now + (time_t)d;
}

/* Puts every recipient still to do of a freshly loaded message on its way. */
int sched_queue_msg(struct send *s, struct msg *m, time_t now)
{
  for (unsigned i = 0; i < m->nrcpt; i++) {
    if (m->state[i] != 'T') continue;
    if (m->nexttry[i] > now) {
      if (sched_later(s, m, i, m->nexttry[i]) < 0) return -1;
    } else if (sched_ready(s, m, i) < 0)
      return -1;
  }
  return 0;
}
