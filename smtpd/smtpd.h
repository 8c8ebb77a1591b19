#ifndef MAILROOM_SMTPD_H
#define MAILROOM_SMTPD_H
/* mailroom-smtpd's modules. The framing of command lines (smtpd_line.c), the command and
   address parsers (smtpd_cmd.c, smtpd_addr.c) and the DATA state machine (smtpd_data.c)
   are pure: bytes in, results out, no I/O, so the unit tests and the fuzz targets call
   them directly. Recipient policy (smtpd_rcpt.c), the injector (smtpd_queue.c), the log
   (smtpd_log.c), the client's I/O (smtpd_io.c) and the conversation (smtpd_session.c)
   sit on top; every reply text is in smtpd_reply.c. */
#include <stddef.h>
#include <sys/types.h>

#include <skalibs/buffer.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>

#include "dsnparam.h"
#include "envelope.h"
#include "qid.h"
#include "tlsctl.h"

/* --- limits ------------------------------------------------------------------------- */
/* A command line, CRLF included (RFC 5321 4.5.3.1.4 allows 512; extensions such as SIZE
   and SMTPUTF8 and long VERP addresses need more). Longer lines are read to their LF and
   refused. A path fits in it, so it also bounds addresses below ENV_ADDR_MAX. */
#define SMTPD_LINE_MAX 1000
#define SMTPD_HELO_MAX 255        /* a domain name at most (RFC 1035) */
#define SMTPD_ERRORS_MAX 20       /* refused commands before 421 and goodbye */
#define SMTPD_RCPT_DEFAULT 100    /* control/maxrcpt; RFC 5321 4.5.3.1.8 asks for 100 */
#define SMTPD_RCPT_LIMIT 1000     /* the most control/maxrcpt may say (Postfix's default);
                                     the envelope is held: 1000 x ENV_ADDR_MAX at most */
#define SMTPD_TIMEOUT_DEFAULT 1200 /* control/timeoutsmtpd, seconds, as qmail */
#define SMTPD_DATABYTES_DEFAULT 52428800UL /* when control/databytes is 0 or missing */
#define SMTPD_HOPS_MAX 100        /* Received: + Delivered-To: lines, as qmail-smtpd */
#define SMTPD_INBUF 4096          /* the client's bytes; DATA is streamed through it */
#define SMTPD_OUTBUF 2048         /* replies */
#define SMTPD_QBUF 8192           /* the message on its way to the injector */
#define SMTPD_LOG_MAX 3000        /* one log line, cut (with "...") past that */
#define SMTPD_QUEUE_WAIT 300      /* seconds the injector gets to finish after the data */

/* --- the line framer (smtpd_line.c) ------------------------------------------------- */
#define LINE_LONG 1u   /* longer than SMTPD_LINE_MAX with its CRLF: the rest was dropped */
#define LINE_NUL 2u    /* a NUL byte */
#define LINE_BARECR 4u /* a CR not followed by LF */
#define LINE_BARELF 8u /* ended by a LF without CR before it */

typedef struct smtpd_line_s smtpd_line;
struct smtpd_line_s {
  char s[SMTPD_LINE_MAX - 1]; /* the line without CRLF, NUL-terminated */
  size_t len;
  unsigned int flags;
  int cr; /* the last byte seen was a CR, not stored yet */
};
extern void smtpd_line_reset(smtpd_line *l);
/* Takes bytes of s[0..n) up to and including the LF that ends a line. Returns how many
   it took; *done is 1 when that LF was taken: the line is in l (flags say what was wrong
   with it) and the next call must come after smtpd_line_reset(). Every LF ends a line,
   so a refused line never swallows the next command; a CR ends nothing. */
extern size_t smtpd_line_feed(smtpd_line *l, char const *s, size_t n, int *done);

