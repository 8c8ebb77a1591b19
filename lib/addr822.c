/* RFC 5322 address lists to addr-specs. Two passes per mailbox over a restartable
   tokenizer: the first finds where the mailbox ends (',' or ';' outside angle brackets)
   and whether it is "phrase <addr>" or a bare addr-spec, the second emits the address.
   Nothing is recursive and nothing is allocated: hostile input costs time linear in its
   length per mailbox, and every failure is a return code. */
#include <errno.h>
#include <string.h>

#include "addr822.h"

enum { T_END, T_ATOM, T_QUOTED, T_LITERAL, T_SPECIAL };

typedef struct tok_s {
  int type;
  char c; /* the character of a T_SPECIAL */
  size_t off, len;
} tok;

typedef struct emit_s {
  char *out;
  size_t max, len, start;
} emit;

static int isctl(unsigned char c)
{
  return (c < 32 && c != '\t' && c != '\r' && c != '\n') || c == 127;
}

static int isspecial(char c)
{
  return c && strchr("()<>[]:;@\\,.\"", c) != 0;
}

static int isws(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips a comment whose '(' is at s[*i]; comments nest. */
static int skip_comment(char const *s, size_t len, size_t *i)
{
  size_t depth = 0;
  while (*i < len) {
    unsigned char c = s[(*i)++];
    if (c == '\\') {
      if (*i >= len || isctl(s[*i])) return -1;
      (*i)++;
    } else if (c == '(') depth++;
    else if (c == ')') {
      if (!--depth) return 0;
    } else if (isctl(c)) return -1;
  }
  return -1;
}

/* A quoted string ("...") or a domain literal ([...]) starting at s[*i]. */
static int scan_quoted(char const *s, size_t len, size_t *i, char close)
{
  (*i)++;
  while (*i < len) {
    unsigned char c = s[(*i)++];
    if (c == '\\') {
      if (*i >= len || isctl(s[*i]) || s[*i] == '\r' || s[*i] == '\n') return -1;
      (*i)++;
    } else if (c == (unsigned char)close) return 0;
    else if (close == ']' && c == '[') return -1; /* NOLINT(bugprone-branch-clone): one rule a line, two rules give the same verdict */
    else if (isctl(c)) return -1;
  }
  return -1;
}

static int next(char const *s, size_t len, size_t *pos, tok *t)
{
  size_t i = *pos;
  char c;
  for (;;) {
    if (i >= len) {
      t->type = T_END;
      t->off = i;
      t->len = 0;
      *pos = i;
      return 0;
    }
    c = s[i];
    if (isws(c)) i++;
    else if (c == '(') {
      if (skip_comment(s, len, &i) < 0) return -1;
    } else break;
  }
  t->off = i;
  t->c = c;
  if (c == '"' || c == '[') {
    if (scan_quoted(s, len, &i, c == '"' ? '"' : ']') < 0) return -1;
    t->type = c == '"' ? T_QUOTED : T_LITERAL;
  } else if (strchr("<>:;@,.", c)) {
    t->type = T_SPECIAL;
    i++;
  } else if (isspecial(c) || isctl(c)) return -1; /* ) ] \ outside their pairs */
  else {
    while (i < len && !isspecial(s[i]) && !isws(s[i]) && !isctl(s[i])) i++;
    t->type = T_ATOM;
  }
  t->len = i - t->off;
  *pos = i;
  return 0;
}

static int put(emit *e, char const *s, size_t n)
{
  for (; n; s++, n--) {
    if (*s == '\r' || *s == '\n') continue; /* folding inside a quoted string */
    if (e->len - e->start >= ADDR822_MAX) return (errno = ENAMETOOLONG, -1);
    if (e->len + 1 >= e->max) return (errno = ENOBUFS, -1);
    e->out[e->len++] = *s;
  }
  return 0;
}

/* Emits the addr-spec made of the tokens in s[from..to): word *("." word) ["@" domain]. */
static int addrspec(char const *s, size_t from, size_t to, emit *e)
{
  enum { LOCAL, LOCALSEP, DOMAIN, DOMAINSEP, DONE } st = LOCAL;
  size_t pos = from;
  tok t;
  e->start = e->len;
  if (e->len >= e->max) return (errno = ENOBUFS, -1);
  for (;;) {
    if (next(s, to, &pos, &t) < 0) return (errno = EINVAL, -1);
    if (t.type == T_END) break;
    switch (st) {
      case LOCAL:
        if (t.type != T_ATOM && t.type != T_QUOTED) return (errno = EINVAL, -1);
        st = LOCALSEP;
        break;
      case LOCALSEP:
        if (t.type != T_SPECIAL || (t.c != '.' && t.c != '@')) return (errno = EINVAL, -1);
        st = t.c == '.' ? LOCAL : DOMAIN;
        break;
      case DOMAIN:
        if (t.type == T_LITERAL) st = DONE;
        else if (t.type == T_ATOM) st = DOMAINSEP;
        else return (errno = EINVAL, -1);
        break;
      case DOMAINSEP:
        if (t.type != T_SPECIAL || t.c != '.') return (errno = EINVAL, -1);
        st = DOMAIN;
        break;
      case DONE:
        return (errno = EINVAL, -1);
    }
    if (put(e, s + t.off, t.len) < 0) return -1;
  }
  /* "" is allowed (it is "<>"); a dangling "." or "@" is not. */
  if (st == LOCAL ? e->len != e->start : st == DOMAIN) return (errno = EINVAL, -1);
  e->out[e->len++] = 0;
  return 0;
}

/* Mailbox s[from..to) known to hold "<": skip the display name, the route, emit the rest. */
static int angle(char const *s, size_t from, size_t to, emit *e)
{
  size_t pos = from, start, end;
  tok t;
  do
    if (next(s, to, &pos, &t) < 0) return (errno = EINVAL, -1);
  while (t.type != T_SPECIAL || t.c != '<');
  start = pos;
  if (next(s, to, &pos, &t) < 0) return (errno = EINVAL, -1);
  if (t.type == T_SPECIAL && t.c == '@') { /* obsolete route: @a,@b: */
    do
      if (next(s, to, &pos, &t) < 0 || t.type == T_END) return (errno = EINVAL, -1);
    while (t.type != T_SPECIAL || t.c != ':');
    start = pos;
  }
  pos = start;
  do {
    end = pos;
    if (next(s, to, &pos, &t) < 0) return (errno = EINVAL, -1);
  } while (t.type != T_SPECIAL || t.c != '>');
  /* Nothing but comments may follow the '>'. */
  if (next(s, to, &pos, &t) < 0 || t.type != T_END) return (errno = EINVAL, -1);
  return addrspec(s, start, end, e);
}

int addr822_parse(char const *s, size_t len, char *out, size_t outmax, size_t *outlen,
                  size_t *naddr)
{
  emit e = { .out = out, .max = outmax, .len = 0, .start = 0 };
  size_t pos = 0;
  int ingroup = 0, r = 0;
  *naddr = 0;
  while (!r) {
    size_t from = pos, to;
    int inangle = 0, hasangle = 0, words = 0;
    tok t;
    for (;;) {
      to = pos;
      if (next(s, len, &pos, &t) < 0) goto einval;
      if (t.type == T_END) break;
      if (t.type != T_SPECIAL) {
        words = 1;
        continue;
      }
      if (t.c == '<') {
        if (inangle || hasangle) goto einval;
        inangle = hasangle = words = 1;
      } else if (t.c == '>') {
        if (!inangle) goto einval;
        inangle = 0;
      } else if (inangle) continue; /* route syntax: , and : inside <> */
      else if (t.c == ',') break;
      else if (t.c == ';') {
        ingroup = 0;
        break;
      } else if (t.c == ':') {
        if (ingroup || hasangle) goto einval;
        ingroup = 1; /* what came before is the group's name */
        from = pos;
        words = 0;
      } else words = 1;
    }
    if (inangle) goto einval;
    if (t.type == T_END) r = 1;
    if (!words) continue; /* an empty mailbox: ",,", "list:;", a trailing comma */
    /* angle() can fail before addrspec() marks where this address starts: the bytes
       used on error must not drop the addresses already counted */
    e.start = e.len;
    if ((hasangle ? angle(s, from, to, &e) : addrspec(s, from, to, &e)) < 0) {
      *outlen = e.start;
      return -1;
    }
    (*naddr)++;
  }
  *outlen = e.len;
  return 0;
einval:
  *outlen = e.len;
  errno = EINVAL;
  return -1;
}
