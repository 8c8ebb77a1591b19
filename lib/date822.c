/* RFC 5322 dates, computed from the epoch without gmtime so that the UTC form is pure and
   the same on every libc. The civil-from-days step is Howard Hinnant's algorithm. */
#include <string.h>
#include <time.h>

#include "date822.h"

static char const wday[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static char const mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Floor division: the epoch is in the middle of the range, days before it are negative. */
static long long fdiv(long long a, long long b)
{
  long long q = a / b;
  if ((a % b) && ((a < 0) != (b < 0))) q--;
  return q;
}

static char *put2(char *s, unsigned int u)
{
  *s++ = '0' + u / 10 % 10;
  *s++ = '0' + u % 10;
  return s;
}

size_t date822_fmt(char *s, long long t, long off)
{
  long long days, secs, z, era, doe, yoe, y, doy, mp, d, m;
  long mins = off / 60;
  unsigned long aoff;
  char *p = s;
  *s = 0;
  if (off <= -360000 || off >= 360000) return 0;
  /* Years 1900-9999 fit in +-2.5e11 seconds; refuse earlier so nothing below overflows. */
  if (t < -3000000000000LL || t > 3000000000000LL) return 0;
  t += (long long)mins * 60;
  days = fdiv(t, 86400);
  secs = t - days * 86400;
  z = days + 719468;
  era = fdiv(z, 146097);
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  if (y < 1900 || y > 9999) return 0;

  memcpy(p, wday[((days + 4) % 7 + 7) % 7], 3); /* 1970-01-01 was a Thursday */
  p += 3;
  *p++ = ',';
  *p++ = ' ';
  if (d >= 10) *p++ = '0' + d / 10;
  *p++ = '0' + d % 10;
  *p++ = ' ';
  memcpy(p, mon[m - 1], 3);
  p += 3;
  *p++ = ' ';
  p = put2(p, (unsigned int)(y / 100));
  p = put2(p, (unsigned int)(y % 100));
  *p++ = ' ';
  p = put2(p, (unsigned int)(secs / 3600));
  *p++ = ':';
  p = put2(p, (unsigned int)(secs / 60 % 60));
  *p++ = ':';
  p = put2(p, (unsigned int)(secs % 60));
  *p++ = ' ';
  *p++ = mins < 0 ? '-' : '+';
  aoff = (unsigned long)(mins < 0 ? -mins : mins);
  p = put2(p, (unsigned int)(aoff / 60));
  p = put2(p, (unsigned int)(aoff % 60));
  *p = 0;
  return (size_t)(p - s);
}

size_t date822_fmtlocal(char *s, time_t t)
{
  struct tm tm;
  *s = 0;
  if (!localtime_r(&t, &tm)) return 0;
  return date822_fmt(s, (long long)t, tm.tm_gmtoff);
}
