/* The POP3 command parser (RFC 1939, RFC 2449), shared by mailroom-popup and
   mailroom-pop3d. Pure: bytes in, a verb and checked arguments out. A keyword is matched
   case-insensitively; arguments are separated by spaces; numbers are 1 to 10 decimal digits
   no larger than 4294967295. Which verbs a state accepts is the caller's business. */
#include <string.h>
#include "pop3d.h"

enum argkind {
  A_NONE,  /* nothing may follow */
  A_NUM,   /* min..max numbers */
  A_REST,  /* USER, PASS: the rest of the line after one space, as it is */
  A_ANY    /* APOP, AUTH, STLS: refused by state anyway; arguments are not looked at */
};

struct verbdef {
  char name[5];
  int verb;
  enum argkind kind;
  unsigned int min, max;
};

static struct verbdef const verbs[] = {
  { "USER", POP3_USER, A_REST, 1, 1 }, { "PASS", POP3_PASS, A_REST, 0, 1 },
  { "APOP", POP3_APOP, A_ANY, 0, 0 },  { "AUTH", POP3_AUTH, A_ANY, 0, 0 },
  { "STLS", POP3_STLS, A_ANY, 0, 0 },  { "CAPA", POP3_CAPA, A_NONE, 0, 0 },
  { "QUIT", POP3_QUIT, A_NONE, 0, 0 }, { "STAT", POP3_STAT, A_NONE, 0, 0 },
  { "LIST", POP3_LIST, A_NUM, 0, 1 },  { "RETR", POP3_RETR, A_NUM, 1, 1 },
  { "DELE", POP3_DELE, A_NUM, 1, 1 },  { "NOOP", POP3_NOOP, A_NONE, 0, 0 },
  { "RSET", POP3_RSET, A_NONE, 0, 0 }, { "TOP", POP3_TOP, A_NUM, 2, 2 },
  { "UIDL", POP3_UIDL, A_NUM, 0, 1 },
};
#define NVERBS (sizeof verbs / sizeof verbs[0])

static char upper(char c)
{
  return (c >= 'a' && c <= 'z') ? (char)(c - ('a' - 'A')) : c;
}

static int scan_num(char const *s, size_t len, unsigned long *n)
{
  unsigned long long v = 0;
  if (!len || len > 10) return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned long long)(s[i] - '0');
  }
  if (v > 4294967295ULL) return -1;
  *n = (unsigned long)v;
  return 0;
}

static int numargs(char const *s, size_t len, struct verbdef const *d, struct pop3_cmd *c)
{
  size_t i = 0;
  for (;;) {
    size_t start;
    while (i < len && s[i] == ' ') i++;
    if (i == len) break;
    start = i;
    while (i < len && s[i] != ' ') i++;
    if (c->nargs == d->max) return POP3_ESYNTAX;
    if (i - start > POP3_ARG_MAX || scan_num(s + start, i - start, &c->num[c->nargs]) < 0) return POP3_ESYNTAX;
    c->nargs++;
  }
  return c->nargs < d->min ? POP3_ESYNTAX : d->verb;
}

int pop3_parse(char const *line, size_t len, struct pop3_cmd *c)
{
  char kw[4] = { 0 };
  size_t k = 0;
  struct verbdef const *d = 0;

  memset(c, 0, sizeof *c);
  while (k < len && line[k] != ' ') {
    if (k == 4) return POP3_EUNKNOWN;
    kw[k] = upper(line[k]);
    k++;
  }
  for (size_t i = 0; i < NVERBS; i++)
    if (strlen(verbs[i].name) == k && !memcmp(verbs[i].name, kw, k)) {
      d = &verbs[i];
      break;
    }
  if (!d) return POP3_EUNKNOWN;
  c->verb = d->verb;
  switch (d->kind) {
    case A_NONE:
      for (size_t i = k; i < len; i++)
        if (line[i] != ' ') return POP3_ESYNTAX;
      return d->verb;
    case A_NUM:
      return numargs(line + k, len - k, d, c);
    case A_REST:
      /* Exactly one space, then everything: a password may hold or end in spaces. */
      if (k < len) {
        c->arg = line + k + 1;
        c->arglen = len - k - 1;
      } else {
        c->arg = line + len;
        c->arglen = 0;
      }
      if (d->min && !c->arglen) return POP3_ESYNTAX;
      return d->verb;
    case A_ANY:
      return d->verb;
  }
  return POP3_EUNKNOWN;
}

#define CAPA_TEXT \
  "+OK capability list follows\r\n" \
  "TOP\r\n" \
  "UIDL\r\n" \
  "USER\r\n" \
  "RESP-CODES\r\n" \
  "AUTH-RESP-CODE\r\n" \
  "PIPELINING\r\n" \
  "EXPIRE NEVER\r\n" \
  "IMPLEMENTATION mailroom\r\n" \
  ".\r\n"

/* Here, not in the session: mailroom-popup needs it without the rest. */
char const *pop3_capa(void)
{
  return CAPA_TEXT;
}

char const *pop3_verbname(int verb)
{
  for (size_t i = 0; i < NVERBS; i++)
    if (verbs[i].verb == verb) return verbs[i].name;
  return "?";
}