/* --- commands (smtpd_cmd.c) ----------------------------------------------------------- */
enum smtpd_verb {
  V_EMPTY, V_UNKNOWN, V_NOTIMPL, /* NOTIMPL: known verbs of extensions not offered */
  V_HELO, V_EHLO, V_MAIL, V_RCPT, V_DATA, V_RSET, V_NOOP, V_QUIT, V_VRFY, V_EXPN, V_HELP,
  V_STARTTLS, V_AUTH, V_BDAT
};
/* The verb of a line (case-insensitive) and where its argument starts (after the spaces
   that follow the verb; == len when there is none). */
extern enum smtpd_verb smtpd_cmd_verb(char const *s, size_t len, size_t *argpos);

/* Outcomes of the parsers, each one reply of smtpd_reply.c. */
enum smtpd_perr {
  P_OK = 0,
  P_SYNTAX,    /* 501 5.5.4: not "FROM:<...>" / "TO:<...>" */
  P_ADDR,      /* 501 5.1.7 / 5.1.3: the address is malformed */
  P_NODOMAIN,  /* 501 5.1.7 / 5.1.3: a mailbox without a domain */
  P_UTF8,      /* 553 5.6.7: non-ASCII without SMTPUTF8 */
  P_BADUTF8,   /* 501 5.6.7: not valid UTF-8 */
  P_PARAM,     /* 555 5.5.4: a parameter we do not offer */
  P_PARAMSYN,  /* 501 5.5.4: a malformed or repeated parameter */
  P_LONG,      /* 501 5.1.7 / 5.1.3: longer than ENV_ADDR_MAX */
  /* DSN (RFC 3461) and AUTH= (RFC 4954 5), each with its own 501 text */
  P_DUP,       /* a parameter given twice */
  P_NOTIFY,    /* NOTIFY: not NEVER or a list of SUCCESS, FAILURE, DELAY */
  P_ORCPT,     /* ORCPT: not addr-type;xtext, or too long */
  P_RET,       /* RET: not FULL or HDRS */
  P_ENVID,     /* ENVID: not xtext, or too long */
  P_AUTHP      /* AUTH=: not <> or an xtext mailbox */
};

#define BODY_NONE 0
#define BODY_7BIT 7
#define BODY_8BITMIME 8

typedef struct smtpd_path_s smtpd_path;
struct smtpd_path_s {
  char addr[ENV_ADDR_MAX + 1]; /* canonical: route dropped, needless quotes dropped */
  size_t len;
  size_t at;    /* index of the '@' before the domain, or len when there is none */
  int nonascii; /* the address has bytes over 127 */
  /* MAIL parameters */
  int smtputf8;
  int body;
  int hassize;
  unsigned long long size; /* ~0ULL when the number does not fit */
  int ret;                 /* RET: 0 none, DSN_RET_FULL, DSN_RET_HDRS */
  char envid[DSN_ENVID_MAX + 1]; /* ENVID as sent (xtext), "" none */
  char auth[DSN_AUTH_MAX + 1];   /* AUTH= as sent (xtext or <>), "" none */
  /* RCPT parameters */
  unsigned notify;               /* DSN_NOTIFY_* bits, 0 none */
  char orcpt[DSN_ORCPT_MAX + 1]; /* ORCPT as sent, "" none */
};
/* "FROM:<path> params" of MAIL. esmtp: the client said EHLO (parameters allowed). */
extern enum smtpd_perr smtpd_cmd_mail(char const *s, size_t len, int esmtp, smtpd_path *p);
/* "TO:<path> params" of RCPT; utf8: the transaction has SMTPUTF8. */
extern enum smtpd_perr smtpd_cmd_rcpt(char const *s, size_t len, int esmtp, int utf8, smtpd_path *p);
/* The HELO/EHLO argument's first word into name (SMTPD_HELO_MAX + 1). 0 ok, -1 missing,
   -2 too long or with control characters. */
extern int smtpd_cmd_helo(char const *s, size_t len, char *name);

