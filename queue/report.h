#ifndef MAILROOM_REPORT_H
#define MAILROOM_REPORT_H
/* mailroom-report: a summary of mailroom-send's log (report_*.c). */
#include <stddef.h>

#define RPT_LINE_MAX 4096 /* longer log lines are counted as skipped */
#define RPT_KEYS_MAX 1000000 /* distinct keys per table; more are counted, not stored */
#define RPT_FIELDS_MAX 16

/* One parsed log line (report_parse.c). Field values point into the line, which is changed. */
struct rpt_line {
  int hastime;
  double t; /* unix seconds, when the line had a TAI64N or tai64nlocal stamp */
  char const *event;
  unsigned nf;
  char const *key[RPT_FIELDS_MAX], *val[RPT_FIELDS_MAX];
};
extern int rpt_parse(char *s, struct rpt_line *l);
extern char const *rpt_get(struct rpt_line const *l, char const *key);

/* A string -> counters table (report_stats.c). */
struct rpt_ent {
  char *k;
  unsigned long long v[4];
};
struct rpt_tab {
  struct rpt_ent *e;
  size_t cap, n;
  unsigned long dropped;
};
extern struct rpt_ent *rpt_tab_get(struct rpt_tab *t, char const *k);
extern struct rpt_ent **rpt_tab_top(struct rpt_tab const *t, int col, size_t *n);

struct rpt {
  unsigned long lines, skipped, stamped;
  double tmin, tmax;
  unsigned long long in, bytes_in, finished, bounces, dropped_bounces, cleanups, admin;
  unsigned long long res[3][3]; /* [ok, defer, fail][local, remote, unknown] */
  unsigned long long bytes_out;
  unsigned long long fetch[4];      /* mailroom-fetch messages: fetched, skipped, refused, failed */
  unsigned long long fetchpolls[2]; /* its polls: ok, failed */
  /* connection limits (lib/connslot.c's lines in the smtpd and pop3d logs), per service
     [smtpd, pop3d]: refused per client, cut in overload mode, cut for a slow turn (minrate),
     cut at sessiontime; and the times overload mode began */
  unsigned long long conn[2][4];
  unsigned long long overloads[2];
  struct rpt_tab msgs;    /* id -> size */
  struct rpt_tab chans;   /* "id d" -> channel (0 local, 1 remote) */
  struct rpt_tab senders; /* v0 messages, v1 bytes */
  struct rpt_tab rcpts;   /* v0 delivered, v1 deferred, v2 failed */
  struct rpt_tab domains; /* remote domains: same columns */
  struct rpt_tab reasons; /* deferral and failure texts: v0 deferred, v1 failed */
  struct rpt_tab hours;   /* "hour number" -> v0 messages in, v1 deliveries */
  double *delays;
  size_t ndelays, delaycap, sorted;
};
extern int rpt_add(struct rpt *r, struct rpt_line const *l);
extern double rpt_percentile(struct rpt *r, double p);

/* report_out.c */
extern void rpt_text(struct rpt *r, unsigned top);
extern void rpt_json(struct rpt *r, unsigned top);
extern int rpt_html(struct rpt *r, unsigned top, char const *file);
#endif
