/* libFuzzer target: the DATA state machine. The first byte picks a chunk size and the
   second a size limit; the rest is what a client sends after 354. Checked: the same
   bytes give the same result whatever the chunking; the output is never longer than the
   input and has no CR; the data ends only right after CR LF . CR LF (or at ".\r\n" at
   the very start), and never reads past it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtpd.h"

struct run {
  size_t taken, outlen;
  int end;
  unsigned int flags;
  char *out;
};

static void feed(char const *in, size_t n, size_t chunk, unsigned long long max, struct run *r)
{
  smtpd_data d;
  size_t pos = 0;
  smtpd_data_init(&d, max);
  r->out = malloc(n + 1);
  if (!r->out) abort();
  r->outlen = 0;
  while (pos < n && d.state != SMTPD_DATA_END) {
    size_t k = n - pos < chunk ? n - pos : chunk, o;
    size_t t = smtpd_data_feed(&d, in + pos, k, r->out + r->outlen, &o);
    if (t > k || o > t || (t < k && d.state != SMTPD_DATA_END)) __builtin_trap();
    r->outlen += o;
    pos += t;
  }
  r->taken = pos;
  r->end = d.state == SMTPD_DATA_END;
  r->flags = d.flags;
  if (d.size != r->outlen || d.size > max) __builtin_trap();
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  struct run a, b;
  char const *in = (char const *)data + 2;
  size_t n;
  if (size < 2) return 0;
  n = size - 2;
  feed(in, n, n ? n : 1, (unsigned long long)data[1] * 16 + 1, &a);
  feed(in, n, (size_t)data[0] % 7 + 1, (unsigned long long)data[1] * 16 + 1, &b);
  if (a.taken != b.taken || a.end != b.end || a.flags != b.flags || a.outlen != b.outlen ||
      memcmp(a.out, b.out, a.outlen) != 0)
    __builtin_trap();
  if (a.outlen > a.taken || memchr(a.out, '\r', a.outlen)) __builtin_trap();
  if (a.end) {
    int at_start = a.taken == 3 && !memcmp(in, ".\r\n", 3);
    int after_crlf = a.taken >= 5 && !memcmp(in + a.taken - 5, "\r\n.\r\n", 5);
    if (!at_start && !after_crlf) __builtin_trap();
  } else if (a.taken != n) __builtin_trap();
  free(a.out);
  free(b.out);
  return 0;
}