/* --- addresses (smtpd_addr.c) --------------------------------------------------------- */
/* Parses the inside of <...> (s[0..len)), writes the canonical address into p (addr,
   len, at, nonascii). mail: a reverse-path (may be empty); else a forward-path, where a
   bare "postmaster" is allowed. utf8: UTF-8 allowed. */
extern enum smtpd_perr smtpd_addr_parse(char const *s, size_t len, int mail, int utf8, smtpd_path *p);
/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, surrogates, or past U+10FFFF). */
extern int smtpd_utf8_valid(char const *s, size_t len);
/* 1 if s[0..len) is a domain (LDH labels, '_' tolerated, UTF-8 labels when utf8) or an
   address literal [...]. */
extern int smtpd_domain_valid(char const *s, size_t len, int utf8);

/* --- the DATA state machine (smtpd_data.c) -------------------------------------------- */
#define DATA_BARELF 1u /* a LF without CR before it */
#define DATA_BARECR 2u /* a CR without LF after it */
#define DATA_NUL 4u
#define DATA_BIG 8u    /* more than max bytes */
#define DATA_HOPS 16u  /* more than SMTPD_HOPS_MAX Received:/Delivered-To: header lines */
#define DATA_BAD (DATA_BARELF | DATA_BARECR | DATA_NUL | DATA_BIG | DATA_HOPS)

typedef struct smtpd_data_s smtpd_data;
struct smtpd_data_s {
  int state;              /* DS_* in smtpd_data.c; DS_END is 1 */
  unsigned int flags;     /* DATA_*: once one is set, nothing more is output */
  unsigned long long size; /* bytes output */
  unsigned long long max;  /* the most that may be output */
  int inhdr;              /* still in the header section */
  int hdrpat;             /* the header name being matched on this line, -1 none */
  unsigned int hdrpos;
  unsigned int hops;
};
#define SMTPD_DATA_END 1
/* Starts a message of at most max bytes (as stored: LF line ends, dots removed). */
extern void smtpd_data_init(smtpd_data *d, unsigned long long max);
/* Takes bytes of in[0..n) up to and including the CRLF.CRLF that ends the data, never
   more, so pipelined commands after it stay unread. Writes the message (dot-stuffing
   removed, CRLF made LF) into out, which has room for n bytes (the output is never
   longer than the input), and its length into *outlen. Returns the bytes taken. The data
   has ended when d->state == SMTPD_DATA_END. Only CR LF . CR LF ends it: a bare LF or a
   bare CR sets a flag and ends nothing. */
extern size_t smtpd_data_feed(smtpd_data *d, char const *in, size_t n, char *out, size_t *outlen);
/* BDAT chunks (RFC 3030): the same machine, counted instead of dot-terminated. Starts a
   message of at most max bytes as stored. */
extern void smtpd_data_chunkinit(smtpd_data *d, unsigned long long max);
/* Takes all of in[0..n), a piece of a chunk: nothing is special but the line ends, which
   are kept across calls and chunks (a CR at the end of one and its LF at the start of the
   next are one CR LF). CR LF is written as LF into out (room for n bytes); a bare LF, a
   bare CR or a NUL set their flags, as in DATA. */
extern void smtpd_data_chunk(smtpd_data *d, char const *in, size_t n, char *out, size_t *outlen);
/* After the LAST chunk: a CR held at the very end is a bare CR, and a last line without
   its line end gets a LF, so the stored message ends as one from DATA does. out has room
   for 1 byte. */
extern void smtpd_data_chunkend(smtpd_data *d, char *out, size_t *outlen);
/* The argument of BDAT: "chunk-size [LAST]" (RFC 3030 2: 1*DIGIT, at most
   SMTPD_BDAT_DIGITS of them; spaces around and between). 0 ok (*size, *last), -1 malformed. */
#define SMTPD_BDAT_DIGITS 19 /* below 10^19, so any size fits a 64-bit count */
extern int smtpd_bdat_parse(char const *s, size_t len, unsigned long long *size, int *last);

