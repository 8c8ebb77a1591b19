#ifndef MAILROOM_REMOTE_H
#define MAILROOM_REMOTE_H
/* mailroom-remote's modules. The pure ones (SMTP replies and EHLO keywords, smtproutes,
   DNS answers, the MX list, the message converter) take bytes and return results, use libc
   only and do no I/O, so unit tests and fuzz targets link them without libowfat. Only
   remote_dns.c and the program itself use libowfat (LIBRARIES.md rule 1: never skalibs). */
#include <stddef.h>
#include <stdint.h>

/* --- limits ------------------------------------------------------------------------------ */
/* RFC 5321 allows 512 bytes a reply line; real servers send a little more. A longer line is
   a protocol error, so a hostile server makes us read at most LINE_MAX x LINES_MAX bytes. */
#define SMTPREPLY_LINE_MAX 2048
#define SMTPREPLY_LINES_MAX 100
/* The reply text kept (code, lines joined by " / "), enough for a 900-byte report text. */
#define SMTPREPLY_TEXT_MAX 1000
/* The report text of one recipient (INTERNALS.md: one printable line, at most 900 bytes). */
#define REPORT_TEXT_MAX 900
/* A DNS name in wire form (RFC 1035: at most 255 bytes with the length bytes). */
#define DNSNAME_MAX 255
/* What one DNS answer may give us; more records than these are ignored (a domain with 100 MX
   hosts is cut to the best MX_HOSTS_MAX after sorting anyway). */
#define DNSANS_MX_MAX 128
#define DNSANS_ADDR_MAX 32
/* CNAMEs followed inside one answer before we call it a loop. */
#define DNSANS_CNAME_MAX 16
/* MX hosts looked up (after sorting), addresses per host and in all: a domain with 100 MX
   hosts costs at most MX_HOSTS_MAX lookups and MX_ADDRS_MAX connection attempts. */
#define MX_HOSTS_MAX 16
#define MX_HOST_ADDRS_MAX 4
#define MX_ADDRS_MAX 24

/* --- SMTP replies (remote_reply.c) -------------------------------------------------------- */
typedef struct smtpreply_s {
  int code;                         /* the 3-digit code, when complete */
  unsigned nlines;                  /* lines of the reply so far */
  size_t linelen;                   /* bytes of the current line (without CR LF) */
  char line[SMTPREPLY_LINE_MAX];    /* the current line */
  size_t textlen;                   /* bytes in text */
  char text[SMTPREPLY_TEXT_MAX + 1]; /* "250 first / second ..." printable, NUL-terminated */
  unsigned ext;                     /* EHLO keywords seen (EXT_*), filled by the parser */
  unsigned long sizemax;            /* the SIZE keyword's value (0: none or no limit) */
} smtpreply;

#define EXT_PIPELINING 1u
#define EXT_8BITMIME 2u
#define EXT_SMTPUTF8 4u
#define EXT_SIZE 8u
#define EXT_STARTTLS 16u
#define EXT_DSN 32u  /* RFC 3461: NOTIFY, ORCPT, RET, ENVID passed on */
#define EXT_AUTH 64u /* RFC 4954: the AUTH= parameter of MAIL passed on */
#define EXT_AUTH_PLAIN 128u /* AUTH (or the old AUTH=) lists PLAIN (RFC 4954, RFC 4616) */
#define EXT_AUTH_LOGIN 256u /* ... lists LOGIN (draft-murchison-sasl-login) */

extern void smtpreply_init(smtpreply *r);
/* Feeds n bytes of the server's stream. *used gets the bytes taken: a reply ends inside the
   buffer, the bytes after it belong to the next reply (PIPELINING). Returns 1 when the reply
   is complete (r->code, r->text, r->ext), 0 if more bytes are needed, -1 on a protocol error
   with errno: EMSGSIZE a line longer than SMTPREPLY_LINE_MAX, E2BIG more than
   SMTPREPLY_LINES_MAX lines, EPROTO a malformed line (no 3-digit code 2xx-5xx, a code that
   changes inside a multi-line reply, a 4th character other than space or '-'). Lines end
   with LF, a CR before it is dropped. The EHLO keywords are parsed from every line but the
   first (the greeting's domain). */
extern int smtpreply_feed(smtpreply *r, char const *s, size_t n, size_t *used);
/* Parses one EHLO keyword line (without the code) into r->ext / r->sizemax. */
extern void smtpreply_ehloline(smtpreply *r, char const *s, size_t n);

