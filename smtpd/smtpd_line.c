/* Command lines: strict CRLF. Every LF ends a line, so that a refused line (bare LF,
   too long, NUL) is answered once and the next command is read as the client meant it;
   a CR ends nothing. Pure. */
#include <string.h>

#include "smtpd.h"

void smtpd_line_reset(smtpd_line *l)
{
  l->len = 0;
  l->flags = 0;
  l->cr = 0;
  l->s[0] = 0;
}

/* Stores one byte of the line, or notes that the line is too long. */
static void keep(smtpd_line *l, char c)
{
  if (l->len < sizeof l->s - 1) l->s[l->len++] = c;
  else l->flags |= LINE_LONG;
}

size_t smtpd_line_feed(smtpd_line *l, char const *s, size_t n, int *done)
{
  size_t i;
  *done = 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\n') {
      if (!l->cr) l->flags |= LINE_BARELF;
      l->cr = 0;
      l->s[l->len] = 0;
      *done = 1;
      return i + 1;
    }
    if (l->cr) {
      /* the CR before this byte was not the start of a CRLF: it belongs to the line */
      l->flags |= LINE_BARECR;
      keep(l, '\r');
      l->cr = 0;
    }
    if (c == '\r') {
      l->cr = 1;
      continue;
    }
    if (!c) l->flags |= LINE_NUL;
    keep(l, c);
  }
  l->s[l->len] = 0;
  return n;
}
