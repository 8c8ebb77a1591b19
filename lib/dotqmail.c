/* Dot-file lines and dot-file names (dot-mailroom(5)). Pure code: bytes in, results out. */
#include <errno.h>
#include <string.h>
#include "dotqmail.h"

int dotqmail_init(dotqmail *d, char const *s, size_t len)
{
  d->s = s;
  d->len = len;
  d->pos = 0;
  d->lineno = 0;
  d->nacts = 0;
  return len > DOTQMAIL_FILE_MAX ? DQ_EBIG : 0;
}

static int isalnum_ascii(unsigned char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int dotqmail_next(dotqmail *d, dotqmail_line *l)
{
  char const *line;
  char const *nl;
  size_t n;
  size_t i;
  size_t skip;

  if (d->len > DOTQMAIL_FILE_MAX) return DQ_EBIG;
  if (d->pos >= d->len) return 0;
  line = d->s + d->pos;
  nl = memchr(line, '\n', d->len - d->pos);
  n = nl ? (size_t)(nl - line) : d->len - d->pos;
  d->pos += n + !!nl;
  d->lineno++;

  /* Cut the blanks at the end, and one CR: a dot file edited on another system still
     names ./Maildir/ and not "./Maildir/\r". */
  if (n && line[n - 1] == '\r') n--;
  while (n && (line[n - 1] == ' ' || line[n - 1] == '\t')) n--;
  if (n > DOTQMAIL_LINE_MAX) return DQ_ELONG;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)line[i];
    if (!c) return DQ_ENUL;
    if ((c < 32 && c != '\t') || c == 127) return DQ_ECTRL;
  }

  l->lineno = d->lineno;
  l->value = line;
  l->len = n;
  skip = 0;
  if (!n) {
    /* qmail-local defers a dot file whose first line is blank: it is most likely one
       being written by an editor. Later blank lines are ignored. */
    if (d->lineno == 1) return DQ_EBLANK;
    l->kind = DQ_COMMENT;
    return 1;
  }
  switch (line[0]) {
    case '#':
      l->kind = DQ_COMMENT;
      return 1;
    case '|':
      l->kind = DQ_PROGRAM;
      skip = 1;
      break;
    case '&':
      l->kind = DQ_FORWARD;
      skip = 1;
      break;
    case '.':
    case '/':
      l->kind = line[n - 1] == '/' ? DQ_MAILDIR : DQ_MBOX;
      break;
    default:
      if (!isalnum_ascii((unsigned char)line[0])) return DQ_EKIND;
      l->kind = DQ_FORWARD;
      break;
  }
  l->value += skip;
  l->len -= skip;
  /* "& address" is written by people: skip blanks after the mark. */
  while (skip && l->len && (l->value[0] == ' ' || l->value[0] == '\t')) {
    l->value++;
    l->len--;
  }
  if (!l->len) return DQ_EEMPTY;
  if (++d->nacts > DOTQMAIL_ACTS_MAX) return DQ_EMANY;
  return 1;
}

int dotqmail_check(char const *s, size_t len, unsigned int *nacts)
{
  dotqmail d;
  dotqmail_line l;
  int r = dotqmail_init(&d, s, len);
  if (r < 0) return r;
  while ((r = dotqmail_next(&d, &l)) == 1)
    ;
  if (nacts) *nacts = d.nacts;
  return r;
}

char const *dotqmail_strerror(int e)
{
  switch (e) {
    case 0: return "no error";
    case DQ_ELONG: return "line too long";
    case DQ_ENUL: return "NUL byte in line";
    case DQ_ECTRL: return "control character in line";
    case DQ_EBLANK: return "first line is blank";
    case DQ_EEMPTY: return "nothing after | or &";
    case DQ_EKIND: return "line of unknown kind";
    case DQ_EMANY: return "too many delivery lines";
    case DQ_EBIG: return "file too big";
    default: return "unknown error";
  }
}

/* Writes ext as qmail-local's "safeext": lowercase ASCII, '.' as ':' (so that no name
   can be "..", and "a.b" cannot collide with a file the user made for another use). */
static void safeext(char *d, char const *ext, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    char c = ext[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    else if (c == '.') c = ':';
    d[i] = c;
  }
}

int dotqmail_name(char *s, size_t n, char const *dash, char const *ext, unsigned int k,
                  size_t *defpos)
{
  size_t plen = sizeof DOTQMAIL_PREFIX - 1;
  size_t dlen = strlen(dash);
  size_t elen = strlen(ext);
  size_t i;
  size_t cut;

  *defpos = (size_t)-1;
  if (!k) {
    if (plen + dlen + elen + 1 > n) return -1;
    memcpy(s, DOTQMAIL_PREFIX, plen);
    memcpy(s + plen, dash, dlen);
    safeext(s + plen + dlen, ext, elen);
    s[plen + dlen + elen] = 0;
    if (elen >= 7 && !memcmp(s + plen + dlen + elen - 7, "default", 7)) *defpos = elen - 7;
    return 1;
  }
  if (!dlen) return 0;
  /* The k-th cut point going up: the end of ext if it ends with '-', each '-', then 0. */
  cut = elen + 1;
  for (i = elen + 1; i-- > 0;) {
    if (i && ext[i - 1] != '-') continue;
    if (!--k) {
      cut = i;
      break;
    }
  }
  if (cut > elen) return 0;
  if (plen + dlen + cut + 8 > n) return -1;
  memcpy(s, DOTQMAIL_PREFIX, plen);
  memcpy(s + plen, dash, dlen);
  safeext(s + plen + dlen, ext, cut);
  memcpy(s + plen + dlen + cut, "default", 8);
  *defpos = cut;
  return 1;
}
