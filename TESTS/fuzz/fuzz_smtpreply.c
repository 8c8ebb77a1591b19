/* libFuzzer target: mailroom-remote's reply reader. The input is what a server sends, fed in
   chunks whose size the first byte picks, reply after reply as the client reads them. Every
   reply taken must have a 2xx-5xx code and a bounded, printable text; the bytes taken never
   exceed the bytes given; an error stops the stream, as the client does. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../remote/remote.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static smtpreply r;
  size_t chunk, pos = 1;
  if (!size) return 0;
  chunk = (size_t)data[0] % 64 + 1;
  smtpreply_init(&r);
  while (pos < size) {
    size_t k = size - pos < chunk ? size - pos : chunk, used = 0, i;
    int e = smtpreply_feed(&r, (char const *)data + pos, k, &used);
    if (used > k || r.linelen > SMTPREPLY_LINE_MAX || r.nlines > SMTPREPLY_LINES_MAX) __builtin_trap();
    pos += used;
    if (e < 0) break;
    if (e == 1) {
      if (r.code < 200 || r.code > 599 || r.textlen > SMTPREPLY_TEXT_MAX || strlen(r.text) != r.textlen) __builtin_trap();
      if (r.ext & ~(EXT_PIPELINING | EXT_8BITMIME | EXT_SMTPUTF8 | EXT_SIZE | EXT_STARTTLS)) __builtin_trap();
      for (i = 0; i < r.textlen; i++)
        if (r.text[i] < 32 || r.text[i] > 126) __builtin_trap();
      smtpreply_init(&r);
    } else if (used != k)
      __builtin_trap();
  }
  return 0;
}
