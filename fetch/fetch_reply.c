/* The POP3 client's parser (RFC 1939): status lines, multi-line answers (dot-stuffing and
   the terminating "."), LIST and UIDL lines. Pure: bytes in, results out; the fuzz target
   TESTS/fuzz/fuzz_pop3reply.c runs it on anything. */
#include <string.h>

#include "fetch.h"

/* the line without a final CR */
static size_t nocr(char const *s, size_t len) { return len && s[len - 1] == '\r' ? len - 1 : len; }

int pop3_status(char const *s, size_t len, size_t *text)
{
  len = nocr(s, len);
  *text = len;
  if (len >= 3 && !memcmp(s, "+OK", 3) && (len == 3 || s[3] == ' ')) {
    *text = len == 3 ? 3 : 4;
    return 1;
  }
  if (len >= 4 && !memcmp(s, "-ERR", 4) && (len == 4 || s[4] == ' ')) {
    *text = len == 4 ? 4 : 5;
    return 0;
  }
  return -1;
}

int pop3_mline(char const *s, size_t len, size_t *off, size_t *n)
{
  len = nocr(s, len);
  if (len == 1 && s[0] == '.') return 0;
  *off = len && s[0] == '.' ? 1 : 0;
  *n = len - *off;
  return 1;
}

/* a decimal number at s[*i..) up to a space or the end: 1, or 0 (none, too big) */
static int scan_num(char const *s, size_t len, size_t *i, uint64_t *v, uint64_t max)
{
  size_t start = *i;
  *v = 0;
  while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
    unsigned d = (unsigned)(s[*i] - '0');
    if (*v > (max - d) / 10) return 0;
    *v = *v * 10 + d;
    (*i)++;
  }
  return *i > start && *i - start <= 20;
}

int pop3_scan_list(char const *s, size_t len, uint32_t *num, uint64_t *size)
{
  size_t i = 0;
  uint64_t v;
  len = nocr(s, len);
  if (!scan_num(s, len, &i, &v, 0xffffffffu) || !v || i >= len || s[i] != ' ') return 0;
  *num = (uint32_t)v;
  i++;
  if (!scan_num(s, len, &i, size, UINT64_MAX / 4)) return 0;
  /* RFC 1939 allows nothing after the size; some servers add text: a space starts it */
  return i == len || s[i] == ' ';
}

int pop3_scan_uidl(char const *s, size_t len, uint32_t *num, size_t *uoff, size_t *ulen)
{
  size_t i = 0;
  uint64_t v;
  len = nocr(s, len);
  if (!scan_num(s, len, &i, &v, 0xffffffffu) || !v || i >= len || s[i] != ' ') return 0;
  *num = (uint32_t)v;
  *uoff = ++i;
  while (i < len && s[i] >= 0x21 && s[i] <= 0x7e) i++;
  *ulen = i - *uoff;
  return i == len && *ulen >= 1 && *ulen <= FETCH_UIDL_MAX;
}

void pop3_printable(char *out, size_t max, char const *s, size_t len)
{
  size_t i, j = 0, room;
  if (!max) return;
  /* when it is cut, "..." takes the last 3 bytes before the NUL */
  room = len < max ? len : max > 4 ? max - 4 : max - 1;
  for (i = 0; i < room; i++) {
    unsigned char c = (unsigned char)s[i];
    out[j++] = c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
  }
  if (room < len && max > 4) {
    memcpy(out + j, "...", 3);
    j += 3;
  }
  out[j] = 0;
}
