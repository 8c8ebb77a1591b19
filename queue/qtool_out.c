/* Output helpers of the queue tools: buffered writes that die on error, JSON strings, ages. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include "qtool.h"

_Noreturn void qt_die_nomem(void)
{
  strerr_dief1x(111, "out of memory");
}

void qt_put(buffer *b, char const *s)
{
  if (buffer_puts(b, s) < 0) strerr_diefu1sys(111, "write to stdout");
}

void qt_putf(buffer *b, char const *fmt, ...)
{
  char line[4096];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  if (buffer_put(b, line, (size_t)n) < 0) strerr_diefu1sys(111, "write to stdout");
}

void qt_flush(buffer *b)
{
  if (!buffer_flush(b)) strerr_diefu1sys(111, "write to stdout");
}

/* A JSON string. Addresses may hold any byte but NUL, CR and LF: control characters and
   bytes above 127 are written as \u00XX, so the output is always valid JSON (and ASCII). */
int qt_json_str(buffer *b, char const *s)
{
  char out[8];
  qt_put(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[0] = '\\', out[1] = (char)c, out[2] = 0;
    } else if (c < 32 || c > 126) {
      snprintf(out, sizeof out, "\\u%04x", c);
    } else
      out[0] = (char)c, out[1] = 0;
    qt_put(b, out);
  }
  qt_put(b, "\"");
  return 0;
}

void qt_age(char *out, size_t n, long long s)
{
  if (s < 0) s = 0;
  if (s < 60) snprintf(out, n, "%llds", s);
  else if (s < 3600) snprintf(out, n, "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400) snprintf(out, n, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  else snprintf(out, n, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}
