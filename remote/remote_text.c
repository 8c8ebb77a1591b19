/* Report texts: one printable line, bounded; addresses as text. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "remote.h"

void text_cat(char *buf, size_t max, size_t *len, char const *s, size_t n)
{
  size_t i;
  if (!max) return;
  for (i = 0; i < n && *len + 1 < max; i++) {
    unsigned char c = (unsigned char)s[i];
    buf[(*len)++] = c >= 32 && c < 127 ? (char)c : '?';
  }
  buf[*len] = 0;
}

void text_cats(char *buf, size_t max, size_t *len, char const *s)
{
  text_cat(buf, max, len, s, strlen(s));
}

void ip_fmt(unsigned char const *ip, char *s)
{
  static unsigned char const mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!memcmp(ip, mapped, 12)) {
    if (!inet_ntop(AF_INET, ip + 12, s, 46)) memcpy(s, "?", 2);
  } else if (!inet_ntop(AF_INET6, ip, s, 46))
    memcpy(s, "?", 2);
}

int has8bit(char const *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80) return 1;
  return 0;
}
