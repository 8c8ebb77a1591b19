/* mailroom-report's tallies: string-keyed counter tables (open addressing, bounded) and
   what each log event adds to them. The arrival time of a message is in its id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "qid.h"
#include "qtool.h"
#include "report.h"

static size_t hash(char const *s)
{
  size_t h = 5381;
  for (; *s; s++) h = h * 33 ^ (unsigned char)*s;
  return h;
}

static int grow(struct rpt_tab *t)
{
  size_t nc = t->cap ? t->cap * 2 : 1024;
  struct rpt_ent *n = calloc(nc, sizeof *n);
  if (!n) return -1;
  for (size_t k = 0; k < t->cap; k++)
    if (t->e[k].k) {
      size_t j = hash(t->e[k].k) & (nc - 1);
      while (n[j].k) j = (j + 1) & (nc - 1);
      n[j] = t->e[k];
    }
  free(t->e);
  t->e = n;
  t->cap = nc;
  return 0;
}

/* The entry for k, made with zero counters if new; 0 when the table is full. */
struct rpt_ent *rpt_tab_get(struct rpt_tab *t, char const *k)
{
  size_t j;
  if (t->n * 2 >= t->cap) {
    if (t->n >= RPT_KEYS_MAX) {
      if (t->cap) {
        j = hash(k) & (t->cap - 1);
        while (t->e[j].k) {
          if (!strcmp(t->e[j].k, k)) return &t->e[j];
          j = (j + 1) & (t->cap - 1);
        }
      }
      t->dropped++;
      return 0;
    }
    if (grow(t) < 0) qt_die_nomem();
  }
  j = hash(k) & (t->cap - 1);
  while (t->e[j].k) {
    if (!strcmp(t->e[j].k, k)) return &t->e[j];
    j = (j + 1) & (t->cap - 1);
  }
  t->e[j].k = strdup(k);
  if (!t->e[j].k) qt_die_nomem();
  t->n++;
  return &t->e[j];
}

static int bycol(void const *a, void const *b, void *col)
{
  struct rpt_ent const *x = *(struct rpt_ent *const *)a, *y = *(struct rpt_ent *const *)b;
  int c = *(int *)col;
  if (x->v[c] != y->v[c]) return x->v[c] > y->v[c] ? -1 : 1;
  return strcmp(x->k, y->k);
}

/* Every entry, largest column col first (ties by key, so the output is stable). */
struct rpt_ent **rpt_tab_top(struct rpt_tab const *t, int col, size_t *n)
{
  struct rpt_ent **v = malloc((t->n ? t->n : 1) * sizeof *v); /* NOLINT(bugprone-sizeof-expression): v is an array of pointers: sizeof *v is one pointer */
  size_t m = 0;
  if (!v) qt_die_nomem();
  for (size_t k = 0; k < t->cap; k++)
    if (t->e[k].k) v[m++] = &t->e[k];
  qsort_r(v, m, sizeof *v, bycol, &col); /* NOLINT(bugprone-sizeof-expression): v is an array of pointers: sizeof *v is one pointer */
  *n = m;
  return v;
}

static void count(struct rpt_tab *t, char const *k, int col, unsigned long long by)
{
  struct rpt_ent *e = rpt_tab_get(t, k);
  if (e) e->v[col] += by;
}

static double arrival(char const *id)
{
  unsigned long long sec;
  char const *dot;
  if (!id || !qid_parse(id, &sec, 0)) return -1;
  dot = strchr(id, '.');
  return (double)sec + strtod(dot, 0) ;
}

static void hour(struct rpt *r, double t, int col)
{
  char k[24];
  if (t < 0) return;
  snprintf(k, sizeof k, "%lld", (long long)(t / 3600));
  count(&r->hours, k, col, 1);
}

/* A text grouped with others like it: digits and what is between <> are blanked, so
   "451 4.3.0 try again in 300 s <x@y>" and the same with other numbers count as one. */
static void reason(struct rpt *r, char const *text, int col)
{
  char k[120];
  size_t n = 0;
  int inaddr = 0;
  if (!text) text = "(no text)";
  for (; *text && n + 1 < sizeof k; text++) {
    char c = *text;
    if (c == '<') inaddr = 1;
    if (inaddr) {
      if (c == '>') {
        inaddr = 0;
        if (n + 3 < sizeof k) k[n++] = '<', k[n++] = '.', k[n++] = '>';
      }
      continue;
    }
    if (c >= '0' && c <= '9') {
      if (!n || k[n - 1] != '#') k[n++] = '#';
      continue;
    }
    k[n++] = c;
  }
  k[n] = 0;
  count(&r->reasons, k, col, 1);
}

static void domain(struct rpt *r, char const *to, int col)
{
  char const *at = to ? strrchr(to, '@') : 0;
  char d[256];
  size_t n = 0;
  if (!at) return;
  for (at++; *at && n + 1 < sizeof d; at++) d[n++] = (*at >= 'A' && *at <= 'Z') ? (char)(*at + 32) : *at;
  d[n] = 0;
  count(&r->domains, d, col, 1);
}

static char const *const known[] = { "new", "start", "ok", "defer", "fail", "bounce", "end", "cleanup", "hold", "release",
                                     "requeue", "delete", "expire", "stop", "exit", "reload", "ctl",
                                     "fetch", "fetchpoll", "fetchinfo", "connrefused", "conncut", "overload", 0 };
/* the columns of rpt.conn[][], by the reason= of a conncut line ("connrefused" is column 0) */
static char const *const cutres[] = { "", "overload", "slowdata", "sessiontime", 0 };
/* mailroom-fetch's results (fetch/fetch_sess.c), in the order of rpt.fetch[] */
static char const *const fetchres[] = { "fetched", "skipped", "refused", "failed", 0 };

