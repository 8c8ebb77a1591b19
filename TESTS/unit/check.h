#ifndef MAILROOM_TEST_CHECK_H
#define MAILROOM_TEST_CHECK_H
/* The unit tests' one reporting helper: a PASS or FAIL line per check, as TESTS/run.sh
   counts them; main ends with `return nfail ? 1 : 0` after its summary line. */
#include <stdio.h>

static int npass, nfail;

static void check(int ok, char const *label, char const *why)
{
  if (ok) {
    printf("PASS %s\n", label);
    npass++;
  } else {
    printf("FAIL %s: %s\n", label, why);
    nfail++;
  }
}
#endif
