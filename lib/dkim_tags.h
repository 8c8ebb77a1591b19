#ifndef MAILROOM_DKIM_TAGS_H
#define MAILROOM_DKIM_TAGS_H
/* DKIM tag=value lists (RFC 6376 3.2): the DKIM-Signature field's value and the key
   record in DNS (3.6.1) both have this form; DMARC records (RFC 7489 6.4) too. Pure code,
   libc only; the parse points into the input and copies nothing. */
#include <stddef.h>

typedef struct dkim_tag_s {
  char const *name; /* ALPHA *(ALPHA / DIGIT / "_") */
  size_t namelen;
  char const *val; /* the value without the white space around it; inner FWS kept */
  size_t vallen;
} dkim_tag;

/* Parses s[0..n) into at most max tags (*ntag gets the count, also on error). A folded
   value (CRLF or LF, then white space) is accepted. 0, or -1 with errno:
     EINVAL  syntax: a tag without '=', a bad name, a value byte outside VALCHAR or white
             space, a line end not followed by white space, a NUL;
     EEXIST  a tag named twice (3.2: "MUST be treated as an error");
     E2BIG   more than max tags. */
extern int dkim_tags_parse(char const *s, size_t n, dkim_tag *t, size_t max, size_t *ntag);

/* The tag named name (compared exactly: tag names are case-sensitive), or 0. */
extern dkim_tag const *dkim_tags_get(dkim_tag const *t, size_t ntag, char const *name);

/* A value with its white space (SP, HTAB, CR, LF) removed, as base64 values are read
   (b=, bh=, p=): into out (vallen + 1 bytes suffice), NUL-terminated; the length. */
extern size_t dkim_tags_squeeze(dkim_tag const *t, char *out);
#endif
