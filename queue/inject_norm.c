/* The input as sendmail reads it: CRLF or LF line ends in, LF out (the queue holds LF line
   ends, qmail style: mailroom-remote converts for SMTP). A byte-at-a-time state machine, so
   a CR or a "." at the end of one read is decided by the next. */
#include "inject.h"

enum { S_BOL, S_MID, S_CR, S_DOT, S_DOTCR };

size_t inject_norm_feed(inject_norm *z, char const *in, size_t n, char *out)
{
  size_t w = 0, i;
  if (z->done) return 0;
  if (!n) { /* end of input: flush what was held */
    if (z->state == S_CR) out[w++] = '\r';
    else if (z->state == S_DOT || z->state == S_DOTCR) z->done = 1; /* a last line "." */
    z->state = S_BOL;
    return w;
  }
  for (i = 0; i < n; i++) {
    char c = in[i];
    switch (z->state) {
      case S_DOT:
        if (c == '\n') goto end;
        if (c == '\r') {
          z->state = S_DOTCR;
          continue;
        }
        out[w++] = '.';
        break;
      case S_DOTCR:
        if (c == '\n') goto end;
        out[w++] = '.';
        out[w++] = '\r';
        break;
      case S_CR:
        if (c != '\n') out[w++] = '\r';
        break;
      case S_BOL:
        if (c == '.' && !z->flagi) {
          z->state = S_DOT;
          continue;
        }
        break;
      default: break;
    }
    /* c in the middle of a line (or the first byte of one) */
    if (c == '\r') z->state = S_CR;
    else {
      out[w++] = c;
      z->state = c == '\n' ? S_BOL : S_MID;
    }
  }
  return w;
end:
  z->done = 1;
  return w;
}
