/* libFuzzer target: mailroom-remote's DNS answer parser, with the question it expects
   ("example.test", the type from the first byte: MX, A, AAAA). Whatever it returns must be
   within its caps, and every name it gives must be a well-formed wire name within 255
   bytes that turns into bounded text; also smtproutes lookups over the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../remote/remote.h"

static void check_name(unsigned char const *n)
{
  size_t i = 0;
  char txt[64];
  while (n[i]) {
    if (n[i] > 63) __builtin_trap();
    i += (size_t)n[i] + 1;
    if (i > DNSNAME_MAX) __builtin_trap();
  }
  dnsname_todot(n, txt, sizeof txt);
  if (strlen(txt) >= sizeof txt) __builtin_trap();
}

static unsigned rnd(unsigned n) { return n - 1; }

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static dnsans a;
  static unsigned const types[3] = {DNSQ_MX, DNSQ_A, DNSQ_AAAA};
  static unsigned char const q[] = "\7example\4test";
  unsigned i;
  route rt;
  if (!size) return 0;
  if (dnsans_parse((char const *)data + 1, size - 1, q, types[data[0] % 3], &a) == 0) {
    if (a.nmx > DNSANS_MX_MAX || a.naddr > DNSANS_ADDR_MAX) __builtin_trap();
    for (i = 0; i < a.nmx; i++) check_name(a.mx[i].name);
    check_name(a.target);
    mx_sort(a.mx, a.nmx, rnd);
    for (i = 1; i < a.nmx; i++)
      if (a.mx[i - 1].pref > a.mx[i].pref) __builtin_trap();
  }
  /* smtproutes over the same bytes, as NUL-separated lines */
  if (routes_find((char const *)data, size, "a.example.test", &rt) == 1 && strlen(rt.host) >= sizeof rt.host)
    __builtin_trap();
  return 0;
}
