/* A Maildir file to the body of a RETR or TOP response (RFC 1939 section 3): CRLF line
   ends whatever the file holds, dot-stuffing, the terminating ".". Pure and streaming: it
   keeps its place between chunks, so a message of any size goes through a fixed buffer.
   Only LF ends a line, as it does for the deliverer; a CR before a LF is part of the line
   end, a bare CR elsewhere is data (and so can never end the response early). */
#include "pop3d.h"

void pop3_xform_init(struct pop3_xform *x, int top, unsigned long lines)
{
  x->bol = 1;
  x->cr = 0;
  x->hdr = 1;
  x->top = top;
  x->done = 0;
  x->linelen = 0;
  x->lines = lines;
}

/* A line has ended (its CRLF is written). */
static void endline(struct pop3_xform *x)
{
  if (x->hdr) {
    if (!x->linelen) x->hdr = 0; /* the empty line: the body starts */
  } else if (x->top && x->lines) {
    x->lines--;
  }
  x->bol = 1;
  x->linelen = 0;
}

size_t pop3_xform(struct pop3_xform *x, char const *in, size_t len, char *out, size_t *used)
{
  size_t w = 0, i;
  for (i = 0; i < len; i++) {
    char c = in[i];
    if (x->bol) {
      /* TOP: the header and its blank line always, then `lines` body lines. */
      if (x->top && !x->hdr && !x->lines) {
        x->done = 1;
        break;
      }
      x->bol = 0;
      if (c == '.') out[w++] = '.';
    }
    if (c == '\n') {
      out[w++] = '\r';
      out[w++] = '\n';
      x->cr = 0;
      endline(x);
      continue;
    }
    if (x->cr) {
      out[w++] = '\r'; /* the held CR was not the start of CRLF: data */
      x->linelen++;
      x->cr = 0;
    }
    if (c == '\r') {
      x->cr = 1;
      continue;
    }
    out[w++] = c;
    x->linelen++;
  }
  *used = i;
  return w;
}

size_t pop3_xform_end(struct pop3_xform *x, char *out)
{
  size_t w = 0;
  /* A last line without LF (a held CR included) is ended, so "." stands on its own line. */
  if (!x->bol) {
    out[w++] = '\r';
    out[w++] = '\n';
    x->cr = 0;
    endline(x);
  }
  out[w++] = '.';
  out[w++] = '\r';
  out[w++] = '\n';
  return w;
}
