/* Unit tests of smtpd_data.c, the DATA state machine: exact output bytes (dot-stuffing
   removed, CRLF made LF), where the data ends (only at CR LF . CR LF, with pipelined bytes
   after it left alone), the flags (bare LF, bare CR, NUL, size, hops), and every SMTP
   smuggling variant, each fed in chunks of 1, 2, 3, 7 and all bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtpd.h"

#include "check.h"

#define S(x) x, sizeof(x) - 1

struct result {
  char *out;
  size_t outlen, taken;
  int end;
  unsigned int flags;
  unsigned int hops;
};

/* Feeds in[0..n) in chunks until the end of data or of the input. */
static void run(char const *in, size_t n, size_t chunk, unsigned long long max, struct result *r)
{
  smtpd_data d;
  size_t pos = 0;
  r->out = malloc(n + 1);
  if (!r->out) exit(111);
  r->outlen = 0;
  smtpd_data_init(&d, max);
  while (pos < n && d.state != SMTPD_DATA_END) {
    size_t k = n - pos < chunk ? n - pos : chunk, o;
    size_t t = smtpd_data_feed(&d, in + pos, k, r->out + r->outlen, &o);
    r->outlen += o;
    pos += t;
    if (t < k && d.state != SMTPD_DATA_END) {
      fprintf(stderr, "feed took %zu of %zu without ending\n", t, k);
      break;
    }
  }
  r->taken = pos;
  r->end = d.state == SMTPD_DATA_END;
  r->flags = d.flags;
  r->hops = d.hops;
}

static size_t const chunks[] = { 1, 2, 3, 7, 1 << 30 };

/* in must end the data after wanttaken bytes with output want and flags wantflags. */
static void dcase(char const *label, char const *in, size_t n, size_t wanttaken, char const *want, size_t wantlen,
                  unsigned int wantflags)
{
  size_t i;
  for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    struct result r;
    char lab[300], why[300];
    int ok;
    run(in, n, chunks[i], 1 << 30, &r);
    snprintf(lab, sizeof lab, "data %s (chunk %zu)", label, chunks[i] > n ? n : chunks[i]);
    snprintf(why, sizeof why, "end %d, taken %zu want %zu, outlen %zu want %zu, flags %u want %u", r.end, r.taken,
             wanttaken, r.outlen, wantlen, r.flags, wantflags);
    ok = r.end && r.taken == wanttaken && r.flags == wantflags &&
         (wantflags || (r.outlen == wantlen && !memcmp(r.out, want, wantlen)));
    check(ok, lab, why);
    free(r.out);
  }
}

static void basic(void)
{
  char buf[3000];
  size_t n;
  dcase("one line", S("hello\r\n.\r\n"), 10, S("hello\n"), 0);
  dcase("empty message", S(".\r\n"), 3, S(""), 0);
  dcase("empty lines", S("\r\n\r\n.\r\n"), 7, S("\n\n"), 0);
  dcase("dot-stuffed", S("..x\r\n..\r\n...\r\n.\r\n"), 17, S(".x\n.\n..\n"), 0);
  dcase("dot inside a line stays", S("a.b\r\n a\r\n.\r\n"), 12, S("a.b\n a\n"), 0);
  dcase("pipelined commands after the end stay unread", S("a\r\n.\r\nQUIT\r\n"), 6, S("a\n"), 0);
  dcase("8-bit bytes", S("\xe4\xf6\xfc\xff\x80\r\n.\r\n"), 10, S("\xe4\xf6\xfc\xff\x80\n"), 0);
  dcase("a line . with more after it", S(".a\r\n.\r\n"), 7, S("a\n"), 0);
  dcase("NUL refused", S("a\0b\r\n.\r\n"), 8, 0, 0, DATA_NUL);
  dcase("bare CR refused", S("a\rb\r\n.\r\n"), 8, 0, 0, DATA_BARECR);
  dcase("bare LF refused", S("a\nb\r\n.\r\n"), 8, 0, 0, DATA_BARELF);
  dcase("CR CR LF", S("a\r\r\n.\r\n"), 7, 0, 0, DATA_BARECR);
  /* a 998-byte line passes whole */
  memset(buf, 'x', 998);
  memcpy(buf + 998, "\r\n.\r\n", 5);
  n = 1003;
  {
    char want[999];
    memset(want, 'x', 998);
    want[998] = '\n';
    dcase("998-byte line", buf, n, n, want, 999, 0);
  }
}

/* Each variant sits inside a message, followed by what an attacker wants taken as a
   second transaction; the data must end only at the final CR LF . CR LF, with the
   message refused, so that the "second message" is never a command. */
