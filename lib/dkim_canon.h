#ifndef MAILROOM_DKIM_CANON_H
#define MAILROOM_DKIM_CANON_H
/* DKIM "relaxed" canonicalisation (RFC 6376 3.4.2 and 3.4.4), of header fields and of a
   body fed in pieces. Pure code, libc only: the signer (mailroom-dkimsign) and, later, the
   inbound verifier use it, and the unit test compares it with dkimpy's.
   Line ends in the input may be LF (the queue's form) or CRLF (the wire's): both end a line,
   and the output always has CRLF. A CR not followed by LF is an ordinary byte. */
#include <stddef.h>

/* The relaxed form of one header field h[0..n): "name:value" with the name lowercased,
   continuation lines unfolded, runs of SP/HTAB made one SP, the white space around the
   colon and at the end dropped, then CRLF when crlf is set (the DKIM-Signature field itself
   is hashed without it). n may include the field's final line end. out needs n + 3 bytes.
   Returns the length, or 0 when h is no header field (no colon, or a name that is empty or
   holds a byte outside 33..126 but ':'). */
extern size_t dkim_canon_header(char const *h, size_t n, char *out, int crlf);

/* The body: fed in pieces of any size; the output goes to out(ctx, bytes, len) in runs of
   at most 4096 bytes (the callback hashes them). */
typedef void dkim_out_fn(void *ctx, char const *s, size_t n);
typedef struct dkim_body_s {
  unsigned long long blank; /* empty lines seen and not yet written (they may end the body) */
  int wsp;                  /* a run of white space is pending in this line */
  int cr;                   /* the last byte was a CR, not yet known to end the line */
  int content;              /* this line has a non-white byte */
  unsigned long long outlen; /* bytes written so far (the l= that mailroom never sets) */
  int lf; /* the stored form: only LF ends a line, a CR before it is a byte of the line (the
             deliverer sends each LF as CRLF and a CR as it is: remote/remote_msg.c) */
} dkim_body;
#define DKIM_BODY_ZERO { 0, 0, 0, 0, 0, 0 }
extern void dkim_body_feed(dkim_body *b, char const *s, size_t n, dkim_out_fn *out, void *ctx);
/* The end of the body: a last line without a line end gets CRLF; trailing empty lines are
   dropped (an empty body stays empty). */
extern void dkim_body_end(dkim_body *b, dkim_out_fn *out, void *ctx);
#endif
