#ifndef MAILROOM_INJECT_H
#define MAILROOM_INJECT_H
/* The parts of mailroom-inject (sendmail): option parsing, input normalization, the header
   block, recipient addresses, the added headers, and the run of mailroom-queue. Everything
   but inject_qq_* is pure: bytes in, results out, no I/O, so TESTS/unit/test_inject.c links
   it directly. */
#include <stddef.h>
#include <sys/types.h>

#include <skalibs/stralloc.h>

#include "dsnparam.h"

/* --- options (inject_opts.c) --------------------------------------------------------- */

typedef struct inject_opts_s {
  char const *sender;   /* -f / -r: 0 if not given, "" or "<>" for the null sender */
  char const *fullname; /* -F: 0 if not given */
  char mode;            /* the -b letter: 'm' (deliver, the default), 'p', 's', ... */
  unsigned int flagt : 1; /* -t */
  unsigned int flagi : 1; /* -i, -oi: a "." line does not end the input */
  unsigned int flagq : 1; /* -q: queue run requested */
  /* DSN (RFC 3461), as Postfix's sendmail takes them: -N notify (checked, canonical),
     -R full|hdrs, -V envid (xtext-encoded here); "" when not given */
  char notify[DSN_NOTIFY_MAX + 1];
  char const *ret;
  char envid[DSN_ENVID_MAX + 1];
} inject_opts;

/* Parses sendmail's flags in argv[1..argc). Returns the index of the first recipient
   argument (argc if none), or -1 with *err set to a message and *errarg to the offending
   argument. */
extern int inject_opts_parse(inject_opts *o, int argc, char const *const *argv,
                             char const **err, char const **errarg);

/* --- input normalization (inject_norm.c) --------------------------------------------- */

/* Turns CRLF into LF (a CR before LF is dropped, any other CR is kept) and, unless flagi,
   ends the input at a line holding a single "." (sendmail's rule). */
typedef struct inject_norm_s {
  unsigned char state;
  unsigned char flagi;
  unsigned char done; /* a "." line was seen: the input is over */
} inject_norm;
#define INJECT_NORM_ZERO(i) { .state = 0, .flagi = (i), .done = 0 }
/* out needs INJECT_NORM_OUT(n) bytes. */
#define INJECT_NORM_OUT(n) (3 * (n) + 3)

/* Feeds in[0..n); n == 0 means the end of the input (flushes a held CR). Returns the number
   of bytes written to out. Once done is set, further input is ignored. */
extern size_t inject_norm_feed(inject_norm *z, char const *in, size_t n, char *out);

/* --- the header block (inject_hdr.c) ------------------------------------------------- */

/* Largest header block accepted: past it sendmail exits 100. */
#define INJECT_HDR_MAX 65536

typedef struct inject_split_s {
  size_t skip; /* bytes of a leading mbox "From " line, dropped */
  size_t hlen; /* the header fields are s[skip..hlen) */
  size_t body; /* the body starts here: hlen + 1 after an empty line, else hlen */
  int lastnl;  /* 0 if the last header line has no final LF (input ended there) */
} inject_split;

/* Finds the header block at the start of s[0..n) (LF line ends). eof: no more input comes.
   Lines are header fields ("name:" with name in printable ASCII) and their continuations
   (lines starting with a space or tab) up to an empty line; the first other line starts the
   body. Returns 1 when that is decided, 0 when more input is needed. */
extern int inject_hdr_split(char const *s, size_t n, int eof, inject_split *sp);

typedef struct inject_field_s {
  size_t off;     /* start of the field */
  size_t len;     /* its bytes, continuation lines and the final LF (if any) included */
  size_t namelen; /* its name, s[off..off+namelen) */
  size_t val;     /* its value starts at s[val] (after the ':') */
} inject_field;

/* Walks the fields of a header block s[0..n) from *pos. 1 and *f filled, 0 at the end. */
extern int inject_hdr_next(char const *s, size_t n, size_t *pos, inject_field *f);
/* 1 if the field's name is name, case-insensitively. */
extern int inject_hdr_is(char const *s, inject_field const *f, char const *name);

/* Header facts: which of the headers we add are there, and where recipients come from. */
typedef struct inject_hdrinfo_s {
  unsigned int date : 1, msgid : 1, from : 1, resent : 1;
} inject_hdrinfo;
extern void inject_hdr_info(char const *s, size_t n, inject_hdrinfo *hi);
/* 1 if the field is removed from the message (Bcc:, Resent-Bcc:). */
extern int inject_hdr_drop(char const *s, inject_field const *f);
/* 1 if -t takes recipients from this field: To, Cc, Bcc, or their Resent- forms when the
   message has any Resent- recipient field (resent, from inject_hdr_info). */
extern int inject_hdr_isrcpt(char const *s, inject_field const *f, int resent);

/* The start of the message as it goes to the queue, appended to out: the fields of
   s[sp->skip..sp->hlen) but Bcc and Resent-Bcc (a last field cut by the end of input gets
   its LF), then the added headers add[0..addlen), then the empty line (the message's, or
   one put before a body that started without it; none when there is no body), then the
   body bytes already read, s[sp->body..n). 1 ok, 0 nomem. */