static void smuggling(void)
{
  static char const *const variants[] = {
    "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\n.\r", "\r.\n",
    "\r\n.\r\r\n", "\r\n.\n\r\n", "\r\r\n.\r\r\n", "\n\n.\n\n", "\r\n\x00.\r\n", "\r\n .\r\n"
  };
  static char const smuggled[] = "MAIL FROM:<evil@example.org>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\n"
                                 "Subject: smuggled\r\n\r\nsecond message\r\n";
  size_t v;
  for (v = 0; v < sizeof variants / sizeof variants[0]; v++) {
    char in[400];
    size_t n = 0, vl = strlen(variants[v]), i;
    if (v == 12) vl = 6; /* holds a NUL */
    memcpy(in, "Subject: first\r\n\r\nbody", 22);
    n = 22;
    memcpy(in + n, variants[v], vl);
    n += vl;
    memcpy(in + n, smuggled, sizeof smuggled - 1);
    n += sizeof smuggled - 1;
    memcpy(in + n, ".\r\n", 3);
    n += 3;
    for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
      struct result r;
      char lab[100], why[200];
      run(in, n, chunks[i], 1 << 30, &r);
      snprintf(lab, sizeof lab, "smuggling variant %zu ends only at CRLF.CRLF (chunk %zu)", v, chunks[i] > n ? n : chunks[i]);
      snprintf(why, sizeof why, "end %d taken %zu of %zu flags %u", r.end, r.taken, n, r.flags);
      /* " ." after CRLF is legitimate data; all the others are refused */
      check(r.end && r.taken == n && (v == 13 ? !r.flags : !!(r.flags & (DATA_BARELF | DATA_BARECR | DATA_NUL))),
            lab, why);
      free(r.out);
    }
  }
}

static void limits(void)
{
  struct result r;
  char *in;
  size_t n, i;
  run(S("abcd\r\n.\r\n"), 1 << 30, 5, &r);
  check(r.end && r.flags == 0 && r.outlen == 5, "size exactly max", "refused");
  free(r.out);
  run(S("abcde\r\n.\r\n"), 1 << 30, 5, &r);
  check(r.end && r.flags == DATA_BIG && r.taken == 10, "size max + 1 refused, read to the end", "wrong");
  free(r.out);

  /* hops: 100 Received:/Delivered-To: header lines pass, 101 do not; body lines never count */
  in = malloc(200 * 40 + 100);
  if (!in) exit(111);
  for (n = 0, i = 0; i < 100; i++) n += (size_t)sprintf(in + n, i % 2 ? "Received: x\r\n" : "DELIVERED-TO: y\r\n");
  n += (size_t)sprintf(in + n, "\r\nReceived: in the body\r\n.\r\n");
  run(in, n, 1 << 30, 1 << 30, &r);
  check(r.end && !r.flags && r.hops == 100, "100 hops pass, body lines not counted", "wrong");
  free(r.out);
  for (n = 0, i = 0; i < 101; i++) n += (size_t)sprintf(in + n, "Received: x\r\n");
  n += (size_t)sprintf(in + n, "\r\n.\r\n");
  run(in, n, 3, 1 << 30, &r);
  check(r.end && r.flags == DATA_HOPS, "101 hops refused", "wrong");
  free(r.out);
  n = (size_t)sprintf(in, "Received-SPF: x\r\nX-Received: y\r\n .\r\nReceived x\r\n.\r\n");
  run(in, n, 1, 1 << 30, &r);
  check(r.end && !r.flags && r.hops == 0, "lookalike headers not counted", "counted");
  free(r.out);
  free(in);

  /* a missing end: everything taken, no end */
  run(S("abc\r\n.\n"), 1 << 30, 1 << 30, &r);
  check(!r.end && r.taken == 7, "no end marker, no end", "ended");
  free(r.out);
}

/* The same bytes in any chunking give the same output: a property over random input. */
static void chunk_property(void)
{
  unsigned int seed = 12345;
  int t, bad = 0;
  for (t = 0; t < 2000 && !bad; t++) {
    char in[64];
    struct result a, b;
    size_t n = (size_t)(seed % 60) + 1, i;
    static char const alphabet[] = { '.', '\r', '\n', 'a', '\0', 'R' };
    for (i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      in[i] = alphabet[(seed >> 16) % sizeof alphabet];
    }
    run(in, n, 1 << 30, 20, &a);
    run(in, n, (size_t)(seed % 5) + 1, 20, &b);
    if (a.end != b.end || a.taken != b.taken || a.flags != b.flags || a.outlen != b.outlen ||
        memcmp(a.out, b.out, a.outlen) != 0 || a.outlen > n)
      bad = 1;
    free(a.out);
    free(b.out);
  }
  check(!bad, "2000 random inputs: chunking never changes the result", "a difference");
}

int main(void)
{
  basic();
  smuggling();
  limits();
  chunk_property();
  printf("# test_smtpd_data: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
