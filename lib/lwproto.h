#ifndef MAILROOM_LWPROTO_H
#define MAILROOM_LWPROTO_H
/* mailroom-lspawn <-> a warm mailroom-local (issue 14, INTERNALS.md "Warm local deliverers"):
   one SOCK_SEQPACKET packet per job and one per reply. Pure: bytes in, fields out, no I/O,
   so both programs and the fuzz target link it. lspawn is root and the worker runs as the
   user: lspawn trusts nothing of a reply beyond what lwproto_reply_parse() lets through. */
#include <stddef.h>

#define LW_SLOTS 1000     /* slots are below mailroom-send's CONCURRENCY_MAX */
#define LW_TEXT_MAX 900   /* a reply's text, as send's (INTERNALS.md) */
#define LW_FIELD_MAX 1024 /* each job field but the slot and msglen: assign's ASSIGN_FIELD_MAX */
#define LW_JOB_FIELDS 10  /* slot user home local dash ext domain sender msglen defaultdelivery */
#define LW_JOB_MAX ((size_t)LW_JOB_FIELDS * (LW_FIELD_MAX + 1))
#define LW_REPLY_MAX (4 + 1 + 3 + 1 + LW_TEXT_MAX + 1)

/* A job: pointers into the packet, each NUL-terminated there. */
typedef struct lwjob_s lwjob;
struct lwjob_s {
  unsigned slot;
  char const *user, *home, *local, *dash, *ext, *domain, *sender, *defaultdelivery;
  unsigned long long msglen;
};

/* A reply: code is 0, 99, 100 or 111 (mailroom-local's exit codes). */
typedef struct lwreply_s lwreply;
struct lwreply_s {
  unsigned slot;
  int code;
  char const *text; /* printable ASCII, at most LW_TEXT_MAX bytes, NUL-terminated in the packet */
  size_t textlen;
};

/* The job into buf (room for LW_JOB_MAX bytes). Returns its length, or 0 if a field is too
   long, holds a NUL or the slot is out of range. */
extern size_t lwproto_job_fmt(char *buf, lwjob const *j);
/* Parses a job packet: exactly LW_JOB_FIELDS NUL-terminated fields and nothing after them,
   slot a decimal below LW_SLOTS, home absolute, dash "" or "-", msglen a decimal that fits.
   0 ok, -1 malformed. */
extern int lwproto_job_parse(char const *buf, size_t len, lwjob *j);
/* The reply into buf (room for LW_REPLY_MAX): the text is cut to LW_TEXT_MAX and each byte
   outside printable ASCII written '?'. Returns its length (0 if slot or code is out of range). */
extern size_t lwproto_reply_fmt(char *buf, unsigned slot, int code, char const *text);
/* Parses a reply packet: slot \0 code \0 text \0, nothing after; slot decimal below LW_SLOTS
   without leading zeros, code one of 0 99 100 111, text printable ASCII of at most
   LW_TEXT_MAX bytes. 0 ok, -1 malformed. */
extern int lwproto_reply_parse(char const *buf, size_t len, lwreply *r);
#endif
