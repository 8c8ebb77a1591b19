#ifndef MAILROOM_VDOMAIN_H
#define MAILROOM_VDOMAIN_H
/* control/virtualdomains (qmail's semantics, qmail-send(8)): which non-local addresses are
   delivered locally, and as which local part. One rule a line:
     domain:prefix         every address @domain
     .sub.domain:prefix    every address at any subdomain of sub.domain (not sub.domain)
     user@domain:prefix    that one address
     :prefix               every address no other rule and no local domain takes
   The address local@domain becomes prefix-local@domain, whose local part prefix-local is
   then looked up in users/assign and the dot files as any local address. An empty prefix
   ("domain:") is qmail's exception: the domain is not virtual (delivered remotely). The
   most specific rule wins: the address, then the domain, then the longest .suffix, then
   the catch-all. Keys compare case-insensitively. Pure code here (vdomain.c): libc only;
   the lookups in the control files are in vdomain_db.c. */
#include <stddef.h>

#define VDOMAIN_LINE_MAX 1024  /* a line, without its newline; longer is an error */
#define VDOMAIN_PREFIX_MAX 255 /* a prefix's length */
#define VDOMAIN_DOMAIN_MAX 253 /* RFC 1035 */
#define VDOMAIN_LABEL_MAX 63
/* Of a rewritten address: a prefix, '-', the address (smtpd and send cap those at 1000). */
#define VDOMAIN_ADDR_MAX (VDOMAIN_PREFIX_MAX + 1 + 1000)

enum vdomain_kind { VD_NONE = 0, VD_ADDR, VD_DOMAIN, VD_SUB, VD_ALL };

struct vdomain_rule {
  enum vdomain_kind kind;
  char key[VDOMAIN_LINE_MAX + 1]; /* lowercase, NUL-terminated; "" for the catch-all */
  size_t keylen;
  char prefix[VDOMAIN_PREFIX_MAX + 1]; /* as written, NUL-terminated; "" for an exception */
  size_t prefixlen;
};

/* One line (len bytes, no newline; blanks and CR around it are cut). Returns 1 with *r
   filled, 0 for a blank line or a '#' comment, -1 for a malformed line with *why a static
   text that names the mistake (errno EINVAL). */
extern int vdomain_parseline(char const *line, size_t len, struct vdomain_rule *r, char const **why);

/* How well rule r fits addr (len bytes, local@domain, any case): the smaller the better
   (address 0, domain 1, a .suffix 2 + its offset in the domain, catch-all the largest),
   (size_t)-1 when it does not apply. An address without '@' or with an empty domain fits
   no rule. */
extern size_t vdomain_rank(struct vdomain_rule const *r, char const *addr, size_t len);

/* prefix-local@domain of addr into out (cap bytes, NUL-terminated). Returns its length, or
   0 if it does not fit. */
extern size_t vdomain_rewrite(char const *prefix, char const *addr, size_t len, char *out, size_t cap);

/* A domain name as the rules want it: labels of letters, digits and '-', none empty, no
   longer than VDOMAIN_LABEL_MAX, VDOMAIN_DOMAIN_MAX in all. 0, or -1 with *why. */
extern int vdomain_checkdomain(char const *d, size_t len, char const **why);
#endif
