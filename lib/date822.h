#ifndef MAILROOM_DATE822_H
#define MAILROOM_DATE822_H
/* RFC 5322 date-time ("Sun, 23 Nov 2025 10:33:00 +0100") for a Date: header. */
#include <time.h>
#include <stddef.h>

/* "Wed, 31 Dec 9999 23:59:59 +9959" is 31 bytes; s needs DATE822_MAX + 1. */
#define DATE822_MAX 31

/* Formats t (seconds since the epoch) as seen at off seconds east of UTC. off is cut to
   whole minutes, and the time shown is t + that, so the date and the zone always agree.
   Writes a NUL-terminated string into s; returns its length, or 0 (s = "") when the local
   year is outside 1900-9999 or |off| is 100 hours or more. Pure: no time zone database. */
extern size_t date822_fmt(char *s, long long t, long off);
/* Same at the local offset of t (localtime_r's tm_gmtoff, so TZ applies). 0 on error. */
extern size_t date822_fmtlocal(char *s, time_t t);
#endif