/* Adds one line; -1 if its event is not one of mailroom-send's. */
int rpt_add(struct rpt *r, struct rpt_line const *l)
{
  int ok = 0;
  for (int k = 0; known[k]; k++) ok |= !strcmp(known[k], l->event);
  if (!ok) return -1;
  {
  char const *ev = l->event, *id = rpt_get(l, "msg"), *to = rpt_get(l, "to"), *d = rpt_get(l, "d");
  char key[QID_MAX + 32];
  if (l->hastime) {
    if (!r->stamped || l->t < r->tmin) r->tmin = l->t;
    if (!r->stamped || l->t > r->tmax) r->tmax = l->t;
    r->stamped++;
  }
  snprintf(key, sizeof key, "%s %s", id ? id : "", d ? d : "");
  if (!strncmp(ev, "conn", 4) || !strcmp(ev, "overload")) {
    char const *svc = rpt_get(l, "service"), *why = rpt_get(l, "reason");
    int sv = svc && !strcmp(svc, "smtpd") ? 0 : svc && !strcmp(svc, "pop3d") ? 1 : -1;
    if (sv < 0) return 0;
    if (ev[0] == 'o') {
      char const *st = rpt_get(l, "state");
      if (st && !strcmp(st, "on")) r->overloads[sv]++;
    } else if (!strcmp(ev, "connrefused")) {
      if (why && !strcmp(why, "perclient")) r->conn[sv][0]++;
    } else
      for (int k = 1; why && cutres[k]; k++)
        if (!strcmp(why, cutres[k])) r->conn[sv][k]++;
  } else if (!strcmp(ev, "fetch") || !strcmp(ev, "fetchpoll")) {
    char const *res = rpt_get(l, "result");
    if (ev[5]) r->fetchpolls[res && !strcmp(res, "ok") ? 0 : 1]++;
    else
      for (int k = 0; res && fetchres[k]; k++)
        if (!strcmp(res, fetchres[k])) r->fetch[k]++;
  } else if (!strcmp(ev, "new") && id) {
    unsigned long long size = strtoull(rpt_get(l, "size") ? rpt_get(l, "size") : "0", 0, 10);
    char const *from = rpt_get(l, "from");
    struct rpt_ent *m = rpt_tab_get(&r->msgs, id);
    if (m) m->v[0] = size;
    r->in++;
    r->bytes_in += size;
    if (!from) from = "";
    count(&r->senders, *from ? from : "<>", 0, 1);
    count(&r->senders, *from ? from : "<>", 1, size);
    hour(r, l->hastime ? l->t : arrival(id), 0);
  } else if (!strcmp(ev, "start") && id) {
    char const *c = rpt_get(l, "chan");
    struct rpt_ent *e = rpt_tab_get(&r->chans, key);
    if (e) e->v[0] = c && !strcmp(c, "remote") ? 2 : 1;
  } else if ((!strcmp(ev, "ok") || !strcmp(ev, "defer") || !strcmp(ev, "fail")) && id) {
    int res = ev[0] == 'o' ? 0 : ev[0] == 'd' ? 1 : 2, ch = 2;
    struct rpt_ent *e = rpt_tab_get(&r->chans, key);
    if (e && e->v[0]) ch = (int)e->v[0] - 1;
    r->res[res][ch]++;
    if (to) count(&r->rcpts, to, res, 1);
    /* Remote domains: the remote channel's deliveries, and those that never reached a
       channel (no start line: no delivery program ran for it), which are remote ones. */
    if (ch) domain(r, to, res);
    if (res) reason(r, rpt_get(l, "text"), res - 1);
    if (!res) {
      struct rpt_ent *m = rpt_tab_get(&r->msgs, id);
      double a = arrival(id);
      if (m) r->bytes_out += m->v[0];
      hour(r, l->hastime ? l->t : -1, 1);
      if (l->hastime && a >= 0) {
        if (r->ndelays == r->delaycap) {
          size_t nc = r->delaycap ? r->delaycap * 2 : 1024;
          double *n = realloc(r->delays, nc * sizeof *n);
          if (!n) qt_die_nomem();
          r->delays = n;
          r->delaycap = nc;
        }
        r->delays[r->ndelays++] = l->t - a < 0 ? 0 : l->t - a;
      }
    }
  } else if (!strcmp(ev, "bounce")) {
    if (rpt_get(l, "result") && !strcmp(rpt_get(l, "result"), "dropped")) r->dropped_bounces++;
    else r->bounces++;
  } else if (!strcmp(ev, "end")) {
    r->finished++;
  } else if (!strcmp(ev, "cleanup")) {
    r->cleanups++;
  } else if (!strcmp(ev, "hold") || !strcmp(ev, "release") || !strcmp(ev, "requeue") || !strcmp(ev, "delete") ||
             !strcmp(ev, "expire")) {
    r->admin++;
  }
  }
  return 0;
}

static int dcmp(void const *a, void const *b)
{
  double x = *(double const *)a, y = *(double const *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the delivery delays; -1 without any. */
double rpt_percentile(struct rpt *r, double p)
{
  size_t k;
  if (!r->ndelays) return -1;
  if (r->sorted != r->ndelays) {
    qsort(r->delays, r->ndelays, sizeof *r->delays, dcmp);
    r->sorted = r->ndelays;
  }
  k = (size_t)(p / 100 * (double)r->ndelays + 0.999999);
  if (k < 1) k = 1;
  if (k > r->ndelays) k = r->ndelays;
  return r->delays[k - 1];
}
