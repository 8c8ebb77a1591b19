/* DNS responses (RFC 1035 4.1), parsed by us rather than by libowfat's dns_*_packet so that
   every case the delivery needs is seen: NXDOMAIN, a null MX (RFC 7505), CNAME chains and
   loops, records that run past the packet. Names are kept in wire form; every pointer chase
   and every offset is checked against the packet. */
#include <errno.h>
#include <string.h>

#include "remote.h"

#define HDR 12
/* Compression pointers followed while reading one name: a loop ends here. */
#define PTR_MAX 64
/* Answer records looked at: a larger answer is cut (the caps on MX and addresses stay). */
#define RR_MAX 1024

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

size_t dnsname_len(unsigned char const *name)
{
  size_t i = 0;
  while (name[i]) i += (size_t)name[i] + 1;
  return i + 1;
}

int dnsname_equal(unsigned char const *a, unsigned char const *b)
{
  size_t i = 0;
  for (;;) {
    size_t l = a[i], k;
    if (l != b[i]) return 0;
    if (!l) return 1;
    for (k = 1; k <= l; k++)
      if (lower(a[i + k]) != lower(b[i + k])) return 0;
    i += l + 1;
  }
}

int dnsname_fromdot(char const *s, size_t n, unsigned char *name)
{
  size_t i = 0, o = 0;
  if (n && s[n - 1] == '.') n--;
  if (!n) {
    errno = EINVAL;
    return -1;
  }
  while (i <= n) {
    size_t k = i;
    while (k < n && s[k] != '.') k++;
    if (k == i || k - i > 63 || o + 1 + (k - i) + 1 > DNSNAME_MAX) {
      errno = EINVAL;
      return -1;
    }
    name[o++] = (unsigned char)(k - i);
    memcpy(name + o, s + i, k - i);
    o += k - i;
    i = k + 1;
  }
  name[o] = 0;
  return 0;
}

void dnsname_todot(unsigned char const *name, char *s, size_t n)
{
  size_t i = 0, o = 0;
  if (n < 2) {
    if (n) s[0] = 0;
    return;
  }
  if (!name[0]) {
    s[0] = '.';
    s[1] = 0;
    return;
  }
  while (name[i]) {
    size_t l = name[i], k;
    if (i && o + 1 < n) s[o++] = '.';
    for (k = 1; k <= l; k++) {
      unsigned char c = name[i + k];
      int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (o + (plain ? 1 : 4) + 4 > n) {
        if (n >= 4) {
          o = o + 4 > n ? n - 4 : o;
          memcpy(s + o, "...", 3);
          o += 3;
        }
        s[o] = 0;
        return;
      }
      if (plain) s[o++] = (char)c;
      else {
        s[o++] = '\\';
        s[o++] = (char)('0' + c / 100);
        s[o++] = (char)('0' + c / 10 % 10);
        s[o++] = (char)('0' + c % 10);
      }
    }
    i += l + 1;
  }
  s[o] = 0;
}

static unsigned get16(unsigned char const *p) { return (unsigned)p[0] << 8 | p[1]; }

/* Reads the (possibly compressed) name at pos into name (wire form). Returns the offset
   after it in the record, or 0 on an error. */
static size_t getname(unsigned char const *p, size_t len, size_t pos, unsigned char *name)
{
  size_t o = 0, after = 0;
  unsigned jumps = 0;
  for (;;) {
    unsigned l;
    if (pos >= len) return 0;
    l = p[pos];
    if (l >= 192) {
      if (pos + 1 >= len || ++jumps > PTR_MAX) return 0;
      if (!after) after = pos + 2;
      pos = (size_t)(l & 63) << 8 | p[pos + 1];
      continue;
    }
    if (l >= 64) return 0; /* 01 and 10 label types: not in use */
    if (pos + 1 + l > len || o + 1 + l + 1 > DNSNAME_MAX) return 0;
    name[o++] = (unsigned char)l;
    memcpy(name + o, p + pos + 1, l);
    o += l;
    pos += 1 + l;
    if (!l) break;
  }
  return after ? after : pos;
}

