/* libFuzzer target: the envelope mailroom-queue reads from its caller, and the message-file
   trailer mailroom-send reads from the queue. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "envelope.h"
#include "msgfile.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  size_t n;
  char const *s = (char const *)data;
  if (envelope_check(s, size, &n) == ENV_OK) {
    size_t k = 0;
    (void)envelope_sender(s);
    for (char const *p = envelope_next(s, 0); p; p = envelope_next(s, p)) k++;
    if (k != n) __builtin_trap();
  }
  if (size >= MSGFILE_TRAILER) {
    unsigned long long m;
    unsigned long e;
    (void)msgfile_parse_trailer(s, &m, &e);
  }
  return 0;
}
