#ifndef MAILROOM_REMOTE_SMTP_H
#define MAILROOM_REMOTE_SMTP_H
/* One SMTP conversation with one address (remote_smtp.c): libc sockets and poll, every
   read and write under a deadline; STARTTLS with libtls (LibreSSL's API). */
#include "remote.h"

#define RCPT_PARAMS_MAX 100 /* = mailroom-remote's RCPT_MAX */

typedef struct smtpjob_s {
  char const *helo;
  char const *sender;
  char *const *rcpt;
  unsigned nrcpt;
  /* the ESMTP parameters that came with the addresses (remote_dsn.c), 0 for none: the
     sender's RET=, ENVID=, AUTH= words; per recipient NOTIFY=, ORCPT= */
  char const *mparams;
  char const *rparams[RCPT_PARAMS_MAX];
  int fdmsg;                /* the message: bytes 0..msglen-1, read with pread */
  unsigned long long msglen;
  char const *head;         /* sent before the message (the DKIM-Signature field, LF ends), */
  size_t headlen;           /* at most MSGCHUNK bytes; 0 for none */
  unsigned long long wire;  /* its size on the wire (SIZE=) */
  int eightbit;             /* a byte >= 0x80 in it: BODY=8BITMIME needed */
  int utf8;                 /* a non-ASCII address: SMTPUTF8 needed */
  unsigned tconnect, tremote;
  int tlsreq;               /* TLSREQ_* of the domain (control/tlsdomains) */
  int notls;                /* this try: no STARTTLS (a handshake with this address failed) */
  struct tls_config *tlscfg; /* from smtp_tlsinit */
  /* smarthost AUTH (smtproutes auth=NAME, remote_smtp_auth.c): user and password, or 0;
     sent only under TLS whose certificate was verified (tlsreq is TLSREQ_VERIFY then) */
  char const *authuser, *authpass;
  int smtps;                /* implicit TLS: the handshake right after connect (RFC 8314) */
} smtpjob;

typedef struct rcptres_s {
  char code; /* 'K', 'Z', 'D' */
  char text[REPORT_TEXT_MAX + 1];
} rcptres;

/* The parameters of a sender or recipient field: cuts field at its LF (rspawn_proto.h) and
   returns what followed (0 if nothing), or sets *bad when that is not printable words. */
extern char const *dsn_split(char *field, int *bad);
/* The words of params whose key is key ("RET", ...), appended to out (max bytes, NUL kept),
   each after a space. */
extern void dsn_words(char const *params, char const *const *keys, char *out, size_t max);
/* 1 if the recipient's parameters say NOTIFY with SUCCESS. */
extern int dsn_wants_success(char const *rparams);

/* smtp_try's results */
#define TRY_DONE 0     /* every recipient has its result in res */
#define TRY_NEXT 1     /* this host did not take part: try the next; why says why */
#define TRY_NEXTPERM 2 /* as TRY_NEXT, but a permanent reason (SIZE, 8BITMIME, SMTPUTF8) */
#define TRY_STALE 4    /* smtp_reuse: the kept session could not start a transaction (closed,
                          RSET refused, timed out) and is closed: connect afresh; why says why */
#define TRY_NOTLS 3    /* TLS was not required and its handshake failed before MAIL: the
                          connection is unusable (RFC 3207 4.1), so try this address again
                          with notls set; why says why */

struct tls_config;
/* The client TLS configuration for j->tlsreq: TLS 1.2 and 1.3; with TLSREQ_VERIFY the CA
   bundle cafile and the peer's name checked, otherwise no certificate check (opportunistic
   TLS, as every MTA does it). 0, or -1 with why set (a temporary failure). */
extern int smtp_tlsinit(smtpjob *j, char const *cafile, char *why, size_t whymax);
extern void smtp_tlsfree(smtpjob *j);

/* A session kept open after a transaction (the worker's connection cache). */
typedef struct smtpsess_s smtpsess;

/* One delivery to one address, from connect to QUIT. With keep, a session whose transaction
   ended cleanly (the server answered the end of the message, not with 421) is not closed
   but returned in *keep (else *keep is 0); the caller then owns it. */
extern int smtp_try(smtpjob const *j, char const *host, unsigned char const *ip, unsigned port, rcptres *res,
                    char *why, size_t whymax, smtpsess **keep);
/* The next delivery over *sp: RSET (250 expected), then MAIL ... as smtp_try. TRY_DONE with
   every result in res, *sp still open when the session can carry another transaction, else
   0; or TRY_STALE, *sp closed and 0, nothing sent for this message. */
extern int smtp_reuse(smtpsess **sp, smtpjob const *j, rcptres *res, char *why, size_t whymax);
/* Closes *sp (QUIT first with sendquit, its reply waited for briefly) and sets it to 0. */
extern void smtp_close(smtpsess **sp, int sendquit);
/* The session's socket, to watch for the server closing it while it is idle. */
extern int smtp_sessfd(smtpsess const *s);
#endif
