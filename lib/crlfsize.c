/* The CR LF size of a stored message, for Maildir names (mailroom-local) and for POP3's
   LIST and STAT (mailroom-pop3d, on files without ",W="). One counter for both, so the
   size in a name and the size pop3d counts are the same number, and both are what RETR
   sends (TESTS/unit/test_maildir.c checks it against pop3d's transform). Pure. */
#include "crlfsize.h"

void crlfsize_init(crlfsize *c)
{
  c->n = 0;
  c->bol = 1;
  c->cr = 0;
}

void crlfsize_feed(crlfsize *c, char const *s, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    c->bol = 0;
    if (ch == '\n') {
      c->n += 2;
      c->cr = 0;
      c->bol = 1;
      continue;
    }
    if (c->cr) c->n++; /* the held CR was data */
    c->cr = ch == '\r';
    if (!c->cr) c->n++;
  }
}

uint64_t crlfsize_end(crlfsize const *c)
{
  /* a last line without LF gets CR LF (a held CR becomes part of it) */
  return c->n + (c->bol ? 0 : 2);
}
