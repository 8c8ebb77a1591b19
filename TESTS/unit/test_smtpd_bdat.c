/* Unit tests of BDAT's pure parts (smtpd_data.c): the argument parser (sizes, LAST, and
   malformed, overlong, negative, binary arguments) and the chunk machine: exact stored
   bytes (CR LF made LF, no dot removed, a last line ended), a CR LF split between chunks,
   the flags (bare LF, bare CR, NUL, a CR at the very end, databytes, hops), each input fed
   in pieces of 1, 2, 3, 7 and all bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtpd.h"

#include "check.h"

#define S(x) x, sizeof(x) - 1

static void pcase(char const *arg, size_t len, int wantr, unsigned long long wantsize, int wantlast)
{
  unsigned long long size = 12345;
  int last = -1, r = smtpd_bdat_parse(arg, len, &size, &last);
  char lab[200], why[200];
  snprintf(lab, sizeof lab, "bdat parse %.60s%s", arg, len > 60 ? "..." : "");
  for (char *p = lab; *p; p++)
    if ((unsigned char)*p < 32) *p = '?';
  snprintf(why, sizeof why, "r %d size %llu last %d", r, size, last);
  check(r == wantr && (r < 0 || (size == wantsize && last == wantlast)), lab, why);
}

static void parse(void)
{
  pcase(S("10"), 0, 10, 0);
  pcase(S("0"), 0, 0, 0);
  pcase(S("0 LAST"), 0, 0, 1);
  pcase(S("42 last"), 0, 42, 1);
  pcase(S("42 LaSt  "), 0, 42, 1);
  pcase(S("  7   LAST"), 0, 7, 1);
  pcase(S("9999999999999999999"), 0, 9999999999999999999ULL, 0); /* 19 digits */
  pcase(S("0000000000000000005 LAST"), 0, 5, 1);
  pcase(S("10000000000000000000"), -1, 0, 0); /* 20 digits */
  pcase(S("18446744073709551616"), -1, 0, 0); /* 2^64 */
  pcase(S(""), -1, 0, 0);
  pcase(S("   "), -1, 0, 0);
  pcase(S("LAST"), -1, 0, 0);
  pcase(S("-5"), -1, 0, 0);
  pcase(S("+5"), -1, 0, 0);
  pcase(S("5x"), -1, 0, 0);
  pcase(S("0x10"), -1, 0, 0);
  pcase(S("5 LASTX"), -1, 0, 0);
  pcase(S("5 LAS"), -1, 0, 0);
  pcase(S("5 LAST 6"), -1, 0, 0);
  pcase(S("5 FIRST"), -1, 0, 0);
  pcase(S("5\tLAST"), -1, 0, 0);
  pcase(S("5 LAST\r"), -1, 0, 0);
  pcase(S("5\0 LAST"), -1, 0, 0);
  pcase(S("\xff\xfe"), -1, 0, 0);
  {
    char big[1000];
    memset(big, '9', sizeof big);
    pcase(big, sizeof big, -1, 0, 0);
  }
}

struct result {
  char out[4096];
  size_t outlen;
  unsigned int flags, hops;
};

static void run(char const *in, size_t n, size_t piece, unsigned long long max, struct result *r)
{
  smtpd_data d;
  size_t pos = 0, o;
  r->outlen = 0;
  smtpd_data_chunkinit(&d, max);
  while (pos < n) {
    size_t k = n - pos < piece ? n - pos : piece;
    smtpd_data_chunk(&d, in + pos, k, r->out + r->outlen, &o);
    r->outlen += o;
    pos += k;
  }
  smtpd_data_chunkend(&d, r->out + r->outlen, &o);
  r->outlen += o;
  r->flags = d.flags;
  r->hops = d.hops;
}

static size_t const pieces[] = { 1, 2, 3, 7, 1 << 30 };

static void ccase(char const *label, char const *in, size_t n, char const *want, size_t wantlen, unsigned int wantflags,
                  unsigned long long max)
{
  for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
    struct result r;
    char lab[300], why[300];
    run(in, n, pieces[i], max, &r);
    snprintf(lab, sizeof lab, "chunk %s (pieces of %zu)", label, pieces[i] > n ? n : pieces[i]);
    snprintf(why, sizeof why, "outlen %zu want %zu, flags %u want %u: %.*s", r.outlen, wantlen, r.flags, wantflags,
             (int)(r.outlen < 80 ? r.outlen : 80), r.out);
    check(r.flags == wantflags && (wantflags || (r.outlen == wantlen && !memcmp(r.out, want, wantlen))), lab, why);
  }
}

static void chunks(void)
{
  ccase("empty message", S(""), S(""), 0, 1000);
  ccase("CRLF made LF", S("a: b\r\n\r\nbody\r\n"), S("a: b\n\nbody\n"), 0, 1000);
  ccase("dots kept", S(".\r\n..\r\n.x\r\n"), S(".\n..\n.x\n"), 0, 1000);
  ccase("CRLF.CRLF ends nothing", S("a\r\n.\r\nb\r\n"), S("a\n.\nb\n"), 0, 1000);
  ccase("no final CRLF: LF added", S("a\r\nlast"), S("a\nlast\n"), 0, 1000);
  ccase("8-bit kept", S("\xe4\xff\x80\r\n"), S("\xe4\xff\x80\n"), 0, 1000);
  ccase("bare LF", S("a\nb\r\n"), 0, 0, DATA_BARELF, 1000);
  ccase("bare CR", S("a\rb\r\n"), 0, 0, DATA_BARECR, 1000);
  ccase("CR CR LF", S("a\r\r\n"), 0, 0, DATA_BARECR, 1000);
  ccase("CR at the very end", S("a\r\nb\r"), 0, 0, DATA_BARECR, 1000);
  ccase("NUL", S("a\0b\r\n"), 0, 0, DATA_NUL, 1000);
  ccase("exactly max", S("abc\r\n"), S("abc\n"), 0, 4);
  ccase("one over max", S("abcd\r\n"), 0, 0, DATA_BIG, 4);
  ccase("the added LF over max", S("abcd"), 0, 0, DATA_BIG, 4);
  {
    /* one CR LF split between two chunks is one line end */
    smtpd_data d;
    char out[16];
    size_t a, b, c;
    smtpd_data_chunkinit(&d, 100);
    smtpd_data_chunk(&d, S("ab\r"), out, &a);
    smtpd_data_chunk(&d, S("\ncd\r\n"), out + a, &b);
    smtpd_data_chunkend(&d, out + a + b, &c);
    check(!d.flags && a + b + c == 6 && !memcmp(out, "ab\ncd\n", 6), "chunk CR | LF across chunks is CR LF", "no");
  }
  {
    char hdr[4096];
    size_t n = 0;
    for (int i = 0; i < SMTPD_HOPS_MAX + 1; i++) n += (size_t)snprintf(hdr + n, sizeof hdr - n, "Received: x\r\n");
    n += (size_t)snprintf(hdr + n, sizeof hdr - n, "\r\nbody\r\n");
    ccase("101 Received lines", hdr, n, 0, 0, DATA_HOPS, 1 << 20);
    /* the 100th is still fine */
    {
      struct result r;
      run(hdr + 13, n - 13, 5, 1 << 20, &r);
      check(!r.flags && r.hops == SMTPD_HOPS_MAX, "chunk 100 Received lines: accepted", "flags set");
    }
  }
}

int main(void)
{
  parse();
  chunks();
  printf("# test_smtpd_bdat: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
