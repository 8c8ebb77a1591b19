/* The header block of a message given to sendmail: where it ends, its fields, and which of
   them matter to us. The input is already LF-only (inject_norm.c). */
#include <string.h>
#include <strings.h>

#include <skalibs/stralloc.h>

#include "inject.h"

/* RFC 5322 caps a line at 998 bytes; a longer run of name characters is no field name,
   and deciding so early keeps a body without line ends from filling the header buffer. */
#define NAME_MAX_LEN 998

/* Is p[0..len) the start of a field line ("name:", obsolete "name  :")? 1 yes, 0 no,
   -1 cannot tell yet (only name characters so far). */
static int linename(char const *p, size_t len)
{
  size_t i = 0;
  while (i < len && (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127 && p[i] != ':') {
    if (++i > NAME_MAX_LEN) return 0;
  }
  if (!i && len) return 0;
  while (i < len && (p[i] == ' ' || p[i] == '\t')) i++;
  if (i == len) return -1;
  return p[i] == ':';
}

static int decide(inject_split *sp, size_t hlen, size_t body, int lastnl)
{
  sp->hlen = hlen;
  sp->body = body;
  sp->lastnl = lastnl;
  return 1;
}

int inject_hdr_split(char const *s, size_t n, int eof, inject_split *sp)
{
  size_t pos = 0, fields = 0;
  char const *nl = memchr(s, '\n', n);
  sp->skip = 0;
  /* An mbox separator ("From user date") first: dropped, as sendmail and Postfix do. */
  if (n < 5 ? !eof && n && !memcmp(s, "From ", n) : !memcmp(s, "From ", 5)) {
    if (!nl && !eof) return 0;
    if (linename(s, nl ? (size_t)(nl - s) : n) != 1) pos = sp->skip = nl ? (size_t)(nl - s) + 1 : n;
  }
  for (;;) {
    size_t end;
    int k;
    if (pos >= n) return eof ? decide(sp, n, n, 1) : 0;
    nl = memchr(s + pos, '\n', n - pos);
    end = nl ? (size_t)(nl - s) + 1 : n;
    if (s[pos] == '\n') return decide(sp, pos, pos + 1, 1);
    if (s[pos] == ' ' || s[pos] == '\t') k = fields ? 1 : 0; /* a continuation line */
    else k = linename(s + pos, end - pos);
    if (!k || (k < 0 && eof)) return decide(sp, pos, pos, 1); /* the body starts here */
    if (!nl) return eof ? decide(sp, n, n, 0) : 0;
    if (k < 0) return decide(sp, pos, pos, 1); /* cannot happen: the LF is no name char */
    fields++;
    pos = end;
  }
}

int inject_hdr_next(char const *s, size_t n, size_t *pos, inject_field *f)
{
  size_t i = *pos;
  char const *nl;
  if (i >= n) return 0;
  f->off = i;
  while (i < n && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 && s[i] != ':') i++;
  f->namelen = i - f->off;
  while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
  f->val = i < n && s[i] == ':' ? i + 1 : i;
  /* the line, then every continuation line */
  for (i = f->off;;) {
    nl = memchr(s + i, '\n', n - i);
    i = nl ? (size_t)(nl - s) + 1 : n;
    if (i >= n || (s[i] != ' ' && s[i] != '\t')) break;
  }
  f->len = i - f->off;
  *pos = i;
  return 1;
}

int inject_hdr_is(char const *s, inject_field const *f, char const *name)
{
  size_t len = strlen(name);
  return f->namelen == len && !strncasecmp(s + f->off, name, len);
}

void inject_hdr_info(char const *s, size_t n, inject_hdrinfo *hi)
{
  size_t pos = 0;
  inject_field f;
  hi->date = hi->msgid = hi->from = hi->resent = 0;
  while (inject_hdr_next(s, n, &pos, &f)) {
    if (inject_hdr_is(s, &f, "date")) hi->date = 1;
    else if (inject_hdr_is(s, &f, "message-id")) hi->msgid = 1;
    else if (inject_hdr_is(s, &f, "from")) hi->from = 1;
    else if (inject_hdr_is(s, &f, "resent-to") || inject_hdr_is(s, &f, "resent-cc")
             || inject_hdr_is(s, &f, "resent-bcc"))
      hi->resent = 1;
  }
}

int inject_hdr_drop(char const *s, inject_field const *f)
{
  return inject_hdr_is(s, f, "bcc") || inject_hdr_is(s, f, "resent-bcc");
}

int inject_hdr_isrcpt(char const *s, inject_field const *f, int resent)
{
  if (resent)
    return inject_hdr_is(s, f, "resent-to") || inject_hdr_is(s, f, "resent-cc")
           || inject_hdr_is(s, f, "resent-bcc");
  return inject_hdr_is(s, f, "to") || inject_hdr_is(s, f, "cc") || inject_hdr_is(s, f, "bcc");
}

int inject_head(stralloc *out, char const *s, size_t n, inject_split const *sp,
                char const *add, size_t addlen)
{
  char const *h = s + sp->skip;
  size_t hn = sp->hlen - sp->skip, pos = 0;
  inject_field f;
  while (inject_hdr_next(h, hn, &pos, &f)) {
    if (inject_hdr_drop(h, &f)) continue;
    if (!stralloc_catb(out, h + f.off, f.len)) return 0;
    if (h[f.off + f.len - 1] != '\n' && !stralloc_catb(out, "\n", 1)) return 0;
  }
  if (!stralloc_catb(out, add, addlen)) return 0;
  if ((sp->body > sp->hlen || sp->body < n) && !stralloc_catb(out, "\n", 1)) return 0;
  return stralloc_catb(out, s + sp->body, n - sp->body);
}
