/* libFuzzer target: DKIM's parsers and canonicalisation (lib/dkim_tags.c, lib/dkim_canon.c,
   lib/dkim_sign.c). The first byte picks a chunk size; the rest is, at once, a tag list (a
   DKIM-Signature value or a key record), one header field, a message (header section and
   body) and a body. Checked: every tag points inside the input, with a valid name and no
   duplicate; a header field's canonical form fits its bound and has no CR, LF or run of
   spaces before its CRLF; the body canonicalised in chunks is the same bytes as in one
   piece, ends in CRLF unless empty, and has no white space before a CRLF; the field walk,
   the origin rule, the From domain and the signed fields stay inside their buffers. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_canon.h"
#include "dkim_sign.h"
#include "dkim_tags.h"

#include "fuzz.h"

struct sink {
  char *s;
  size_t n, cap;
};

static void out(void *ctx, char const *s, size_t n)
{
  struct sink *k = ctx;
  FAIL_IF(n > 4096);
  if (k->n + n > k->cap) {
    k->cap = (k->n + n) * 2 + 64;
    k->s = realloc(k->s, k->cap);
    FAIL_IF(!k->s);
  }
  memcpy(k->s + k->n, s, n);
  k->n += n;
}

static void body(char const *s, size_t n, size_t chunk, int lf)
{
  struct sink a = { 0, 0, 0 }, b = { 0, 0, 0 };
  dkim_body x = DKIM_BODY_ZERO, y = DKIM_BODY_ZERO;
  x.lf = y.lf = lf;
  dkim_body_feed(&x, s, n, out, &a);
  dkim_body_end(&x, out, &a);
  for (size_t i = 0; i < n; i += chunk) dkim_body_feed(&y, s + i, n - i < chunk ? n - i : chunk, out, &b);
  dkim_body_end(&y, out, &b);
  FAIL_IF(a.n != b.n || (a.n && memcmp(a.s, b.s, a.n) != 0));
  FAIL_IF(x.outlen != a.n);
  if (a.n) {
    FAIL_IF(a.n < 2 || a.s[a.n - 2] != '\r' || a.s[a.n - 1] != '\n');
    for (size_t i = 0; i + 2 < a.n; i++)
      FAIL_IF((a.s[i] == ' ' || a.s[i] == '\t') && a.s[i + 1] == '\r' && a.s[i + 2] == '\n');
    FAIL_IF(a.n >= 4 && !memcmp(a.s + a.n - 4, "\r\n\r\n", 4)); /* trailing empty lines dropped */
  }
  free(a.s);
  free(b.s);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  dkim_tag t[32];
  size_t nt, chunk, hn, bo, m;
  char const *s;
  char *o, d[256], hl[2048];
  struct sink k = { 0, 0, 0 };
  if (!size) return 0;
  chunk = 1 + data[0] % 64;
  s = (char const *)data + 1;
  size--;

  if (dkim_tags_parse(s, size, t, 32, &nt) == 0 || errno == EEXIST || errno == E2BIG || errno == EINVAL) {
    FAIL_IF(nt > 32);
    for (size_t i = 0; i < nt; i++) {
      FAIL_IF(t[i].name < s || t[i].name + t[i].namelen > s + size || !t[i].namelen);
      FAIL_IF(t[i].val < s || t[i].val + t[i].vallen > s + size);
      for (size_t j = 0; j < i; j++)
        FAIL_IF(t[j].namelen == t[i].namelen && !memcmp(t[j].name, t[i].name, t[i].namelen));
      FAIL_IF(dkim_tags_get(t, nt, "") != 0);
    }
  }

  o = malloc(size + 3);
  FAIL_IF(!o);
  m = dkim_canon_header(s, size, o, 1);
  FAIL_IF(m > size + 2);
  if (m) {
    FAIL_IF(m < 3 || o[m - 2] != '\r' || o[m - 1] != '\n' || !memchr(o, ':', m));
    for (size_t i = 0; i + 2 < m; i++) FAIL_IF(o[i] == '\n' || (o[i] == ' ' && o[i + 1] == ' '));
  }
  free(o);

  hn = dkim_header_end(s, size, &bo);
  FAIL_IF(hn > size || bo > size || bo < hn);
  (void)dkim_origin(s, hn);
  if (dkim_from_domain(s, hn, d, sizeof d)) FAIL_IF(strlen(d) >= sizeof d || strchr(d, '@'));
  if (dkim_sign_fields(s, hn, hl, sizeof hl, out, &k) == 0) FAIL_IF(strlen(hl) >= sizeof hl || strncmp(hl, "from", 4) != 0);
  free(k.s);

  body(s, size, chunk, data[0] & 0x80);
  return 0;
}
