/* Queue ids: "<seconds>.<usec, 6 digits>.<pid>". */
#include <stdio.h>
#include "qid.h"

void qid_make(char *s, unsigned long long sec, unsigned long usec, unsigned long pid)
{
  snprintf(s, QID_MAX + 1, "%llu.%06lu.%lu", sec, usec % 1000000UL, pid);
}

/* Reads a run of digits of at most max characters; returns characters read (0: none). */
static size_t digits(char const *s, size_t max, unsigned long long *v)
{
  size_t i = 0;
  unsigned long long x = 0;
  while (i < max && s[i] >= '0' && s[i] <= '9') x = x * 10 + (unsigned long long)(s[i++] - '0');
  if (v) *v = x;
  return i;
}

int qid_parse(char const *s, unsigned long long *sec, unsigned long *pid)
{
  unsigned long long a, b, c;
  size_t i = digits(s, 20, &a), j;
  if (!i || s[i] != '.') return 0;
  j = digits(s + i + 1, 6, &b);
  if (j != 6 || s[i + 1 + j] != '.') return 0;
  i += 1 + j + 1;
  j = digits(s + i, 10, &c);
  if (!j || s[i + j]) return 0;
  if (i + j > QID_MAX) return 0;
  if (sec) *sec = a;
  if (pid) *pid = (unsigned long)c;
  (void)b;
  return 1;
}
