/* libFuzzer target: BDAT (RFC 3030), its argument parser and the chunk machine. The input
   is "ARG\nCHUNKS": ARG goes to smtpd_bdat_parse(), CHUNKS (with the first byte choosing
   how they are cut and the second the size limit) through smtpd_data_chunk() and
   smtpd_data_chunkend(). Checked: a parsed size is what the digits say and LAST is what
   the text says; the parse of the same text is the same each time; the stored message
   does not depend on where the chunks are cut; it has no CR, is never longer than the
   input plus the one LF the end may add, never past the limit; a message with no flag
   set is the input with CR LF made LF (and a LF ended). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtpd.h"
#include "fuzz.h"

struct run {
  char *out;
  size_t outlen;
  unsigned int flags;
};

static void feed(char const *in, size_t n, size_t cut, unsigned long long max, struct run *r)
{
  smtpd_data d;
  size_t pos = 0, o;
  r->out = malloc(n + 1);
  FAIL_IF(!r->out);
  r->outlen = 0;
  smtpd_data_chunkinit(&d, max);
  while (pos < n) {
    size_t k = n - pos < cut ? n - pos : cut;
    smtpd_data_chunk(&d, in + pos, k, r->out + r->outlen, &o);
    FAIL_IF(o > k);
    r->outlen += o;
    pos += k;
  }
  smtpd_data_chunkend(&d, r->out + r->outlen, &o);
  FAIL_IF(o > 1);
  r->outlen += o;
  FAIL_IF(d.state != SMTPD_DATA_END);
  FAIL_IF(d.size != r->outlen || d.size > max);
  r->flags = d.flags;
}

static void parse(char const *s, size_t len)
{
  unsigned long long size = 0, v = 0, size2 = 0;
  int last = -1, last2 = -1, r = smtpd_bdat_parse(s, len, &size, &last);
  size_t i = 0, nd = 0;
  FAIL_IF(r != smtpd_bdat_parse(s, len, &size2, &last2));
  if (r < 0) return;
  FAIL_IF(size != size2 || last != last2 || (last != 0 && last != 1));
  while (i < len && s[i] == ' ') i++;
  while (i < len && s[i] >= '0' && s[i] <= '9') v = v * 10 + (unsigned long long)(s[i++] - '0'), nd++;
  FAIL_IF(!nd || nd > SMTPD_BDAT_DIGITS || v != size);
  while (i < len && s[i] == ' ') i++;
  FAIL_IF(last != (i < len));
  for (size_t j = 0; j < len; j++) FAIL_IF(s[j] != ' ' && !(s[j] >= '0' && s[j] <= '9') && !strchr("lastLAST", s[j]));
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *in = (char const *)data, *nl = memchr(in, '\n', size);
  struct run a, b;
  unsigned long long max;
  size_t n, cut;
  if (!nl) {
    parse(in, size);
    return 0;
  }
  parse(in, (size_t)(nl - in));
  in = nl + 1;
  n = size - (size_t)(in - (char const *)data);
  if (n < 2) return 0;
  cut = (size_t)(unsigned char)in[0] % 9 + 1;
  max = (unsigned long long)(unsigned char)in[1] * 8;
  in += 2;
  n -= 2;
  feed(in, n, n ? n : 1, max, &a);
  feed(in, n, cut, max, &b);
  FAIL_IF(a.flags != b.flags || a.outlen != b.outlen || memcmp(a.out, b.out, a.outlen) != 0);
  FAIL_IF(a.outlen > n + 1 || memchr(a.out, '\r', a.outlen));
  if (!(a.flags & DATA_BAD)) {
    /* no bare CR or LF: every CR is followed by LF; the output is the input without them */
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
      if (in[i] == '\r') continue;
      FAIL_IF(j >= a.outlen || a.out[j] != in[i]);
      j++;
    }
    FAIL_IF(!(j == a.outlen || (j + 1 == a.outlen && a.out[j] == '\n')));
    FAIL_IF(a.outlen && a.out[a.outlen - 1] != '\n');
  }
  free(a.out);
  free(b.out);
  return 0;
}