/* --- SASL for AUTH (smtpd_sasl.c, pure) ----------------------------------------------- */
#define SMTPD_AUTH_FAILS_MAX 3 /* wrong passwords before 421 (mailroom-tlsd -f caps it too) */
#define SMTPD_SASL_MAX 600     /* a decoded SASL response: authzid, user, password */
/* Strict base64 of s[0..len) into out (at most max bytes): the length, or -1. */
extern long smtpd_b64_decode(char const *s, size_t len, char *out, size_t max);
typedef struct smtpd_cred_s smtpd_cred;
struct smtpd_cred_s {
  char const *user, *pass;
  size_t ulen, plen;
};
/* A PLAIN message m[0..len): 0 and c pointing into m; -1 malformed; -2 an authzid that
   is not the user. */
extern int smtpd_sasl_plain(char const *m, size_t len, smtpd_cred *c);

/* --- recipients (smtpd_rcpt.c) -------------------------------------------------------- */
enum smtpd_rv {
  RV_OK = 0,     /* a local user: accepted */
  RV_RELAY,      /* not ours, but the client may relay (RELAYCLIENT) */
  RV_HOSTED,     /* in rcpthosts and not local: accepted for the next hop */
  RV_LISTED,     /* in control/recipients */
  RV_NOUSER,     /* 550 5.1.1 */
  RV_EXTNOTLISTED, /* 550 5.1.1: a system user's extension not in control/recipients */
  RV_NORELAY,    /* 550 5.7.1 */
  RV_TEMP        /* 451 4.3.0: a lookup failed */
};
/* What the recipient policy needs; filled by smtpd_rcpt_init() from control/ (cwd is
   the instance home). */
typedef struct smtpd_policy_s smtpd_policy;
struct smtpd_policy_s {
  char *locals;     /* control/locals, NUL-separated lines, me added */
  size_t localslen;
  int relayclient;  /* RELAYCLIENT is set */
};
/* 0, or -1 with errno (a control file could not be read). */
extern int smtpd_rcpt_init(smtpd_policy *pol, char const *me, int relayclient);
extern void smtpd_rcpt_free(smtpd_policy *pol);
/* Decides for one parsed recipient. "postmaster" without a domain is taken as local. */
extern enum smtpd_rv smtpd_rcpt_check(smtpd_policy const *pol, smtpd_path const *p);
/* 1 if domain d (len bytes) is local (control/locals or me), case-insensitive. */
extern int smtpd_rcpt_islocal(smtpd_policy const *pol, char const *d, size_t len);
extern char const *smtpd_rcpt_reason(enum smtpd_rv v);

/* --- the injector (smtpd_queue.c) ----------------------------------------------------- */
typedef struct smtpd_queue_s smtpd_queue;
struct smtpd_queue_s {
  pid_t pid;              /* the injector's, or the writer's (qp) */
  int msgfd, envfd, idfd; /* our ends: message, envelope, the id the injector may report */
  int sock;               /* the queue writer's connection, or -1 when an injector runs */
  int werr;               /* errno of the first failed write: the injector stopped reading */
  buffer b;
  char buf[SMTPD_QBUF];
  char id[QID_MAX + 1];   /* the queue id, "" when the injector did not report one */
};
/* Starts prog with a message pipe on fd 0, an envelope pipe on fd 1 and a pipe on fd 3
   where it may write its queue id. 0 or -1 (errno). */
extern int smtpd_queue_start(smtpd_queue *q, char const *prog);
/* The same through the queue writer at sock (lib/qwclient.h); falls back to prog when the
   writer cannot be reached or refuses. sock 0: prog alone (MAILROOM_QUEUE is set). */
extern int smtpd_queue_open(smtpd_queue *q, char const *prog, char const *sock);
/* Message bytes; a failed write is remembered, not fatal (the exit code says why). */
extern void smtpd_queue_put(smtpd_queue *q, char const *s, size_t n);
/* Abandons the message: closes both pipes without an envelope, so the injector leaves
   nothing in the queue, and reaps it (bounded). */
