#ifndef MAILROOM_ADDR822_H
#define MAILROOM_ADDR822_H
/* RFC 5322 address lists (the values of To:, Cc:, Bcc:, From: ...) to bare addr-specs.
   Pure code, libc only. */
#include <stddef.h>

/* Longest addr-spec returned: the same bound as ENV_ADDR_MAX (envelope.h). */
#define ADDR822_MAX 1000

/* Parses the address list s[0..len): a header field's value, folded lines included.
   Comments and white space are dropped, display names and group names skipped, angle
   brackets and obsolete routes (<@a,@b:x@y>) removed, so each mailbox gives its addr-spec
   in SMTP form: local-part (atoms and quoted strings as written, escapes kept) "@" domain,
   or a bare local-part when the mailbox had no domain. An empty group ("list:;") gives
   nothing, "<>" gives an empty address. ';' is accepted as a separator like ','.
   Each address is written NUL-terminated into out (outmax bytes: len + 1 always suffice);
   *outlen gets the bytes used and *naddr the count, even on error (addresses before it).
   Returns 0, or -1 with errno:
     EINVAL        syntax: unterminated quoted string, comment or domain literal, a stray
                   ')' ']' '\' '>', unbalanced '<', a nested group, a control character
                   (NUL included), or words where one address must be ("a b@c", "a@b c@d");
     ENAMETOOLONG  an addr-spec longer than ADDR822_MAX;
     ENOBUFS       out is too small. */
extern int addr822_parse(char const *s, size_t len, char *out, size_t outmax, size_t *outlen,
                         size_t *naddr);
#endif
