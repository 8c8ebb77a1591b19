/* libFuzzer target: control/smtpdlimits and control/pop3dlimits as an administrator (or a
   careless script) writes them, through connlimit_parse (lib/connlimit.c), and the same
   bytes as a client address for connlimit_key. Checked: a refusal names its line (within
   the file) and leaves the values unchanged; an accepted file's values are in range; a
   key is a bounded file name of [0-9a-fv-] that cannot walk out of the slots folder. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "connlimit.h"

#include "fuzz.h"

static void key(char const *s, size_t n, struct connlimit const *c)
{
  char ip[64], k[CONNLIMIT_KEY_MAX + 1];
  if (n >= sizeof ip) n = sizeof ip - 1;
  memcpy(ip, s, n);
  ip[n] = 0;
  if (connlimit_key(ip, c, k) < 0) return;
  FAIL_IF(strlen(k) > CONNLIMIT_KEY_MAX || strlen(k) < 6);
  FAIL_IF(k[0] != 'v' || (k[1] != '4' && k[1] != '6') || k[2] != '-');
  FAIL_IF(strspn(k, "0123456789abcdefv-") != strlen(k));
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static struct connlimit const def = CONNLIMIT_DEFAULTS;
  struct connlimit c = def;
  unsigned int line, lines = 1;
  char const *why = 0;
  char const *s = (char const *)data;
  for (size_t i = 0; i < size; i++) lines += s[i] == '\n';
  if (connlimit_parse(s, size, &c, &line, &why) < 0) {
    FAIL_IF(!why);
    FAIL_IF(line > lines);
    FAIL_IF(memcmp(&c, &def, sizeof c) != 0);
  } else {
    FAIL_IF(line != 0);
    FAIL_IF(c.prefix4 < 1 || c.prefix4 > 32 || c.prefix6 < 1 || c.prefix6 > 128);
    FAIL_IF(c.overload < 1 || c.overload > 100 || c.sessions < 1 || c.overloadtimeout < 1 || c.rategrace < 1);
    FAIL_IF(c.perclient > CONNLIMIT_PERCLIENT_MAX || c.sessions > CONNLIMIT_SESSIONS_MAX);
    FAIL_IF(connlimit_threshold(&c) < 1 || connlimit_threshold(&c) > c.sessions);
  }
  key(s, size, &c);
  return 0;
}
