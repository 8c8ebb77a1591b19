/* What the fuzz targets share: a check that fails the run loudly (abort, which libFuzzer
   reports as a crash and keeps the input for), naming the condition and its line. */
#ifndef MAILROOM_FUZZ_H
#define MAILROOM_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define FAIL_IF(c) \
  do { \
    if (c) { \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
      abort(); \
    } \
  } while (0)

#endif
