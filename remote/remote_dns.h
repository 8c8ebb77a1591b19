#ifndef MAILROOM_REMOTE_DNS_H
#define MAILROOM_REMOTE_DNS_H
/* DNS lookups through libowfat (remote_dns.c): only the program links this. */
#include <taia.h>

#include "remote.h"

/* One question waits at most this long; all of one delivery's lookups share a deadline. */
#define DNSQ_QUERY_SECS 30
#define DNSQ_TOTAL_SECS 120
/* Queries for the end of a CNAME chain that left the answer. */
#define DNSQ_REQUERY_MAX 4
/* This host's addresses remembered for the self-MX rule. */
#define SELF_MAX 256

typedef struct dnsq_clock_s {
  struct taia deadline;
} dnsq_clock;

extern void dnsq_init(void);
extern void dnsq_deadline(dnsq_clock *c, unsigned secs);
/* Asks for qtype records of name (wire form), following CNAMEs. 0 with out filled (look at
   out->rcode), or -1 with errno (ETIMEDOUT, ELOOP, EPROTO, a socket error). */
extern int dnsq_query(unsigned char const *name, unsigned qtype, dnsq_clock *c, dnsans *out);
/* This host's addresses (16 bytes each), at most max. */
extern unsigned selfaddrs(unsigned char (*out)[16], unsigned max);
#endif