extern void smtpd_queue_abort(smtpd_queue *q);
/* Ends the message, writes the envelope, waits (at most SMTPD_QUEUE_WAIT s) for the exit.
   Returns the exit code (0-255), 256 + signal when killed, or -1 with errno if it could
   not be waited for or timed out. */
extern int smtpd_queue_finish(smtpd_queue *q, char const *env, size_t envlen);

/* --- the log (smtpd_log.c) ------------------------------------------------------------ */
/* Appends to sa what s[0..n) becomes inside a log value: printable ASCII but space, '"',
   '\\', '<', '>' and ',' as is (space too when quoted: inside "..."), every other byte
   as \xHH. */
extern int smtpd_log_esc(stralloc *sa, char const *s, size_t n, int quoted);
/* When fd 2 is the client's socket (inetd, xinetd), puts a pipe to a forked syslog
   forwarder on fd 2. 1 done, 0 not needed, -1 error (errno). */
extern int smtpd_log_inetd(void);
/* Writes one line "smtpd EVENT text\n" to fd 2 (cut at SMTPD_LOG_MAX). */
extern void smtpd_log_line(char const *event, char const *text, size_t len);

/* --- the client (smtpd_io.c) ---------------------------------------------------------- */
struct connbound;
typedef struct smtpd_io_s smtpd_io;
struct smtpd_io_s {
  buffer in, out;
  char inbuf[SMTPD_INBUF];
  char outbuf[SMTPD_OUTBUF];
  unsigned int timeout; /* seconds for each read and each write */
  struct connbound *bound; /* the session's bounds (smtpd_limit.c), or 0 */
};
extern void smtpd_io_init(smtpd_io *io, int infd, int outfd, unsigned int timeout);
/* Flushes the replies, then waits for more bytes from the client. >0 bytes now in the
   buffer, 0 at EOF, -1 error (errno; ETIMEDOUT). */
extern ssize_t smtpd_io_fill(smtpd_io *io);
/* Queues a reply; it is written when it must be (io_fill, io_flush, a full buffer).
   0 or -1 (errno). */
extern int smtpd_io_put(smtpd_io *io, char const *s, size_t n);
extern int smtpd_io_flush(smtpd_io *io);
/* Why the last ETIMEDOUT happened, for the log: "timeout", or the bound that ended the
   session ("overload", "sessiontime", "slowdata": lib/connbound.h). */
extern char const *smtpd_io_why(smtpd_io const *io);
/* Writes s[0..n) to a non-blocking fd, waiting for room at most until deadline. 0 or -1
   (errno; ETIMEDOUT). */
extern int smtpd_write_until(int fd, char const *s, size_t n, tain const *deadline);

/* --- connection limits (smtpd_limit.c): control/smtpdlimits, lib/connslot.h ----------- */
#include "connbound.h"
#include "connslot.h"
#define SMTPD_LIMITS "control/smtpdlimits"
#define SMTPD_SLOTS "slots/smtpd"
typedef struct smtpd_limit_s smtpd_limit;
struct smtpd_limit_s {
  struct connlimit c;
  struct connslot slot;
  struct connbound b;
  char key[CONNLIMIT_KEY_MAX + 1];
  char const *ip;
  int on;             /* a slot is held: the limits apply */
};
/* Reads control/smtpdlimits and takes the client's slot (trusted: RELAYCLIENT, no
   per-client limit, the slot still counts for overload mode). 0 go on (l->on says whether the
   limits apply: not without SMTPD_SLOTS or a client address), 1 the client holds its
   limit already (logged: reply 421 and end), -1 the control file is bad (logged; errno). */
extern int smtpd_limit_start(smtpd_limit *l, char const *ip, int trusted);
/* At the session's end: logs a bound that ended it, gives the slot back, leaves overload
   mode when the load has fallen. */
extern void smtpd_limit_end(smtpd_limit *l);

