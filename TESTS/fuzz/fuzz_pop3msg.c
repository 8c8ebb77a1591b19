/* libFuzzer target: a Maildir file through the RETR/TOP transform (pop3d_xform.c). Checks
   that the response is CRLF lines ending in "." alone, that no line before it is "." (dot-
   stuffing), that un-stuffing gives back the file with its line ends made LF, that any
   chunking gives the same bytes, that TOP gives a prefix of RETR at a line boundary, and
   that lib/crlfsize.c (LIST's size) is the un-stuffed response's length. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../pop3d/pop3d.h"
#include "crlfsize.h"

/* The whole response for in, fed step bytes at a time (0: at once); malloc'd. */
static char *run(char const *in, size_t len, int top, unsigned long lines, size_t step, size_t *outlen)
{
  struct pop3_xform x;
  char *out = malloc(2 * len + POP3_XFORM_END + 1);
  size_t w = 0, pos = 0;
  if (!out) abort();
  pop3_xform_init(&x, top, lines);
  while (pos < len && !x.done) {
    size_t n = step && len - pos > step ? step : len - pos, used;
    size_t k = pop3_xform(&x, in + pos, n, out + w, &used);
    if (k > 2 * n || used > n || (used < n && !x.done)) __builtin_trap();
    w += k;
    pos += used;
  }
  w += pop3_xform_end(&x, out + w);
  *outlen = w;
  return out;
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *in;
  size_t len, olen, clen, tlen, i, w, nlen;
  char *o, *c, *tp, *norm, *un;
  size_t step;
  unsigned long lines;
  if (size < 2) return 0;
  step = data[0] % 9;
  lines = data[1] % 5;
  in = (char const *)data + 2;
  len = size - 2;

  o = run(in, len, 0, 0, 0, &olen);
  if (olen < 3 || memcmp(o + olen - 3, ".\r\n", 3) != 0 || (olen > 3 && memcmp(o + olen - 5, "\r\n", 2) != 0)) __builtin_trap();
  c = run(in, len, 0, 0, step, &clen);
  if (clen != olen || memcmp(c, o, olen) != 0) __builtin_trap();
  tp = run(in, len, 1, lines, step, &tlen);
  if (tlen > olen || memcmp(tp, o, tlen - 3) != 0) __builtin_trap();

  /* The file with CRLF made LF, a lone CR at the very end made LF, a last LF added. */
  norm = malloc(len + 2);
  un = malloc(olen + 1);
  if (!norm || !un) abort();
  for (i = 0, nlen = 0; i < len; i++) {
    if (in[i] == '\r' && (i + 1 == len || in[i + 1] == '\n')) continue;
    norm[nlen++] = in[i];
  }
  if (len && in[len - 1] == '\r') norm[nlen++] = '\n'; /* NOLINT(bugprone-branch-clone): two cases of the model, each a line */
  else if (nlen && norm[nlen - 1] != '\n') norm[nlen++] = '\n';
  /* The response without its ".\r\n", line by line: no line is ".", stuffed dots removed. */
  for (i = 0, w = 0; i < olen - 3;) {
    char const *e = memmem(o + i, olen - 3 - i, "\r\n", 2);
    size_t ll;
    if (!e) __builtin_trap();
    ll = (size_t)(e - (o + i));
    if (ll == 1 && o[i] == '.') __builtin_trap();
    if (ll && o[i] == '.') {
      if (ll < 2 || o[i + 1] != '.') __builtin_trap(); /* a dot at the start is always doubled */
      memcpy(un + w, o + i + 1, ll - 1);
      w += ll - 1;
    } else {
      memcpy(un + w, o + i, ll);
      w += ll;
    }
    un[w++] = '\n';
    i += ll + 2;
  }
  if (w != nlen || memcmp(un, norm, nlen) != 0) __builtin_trap();
  {
    /* RFC 1939's size (lib/crlfsize.c, what LIST says): the response unstuffed, with CR LF */
    crlfsize cs;
    size_t nl = 0;
    crlfsize_init(&cs);
    for (size_t k = 0; k < len; k += step ? step : len) crlfsize_feed(&cs, in + k, step && len - k > step ? step : len - k);
    for (size_t k = 0; k < w; k++) nl += un[k] == '\n';
    if (crlfsize_end(&cs) != (uint64_t)(w + nl)) __builtin_trap();
  }
  free(o);
  free(c);
  free(tp);
  free(norm);
  free(un);
  return 0;
}
