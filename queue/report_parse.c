/* Parsing one line of mailroom-send's log (send/send_log.c: `event key=value ...`, values
   plain, <address> or "quoted text" with \" and \\), raw or behind a multilog TAI64N stamp
   (`@4000000069...`) or tai64nlocal's `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`. Pure: no I/O. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "report.h"

static int hexval(char c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "@" + 16 hex digits of seconds (2^62 + TAI) + 8 of nanoseconds. Like tai64nlocal, the
   10 seconds between TAI and UTC in 1970 are taken off, later leap seconds ignored. */
static char *tai64n(char *s, struct rpt_line *l)
{
  unsigned long long sec = 0, ns = 0;
  for (int i = 1; i <= 24; i++) {
    int v = hexval(s[i]);
    if (v < 0) return 0;
    if (i <= 16) sec = sec << 4 | (unsigned)v;
    else ns = ns << 4 | (unsigned)v;
  }
  if (s[25] != ' ' || sec < (1ULL << 62) + 10 || ns >= 1000000000ULL) return 0;
  l->hastime = 1;
  l->t = (double)(sec - (1ULL << 62) - 10) + (double)ns / 1e9;
  return s + 26;
}

static int digits(char const *s, int n)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* "2026-11-23 12:01:02.123456789 " (tai64nlocal; local time). */
static char *localstamp(char *s, struct rpt_line *l)
{
  struct tm tm;
  int frac = 0, nd = 0;
  char *p;
  memset(&tm, 0, sizeof tm);
  if (s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':') return 0;
  tm.tm_year = digits(s, 4) - 1900;
  tm.tm_mon = digits(s + 5, 2) - 1;
  tm.tm_mday = digits(s + 8, 2);
  tm.tm_hour = digits(s + 11, 2);
  tm.tm_min = digits(s + 14, 2);
  tm.tm_sec = digits(s + 17, 2);
  if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 || tm.tm_sec < 0) return 0;
  p = s + 19;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++, nd++)
      if (nd < 6) frac = frac * 10 + (*p - '0');
  while (nd < 6) frac *= 10, nd++;
  if (*p != ' ') return 0;
  tm.tm_isdst = -1;
  l->hastime = 1;
  l->t = (double)mktime(&tm) + frac / 1e6;
  return p + 1;
}

/* Returns 0, or -1 for a line that is not a log event. */
int rpt_parse(char *s, struct rpt_line *l)
{
  char *p;
  memset(l, 0, sizeof *l);
  if (s[0] == '@') {
    if (!(s = tai64n(s, l))) return -1;
  } else if (s[0] >= '0' && s[0] <= '9' && strlen(s) > 20 && s[4] == '-') {
    if (!(s = localstamp(s, l))) return -1;
  }
  if (!(*s >= 'a' && *s <= 'z')) return -1;
  l->event = s;
  for (p = s; *p >= 'a' && *p <= 'z'; p++) ;
  if (*p && *p != ' ') return -1;
  if (!*p) return 0;
  *p++ = 0;
  while (*p && l->nf < RPT_FIELDS_MAX) {
    char *k, *v;
    while (*p == ' ') p++;
    if (!*p) break;
    k = p;
    while ((*p >= 'a' && *p <= 'z') || *p == '_') p++;
    if (*p != '=' || p == k) return -1;
    *p++ = 0;
    if (*p == '"') {
      char *w = ++p;
      v = w;
      while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        *w++ = *p++;
      }
      if (*p != '"') return -1;
      p++;
      *w = 0;
    } else if (*p == '<') {
      /* An address may hold anything but NUL, CR and LF: it ends at the last '>' that is
         followed by a space and a key, or by the end of the line. */
      char *e = 0, *q = p + 1;
      for (; *q; q++)
        if (*q == '>' && (!q[1] || (q[1] == ' ' && q[2] >= 'a' && q[2] <= 'z' && strchr(q + 2, '=')))) {
          e = q;
          break;
        }
      if (!e) return -1;
      v = p + 1;
      *e = 0;
      p = e + 1;
    } else {
      v = p;
      while (*p && *p != ' ') p++;
    }
    if (*p == ' ') *p++ = 0;
    else if (*p) return -1;
    l->key[l->nf] = k;
    l->val[l->nf++] = v;
  }
  return 0;
}

char const *rpt_get(struct rpt_line const *l, char const *key)
{
  for (unsigned i = 0; i < l->nf; i++)
    if (!strcmp(l->key[i], key)) return l->val[i];
  return 0;
}
