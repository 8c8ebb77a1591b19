/* SMTP replies as a client reads them (RFC 5321 4.2): one or more lines "ddd-text", the
   last "ddd text" or "ddd", all with the same code. Every line is bounded and so is their
   number, so a server sending a 10 MB line or endless continuation lines costs a bounded
   read and a clear error. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "remote.h"

void smtpreply_init(smtpreply *r)
{
  r->code = 0;
  r->nlines = 0;
  r->linelen = 0;
  r->textlen = 0;
  r->text[0] = 0;
  r->ext = 0;
  r->sizemax = 0;
}

/* "SIZE 10240000": the keyword, optionally a number (none or 0: no fixed limit). */
void smtpreply_ehloline(smtpreply *r, char const *s, size_t n)
{
  size_t k = 0;
  while (k < n && s[k] != ' ') k++;
  if (k == 10 && !strncasecmp(s, "PIPELINING", 10)) r->ext |= EXT_PIPELINING;
  else if (k == 8 && !strncasecmp(s, "8BITMIME", 8)) r->ext |= EXT_8BITMIME;
  else if (k == 8 && !strncasecmp(s, "SMTPUTF8", 8)) r->ext |= EXT_SMTPUTF8;
  else if (k == 8 && !strncasecmp(s, "STARTTLS", 8)) r->ext |= EXT_STARTTLS;
  else if (k == 3 && !strncasecmp(s, "DSN", 3)) r->ext |= EXT_DSN;
  else if ((k == 4 && !strncasecmp(s, "AUTH", 4)) || (k > 5 && !strncasecmp(s, "AUTH=", 5))) {
    /* "AUTH PLAIN LOGIN", or the pre-RFC "AUTH=LOGIN PLAIN" some servers still send */
    size_t i = k == 4 ? k : 5;
    r->ext |= EXT_AUTH;
    while (i < n) {
      size_t j;
      while (i < n && s[i] == ' ') i++;
      for (j = i; j < n && s[j] != ' '; j++) {
      }
      if (j - i == 5 && !strncasecmp(s + i, "PLAIN", 5)) r->ext |= EXT_AUTH_PLAIN;
      if (j - i == 5 && !strncasecmp(s + i, "LOGIN", 5)) r->ext |= EXT_AUTH_LOGIN;
      i = j;
    }
  }
  else if (k == 4 && !strncasecmp(s, "SIZE", 4)) {
    unsigned long v = 0;
    size_t i = k;
    int over = 0;
    while (i < n && s[i] == ' ') i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      if (v > (~0UL - 9) / 10) over = 1;
      else v = v * 10 + (unsigned long)(s[i] - '0');
    }
    r->ext |= EXT_SIZE;
    r->sizemax = over ? 0 : v; /* a limit past our counters is no limit for us */
  }
}

/* One complete line in r->line: 1 last line of the reply, 0 more lines follow, -1. */
static int endline(smtpreply *r)
{
  char const *l = r->line;
  size_t n = r->linelen;
  int code;
  if (n && l[n - 1] == '\r') n--;
  if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9') {
    errno = EPROTO;
    return -1;
  }
  if (n > 3 && l[3] != ' ' && l[3] != '-') {
    errno = EPROTO;
    return -1;
  }
  code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
  if (r->nlines && code != r->code) {
    errno = EPROTO;
    return -1;
  }
  if (r->nlines == SMTPREPLY_LINES_MAX) {
    errno = E2BIG;
    return -1;
  }
  r->nlines++;
  r->code = code;
  if (r->nlines == 1) text_cat(r->text, sizeof r->text, &r->textlen, l, 3);
  if (n > 4) {
    text_cats(r->text, sizeof r->text, &r->textlen, r->nlines == 1 ? " " : " / ");
    text_cat(r->text, sizeof r->text, &r->textlen, l + 4, n - 4);
    if (r->nlines > 1) smtpreply_ehloline(r, l + 4, n - 4);
  }
  r->linelen = 0;
  return n == 3 || l[3] == ' ';
}

int smtpreply_feed(smtpreply *r, char const *s, size_t n, size_t *used)
{
  size_t i = 0;
  while (i < n) {
    char const *nl = memchr(s + i, '\n', n - i);
    size_t k = nl ? (size_t)(nl - (s + i)) : n - i;
    if (k > SMTPREPLY_LINE_MAX - r->linelen) {
      *used = i;
      errno = EMSGSIZE;
      return -1;
    }
    memcpy(r->line + r->linelen, s + i, k);
    r->linelen += k;
    i += k;
    if (nl) {
      int e;
      i++;
      e = endline(r);
      if (e) {
        *used = i;
        return e;
      }
    }
  }
  *used = i;
  return 0;
}
