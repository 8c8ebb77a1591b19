/* DKIM relaxed canonicalisation: header fields whole, the body as a stream (dkim_canon.h). */
#include <string.h>

#include "dkim_canon.h"

static int iswsp(char c) { return c == ' ' || c == '\t'; }

size_t dkim_canon_header(char const *h, size_t n, char *out, int crlf)
{
  size_t i = 0, o = 0, colon;
  int wsp = 0;
  while (i < n && h[i] != ':') {
    unsigned char c = (unsigned char)h[i];
    if (c < 33 || c > 126) break;
    out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    i++;
  }
  /* RFC 5322's field name is ftext; obsolete syntax allows WSP before the colon, which
     relaxed drops */
  while (i < n && iswsp(h[i])) i++;
  if (!o || i >= n || h[i] != ':') return 0;
  out[o++] = ':';
  colon = o;
  for (i++; i < n; i++) {
    char c = h[i];
    if (c == '\r' && i + 1 < n && h[i + 1] == '\n') continue; /* unfold: CR of CRLF */
    if (c == '\n') continue;                                   /* unfold: the line end */
    if (iswsp(c)) {
      wsp = 1;
      continue;
    }
    if (wsp && o > colon) out[o++] = ' ';
    wsp = 0;
    out[o++] = c;
  }
  if (crlf) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  return o;
}

/* The output of one feed goes through this buffer, so that the callback (a hash update)
   sees runs of bytes and not one call per byte. */
#define OBUF 4096
typedef struct obuf_s {
  char b[OBUF];
  size_t n;
  dkim_body *body;
  dkim_out_fn *out;
  void *ctx;
} obuf;

static void put(obuf *o, char const *s, size_t n)
{
  o->body->outlen += n;
  if (o->n + n > OBUF) {
    o->out(o->ctx, o->b, o->n);
    o->n = 0;
  }
  memcpy(o->b + o->n, s, n);
  o->n += n;
}

static void flush(obuf *o)
{
  if (o->n) o->out(o->ctx, o->b, o->n);
  o->n = 0;
}

static void flush_blank(obuf *o)
{
  dkim_body *b = o->body;
  for (; b->blank; b->blank--) put(o, "\r\n", 2);
}

/* One byte of line content (not a line end, not white space): what is pending first. */
static void content(obuf *o, char c)
{
  dkim_body *b = o->body;
  flush_blank(o);
  if (b->wsp) put(o, " ", 1);
  put(o, &c, 1);
  b->wsp = 0;
  b->content = 1;
}

static void line_end(obuf *o)
{
  dkim_body *b = o->body;
  if (b->content)
    put(o, "\r\n", 2);
  else
    b->blank++; /* empty, or white space only: relaxed makes it empty */
  b->wsp = b->content = 0;
}

void dkim_body_feed(dkim_body *b, char const *s, size_t n, dkim_out_fn *out, void *ctx)
{
  obuf o;
  o.n = 0;
  o.body = b;
  o.out = out;
  o.ctx = ctx;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (b->cr) {
      b->cr = 0;
      if (c == '\n') {
        line_end(&o);
        continue;
      }
      content(&o, '\r');
    }
    if (c == '\r' && !b->lf)
      b->cr = 1;
    else if (c == '\n')
      line_end(&o);
    else if (iswsp(c))
      b->wsp = 1;
    else
      content(&o, c);
  }
  flush(&o);
}

void dkim_body_end(dkim_body *b, dkim_out_fn *out, void *ctx)
{
  obuf o;
  o.n = 0;
  o.body = b;
  o.out = out;
  o.ctx = ctx;
  if (b->cr) {
    b->cr = 0;
    content(&o, '\r');
  }
  /* trailing white space of an unterminated last line is dropped, as at a line end */
  if (b->content) line_end(&o);
  b->blank = 0;
  b->wsp = 0;
  flush(&o);
}
