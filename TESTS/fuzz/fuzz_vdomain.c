/* libFuzzer target: control/virtualdomains (lib/vdomain.c). The input is a file as an
   admin (or a careless script) writes it: every line goes through vdomain_parseline. A rule
   it accepts must be clean (a lowercase key of the kind it says, a bounded prefix of
   atext), and its canonical text "key:prefix" must parse again to the same rule. The
   input's first line is also taken as an address: the rule vdomain_rank picks among the
   lines (the best rank, the first of equals) must be the one qmail-send's key order finds
   (the address, its domain, each .suffix longest first, then ""), which is the order of the
   cdb lookups in lib/vdomain_db.c. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vdomain.h"

#include "fuzz.h"

#define RULES_MAX 64

static struct vdomain_rule rules[RULES_MAX];

static int lowerok(char c)
{
  return !(c >= 'A' && c <= 'Z') && (unsigned char)c > 32 && (unsigned char)c < 127 && c != ':';
}

static void clean(struct vdomain_rule const *r)
{
  char line[VDOMAIN_LINE_MAX + VDOMAIN_PREFIX_MAX + 2];
  struct vdomain_rule again;
  char const *why;
  size_t n;
  FAIL_IF(r->keylen != strlen(r->key) || r->prefixlen != strlen(r->prefix));
  FAIL_IF(r->keylen > VDOMAIN_LINE_MAX || r->prefixlen > VDOMAIN_PREFIX_MAX);
  for (size_t i = 0; i < r->keylen; i++) FAIL_IF(!lowerok(r->key[i]));
  for (size_t i = 0; i < r->prefixlen; i++) FAIL_IF(strchr("@:/ \"\\", r->prefix[i]) || (unsigned char)r->prefix[i] < 33);
  switch (r->kind) {
    case VD_ALL: FAIL_IF(r->keylen != 0); break;
    case VD_SUB: FAIL_IF(r->key[0] != '.' || strchr(r->key, '@') || r->keylen < 2); break;
    case VD_ADDR: FAIL_IF(!strchr(r->key, '@') || r->key[0] == '@'); break;
    case VD_DOMAIN: FAIL_IF(r->key[0] == '.' || strchr(r->key, '@') || !r->keylen); break;
    default: FAIL_IF(1);
  }
  n = (size_t)snprintf(line, sizeof line, "%s:%s", r->key, r->prefix);
  if (n > VDOMAIN_LINE_MAX) return;
  FAIL_IF(vdomain_parseline(line, n, &again, &why) != 1);
  FAIL_IF(again.kind != r->kind || strcmp(again.key, r->key) != 0 || strcmp(again.prefix, r->prefix) != 0);
}

/* The rule whose key is k (klen bytes), the first one: as cdb_find answers. */
static int bykey(size_t nr, char const *k, size_t klen)
{
  for (size_t i = 0; i < nr; i++)
    if (rules[i].keylen == klen && !memcmp(rules[i].key, k, klen)) return (int)i;
  return -1;
}

static void order(size_t nr, char const *addr, size_t len)
{
  char lc[VDOMAIN_LINE_MAX];
  size_t at = len, best = (size_t)-1;
  int pick = -1, want;
  if (len > sizeof lc) return;
  for (size_t i = 0; i < len; i++) lc[i] = (addr[i] >= 'A' && addr[i] <= 'Z') ? (char)(addr[i] + 32) : addr[i];
  for (size_t i = len; i-- > 0;)
    if (addr[i] == '@') {
      at = i;
      break;
    }
  for (size_t i = 0; i < nr; i++) {
    size_t k = vdomain_rank(&rules[i], addr, len);
    if (k < best) best = k, pick = (int)i;
  }
  if (at == len || !at || at + 1 == len) {
    FAIL_IF(pick != -1);
    return;
  }
  want = bykey(nr, lc, len);
  if (want < 0) want = bykey(nr, lc + at + 1, len - at - 1);
  for (size_t i = at + 2; want < 0 && i < len; i++)
    if (lc[i] == '.') want = bykey(nr, lc + i, len - i);
  if (want < 0) want = bykey(nr, "", 0);
  /* a key can match by bytes yet be of another kind (a domain key can hold no '@') */
  if (want >= 0 && pick >= 0) FAIL_IF(strcmp(rules[want].prefix, rules[pick].prefix) != 0);
  FAIL_IF((want < 0) != (pick < 0));
  if (pick >= 0) {
    char out[VDOMAIN_ADDR_MAX + 1];
    size_t n = vdomain_rewrite(rules[pick].prefix, addr, at, out, sizeof out);
    FAIL_IF(!n || n != rules[pick].prefixlen + 1 + at || out[rules[pick].prefixlen] != '-');
  }
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *s = (char const *)data, *end = s + size, *first = 0;
  size_t firstlen = 0, nr = 0;
  while (s < end) {
    char const *nl = memchr(s, '\n', (size_t)(end - s));
    size_t n = (size_t)((nl ? nl : end) - s);
    char const *why = 0;
    int k;
    if (!first) first = s, firstlen = n;
    k = vdomain_parseline(s, n, nr < RULES_MAX ? &rules[nr] : &rules[RULES_MAX - 1], &why);
    FAIL_IF(k < -1 || k > 1);
    FAIL_IF(k == -1 && (!why || !*why));
    if (k == 1) {
      clean(&rules[nr < RULES_MAX ? nr : RULES_MAX - 1]);
      if (nr < RULES_MAX) nr++;
    }
    (void)vdomain_checkdomain(s, n, &why);
    s = nl ? nl + 1 : end;
  }
  if (first) order(nr, first, firstlen);
  return 0;
}