/* --- replies (smtpd_reply.c) ---------------------------------------------------------- */
enum smtpd_re {
  RE_GREETING, RE_HELO, RE_HELO_NOARG, RE_HELO_BAD,
  RE_MAIL_OK, RE_MAIL_NOHELO, RE_MAIL_NESTED, RE_MAIL_SYNTAX, RE_MAIL_ADDR, RE_MAIL_NODOMAIN,
  RE_MAIL_LONG, RE_MAIL_SIZE,
  RE_RCPT_OK, RE_RCPT_NOMAIL, RE_RCPT_SYNTAX, RE_RCPT_ADDR, RE_RCPT_NODOMAIN, RE_RCPT_LONG,
  RE_RCPT_NOUSER, RE_RCPT_NORELAY, RE_RCPT_TEMP, RE_RCPT_TOOMANY,
  RE_UTF8_NEEDED, RE_UTF8_BAD, RE_PARAM, RE_PARAM_SYNTAX,
  RE_PARAM_DUP, RE_DSN_NOTIFY, RE_DSN_ORCPT, RE_DSN_RET, RE_DSN_ENVID, RE_AUTH_PARAM,
  RE_DATA_NOMAIL, RE_DATA_NORCPT, RE_DATA_ARG, RE_DATA_GO, RE_DATA_NOQUEUE, RE_DATA_BARELF,
  RE_DATA_BARECR, RE_DATA_NUL, RE_DATA_BIG, RE_DATA_HOPS,
  RE_RSET, RE_RSET_ARG, RE_NOOP, RE_QUIT, RE_VRFY, RE_VRFY_NOARG, RE_EXPN, RE_HELP, RE_NOTIMPL,
  RE_UNKNOWN, RE_EMPTY, RE_LINE_LONG, RE_LINE_NUL, RE_LINE_BARELF, RE_LINE_BARECR,
  RE_TOO_MANY_ERRORS, RE_TIMEOUT, RE_NOMEM, RE_UNAVAILABLE,
  RE_TLS_ARG, RE_TLS_ACTIVE, RE_MAIL_AUTHFIRST,
  RE_AUTH_OK, RE_AUTH_NOTLS, RE_AUTH_AGAIN, RE_AUTH_INMAIL, RE_AUTH_NOEHLO, RE_AUTH_MECH,
  RE_AUTH_SYNTAX, RE_AUTH_CANCEL, RE_AUTH_B64, RE_AUTH_BAD, RE_AUTH_AUTHZ, RE_AUTH_TEMP,
  RE_AUTH_LAST,
  RE_BDAT_SYNTAX, RE_BDAT_CHUNK, RE_BDAT_MIXED,
  RE_COUNT
};
/* Queues reply r (me for the texts that name the server). 0 or -1 (errno). */
extern int smtpd_reply(smtpd_io *io, enum smtpd_re r, char const *me);
/* The text of r (its first part), for the log. */
extern char const *smtpd_reply_text(enum smtpd_re r);

/* --- the conversation (smtpd_session.c) ----------------------------------------------- */
typedef struct smtpd_conf_s smtpd_conf;
struct smtpd_conf_s {
  char me[256];
  char ip[72];         /* the client's address as text, "unknown" when not known */
  unsigned long databytes;
  unsigned long maxrcpt;
  unsigned int timeout;
  char const *queueprog; /* the injector */
  char const *queuesock; /* the queue writer's socket, 0 with MAILROOM_QUEUE */
  smtpd_policy pol;
  int tlsctl;          /* mailroom-tlsd's control socket (STARTTLS offered), or -1 */
  int authfd;          /* mailroom-tlsd's password verifier (AUTH offered), or -1 */
  int submission;      /* MAILROOM_SUBMISSION: AUTH before MAIL (RFC 6409) */
  char tls[TLSD_INFO_MAX + 1]; /* "TLSv1.3 CIPHER" once encrypted, else "" */
};
/* Speaks SMTP on io until QUIT, EOF, a timeout or too many errors. Returns the exit
   code for main: 0 after QUIT, 111 otherwise. */
