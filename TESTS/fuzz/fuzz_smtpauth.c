/* libFuzzer target: the commands around STARTTLS and AUTH in mailroom-smtpd. The input is
   what a client sends, cut into lines by the framer; a small model of the session's state
   (greeted, TLS, inside an AUTH exchange, authenticated) follows each line as
   smtpd_auth.c does, and every SASL response goes through the strict base64 decoder and
   the PLAIN parser, every user name through the verifier's check. Checked: the decoder
   never writes past its bound and gives 3 bytes per 4 at most, is canonical (encoding the
   output again gives the input), PLAIN's fields lie inside the message, and a name that
   passes tlsctl_user_ok has no byte a checkpassword record or a log could trip on. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "../../smtpd/smtpd.h"

static char const b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t encode(unsigned char const *s, size_t n, char *out)
{
  size_t i, o = 0;
  for (i = 0; i + 2 < n; i += 3) {
    out[o++] = b64[s[i] >> 2];
    out[o++] = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
    out[o++] = b64[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
    out[o++] = b64[s[i + 2] & 63];
  }
  if (n - i == 1) {
    out[o++] = b64[s[i] >> 2];
    out[o++] = b64[(s[i] & 3) << 4];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    out[o++] = b64[s[i] >> 2];
    out[o++] = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
    out[o++] = b64[(s[i + 1] & 15) << 2];
    out[o++] = '=';
  }
  return o;
}

struct model {
  int greeted, tls, authed, inauth, login_user;
};

static void sasl(char const *s, size_t len, int plain)
{
  char buf[SMTPD_SASL_MAX + 8], re[SMTPD_LINE_MAX * 2];
  smtpd_cred c;
  long n;
  memset(buf + SMTPD_SASL_MAX, 0x5a, 8);
  n = smtpd_b64_decode(s, len, buf, SMTPD_SASL_MAX);
  for (int i = 0; i < 8; i++)
    if (buf[SMTPD_SASL_MAX + i] != 0x5a) __builtin_trap();
  if (n < 0) return;
  if ((size_t)n > len / 4 * 3 || (size_t)n > SMTPD_SASL_MAX) __builtin_trap();
  if (encode((unsigned char const *)buf, (size_t)n, re) != len || memcmp(re, s, len) != 0) __builtin_trap();
  if (plain && !smtpd_sasl_plain(buf, (size_t)n, &c)) {
    if (c.user < buf || c.user + c.ulen > buf + n || c.pass < buf || c.pass + c.plen > buf + n) __builtin_trap();
    if (memchr(c.pass, 0, c.plen) || memchr(c.user, 0, c.ulen)) __builtin_trap();
    if (tlsctl_user_ok(c.user, c.ulen))
      for (size_t i = 0; i < c.ulen; i++)
        if (c.user[i] <= ' ' || c.user[i] == 127 || c.user[i] == '/') __builtin_trap();
  }
}

static void one_line(struct model *m, smtpd_line const *l)
{
  size_t ap;
  enum smtpd_verb v;
  if (m->inauth) {
    /* a SASL response: "*" cancels, else base64 */
    if (!(l->len == 1 && l->s[0] == '*')) sasl(l->s, l->len, m->inauth == 1);
    if (m->inauth == 2 && !m->login_user) m->login_user = 1;
    else m->inauth = 0;
    return;
  }
  v = smtpd_cmd_verb(l->s, l->len, &ap);
  if (ap > l->len) __builtin_trap();
  switch (v) {
    case V_EHLO: m->greeted = 2; break;
    case V_HELO: m->greeted = 1; break;
    case V_STARTTLS:
      /* the session starts afresh; the rest of the input is what a client pipelined and
         is dropped by the real server, but the parsers must survive it anyway */
      if (!m->tls && ap == l->len) m->tls = 1, m->greeted = 0, m->authed = 0;
      break;
    case V_AUTH: {
      size_t mlen = 0;
      char const *a = l->s + ap;
      size_t al = l->len - ap;
      if (!m->tls || m->authed || m->greeted != 2) break;
      while (mlen < al && a[mlen] != ' ') mlen++;
      if (mlen == 5 && !strncasecmp(a, "PLAIN", 5)) {
        if (mlen < al) sasl(a + mlen + 1, al - mlen - 1, 1);
        else m->inauth = 1;
      } else if (mlen == 5 && !strncasecmp(a, "LOGIN", 5)) {
        m->inauth = 2;
        m->login_user = mlen < al;
        if (mlen < al) sasl(a + mlen + 1, al - mlen - 1, 0);
      }
      break;
    }
    default: break;
  }
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static smtpd_line l;
  struct model m = { 0, 0, 0, 0, 0 };
  char info[TLSD_INFO_MAX + 1], tmp[TLSD_INFO_MAX + 8];
  size_t pos = 0;
  /* the TLS text a server takes from the environment: the first bytes */
  if (size) {
    size_t k = size < sizeof tmp - 1 ? size : sizeof tmp - 1;
    memcpy(tmp, data, k);
    tmp[k] = 0;
    if (tlsctl_info_ok(tmp, info) && (strlen(info) >= TLSD_INFO_MAX || strpbrk(info, "()\\;\r\n"))) __builtin_trap();
  }
  smtpd_line_reset(&l);
  while (pos < size) {
    int done = 0;
    size_t k = smtpd_line_feed(&l, (char const *)data + pos, size - pos, &done);
    if (!k || k > size - pos) __builtin_trap();
    pos += k;
    if (done) {
      if (!l.flags) one_line(&m, &l);
      smtpd_line_reset(&l);
    }
  }
  return 0;
}
