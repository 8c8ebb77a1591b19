#ifndef MAILROOM_CONNLIMIT_H
#define MAILROOM_CONNLIMIT_H
/* The per-client and overload limits of a server (mailroom-smtpd, mailroom-popup and
   mailroom-pop3d): control/smtpdlimits and control/pop3dlimits, "name value" lines. Pure:
   the parser takes the file's bytes, the key takes the client's address as text; no I/O.
   doc/INTERNALS.md, "Connection limits", says how the slots (lib/connslot.c) use them. */
#include <stddef.h>

#define CONNLIMIT_FILE_MAX 4096  /* a limits file is a few lines: more is refused */
#define CONNLIMIT_KEY_MAX 48     /* "v4-" or "v6-", 32 hex digits, "-", the prefix length */
#define CONNLIMIT_PERCLIENT_MAX 10000
#define CONNLIMIT_SESSIONS_MAX 100000
#define CONNLIMIT_SECONDS_MAX 86400

struct connlimit {
  unsigned int perclient;       /* sessions one client (prefix) may hold at once; 0: no limit */
  unsigned int prefix4;         /* IPv4 prefix length that makes one client, 1..32 */
  unsigned int prefix6;         /* IPv6 prefix length, 1..128 */
  unsigned int sessions;        /* the sessions the service is sized for (tcpserver -c) */
  unsigned int overload;        /* percent of sessions in use at which overload mode begins, 1..100 */
  unsigned int overloadtimeout; /* seconds a session may wait for its client in overload mode */
  unsigned int sessiontime;     /* seconds a whole session may last; 0: no bound */
  unsigned int minrate;         /* bytes per second a client's turn must average; 0: no bound */
  unsigned int rategrace;       /* seconds of a turn before minrate applies */
};

/* The defaults (README, "Connection limits"): a real MX's, with tcpserver -c 400; 50 per
   client as Postfix's smtpd_client_connection_count_limit (a relay or a big sender may hold
   dozens of sessions at once: test_smtp_clients has 20). */
#define CONNLIMIT_DEFAULTS { 50, 32, 64, 400, 70, 10, 3600, 100, 60 }

/* Parses a limits file s[0..len) over the values already in c (the defaults): each line
   "name value" (spaces or tabs between, trailing ones ignored), '#' comments and blank
   lines skipped; a name at most once. 0, or -1 with *line the 1-based line number and *why
   the reason (unknown name, repeated name, not a number, out of range, a NUL byte, a line
   over CONTROL_LINE_MAX, a file over CONNLIMIT_FILE_MAX). On -1, c is unchanged. */
extern int connlimit_parse(char const *s, size_t len, struct connlimit *c, unsigned int *line, char const **why);

/* The client of address ip (text: dotted IPv4, IPv6, or IPv4-mapped IPv6 taken as IPv4):
   the address masked to its prefix, as a file name "v4-7f000000-8" or "v6-<32 hex>-64",
   into key (CONNLIMIT_KEY_MAX + 1 bytes). 0, or -1 (EINVAL) when ip is not an address. */
extern int connlimit_key(char const *ip, struct connlimit const *c, char *key);

/* The number of sessions in use at which overload mode begins: at least 1. */
extern unsigned int connlimit_threshold(struct connlimit const *c);
#endif
