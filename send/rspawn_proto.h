#ifndef MAILROOM_RSPAWN_PROTO_H
#define MAILROOM_RSPAWN_PROTO_H
/* The remote channel's packets (mailroom-send <-> mailroom-rspawn) and mailroom-remote's
   records (INTERNALS.md, "The remote channel"). Pure code: bytes in, bytes or results out;
   no I/O, so both programs, the unit tests and the fuzz target link it. */
#include <stddef.h>

#define RSPAWN_RCPT_MAX 50      /* recipients in one request: one SMTP transaction */
#define RSPAWN_PACKET_MAX 65536 /* any packet, either way */
#define RSPAWN_TEXT_MAX 900     /* one result's text (= send.h's TEXT_MAX) */
#define RSPAWN_SLOTS 1000       /* slot numbers are below this (send.h's CONCURRENCY_MAX) */
/* What rspawn reads of mailroom-remote's report: a result byte, the text, a NUL each. */
#define RSPAWN_RECORDS_MAX ((size_t)RSPAWN_RCPT_MAX * (RSPAWN_TEXT_MAX + 4))

/* A sender or recipient field is the address, optionally followed by LF and its ESMTP
   parameters as mailroom-remote passes them on: "RET=.. ENVID=.. AUTH=.." for the sender,
   "NOTIFY=.. ORCPT=.." for a recipient (values from the envelope, lib/envelope.h). An
   address never holds a LF, so a field without parameters is what it always was. */
#define RSPAWN_PARAMS_MAX 1200
/* 1 if p is "KEY=value" words, single spaces between, each key one of keys (0-ended) at
   most once, values printable ASCII without '=' or space. */
extern int rspawn_params_ok(char const *p, char const *const *keys);

struct rreq {
  unsigned slot;
  char domain[1001]; /* the recipients' domain, without parameters (ENV_ADDR_MAX + 1) */
  char const *id;
  char const *msglen; /* decimal, as sent */
  unsigned long long len;
  char const *sender;
  char const *rcpt[RSPAWN_RCPT_MAX];
  unsigned n;
};

struct rres {
  char r; /* 'K', 'Z' or 'D' */
  char text[RSPAWN_TEXT_MAX + 1];
};

/* The domain of an address: after the last '@', or "" without one; in a field with
   parameters, the domain runs up to the LF. */
extern char const *rspawn_domain(char const *addr);

/* Request packet into buf (cap bytes). Returns its length, or 0 if it does not fit or
   a field is unusable (no recipient, more than RSPAWN_RCPT_MAX, mixed domains). */
extern size_t rreq_pack(char *buf, size_t cap, unsigned slot, char const *id, unsigned long long msglen,
                        char const *sender, char const *const *rcpt, unsigned n);
/* Parses a request packet (len bytes, fields point into buf). 0, or -1 if malformed:
   missing or extra fields, a bad slot, id or length, no recipient or too many, an empty
   recipient, recipients of different domains, bytes after the last NUL. */
extern int rreq_parse(char const *buf, size_t len, struct rreq *q);

/* Reply packet: slot, then one "R text\0" per result. Returns the length or 0. */
extern size_t rrep_pack(char *buf, size_t cap, unsigned slot, struct rres const *res, unsigned n);
/* The slot of a reply packet: 0, or -1 if its first field is not a slot number. */
extern int rrep_slot(char const *buf, size_t len, unsigned *slot);
/* Parses a reply packet into *slot and res[0..n-1] (texts copied). 0, or -1 if it does
   not hold exactly n well-formed results. */
extern int rrep_parse(char const *buf, size_t len, unsigned *slot, struct rres *res, unsigned n);

/* mailroom-remote's records as rspawn read them (len bytes, at most RSPAWN_RECORDS_MAX;
   truncated: more came and was thrown away), turned into n results with the fill-in rules:
   well-formed records are taken in order; every recipient after the first missing or
   malformed record gets 'Z' ('D' when the program exited 100) and a text saying what
   happened. status is the wait status. Returns the number of recipients whose result
   came from a record (n when all went well); *note says what was wrong, or is "". */
extern unsigned rrec_results(char const *buf, size_t len, int truncated, int status, unsigned n, struct rres *res,
                             char *note, size_t notelen);
#endif
