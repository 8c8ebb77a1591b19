/* The stored message (LF line ends, INTERNALS.md) as the DATA stream: CR LF line ends,
   dot-stuffing (RFC 5321 4.5.2), the final ".". A bare CR is passed on as it is: it was in
   the message the sender gave us, and it cannot end the DATA stream without an LF. */
#include "remote.h"

void msgconv_init(msgconv *c)
{
  c->bol = 1;
  c->wire = 0;
  c->eightbit = 0;
}

void msgconv_scan(msgconv *c, char const *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '\n') c->wire++;
    if (ch >= 0x80) c->eightbit = 1;
  }
  c->wire += n;
  if (n) c->bol = s[n - 1] == '\n';
}

void msgconv_scanend(msgconv *c)
{
  if (!c->bol) c->wire += 2;
  c->bol = 1;
}

size_t msgconv_data(msgconv *c, char const *s, size_t n, char *out)
{
  size_t i, o = 0;
  int bol = c->bol;
  for (i = 0; i < n; i++) {
    char ch = s[i];
    if (bol && ch == '.') out[o++] = '.';
    if (ch == '\n') {
      out[o++] = '\r';
      bol = 1;
    } else
      bol = 0;
    out[o++] = ch;
  }
  c->bol = bol;
  return o;
}

size_t msgconv_end(msgconv *c, char *out)
{
  size_t o = 0;
  if (!c->bol) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  out[o++] = '.';
  out[o++] = '\r';
  out[o++] = '\n';
  c->bol = 1;
  return o;
}
