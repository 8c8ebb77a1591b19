/* DKIM tag lists (dkim_tags.h). A tiny scanner over the bytes: FWS, name, FWS, '=', FWS,
   value, FWS, ';'. */
#include <errno.h>
#include <string.h>

#include "dkim_tags.h"

static int iswsp(char c) { return c == ' ' || c == '\t'; }
static int isalpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int isdigit_(char c) { return c >= '0' && c <= '9'; }
static int valchar(unsigned char c) { return c >= 0x21 && c <= 0x7e && c != ';'; }

/* Skips FWS from *i: white space, and a line end only when white space follows it.
   -1 for a line end that does not continue. */
static int fws(char const *s, size_t n, size_t *i)
{
  while (*i < n) {
    if (iswsp(s[*i]))
      (*i)++;
    else if (s[*i] == '\r' || s[*i] == '\n') {
      size_t j = *i;
      if (s[j] == '\r') {
        if (j + 1 >= n || s[j + 1] != '\n') return -1;
        j++;
      }
      j++;
      if (j >= n || !iswsp(s[j])) return -1;
      *i = j;
    } else
      break;
  }
  return 0;
}

int dkim_tags_parse(char const *s, size_t n, dkim_tag *t, size_t max, size_t *ntag)
{
  size_t i = 0;
  *ntag = 0;
  for (;;) {
    dkim_tag g;
    size_t end;
    if (fws(s, n, &i) < 0) return (errno = EINVAL, -1);
    if (i >= n) return 0; /* empty list, or a final ';' */
    if (!isalpha_(s[i])) return (errno = EINVAL, -1);
    g.name = s + i;
    while (i < n && (isalpha_(s[i]) || isdigit_(s[i]) || s[i] == '_')) i++;
    g.namelen = (size_t)(s + i - g.name);
    if (fws(s, n, &i) < 0 || i >= n || s[i] != '=') return (errno = EINVAL, -1);
    i++;
    if (fws(s, n, &i) < 0) return (errno = EINVAL, -1);
    g.val = s + i;
    end = i;
    while (i < n && s[i] != ';') {
      if (valchar((unsigned char)s[i])) {
        end = ++i;
        continue;
      }
      if (!iswsp(s[i]) && s[i] != '\r' && s[i] != '\n') return (errno = EINVAL, -1);
      if (fws(s, n, &i) < 0) return (errno = EINVAL, -1);
    }
    g.vallen = (size_t)(s + end - g.val);
    for (size_t k = 0; k < *ntag; k++)
      if (t[k].namelen == g.namelen && !memcmp(t[k].name, g.name, g.namelen)) return (errno = EEXIST, -1);
    if (*ntag >= max) return (errno = E2BIG, -1);
    t[(*ntag)++] = g;
    if (i >= n) return 0;
    i++; /* the ';' */
  }
}

dkim_tag const *dkim_tags_get(dkim_tag const *t, size_t ntag, char const *name)
{
  size_t l = strlen(name);
  for (size_t k = 0; k < ntag; k++)
    if (t[k].namelen == l && !memcmp(t[k].name, name, l)) return t + k;
  return 0;
}

size_t dkim_tags_squeeze(dkim_tag const *t, char *out)
{
  size_t o = 0;
  for (size_t k = 0; k < t->vallen; k++) {
    char c = t->val[k];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out[o++] = c;
  }
  out[o] = 0;
  return o;
}
