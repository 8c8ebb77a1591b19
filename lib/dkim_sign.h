#ifndef MAILROOM_DKIM_SIGN_H
#define MAILROOM_DKIM_SIGN_H
/* What DKIM signing decides and writes, apart from the cryptography: whether a message may
   be signed (its origin, from the trace fields at its top), the signing domain, the header
   fields signed (h=) and their canonical bytes, and the DKIM-Signature field's text.
   Pure code, libc (and lib/addr822.c, lib/dkim_canon.c) only. The header section hdr[0..hn)
   has LF or CRLF line ends and ends before the empty line. */
#include <stddef.h>

#include "dkim_canon.h"

/* The origin of a queued message (doc/INTERNALS.md, "DKIM signing"):
   DKIM_ORIGIN_LOCAL  injected on this host (sendmail, a bounce, a forward of such mail);
   DKIM_ORIGIN_AUTH   received by mailroom-smtpd from an authenticated client (ESMTPA...);
   DKIM_ORIGIN_NET    received by mailroom-smtpd without AUTH, or fetched by mailroom-fetch:
                      never signed. */
#define DKIM_ORIGIN_NET 0
#define DKIM_ORIGIN_LOCAL 1
#define DKIM_ORIGIN_AUTH 2
extern int dkim_origin(char const *hdr, size_t hn);

/* The end of the header section of the message m[0..n): the offset of the empty line that
   ends it (the body starts after that line), or n when there is none. *body gets the
   body's offset. */
extern size_t dkim_header_end(char const *m, size_t n, size_t *body);

/* The domain of the From field's first address, lowercased, into out (max bytes); its
   length, or 0 when there is no From field, more than one, or no domain. */
extern size_t dkim_from_domain(char const *hdr, size_t hn, char *out, size_t max);

/* The fields signed, in order (RFC 6376 5.4 and current practice: M3AAWG, dkimpy, rspamd):
   each present instance of these names, bottom-up, and From once more (oversigned, so that a
   From added in transit breaks the signature). h= goes into hlist (hmax bytes, NUL-
   terminated, folded with "\n\t" every few names), the canonical fields to out(ctx).
   0, or -1 with errno: E2BIG (h= does not fit: too many fields), ENOMEM. */
extern int dkim_sign_fields(char const *hdr, size_t hn, char *hlist, size_t hmax, dkim_out_fn *out, void *ctx);

/* The DKIM-Signature field up to and including "b=" (what is hashed last, with b= empty),
   with LF line ends: into out (max bytes), NUL-terminated; its length, or 0 if too long.
   alg is "rsa-sha256" or "ed25519-sha256", bh the body hash in base64. */
extern size_t dkim_sig_head(char *out, size_t max, char const *alg, char const *d, char const *s, long long t,
                            char const *hlist, char const *bh);

/* Appends the base64 signature b64 to the field in out (of length len, max bytes), folded
   at 72 columns, then LF; the new length, or 0 if it does not fit. */
extern size_t dkim_sig_finish(char *out, size_t len, size_t max, char const *b64);

/* 1 if d is a name mailroom uses for a DKIM domain or selector, and so in a path under
   control/dkim/: lowercase letters, digits, '-' and '.', no empty label, 1..max bytes. */
extern int dkim_name_ok(char const *d, size_t max);

/* Standard base64 (RFC 4648) of s[0..n) into out (4 * ((n + 2) / 3) + 1 bytes), NUL-terminated. */
extern size_t dkim_base64(unsigned char const *s, size_t n, char *out);
#endif
