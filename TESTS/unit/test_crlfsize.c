/* Unit tests of lib/crlfsize.c, the size POP3 lists: known cases (LF, CR LF, bare CR, CR CR
   LF, no final line end, a held CR at the end, dots), and on 3000 random messages fed in
   random pieces, that it is exactly what pop3d's RETR transform sends before its ".",
   with the stuffed dots taken out (RFC 1939 11). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crlfsize.h"
#include "../../pop3d/pop3d.h"

#include "check.h"

#define S(x) x, sizeof(x) - 1

static uint64_t size_of(char const *s, size_t n, size_t piece)
{
  crlfsize c;
  crlfsize_init(&c);
  for (size_t i = 0; i < n; i += piece) crlfsize_feed(&c, s + i, n - i < piece ? n - i : piece);
  return crlfsize_end(&c);
}

/* What RETR sends for s, stuffed dots and the final ".\r\n" not counted. */
static uint64_t retr_size(char const *s, size_t n)
{
  struct pop3_xform x;
  char *out = malloc(2 * n + POP3_XFORM_END);
  size_t used, w, e, stuffed = 0;
  if (!out) exit(111);
  pop3_xform_init(&x, 0, 0);
  w = pop3_xform(&x, s, n, out, &used);
  e = pop3_xform_end(&x, out + w);
  for (size_t i = 0; i + 1 < w + e; i++)
    if ((i == 0 || (i >= 2 && out[i - 1] == '\n' && out[i - 2] == '\r')) && out[i] == '.' && out[i + 1] == '.') stuffed++;
  free(out);
  return w + e - 3 - stuffed;
}

static void kcase(char const *label, char const *s, size_t n, uint64_t want)
{
  char why[100];
  uint64_t a = size_of(s, n, n ? n : 1), b = size_of(s, n, 1), r = retr_size(s, n);
  snprintf(why, sizeof why, "got %llu / %llu (pieces of 1), RETR %llu, want %llu", (unsigned long long)a,
           (unsigned long long)b, (unsigned long long)r, (unsigned long long)want);
  check(a == want && b == want && r == want, label, why);
}

int main(void)
{
  unsigned long seed = 12345;
  int bad = 0;
  kcase("crlfsize empty", S(""), 0);
  kcase("crlfsize one LF line", S("abc\n"), 5);
  kcase("crlfsize CR LF kept as two", S("abc\r\n"), 5);
  kcase("crlfsize no final LF: CR LF added", S("abc"), 5);
  kcase("crlfsize a held CR at the end is the line end", S("abc\r"), 5);
  kcase("crlfsize a lone CR", S("\r"), 2);
  kcase("crlfsize bare CR is data", S("a\rb\n"), 5);
  kcase("crlfsize CR CR LF", S("a\r\r\n"), 4);
  kcase("crlfsize stuffed dots not counted", S(".\n..\n.x\n"), 11);
  kcase("crlfsize empty lines", S("\n\n\n"), 6);
  for (int k = 0; k < 3000; k++) {
    char m[300];
    size_t n, piece;
    seed = seed * 6364136223846793005UL + 1442695040888963407UL;
    n = (size_t)(seed >> 33) % sizeof m;
    for (size_t i = 0; i < n; i++) {
      seed = seed * 6364136223846793005UL + 1442695040888963407UL;
      m[i] = "\r\n.a\0\xff"[(seed >> 40) % 6];
    }
    piece = (size_t)(seed >> 20) % 7 + 1;
    if (size_of(m, n, piece) != retr_size(m, n)) bad++;
  }
  check(!bad, "crlfsize 3000 random messages: exactly what RETR sends (dots unstuffed)", "differences");
  printf("# test_crlfsize: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