/* --- control/smtproutes (remote_routes.c) ----------------------------------------------- */
#define ROUTE_AUTHNAME_MAX 64 /* the name in auth=NAME (control/smtproutes-auth) */
typedef struct route_s {
  int found;          /* 1: a line matched */
  char host[256];     /* "" (use MX), a host name, or an address's text ([ip] or a bare ip) */
  int literal;        /* host is an address: [ip], [IPv6:ip] or a bare IPv4 / IPv6 address */
  unsigned char ip[16]; /* the literal's address (IPv4 as ::ffff:a.b.c.d) */
  unsigned port;      /* 0: none given */
  int smtps;          /* option "smtps": implicit TLS from the first byte (RFC 8314) */
  int verify;         /* option "verify", implied by smtps and auth=: a verified certificate */
  char auth[ROUTE_AUTHNAME_MAX + 1]; /* option "auth=NAME": credentials NAME, "" none */
} route;

/* Looks domain up in the smtproutes lines (NUL-separated, as control_readlines gives them):
   "domain:relay[:port][ option ...]", ".sub.domain:..." for every domain below, ":relay..."
   for every other domain. The relay is a host name, [ip], [IPv6:ip], or a bare IPv4 address
   or (without a port) a bare IPv6 address, taken as the address with no DNS query, as
   qmail's dns_ip takes it. Options, after blanks: "smtps", "verify", "auth=NAME" (NAME:
   letters, digits, '.', '_', '-', at most ROUTE_AUTHNAME_MAX). The exact domain wins, then
   the longest ".suffix", then "". Returns 1 found, 0 not found, -1 a malformed matching line
   (errno EINVAL: bad port, bad [ip], host too long, an unknown or malformed option, options
   on a route without a relay). */
extern int routes_find(char const *lines, size_t n, char const *domain, route *out);
/* "[1.2.3.4]" or "[IPv6:2001:db8::1]" / "[2001:db8::1]": 1 and ip (16 bytes), 0 if not one. */
extern int routes_literal(char const *s, size_t n, unsigned char *ip);

/* --- credentials (remote_auth.c) ----------------------------------------------------------- */
/* control/smtproutes-auth, root's, mode 0600: "NAME:user:password" a line ('#' comments and
   empty lines skipped); the password is the rest of the line, ':' and blanks included. */
#define AUTH_USER_MAX 255
#define AUTH_PASS_MAX 255
#define AUTH_LINE_MAX (ROUTE_AUTHNAME_MAX + AUTH_USER_MAX + AUTH_PASS_MAX + 2)
#define AUTH_FILE_MAX ((size_t)64 * 1024)
typedef struct authcred_s {
  char name[ROUTE_AUTHNAME_MAX + 1];
  char user[AUTH_USER_MAX + 1];
  char pass[AUTH_PASS_MAX + 1];
} authcred;
/* One "NAME:user:password" line (n bytes, no newline): 0 and *c, or -1 with errno EINVAL (a
   field missing or empty, NAME with other bytes than route options allow, a control byte or
   NUL anywhere, user with ':') or EMSGSIZE (a field over its bound). */
extern int auth_parseline(char const *s, size_t n, authcred *c);
/* The credentials NAME in the file's bytes (len, as read): 1 and *c, 0 none, -1 with errno
   EINVAL when a line is malformed (*badline: its number; every line is checked, so a broken
   file is found at once and not when its last route is used) or EMSGSIZE (too big). */
extern int auth_find(char const *file, size_t len, char const *name, authcred *c, unsigned *badline);
/* Base64 (RFC 4648) of s[0..n) into out (size max): the length, or 0 if it does not fit. */
extern size_t b64_encode(char const *s, size_t n, char *out, size_t max);
/* Replaces every copy of secret (n bytes, NUL-terminated) in the NUL-terminated text by "*"
   until none is left: the text of a server's reply must not carry a password it echoed. */
extern void text_redact(char *text, char const *secret, size_t n);

/* --- control/tlsdomains (remote_routes.c) ------------------------------------------------ */
#define TLSREQ_NONE 0   /* opportunistic STARTTLS, no certificate check */
#define TLSREQ_TLS 1    /* TLS required, any certificate */
#define TLSREQ_VERIFY 2 /* TLS required and a certificate valid for the MX host's name */
/* Looks domain up in the tlsdomains lines (NUL-separated): "domain" or "domain:verify",
   ".sub.domain[:verify]" for every domain below. The exact domain wins, then the longest
   ".suffix". Returns TLSREQ_*, or -1 with errno EINVAL when the matching line has anything
   but "verify" after its ':'. */
extern int tlsdomains_find(char const *lines, size_t n, char const *domain);

/* --- DNS answers (remote_dnsanswer.c) ---------------------------------------------------- */
typedef struct dnsmx_s {
  unsigned pref;
  unsigned char name[DNSNAME_MAX + 1]; /* wire form */
} dnsmx;

