/* DKIM signing's decisions and texts, without the cryptography (dkim_sign.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr822.h"
#include "dkim_sign.h"

/* The names signed, in h= order; From is oversigned (one more than present). */
static char const *const signed_names[] = {
  "from", "to", "cc", "subject", "date", "message-id", "reply-to", "in-reply-to", "references",
  "mime-version", "content-type", "content-transfer-encoding", 0,
};
/* Instances of one name signed at most: beyond this h= would be all To: lines; a message
   with more is not signed (E2BIG). */
#define SIGN_PER_NAME 50

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* The next field from *pos: its start and length (with its line ends), or 0 at the end.
   A line that starts with white space before any field is skipped with the field. */
static int next_field(char const *h, size_t n, size_t *pos, size_t *start, size_t *len)
{
  size_t i = *pos;
  if (i >= n) return 0;
  *start = i;
  for (;;) {
    char const *e = memchr(h + i, '\n', n - i);
    if (!e) {
      i = n;
      break;
    }
    i = (size_t)(e - h) + 1;
    if (i >= n || (h[i] != ' ' && h[i] != '\t')) break;
  }
  *len = i - *start;
  *pos = i;
  return 1;
}

/* 1 if the field f[0..len) is named name (lowercase), with optional white space before
   the colon; *val gets the offset after the colon. */
static int named(char const *f, size_t len, char const *name, size_t *val)
{
  size_t k = strlen(name), i;
  if (len < k + 1) return 0;
  for (i = 0; i < k; i++)
    if (lower((unsigned char)f[i]) != name[i]) return 0;
  while (i < len && (f[i] == ' ' || f[i] == '\t')) i++;
  if (i >= len || f[i] != ':') return 0;
  *val = i + 1;
  return 1;
}

static char const *find(char const *s, size_t n, char const *w)
{
  size_t k = strlen(w);
  for (size_t i = 0; i + k <= n; i++)
    if (!memcmp(s + i, w, k)) return s + i;
  return 0;
}

int dkim_origin(char const *hdr, size_t hn)
{
  size_t pos = 0, st, len, v;
  static char const smtpd[] = "(mailroom-smtpd, qp ";
  while (next_field(hdr, hn, &pos, &st, &len)) {
    char const *f = hdr + st, *p, *w;
    if (named(f, len, "delivered-to", &v)) continue; /* our forwards put these on top */
    if (!named(f, len, "received", &v)) return DKIM_ORIGIN_LOCAL;
    if (find(f, len, "(mailroom-fetch) with ")) return DKIM_ORIGIN_NET;
    /* smtpd's line: "from HELO (IP)\n\tby ME (mailroom-smtpd, qp PID) with PROTO": the HELO
       holds no space or parenthesis (smtpd_msg.c), so the first marker is smtpd's own */
    p = find(f, len, smtpd);
    if (!p) return DKIM_ORIGIN_LOCAL;
    p += sizeof smtpd - 1;
    while (p < f + len && *p >= '0' && *p <= '9') p++;
    if (f + len - p < 7 || memcmp(p, ") with ", 7) != 0) return DKIM_ORIGIN_NET;
    p += 7;
    w = p;
    while (p < f + len && ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) p++;
    /* RFC 3848: the A of ESMTPA, ESMTPSA, UTF8SMTPA... is the client's authentication */
    return p > w && p[-1] == 'A' ? DKIM_ORIGIN_AUTH : DKIM_ORIGIN_NET;
  }
  return DKIM_ORIGIN_LOCAL;
}

size_t dkim_header_end(char const *m, size_t n, size_t *body)
{
  size_t i = 0;
  while (i < n) {
    if (m[i] == '\n') {
      *body = i + 1;
      return i;
    }
    if (m[i] == '\r' && i + 1 < n && m[i + 1] == '\n') {
      *body = i + 2;
      return i;
    }
    char const *e = memchr(m + i, '\n', n - i);
    if (!e) break;
    i = (size_t)(e - m) + 1;
  }
  *body = n;
  return n;
}

