/* libFuzzer target: the address parsers. The input is one address as it comes from outside:
   the inside of <...> of SMTP MAIL/RCPT (smtpd_addr_parse, in its four modes), a header
   field value (addr822_parse, for mailroom-inject -t), and a command-line recipient of
   sendmail (inject_addr_arg / inject_addr_bad). Whatever they accept must be bounded and
   clean, and the parsers' own output must parse again to itself (a canonical form that
   changes when read back would let one address be two). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtpd.h"
#include "../../queue/inject.h"
#include "addr822.h"
#include "envelope.h"

#include "fuzz.h"

static void smtp_side(char const *s, size_t len)
{
  static smtpd_path p, q;
  int mode;
  for (mode = 0; mode < 4; mode++) {
    int mail = mode & 1, utf8 = mode >> 1;
    size_t i;
    if (smtpd_addr_parse(s, len, mail, utf8, &p) != P_OK) continue;
    FAIL_IF(p.len > ENV_ADDR_MAX || strlen(p.addr) != p.len || p.at > p.len);
    FAIL_IF(p.at < p.len && p.addr[p.at] != '@');
    for (i = 0; i < p.len; i++) {
      unsigned char c = (unsigned char)p.addr[i];
      FAIL_IF(c < 32 || c == 127 || (c >= 128 && !utf8));
    }
    FAIL_IF(!smtpd_utf8_valid(p.addr, p.len));
    FAIL_IF(p.at < p.len && !smtpd_domain_valid(p.addr + p.at + 1, p.len - p.at - 1, utf8));
    /* the canonical form is what goes into the envelope: it must read back as itself */
    FAIL_IF(smtpd_addr_parse(p.addr, p.len, mail, utf8, &q) != P_OK);
    FAIL_IF(q.len != p.len || memcmp(q.addr, p.addr, p.len) != 0 || q.at != p.at);
  }
  (void)smtpd_domain_valid(s, len, 0);
  (void)smtpd_domain_valid(s, len, 1);
}

static void header_side(char const *s, size_t len)
{
  size_t outmax = len + 1, outlen = 99, n = 99, i, k;
  char *out = malloc(outmax);
  int r;
  if (!out) return;
  r = addr822_parse(s, len, out, outmax, &outlen, &n);
  FAIL_IF(outlen > outmax);
  /* every address counted is NUL-terminated inside out[0..outlen) and bounded */
  for (i = 0, k = 0; k < n; k++) {
    char const *z = memchr(out + i, 0, outlen - i);
    FAIL_IF(!z || (size_t)(z - (out + i)) > ADDR822_MAX);
    i = (size_t)(z - out) + 1;
  }
  FAIL_IF(r == 0 && i != outlen);
  /* a tight buffer must give ENOBUFS, never an overflow */
  if (len > 4) {
    size_t ol, na;
    (void)addr822_parse(s, len, out, len / 4, &ol, &na);
    FAIL_IF(ol > len / 4);
  }
  free(out);
}

static void inject_side(char const *s, size_t len)
{
  char *z = malloc(len + 1);
  stralloc sa = STRALLOC_ZERO;
  char const *why = 0;
  if (!z) return;
  memcpy(z, s, len);
  z[len] = 0;
  (void)inject_addr_bad(s, len);
  if (inject_addr_arg(&sa, z, "example.org", &why) == 0) {
    /* accepted: one NUL-terminated address that passes the checker */
    FAIL_IF(!sa.len || sa.s[sa.len - 1] || strlen(sa.s) != sa.len - 1);
    FAIL_IF(inject_addr_bad(sa.s, sa.len - 1));
  } else FAIL_IF(sa.len);
  stralloc_free(&sa);
  free(z);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *s = (char const *)data;
  if (size > (size_t)4 * ENV_ADDR_MAX) return 0;
  smtp_side(s, size);
  header_side(s, size);
  inject_side(s, size);
  return 0;
}
