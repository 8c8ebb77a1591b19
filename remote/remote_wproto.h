#ifndef MAILROOM_REMOTE_WPROTO_H
#define MAILROOM_REMOTE_WPROTO_H
/* The packets between mailroom-rspawn and a mailroom-remote worker (mailroom-remote -w) on
   their SOCK_SEQPACKET socketpair (INTERNALS.md, "Remote workers and the connection cache").
   Pure code, libc only: mailroom-remote (libowfat), mailroom-rspawn (skalibs), the unit tests
   and the fuzz target all link it.

   Job (rspawn -> worker), the message file in SCM_RIGHTS:
       domain \0 sender \0 msglen \0 recipient \0 ... recipient \0
   Reply (worker -> rspawn), when the job is done:
       kept \0 R text \0 ... R text \0
   kept: the domain whose SMTP session the worker keeps open, or "" for none; then one record
   per recipient exactly as mailroom-remote writes them on fd 1 in its one-shot mode. */
#include <stddef.h>

#define RWJOB_RCPT_MAX 50        /* = RSPAWN_RCPT_MAX */
#define RWJOB_PACKET_MAX 65536   /* either way (= RSPAWN_PACKET_MAX) */
#define RWJOB_DOMAIN_MAX 255

struct rwjob {
  char *domain;                  /* may be "": the worker reports that as a permanent failure */
  char *sender;                  /* may be "" (a bounce) */
  char *msglen;                  /* decimal, as sent */
  unsigned long long len;
  char *rcpt[RWJOB_RCPT_MAX];
  unsigned n;
};

/* A job packet into buf (cap bytes). Its length, or 0 if it does not fit, msglen is not a
   decimal number, the domain is too long, or n is 0 or above RWJOB_RCPT_MAX. */
extern size_t rwjob_pack(char *buf, size_t cap, char const *domain, char const *sender, char const *msglen,
                         char const *const *rcpt, unsigned n);
/* Parses a job packet in place (len bytes; the fields point into buf). 0, or -1 if malformed:
   fewer than 4 fields, no NUL at the end, a domain over RWJOB_DOMAIN_MAX bytes, msglen not
   1 to 20 digits (or over 2^64 - 1), an empty recipient, more than RWJOB_RCPT_MAX. */
extern int rwjob_parse(char *buf, size_t len, struct rwjob *j);

/* A reply packet: kept, then reclen bytes of records. Its length, or 0 if it does not fit or
   kept is unusable (see rwrep_split). */
extern size_t rwrep_pack(char *buf, size_t cap, char const *kept, char const *rec, size_t reclen);
/* The first field of a reply: kept (at most RWJOB_DOMAIN_MAX bytes of printable ASCII, no
   space) copied into kept (keptmax >= RWJOB_DOMAIN_MAX + 1) and *off set to the first record.
   0, or -1 if the field is missing, too long or not printable. The records are then checked
   by rrec_results (send/rspawn_proto.h) like those of a one-shot mailroom-remote. */
extern int rwrep_split(char const *buf, size_t len, char *kept, size_t keptmax, size_t *off);
#endif