extern int inject_head(stralloc *out, char const *s, size_t n, inject_split const *sp,
                       char const *add, size_t addlen);

/* --- addresses (inject_addr.c) ------------------------------------------------------- */

/* Checks an addr-spec: non-empty, at most ENV_ADDR_MAX bytes, no control character, no
   space outside a quoted string, one '@' outside quotes with a non-empty local part before
   it and a domain after it: dot-separated labels of letters, digits, '-' and 8-bit bytes,
   or a [literal]. Outside quotes the local part holds no ()<>[]:;,\ either. Bytes of 128
   and above are accepted (UTF-8). Returns 0 if good, else the reason. */
extern char const *inject_addr_bad(char const *a, size_t len);
/* Appends a to sa, with "@" defhost appended when a has no '@' outside quotes. 1 or 0 (nomem). */
extern int inject_addr_qualify(stralloc *sa, char const *a, size_t len, char const *defhost);
/* An address given on the command line: strips one pair of enclosing <>, qualifies, checks.
   Appends the result and a NUL to sa. Returns 0 ok, -1 nomem, or 1 bad (sa unchanged,
   *why the reason). */
extern int inject_addr_arg(stralloc *sa, char const *a, char const *defhost, char const **why);
/* Adds the recipients of the header value s[0..len) (addr822) to rcpts, each qualified,
   checked and NUL-terminated; *n counts them. 0 ok, -1 nomem, 1 bad: badbuf (badmax bytes)
   then holds the offending text (control characters shown as '?', cut with "..."), and
   *why the reason. */
extern int inject_addr_header(stralloc *rcpts, size_t *n, char const *s, size_t len,
                              char const *defhost, char *badbuf, size_t badmax,
                              char const **why);
/* -t: the recipients of every To:, Cc:, Bcc: field (Resent- ones instead when there are
   any) of the header block h[0..hlen), as inject_addr_header. */
extern int inject_addr_fromheaders(stralloc *rcpts, size_t *n, char const *h, size_t hlen,
                                   char const *defhost, char *badbuf, size_t badmax,
                                   char const **why);
/* Copies s[0..len) into buf (max bytes, NUL-terminated) for a diagnostic: control
   characters become '?', and a text too long ends in "...". */
extern void inject_addr_printable(char *buf, size_t max, char const *s, size_t len);

/* --- added headers (inject_make.c) --------------------------------------------------- */

/* "From: " display-name "<" addr ">\n" (or "From: addr\n" without a name), the name quoted,
   or RFC 2047-encoded if it has 8-bit bytes; control characters become spaces. */
#define INJECT_NAME_MAX 256
extern int inject_make_from(stralloc *sa, char const *name, char const *addr);
/* "Date: ...\n" for t, at the local offset. 0 on a time out of range. */
extern int inject_make_date(stralloc *sa, long long t, long off);
/* "Message-ID: <sec.usec.pid.hex@host>\n" with rnd (8 bytes) as the hex. */
extern int inject_make_msgid(stralloc *sa, unsigned long long sec, unsigned long usec,
                             unsigned long pid, unsigned char const *rnd, char const *host);

/* Everything the added headers are made of, gathered by the caller. */
typedef struct inject_made_s {
  long long now;            /* Date: the time */
  long off;                 /* Date: its local offset, seconds east of UTC */
  unsigned long long sec;   /* Message-ID: time, */
  unsigned long usec;       /*   microseconds, */
  unsigned long pid;        /*   process, */
  unsigned char rnd[8];     /*   and random bytes */
  char const *host;         /* Message-ID: right-hand side (the default host) */
  char const *fromaddr;     /* From: address; may be 0 when hi->from */
  char const *fullname;     /* From: display name, or 0 */
} inject_made;
/* Appends the Date:, Message-ID:, From: fields the header block lacks (hi). 1, 0 nomem
   (or a time out of range). */
extern int inject_make_missing(stralloc *sa, inject_hdrinfo const *hi, inject_made const *m);

/* --- running mailroom-queue (inject_qq.c) -------------------------------------------- */

typedef struct inject_qq_s {
  pid_t pid;
  int msgfd; /* write end of the message pipe (the injector's fd 0) */
  int envfd; /* write end of the envelope pipe (the injector's fd 1) */
  int sock;  /* the queue writer's connection, or -1 when pid is an injector */
} inject_qq;

/* Forks prog with the pipes on its fds 0 and 1. 0 or -1 (errno). */
extern int inject_qq_start(inject_qq *qq, char const *prog);
/* Hands the pipes to the queue writer at sock instead (lib/qwclient.h). 0, or -1 (errno):
   the caller then falls back to inject_qq_start. */
extern int inject_qq_writer(inject_qq *qq, char const *sock);
/* The writer's verdict (at most secs s): the exit code, or -1 (errno) if it went away. */
extern int inject_qq_verdict(inject_qq *qq, unsigned int secs);

#endif