typedef struct dnsans_s {
  unsigned rcode;   /* 0 ok, 3 NXDOMAIN, ... */
  int tc;           /* the truncation bit (libowfat has retried over TCP by then) */
  int nullmx;       /* an MX with the root as its host (RFC 7505) */
  unsigned nmx;
  dnsmx mx[DNSANS_MX_MAX];
  unsigned naddr;
  unsigned char addr[DNSANS_ADDR_MAX][16]; /* A as ::ffff:a.b.c.d, AAAA as is */
  int cname;        /* the answer ended at a CNAME with no records of its target */
  unsigned char target[DNSNAME_MAX + 1]; /* the name the records belong to (after CNAMEs) */
} dnsans;

#define DNSQ_A 1
#define DNSQ_CNAME 5
#define DNSQ_MX 15
#define DNSQ_AAAA 28

/* Parses a response to the question (qname in wire form, qtype). Follows CNAMEs inside the
   answer. Returns 0, or -1 with errno: EPROTO malformed (short, bad names, compression loops,
   records out of bounds, a wrong RDLENGTH), ELOOP more than DNSANS_CNAME_MAX CNAMEs. */
extern int dnsans_parse(char const *pkt, size_t len, unsigned char const *qname, unsigned qtype, dnsans *out);
/* Dotted text of a wire name into s (size n >= 2): bytes other than letters, digits, '-' and
   '_' are written \DDD; cut with "..." if too long. The root is ".". */
extern void dnsname_todot(unsigned char const *name, char *s, size_t n);
/* A dotted name (trailing dot allowed) to wire form: 0, or -1 (EINVAL empty label, label over
   63, name over 255). */
extern int dnsname_fromdot(char const *s, size_t n, unsigned char *name);
extern int dnsname_equal(unsigned char const *a, unsigned char const *b);
extern size_t dnsname_len(unsigned char const *name);

/* --- the MX list (remote_mx.c) ----------------------------------------------------------- */
typedef struct mxaddr_s {
  unsigned pref;
  unsigned host;          /* index of the host name, for reports */
  unsigned char ip[16];
} mxaddr;

/* Sorts by preference, equal preferences in random order (rnd(n) in [0, n)). Stable for
   nothing else: callers must not rely on the input order within a preference. */
extern void mx_sort(dnsmx *mx, unsigned n, unsigned (*rnd)(unsigned));
/* Removes this host: finds the best preference among entries whose ip is in self (nself
   16-byte addresses) and drops every entry of that preference or worse (qmail's rule, so
   two MX hosts never bounce mail between themselves). Returns the new count; *wasself is 1
   if anything was dropped for that reason. */
extern unsigned mx_dropself(mxaddr *a, unsigned n, unsigned char const (*self)[16], unsigned nself, int *wasself);

/* --- the message (remote_msg.c) ---------------------------------------------------------- */
typedef struct msgconv_s {
  int bol;              /* at the beginning of a line */
  unsigned long long wire; /* bytes on the wire (CR LF line ends, without dot-stuffing) */
  int eightbit;         /* a byte >= 0x80 was seen */
} msgconv;

extern void msgconv_init(msgconv *c);
/* Counts and checks n bytes of the stored message (a first pass: SIZE and 8BITMIME). */
extern void msgconv_scan(msgconv *c, char const *s, size_t n);
extern void msgconv_scanend(msgconv *c); /* the CR LF added to a last line without LF */
/* Converts n bytes of the stored message (LF line ends) to the DATA stream: LF becomes
   CR LF, a '.' at the start of a line is doubled, a bare CR stays as it is. out needs
   2 x n bytes. Returns the bytes written. */
extern size_t msgconv_data(msgconv *c, char const *s, size_t n, char *out);
/* The end of the DATA stream: CR LF if the message did not end with LF, then ".\r\n".
   out needs 5 bytes. Returns the bytes written. */
extern size_t msgconv_end(msgconv *c, char *out);

/* --- helpers (remote_text.c) ------------------------------------------------------------ */
/* Appends s[0..n) to buf (size max, NUL-terminated, *len used) as printable ASCII: control
   and 8-bit bytes become '?'; cut at max - 1. */
extern void text_cat(char *buf, size_t max, size_t *len, char const *s, size_t n);
extern void text_cats(char *buf, size_t max, size_t *len, char const *s);
/* Text form of a 16-byte address: a.b.c.d for ::ffff:a.b.c.d, else IPv6. s: 46 bytes. */
extern void ip_fmt(unsigned char const *ip, char *s);
/* 1 if s[0..n) holds a byte >= 0x80. */
extern int has8bit(char const *s, size_t n);

#endif
