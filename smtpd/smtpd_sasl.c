/* SASL for SMTP AUTH (RFC 4954), the pure part: strict base64 (RFC 4648 4: the padding
   required, no line breaks, no other bytes) and the PLAIN message (RFC 4616:
   [authzid] NUL authcid NUL passwd). No I/O. */
#include <string.h>

#include "smtpd.h"

static int b64val(unsigned char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

long smtpd_b64_decode(char const *s, size_t len, char *out, size_t max)
{
  size_t i, n = 0;
  if (len % 4) return -1;
  for (i = 0; i < len; i += 4) {
    int v[4], k, pad = 0;
    for (k = 0; k < 4; k++) {
      unsigned char c = (unsigned char)s[i + k];
      if (c == '=' && i + 4 == len && k >= 2) {
        v[k] = 0;
        pad++;
        continue;
      }
      if (pad) return -1; /* a data byte after '=' */
      v[k] = b64val(c);
      if (v[k] < 0) return -1;
    }
    if (n + 3 - (size_t)pad > max) return -1;
    /* the bits the padding drops must be zero (canonical encoding) */
    if (pad == 2 && (v[1] & 15)) return -1;
    if (pad == 1 && (v[2] & 3)) return -1;
    out[n++] = (char)((v[0] << 2) | (v[1] >> 4));
    if (pad < 2) out[n++] = (char)(((v[1] & 15) << 4) | (v[2] >> 2));
    if (pad < 1) out[n++] = (char)(((v[2] & 3) << 6) | v[3]);
  }
  return (long)n;
}

int smtpd_sasl_plain(char const *m, size_t len, smtpd_cred *c)
{
  char const *z1 = memchr(m, 0, len), *z2;
  size_t zl, ul;
  if (!z1) return -1;
  zl = (size_t)(z1 - m);
  z2 = memchr(z1 + 1, 0, len - zl - 1);
  if (!z2) return -1;
  ul = (size_t)(z2 - z1 - 1);
  c->user = z1 + 1;
  c->ulen = ul;
  c->pass = z2 + 1;
  c->plen = len - zl - ul - 2;
  if (memchr(c->pass, 0, c->plen)) return -1;
  /* acting for another user (an authzid that is not the authcid) is not offered */
  if (zl && (zl != ul || memcmp(m, c->user, ul) != 0)) return -2;
  return 0;
}