extern int smtpd_session(smtpd_conf *cf, smtpd_io *io);

/* The state of one session, shared by smtpd_session.c and smtpd_msg.c. */
typedef struct smtpd_sess_s smtpd_sess;
struct smtpd_sess_s {
  smtpd_conf *cf;
  smtpd_io *io;
  smtpd_line line;
  smtpd_path path;     /* the address being parsed */
  char helo[SMTPD_HELO_MAX + 1];
  int greeted;         /* 0 not yet, 1 HELO, 2 EHLO */
  int inmail;          /* a sender was accepted: a transaction is open */
  int smtputf8;        /* ... with SMTPUTF8 */
  stralloc env;        /* the envelope so far: F sender \0 (T recipient \0)* */
  unsigned long nrcpt, nrefused;
  stralloc rlog;       /* "<rcpt>:code," for the transaction's log line */
  unsigned int errors; /* 5xx replies so far */
  unsigned long nmsgs, ntrans;
  char const *end;     /* why the session ended, for its log line */
  smtpd_queue q;
  smtpd_data data;
  char authuser[TLSD_USER_MAX + 1]; /* "" until AUTH succeeded */
  unsigned int authfails;
  /* BDAT (smtpd_bdat.c): SMTPD_BDAT_NONE, _OPEN (the injector has the chunks so far) or
     _FAILED (refused: the rest of the chunks are read and answered with bdatre) */
  int bdat;
  enum smtpd_re bdatre;
  size_t bdatrec;      /* the Received: line's length, counted in the message's size */
};
#define SMTPD_BDAT_NONE 0
#define SMTPD_BDAT_OPEN 1
#define SMTPD_BDAT_FAILED 2
/* Replies r, counting it against SMTPD_ERRORS_MAX when it is a 5xx. 0 or -1. */
extern int smtpd_sess_reply(smtpd_sess *s, enum smtpd_re r);
/* Logs the transaction ("smtpd msg ...") with its result; qp is the injector's pid or 0,
   size the message's size or -1 when there was none. */
extern void smtpd_sess_logmsg(smtpd_sess *s, char const *result, char const *reason,
                              long long size, pid_t qp, char const *qid);
/* Ends the transaction (no log). */
extern void smtpd_sess_reset(smtpd_sess *s);
/* DATA (smtpd_msg.c): the argument check, the message, the verdict. 0 to go on, -1 to
   end the session (s->end says why). */
extern int smtpd_msg_data(smtpd_sess *s, char const *arg, size_t arglen);
/* What DATA and BDAT share: the Received: line (1, or 0 out of memory) and the reply to
   the injector's exit code (0 or -1). */
extern int smtpd_msg_received(smtpd_sess *s, stralloc *sa, pid_t qp);
extern int smtpd_msg_verdict(smtpd_sess *s, int code, pid_t qp, long long size);
/* Why the data machine refused a message (flags has a DATA_BAD bit): the reply, *why for
   the log. */
extern enum smtpd_re smtpd_msg_refusal(unsigned int flags, char const **why);
/* BDAT (smtpd_bdat.c): 0 to go on, -1 to end the session (s->end says why). */
extern int smtpd_bdat(smtpd_sess *s, char const *arg, size_t arglen);
/* The next command line into s->line: 1, 0 at EOF, -1 error (errno). */
extern int smtpd_sess_nextline(smtpd_sess *s);
/* Ends an open transaction with a log line saying why. */
extern void smtpd_sess_abandon(smtpd_sess *s, char const *why);
/* STARTTLS and AUTH (smtpd_auth.c): 0 go on, -1 the session ends (s->end or errno). */
extern int smtpd_starttls(smtpd_sess *s, char const *arg, size_t arglen);
extern int smtpd_auth(smtpd_sess *s, char const *arg, size_t arglen);

#endif
