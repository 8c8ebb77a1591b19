/* mailroom-send's log: one line per event on stdout, key=value, ready for multilog. The
   message id ties the lines of one message together. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <skalibs/buffer.h>
#include "send.h"

void log_quote(char *out, size_t n, char const *text)
{
  size_t w = 0;
  if (!n) return;
  for (; *text && w + 3 < n; text++) {
    unsigned char c = (unsigned char)*text;
    if (c == '"' || c == '\\') out[w++] = '\\', out[w++] = (char)c;
    else out[w++] = (c >= 32 && c < 127) ? (char)c : '?';
  }
  out[w] = 0;
}

void log_line(char const *event, struct msg const *m, char const *fmt, ...)
{
  char line[2048];
  int l = snprintf(line, sizeof line, m ? "%s msg=%s " : "%s ", event, m ? m->id : "");
  va_list ap;
  if (l < 0) return;
  va_start(ap, fmt);
  vsnprintf(line + l, sizeof line - (size_t)l - 1, fmt, ap);
  va_end(ap);
  l = (int)strlen(line);
  line[l++] = '\n';
  buffer_put(buffer_1, line, (size_t)l);
}

void log_flush(void)
{
  buffer_flush(buffer_1);
}
