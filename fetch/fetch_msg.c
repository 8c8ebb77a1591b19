/* What mailroom-fetch reads in a fetched message's header (LF line ends): the Return-Path
   that gives the envelope sender, the Delivered-To lines that show a loop, and the hash
   that names a message on a server without UIDL. Pure: no I/O. */
#include <string.h>
#include <strings.h>

#include <skalibs/sha256.h>

#include "fetch.h"
#include "envelope.h"

/* an address fit for the envelope: local@domain, no space, control character or bracket */
static int addr_ok(char const *a, size_t n)
{
  char const *at = memchr(a, '@', n);
  if (!n || n > ENV_ADDR_MAX || !at || at == a || at == a + n - 1) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)a[i] <= ' ' || a[i] == 0x7f || a[i] == '<' || a[i] == '>') return 0;
  return 1;
}

size_t fetch_msg_hdrlen(char const *m, size_t n)
{
  size_t i = 0;
  while (i < n) {
    char const *nl = memchr(m + i, '\n', n - i);
    if (!nl) return n;
    if (nl == m + i) return i + 1; /* the empty line */
    i = (size_t)(nl - m) + 1;
  }
  return n;
}

/* Walks the fields of the header m[0..hl): 1 and the field's name and value (continuation
   lines included, the final LF not), 0 at the end. */
static int next_field(char const *m, size_t hl, size_t *pos, size_t *noff, size_t *nlen, size_t *voff, size_t *vlen)
{
  size_t i = *pos, start, colon;
  for (;;) {
    char const *nl;
    if (i >= hl || m[i] == '\n') return 0;
    start = i;
    nl = memchr(m + i, '\n', hl - i);
    i = nl ? (size_t)(nl - m) + 1 : hl;
    while (i < hl && (m[i] == ' ' || m[i] == '\t')) {
      nl = memchr(m + i, '\n', hl - i);
      i = nl ? (size_t)(nl - m) + 1 : hl;
    }
    colon = start;
    while (colon < i && m[colon] != ':' && m[colon] > ' ' && m[colon] < 0x7f) colon++;
    if (colon < i && m[colon] == ':' && colon > start) break; /* else not a field: skipped */
  }
  *pos = i;
  *noff = start;
  *nlen = colon - start;
  *voff = colon + 1;
  *vlen = i - *voff;
  if (*vlen && m[i - 1] == '\n') (*vlen)--;
  return 1;
}

static int named(char const *m, size_t noff, size_t nlen, char const *name)
{
  return nlen == strlen(name) && !strncasecmp(m + noff, name, nlen);
}

/* the value without folding white space at both ends */
static void trim(char const *m, size_t *off, size_t *len)
{
  while (*len && (m[*off] == ' ' || m[*off] == '\t' || m[*off] == '\n' || m[*off] == '\r')) (*off)++, (*len)--;
  while (*len && (m[*off + *len - 1] == ' ' || m[*off + *len - 1] == '\t' || m[*off + *len - 1] == '\r'
                  || m[*off + *len - 1] == '\n'))
    (*len)--;
}

int fetch_msg_returnpath(char const *m, size_t n, char *out, size_t max)
{
  size_t hl = fetch_msg_hdrlen(m, n), pos = 0, noff, nlen, voff, vlen;
  while (next_field(m, hl, &pos, &noff, &nlen, &voff, &vlen)) {
    if (!named(m, noff, nlen, "Return-Path")) continue;
    trim(m, &voff, &vlen);
    if (vlen >= 2 && m[voff] == '<' && m[voff + vlen - 1] == '>') voff++, vlen -= 2;
    if (!vlen) {
      if (!max) return 0;
      out[0] = 0;
      return 1;
    }
    if (vlen >= max || !addr_ok(m + voff, vlen)) return 0;
    memcpy(out, m + voff, vlen);
    out[vlen] = 0;
    return 1;
  }
  return 0;
}

int fetch_msg_loop(char const *m, size_t n, char const *rcpt)
{
  size_t hl = fetch_msg_hdrlen(m, n), pos = 0, noff, nlen, voff, vlen, rl = strlen(rcpt);
  while (next_field(m, hl, &pos, &noff, &nlen, &voff, &vlen)) {
    if (!named(m, noff, nlen, "Delivered-To")) continue;
    trim(m, &voff, &vlen);
    if (vlen == rl && !strncasecmp(m + voff, rcpt, rl)) return 1;
  }
  return 0;
}

void fetch_msg_hashkey(char const *m, size_t n, char *key)
{
  static char const hex[] = "0123456789abcdef";
  SHA256Schedule ctx = SHA256_INIT();
  char d[32];
  sha256_update(&ctx, m, fetch_msg_hdrlen(m, n));
  sha256_final(&ctx, d);
  key[0] = 'h';
  for (unsigned i = 0; i < 32; i++) {
    key[1 + 2 * i] = hex[(unsigned char)d[i] >> 4];
    key[2 + 2 * i] = hex[(unsigned char)d[i] & 15];
  }
  key[65] = 0;
}
