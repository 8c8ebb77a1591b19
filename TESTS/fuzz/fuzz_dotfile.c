/* libFuzzer target: dot files (.qmail, .qmail-EXT, .qmail-default), which their owners
   write and mailroom-local reads. The input is a dot file: every line the parser returns
   must lie inside the file, be bounded (mailroom-local copies it into a
   DOTQMAIL_LINE_MAX + 1 buffer) and free of NUL and control bytes, of a known kind, and
   dotqmail_check must agree with a walk of the lines. The first line is also taken as the
   extension of an address: the dot file names made from it must stay in the home folder
   (no '/' nor '.' after the prefix, so no ".." either) and bounded. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dotqmail.h"

#include "fuzz.h"

static void lines(char const *s, size_t n)
{
  dotqmail d;
  dotqmail_line l;
  unsigned int acts = 0, chk = 12345, lastno = 0;
  int r, c;
  if (dotqmail_init(&d, s, n) < 0) {
    FAIL_IF(n <= DOTQMAIL_FILE_MAX);
    FAIL_IF(dotqmail_check(s, n, &chk) != DQ_EBIG);
    return;
  }
  while ((r = dotqmail_next(&d, &l)) == 1) {
    size_t i;
    FAIL_IF(l.lineno != lastno + 1 || l.lineno != d.lineno);
    lastno = l.lineno;
    FAIL_IF(l.value < s || l.value + l.len > s + n || l.len > DOTQMAIL_LINE_MAX);
    FAIL_IF(d.pos > n);
    for (i = 0; i < l.len; i++) {
      unsigned char b = (unsigned char)l.value[i];
      FAIL_IF(!b || (b < 32 && b != '\t') || b == 127 || b == '\n');
    }
    switch (l.kind) {
      case DQ_COMMENT: break;
      case DQ_PROGRAM:
      case DQ_FORWARD:
        FAIL_IF(!l.len || l.value[0] == ' ' || l.value[0] == '\t');
        acts++;
        break;
      case DQ_MAILDIR:
        FAIL_IF(!l.len || l.value[l.len - 1] != '/');
        acts++;
        break;
      case DQ_MBOX:
        FAIL_IF(!l.len || l.value[l.len - 1] == '/' || (l.value[0] != '.' && l.value[0] != '/'));
        acts++;
        break;
      default: FAIL_IF(1);
    }
    FAIL_IF(l.len && (l.value[l.len - 1] == ' ' || l.value[l.len - 1] == '\t'));
  }
  FAIL_IF(r > 1 || r < DQ_EBIG);
  FAIL_IF(acts > DOTQMAIL_ACTS_MAX || acts != d.nacts - (r == DQ_EMANY));
  c = dotqmail_check(s, n, &chk);
  FAIL_IF(c != r);
  if (!r) FAIL_IF(chk != acts);
  FAIL_IF(!dotqmail_strerror(r) || (r && !*dotqmail_strerror(r)));
}

static void names(char const *s, size_t n)
{
  char ext[1001], name[DOTQMAIL_NAME_MAX];
  size_t elen = 0, defpos;
  unsigned int k;
  char const *dash[2] = { "", "-" };
  int dd;
  while (elen < n && elen < sizeof ext - 1 && s[elen] != '\n' && s[elen]) {
    ext[elen] = s[elen];
    elen++;
  }
  ext[elen] = 0;
  for (dd = 0; dd < 2; dd++) {
    for (k = 0; k < 1100; k++) {
      int r = dotqmail_name(name, sizeof name, dash[dd], ext, k, &defpos);
      size_t nl, i, base = sizeof DOTQMAIL_PREFIX - 1 + strlen(dash[dd]);
      if (!r) break;
      FAIL_IF(r < 0); /* DOTQMAIL_NAME_MAX is meant to suffice for any extension */
      nl = strlen(name);
      FAIL_IF(nl >= sizeof name || memcmp(name, DOTQMAIL_PREFIX, sizeof DOTQMAIL_PREFIX - 1) != 0);
      for (i = base; i < nl; i++) FAIL_IF(name[i] == '.' || (name[i] >= 'A' && name[i] <= 'Z'));
      if (defpos != (size_t)-1) FAIL_IF(defpos > elen || strcmp(name + nl - 7, "default") != 0);
      if (!k) FAIL_IF(nl != base + elen);
      if (!*dash[dd]) FAIL_IF(k);
      /* a short buffer is refused, not overrun */
      FAIL_IF(dotqmail_name(name, nl, dash[dd], ext, k, &defpos) != -1);
    }
    FAIL_IF(k >= 1100);
  }
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  lines((char const *)data, size);
  names((char const *)data, size);
  return 0;
}
