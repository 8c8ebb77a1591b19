/* The DSN and AUTH= parameters a job brings with its addresses (remote_smtp.h): split off,
   checked, and picked for the MAIL and RCPT lines. Pure, libc only. */
#include <string.h>
#include <strings.h>

#include "remote_smtp.h"

char const *dsn_split(char *field, int *bad)
{
  char *nl = strchr(field, '\n');
  if (!nl) return 0;
  *nl = 0;
  /* nothing from here may reach the wire but printable words: no CR, LF or controls */
  if (!nl[1] || nl[1] == ' ') *bad = 1;
  for (char *c = nl + 1; *c; c++)
    if ((unsigned char)*c < 32 || (unsigned char)*c >= 127 || (*c == ' ' && (c[1] == ' ' || !c[1]))) *bad = 1;
  return nl + 1;
}

void dsn_words(char const *params, char const *const *keys, char *out, size_t max)
{
  size_t w = strlen(out);
  if (!params) return;
  while (*params) {
    char const *sp = strchr(params, ' ');
    size_t wl = sp ? (size_t)(sp - params) : strlen(params);
    for (unsigned k = 0; keys[k]; k++) {
      size_t kl = strlen(keys[k]);
      if (wl > kl && params[kl] == '=' && !strncasecmp(params, keys[k], kl) && w + 1 + wl < max) {
        out[w++] = ' ';
        memcpy(out + w, params, wl);
        w += wl;
        out[w] = 0;
      }
    }
    params += wl;
    if (*params) params++;
  }
}

int dsn_wants_success(char const *rparams)
{
  char n[64] = "";
  static char const *const k[] = { "NOTIFY", 0 };
  dsn_words(rparams, k, n, sizeof n);
  return n[0] && strstr(n, "SUCCESS") != 0;
}
