/* libFuzzer target: mailroom-smtpd's command side. The input is what a client sends:
   it is cut into lines by the framer (in chunks whose size the first byte picks), and
   every line goes through the verb parser and, by its verb, the HELO, MAIL and RCPT
   parsers, in both ESMTP and SMTPUTF8 modes. Whatever they accept must be a clean
   address: within ENV_ADDR_MAX, no control bytes, valid UTF-8 when not ASCII. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../smtpd/smtpd.h"

static void check_path(smtpd_path const *p, int utf8)
{
  size_t i;
  if (p->len > ENV_ADDR_MAX || strlen(p->addr) != p->len || p->at > p->len) __builtin_trap();
  for (i = 0; i < p->len; i++) {
    unsigned char c = (unsigned char)p->addr[i];
    if (c < 32 || c == 127) __builtin_trap();
    if (c >= 128 && !utf8) __builtin_trap();
  }
  if (!smtpd_utf8_valid(p->addr, p->len)) __builtin_trap();
  if (p->at < p->len && p->addr[p->at] != '@') __builtin_trap();
}

static void one_line(smtpd_line const *l)
{
  smtpd_path p;
  char name[SMTPD_HELO_MAX + 1];
  size_t ap;
  enum smtpd_verb v;
  int mode;
  if (l->len >= sizeof l->s || l->s[l->len]) __builtin_trap();
  v = smtpd_cmd_verb(l->s, l->len, &ap);
  if (ap > l->len) __builtin_trap();
  for (mode = 0; mode < 4; mode++) {
    int esmtp = mode & 1, utf8 = mode >> 1;
    switch (v) {
      case V_HELO:
      case V_EHLO:
        if (!smtpd_cmd_helo(l->s + ap, l->len - ap, name) && strlen(name) > SMTPD_HELO_MAX) __builtin_trap();
        break;
      case V_MAIL:
        if (smtpd_cmd_mail(l->s + ap, l->len - ap, esmtp, &p) == P_OK) {
          check_path(&p, p.smtputf8);
          if (p.smtputf8 && !esmtp) __builtin_trap();
        }
        break;
      case V_RCPT:
        if (smtpd_cmd_rcpt(l->s + ap, l->len - ap, esmtp, utf8, &p) == P_OK) check_path(&p, utf8);
        break;
      default:
        break;
    }
  }
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  smtpd_line l;
  size_t chunk, pos = 1;
  if (!size) return 0;
  chunk = (size_t)data[0] % 16 + 1;
  smtpd_line_reset(&l);
  while (pos < size) {
    int done;
    size_t k = size - pos < chunk ? size - pos : chunk;
    size_t t = smtpd_line_feed(&l, (char const *)data + pos, k, &done);
    if (t > k || (!done && t != k)) __builtin_trap();
    pos += t;
    if (done) {
      one_line(&l);
      smtpd_line_reset(&l);
    }
  }
  return 0;
}
