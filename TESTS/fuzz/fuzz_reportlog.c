/* libFuzzer target: mailroom-report's log line parser and tallies (any bytes a log may
   hold), and the info file parser of the queue tools. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../queue/qtool.h"
#include "../../queue/report.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static struct rpt r;
  struct rpt_line l;
  char line[RPT_LINE_MAX + 1];
  size_t n = size > RPT_LINE_MAX ? RPT_LINE_MAX : size;
  struct qt_rcpt q[4];
  unsigned long flags;
  memcpy(line, data, n);
  line[n] = 0;
  if (rpt_parse(line, &l) == 0) {
    if (l.nf > RPT_FIELDS_MAX) __builtin_trap();
    (void)rpt_add(&r, &l);
  }
  for (unsigned k = 0; k <= 4; k++) (void)qt_parseinfo((char const *)data, size, k, q, &flags);
  (void)rpt_percentile(&r, 99);
  return 0;
}
