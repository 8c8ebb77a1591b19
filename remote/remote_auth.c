/* Smarthost credentials (control/smtproutes-auth) and what the AUTH exchange needs: the
   file's lines, base64, and the redaction of a secret from a text a server sent back. Pure
   code, libc only: mailroom-rspawn (which reads the file) and mailroom-remote (which gets one
   credential per job and speaks AUTH) both link it, and so do the unit tests and the fuzz
   target. The parser says which line is wrong but never copies a byte of it into a
   message: a broken line may hold a password. */
#include <errno.h>
#include <string.h>

#include "remote.h"

/* Printable ASCII or 8-bit (UTF-8 passwords), no control byte, no NUL. */
static int textok(char const *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] < 32 || s[i] == 127) return 0;
  return 1;
}

static int nameok(char const *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
          s[i] == '_' || s[i] == '-'))
      return 0;
  return 1;
}

int auth_parseline(char const *s, size_t n, authcred *c)
{
  char const *a = memchr(s, ':', n), *b;
  size_t nl, ul, pl;
  if (n && s[n - 1] == '\r') n--; /* a file written on another system */
  if (!a) goto inval;
  nl = (size_t)(a - s);
  b = memchr(a + 1, ':', n - nl - 1);
  if (!b) goto inval;
  ul = (size_t)(b - a - 1);
  pl = n - nl - ul - 2;
  if (!nl || !ul || !pl || !nameok(s, nl) || !textok(a + 1, ul) || !textok(b + 1, pl)) goto inval;
  if (nl > ROUTE_AUTHNAME_MAX || ul > AUTH_USER_MAX || pl > AUTH_PASS_MAX) {
    errno = EMSGSIZE;
    return -1;
  }
  memcpy(c->name, s, nl);
  c->name[nl] = 0;
  memcpy(c->user, a + 1, ul);
  c->user[ul] = 0;
  memcpy(c->pass, b + 1, pl);
  c->pass[pl] = 0;
  return 0;
inval:
  errno = EINVAL;
  return -1;
}

int auth_find(char const *file, size_t len, char const *name, authcred *c, unsigned *badline)
{
  authcred t;
  size_t i = 0;
  unsigned line = 0;
  int found = 0;
  *badline = 0;
  if (len > AUTH_FILE_MAX) {
    errno = EMSGSIZE;
    return -1;
  }
  while (i < len) {
    char const *e = memchr(file + i, '\n', len - i);
    size_t l = e ? (size_t)(e - file) - i : len - i;
    line++;
    if (l && file[i] != '#' && !(l == 1 && file[i] == '\r')) {
      if (auth_parseline(file + i, l, &t) < 0) {
        *badline = line;
        memset(&t, 0, sizeof t);
        return -1;
      }
      /* the first line of a name wins, as in every qmail control file */
      if (!found && !strcmp(t.name, name)) {
        *c = t;
        found = 1;
      }
    }
    i += l + 1;
  }
  memset(&t, 0, sizeof t);
  return found;
}

size_t b64_encode(char const *s, size_t n, char *out, size_t max)
{
  static char const tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char const *u = (unsigned char const *)s;
  size_t i, w = 0;
  if ((n + 2) / 3 * 4 + 1 > max) return 0;
  for (i = 0; i + 2 < n; i += 3) {
    out[w++] = tab[u[i] >> 2];
    out[w++] = tab[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
    out[w++] = tab[((u[i + 1] & 15) << 2) | (u[i + 2] >> 6)];
    out[w++] = tab[u[i + 2] & 63];
  }
  if (i < n) {
    out[w++] = tab[u[i] >> 2];
    if (i + 1 < n) {
      out[w++] = tab[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
      out[w++] = tab[(u[i + 1] & 15) << 2];
    } else {
      out[w++] = tab[(u[i] & 3) << 4];
      out[w++] = '=';
    }
    out[w++] = '=';
  }
  out[w] = 0;
  return w;
}

void text_redact(char *text, char const *secret, size_t n)
{
  char *p;
  if (!n) return;
  if (n == 1) {
    for (p = text; *p; p++)
      if (*p == secret[0]) *p = '*';
    return;
  }
  /* from the start again after each cut: a copy may form across the "*" just written
     (secret "*a" in "**aa"); each cut shortens the text, so this ends */
  while ((p = strstr(text, secret)) != 0) {
    p[0] = '*';
    memmove(p + 1, p + n, strlen(p + n) + 1);
  }
}