typedef struct rr_s {
  unsigned char owner[DNSNAME_MAX + 1];
  unsigned type;
  size_t rdata, rdlen;
} rr;

/* The record at pos: header fields and where its data is. 0 on an error, else the offset
   after it. */
static size_t getrr(unsigned char const *p, size_t len, size_t pos, rr *r)
{
  pos = getname(p, len, pos, r->owner);
  if (!pos || pos + 10 > len) return 0;
  r->type = get16(p + pos);
  r->rdlen = get16(p + pos + 8);
  r->rdata = pos + 10;
  if (r->rdata + r->rdlen > len) return 0;
  return r->rdata + r->rdlen;
}

int dnsans_parse(char const *pkt, size_t len, unsigned char const *qname, unsigned qtype, dnsans *out)
{
  unsigned char const *p = (unsigned char const *)pkt;
  unsigned char name[DNSNAME_MAX + 1];
  size_t pos, start;
  unsigned qd, an, i, hops = 0;
  rr r;
  int moved;

  memset(out, 0, sizeof *out);
  if (len < HDR || !(p[2] & 0x80)) goto proto;
  out->tc = !!(p[2] & 2);
  out->rcode = p[3] & 15;
  qd = get16(p + 4);
  an = get16(p + 6);
  if (qd != 1) goto proto;
  pos = getname(p, len, HDR, name);
  if (!pos || pos + 4 > len) goto proto;
  if (!dnsname_equal(name, qname) || get16(p + pos) != qtype) goto proto;
  start = pos + 4;
  if (an > RR_MAX) an = RR_MAX;
  /* Every answer record must be well-formed, even those we do not use. */
  for (i = 0, pos = start; i < an; i++) {
    pos = getrr(p, len, pos, &r);
    if (!pos) goto proto;
  }
  /* Follow the CNAME chain from qname: each step is a scan of the records. */
  memcpy(out->target, qname, dnsname_len(qname));
  do {
    moved = 0;
    for (i = 0, pos = start; i < an; i++) {
      pos = getrr(p, len, pos, &r);
      if (r.type != DNSQ_CNAME || qtype == DNSQ_CNAME || !dnsname_equal(r.owner, out->target)) continue;
      if (getname(p, r.rdata + r.rdlen, r.rdata, name) != r.rdata + r.rdlen) goto proto;
      if (++hops > DNSANS_CNAME_MAX) {
        errno = ELOOP;
        return -1;
      }
      memcpy(out->target, name, dnsname_len(name));
      moved = 1;
      break;
    }
  } while (moved);
  for (i = 0, pos = start; i < an; i++) {
    pos = getrr(p, len, pos, &r);
    if (r.type != qtype || !dnsname_equal(r.owner, out->target)) continue;
    if (qtype == DNSQ_MX) {
      dnsmx *m;
      if (r.rdlen < 3) goto proto;
      if (getname(p, r.rdata + r.rdlen, r.rdata + 2, name) != r.rdata + r.rdlen) goto proto;
      if (!name[0]) {
        out->nullmx = 1;
        continue;
      }
      if (out->nmx == DNSANS_MX_MAX) continue;
      m = &out->mx[out->nmx++];
      m->pref = get16(p + r.rdata);
      memcpy(m->name, name, dnsname_len(name));
    } else if (qtype == DNSQ_A || qtype == DNSQ_AAAA) {
      if (r.rdlen != (qtype == DNSQ_A ? 4u : 16u)) goto proto;
      if (out->naddr == DNSANS_ADDR_MAX) continue;
      if (qtype == DNSQ_A) {
        memset(out->addr[out->naddr], 0, 10);
        out->addr[out->naddr][10] = out->addr[out->naddr][11] = 0xff;
        memcpy(out->addr[out->naddr] + 12, p + r.rdata, 4);
      } else
        memcpy(out->addr[out->naddr], p + r.rdata, 16);
      out->naddr++;
    }
  }
  out->cname = hops && !out->nmx && !out->naddr && !out->nullmx;
  return 0;
proto:
  errno = EPROTO;
  return -1;
}