size_t dkim_from_domain(char const *hdr, size_t hn, char *out, size_t max)
{
  size_t pos = 0, st, len, v, nfrom = 0, vs = 0, vl = 0, olen, na;
  char *addrs, *at;
  while (next_field(hdr, hn, &pos, &st, &len))
    if (named(hdr + st, len, "from", &v)) {
      nfrom++;
      vs = st + v;
      vl = len - v;
    }
  if (nfrom != 1) return 0;
  addrs = malloc(vl + 1);
  if (!addrs) return 0;
  if (addr822_parse(hdr + vs, vl, addrs, vl + 1, &olen, &na) < 0 || !na) {
    free(addrs);
    return 0;
  }
  at = strrchr(addrs, '@');
  if (!at || !at[1] || strlen(at + 1) >= max) {
    free(addrs);
    return 0;
  }
  for (olen = 0; at[1 + olen]; olen++) out[olen] = (char)lower((unsigned char)at[1 + olen]);
  out[olen] = 0;
  free(addrs);
  return olen;
}

/* Appends name to h= (with ':' before all but the first), folding every 6 names. */
static int hadd(char *h, size_t *hl, size_t hmax, unsigned *count, char const *name)
{
  size_t k = strlen(name), need = k + (*hl ? 1 : 0) + (*count && !(*count % 6) ? 2 : 0);
  if (*hl + need + 1 > hmax) return -1;
  if (*hl) h[(*hl)++] = ':';
  if (*count && !(*count % 6)) {
    h[(*hl)++] = '\n';
    h[(*hl)++] = '\t';
  }
  memcpy(h + *hl, name, k);
  *hl += k;
  h[*hl] = 0;
  (*count)++;
  return 0;
}

int dkim_sign_fields(char const *hdr, size_t hn, char *hlist, size_t hmax, dkim_out_fn *out, void *ctx)
{
  size_t hl = 0;
  unsigned count = 0;
  char *buf = malloc(hn + 3);
  if (!buf) return (errno = ENOMEM, -1);
  if (hmax) hlist[0] = 0;
  for (unsigned k = 0; signed_names[k]; k++) {
    size_t st[SIGN_PER_NAME], ln[SIGN_PER_NAME], pos = 0, s, l, v;
    unsigned n = 0;
    while (next_field(hdr, hn, &pos, &s, &l))
      if (named(hdr + s, l, signed_names[k], &v)) {
        if (n >= SIGN_PER_NAME) {
          free(buf);
          return (errno = E2BIG, -1);
        }
        st[n] = s;
        ln[n++] = l;
      }
    /* RFC 6376 5.4.2: several instances are signed from the bottom up */
    while (n--) {
      size_t c = dkim_canon_header(hdr + st[n], ln[n], buf, 1);
      if (hadd(hlist, &hl, hmax, &count, signed_names[k]) < 0) {
        free(buf);
        return (errno = E2BIG, -1);
      }
      if (c) out(ctx, buf, c);
    }
    if (!k && hadd(hlist, &hl, hmax, &count, "from") < 0) {
      free(buf);
      return (errno = E2BIG, -1);
    }
  }
  free(buf);
  return 0;
}

size_t dkim_sig_head(char *out, size_t max, char const *alg, char const *d, char const *s, long long t,
                     char const *hlist, char const *bh)
{
  int r = snprintf(out, max,
                   "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;\n\tt=%lld; h=%s;\n\tbh=%s;\n\tb=", alg,
                   d, s, t, hlist, bh);
  if (r < 0 || (size_t)r >= max) return 0;
  return (size_t)r;
}

size_t dkim_sig_finish(char *out, size_t len, size_t max, char const *b64)
{
  size_t col = 3, n = strlen(b64); /* "\tb=" */
  for (size_t i = 0; i < n; i++) {
    if (col >= 72) {
      if (len + 2 >= max) return 0;
      out[len++] = '\n';
      out[len++] = '\t';
      col = 1;
    }
    if (len + 1 >= max) return 0;
    out[len++] = b64[i];
    col++;
  }
  if (len + 2 > max) return 0;
  out[len++] = '\n';
  out[len] = 0;
  return len;
}

size_t dkim_base64(unsigned char const *s, size_t n, char *out)
{
  static char const a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0, i;
  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
    out[o++] = a[v >> 18];
    out[o++] = a[(v >> 12) & 63];
    out[o++] = a[(v >> 6) & 63];
    out[o++] = a[v & 63];
  }
  if (i < n) {
    unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
    out[o++] = a[v >> 18];
    out[o++] = a[(v >> 12) & 63];
    out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = 0;
  return o;
}

int dkim_name_ok(char const *d, size_t max)
{
  size_t n = strlen(d);
  if (!n || n > max || d[0] == '.' || d[n - 1] == '.') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = d[i];
    if (c == '.' && d[i + 1] == '.') return 0;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return 0;
  }
  return 1;
}
