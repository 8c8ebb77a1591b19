/* Concurrency per destination domain (control/concurrencydomain): a job whose domain has
   that many deliveries running waits in the domain's own list, so it neither spins in the
   ready FIFO nor holds up the jobs of other domains behind it; a finished delivery moves
   as many waiting jobs back to the FIFO as there are free places. A domain with nothing
   running and nothing waiting is freed. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "send.h"

static unsigned hash(char const *s)
{
  unsigned h = 5381;
  for (; *s; s++) h = h * 33 ^ (unsigned char)tolower((unsigned char)*s);
  return h % DOMAIN_HASH;
}

struct domain *domain_find(struct send const *s, char const *name)
{
  for (struct domain *d = s->dom[hash(name)]; d; d = d->next)
    if (!strcasecmp(d->name, name)) return d;
  return 0;
}

struct domain *domain_get(struct send *s, char const *name)
{
  unsigned h = hash(name);
  size_t l = strlen(name);
  struct domain *d = domain_find(s, name);
  if (d) return d;
  d = calloc(1, sizeof *d + l + 1);
  if (!d) return 0;
  for (size_t k = 0; k < l; k++) d->name[k] = (char)tolower((unsigned char)name[k]);
  d->next = s->dom[h];
  s->dom[h] = d;
  return d;
}

/* The job waits for a free place of its domain (the message keeps its reference). */
int domain_wait(struct domain *d, struct job const *j)
{
  if (d->whead + d->wlen == d->wcap) {
    if (d->whead) {
      memmove(d->wait, d->wait + d->whead, d->wlen * sizeof *d->wait);
      d->whead = 0;
    } else {
      size_t ncap = d->wcap ? d->wcap * 2 : 16;
      struct job *n = realloc(d->wait, ncap * sizeof *n);
      if (!n) return -1;
      d->wait = n;
      d->wcap = ncap;
    }
  }
  d->wait[d->whead + d->wlen++] = *j;
  return 0;
}

static void domain_free(struct send *s, struct domain *d)
{
  struct domain **p = &s->dom[hash(d->name)];
  while (*p != d) p = &(*p)->next;
  *p = d->next;
  free(d->wait);
  free(d);
}

/* A delivery to d has ended (or none started): waiting jobs go to the front of the FIFO,
   as many as there are free places, skipping those that no longer need a delivery. */
void domain_release(struct send *s, struct domain *d)
{
  struct chan *c = &s->ch[CHAN_REMOTE];
  unsigned free_ = d->busy < s->cf.concdomain ? (unsigned)(s->cf.concdomain - d->busy) : 0;
  while (free_ && d->wlen) {
    struct job j = d->wait[d->whead];
    if (!j.m->gone && j.m->state[j.i] == 'T' && !j.m->flight[j.i] && sched_front(c, &j) < 0) break;
    d->whead++;
    d->wlen--;
    if (j.m->gone || j.m->state[j.i] != 'T' || j.m->flight[j.i]) {
      msg_unref(j.m);
      continue;
    }
    free_--;
  }
  if (!d->wlen) d->whead = 0;
  if (!d->busy && !d->wlen) domain_free(s, d);
}
