#ifndef MAILROOM_FETCH_H
#define MAILROOM_FETCH_H
/* mailroom-fetch: the POP3 reply parser (fetch_reply.c, pure), the accounts file
   (fetch_acct.c, pure), the per-account state (fetch_state.c), the connection with TLS and
   deadlines (fetch_conn.c), the message checks and trace line (fetch_msg.c, pure), the
   hand-off to the injector (fetch_inject.c) and one POP3 session (fetch_sess.c).
   doc/INTERNALS.md, "mailroom-fetch (issue 17)", says why the order of things is what it is. */
#include <stddef.h>
#include <stdint.h>

#include <skalibs/stralloc.h>
#include <skalibs/tai.h>

/* --- bounds ------------------------------------------------------------------------------ */
#define FETCH_STATUS_MAX 1024   /* a status line (+OK/-ERR): RFC 2449 says 512 */
#define FETCH_LINE_MAX 65536    /* a line of a multi-line answer (a message's line) */
#define FETCH_MSGS_MAX 100000   /* messages listed in one mailbox */
#define FETCH_UIDL_MAX 70       /* RFC 1939: 1 to 70 characters 0x21..0x7e */
#define FETCH_HDR_MAX 65536     /* headers of a message, for the hash (TOP n 0) */
#define FETCH_NAME_MAX 64       /* an account's name (its state file's name) */
#define FETCH_FIELD_MAX 512     /* any other field of an account line */
#define FETCH_PASS_MAX 256      /* a password */
#define FETCH_SIZE_DEFAULT 26214400UL /* 25 MiB: the default size limit */
#define FETCH_INTERVAL_DEFAULT 300    /* seconds between polls of an account */
#define FETCH_ACCOUNTS_MAX 1000

/* --- POP3 replies (fetch_reply.c): pure ------------------------------------------------- */
/* A status line s[0..len) (its LF removed, a CR before it allowed). 1 "+OK", 0 "-ERR",
   -1 neither; *text is the offset of the text after the indicator and its space. */
extern int pop3_status(char const *s, size_t len, size_t *text);
/* A line of a multi-line answer s[0..len) (LF removed). 0: the terminating "."; 1: a data
   line, un-dot-stuffed, at s[*off..*off + *n) without its CR. */
extern int pop3_mline(char const *s, size_t len, size_t *off, size_t *n);
/* A LIST line "n size": 1 and *num, *size, or 0 if malformed. */
extern int pop3_scan_list(char const *s, size_t len, uint32_t *num, uint64_t *size);
/* A UIDL line "n uid": 1 and *num, the uid at s[*uoff..*uoff + *ulen), or 0. */
extern int pop3_scan_uidl(char const *s, size_t len, uint32_t *num, size_t *uoff, size_t *ulen);
/* Copies s[0..len) into out (max bytes, NUL-terminated) for a log: control characters,
   '"' and '\\' become '?', cut with "..." when longer. */
extern void pop3_printable(char *out, size_t max, char const *s, size_t len);

/* --- accounts (fetch_acct.c): pure ------------------------------------------------------ */
#define FETCH_TLS_POP3S 0 /* TLS from the first byte, port 995 */
#define FETCH_TLS_STLS 1  /* STLS after the greeting, port 110 */
#define FETCH_TLS_PLAIN 2 /* none: only to a loopback address */

typedef struct fetch_acct_s {
  char name[FETCH_NAME_MAX + 1];
  char server[FETCH_FIELD_MAX + 1];
  char tlsname[FETCH_FIELD_MAX + 1];  /* the name the certificate must carry: server by default */
  char ca[FETCH_FIELD_MAX + 1];       /* a pinned CA file, or "" for the system bundle */
  char user[FETCH_FIELD_MAX + 1];
  char pass[FETCH_PASS_MAX + 1];      /* inline, or read from passfile */
  char passfile[FETCH_FIELD_MAX + 1];
  char rcpt[FETCH_FIELD_MAX + 1];     /* the local recipient */
  char address[FETCH_FIELD_MAX + 1];  /* the account's address: the envelope sender by default */
  uint16_t port;
  unsigned tls;
  unsigned del;            /* 1: delete on the server once queued */
  unsigned long interval;  /* seconds */
  uint64_t maxsize;        /* bytes */
} fetch_acct;

/* Parses one line of control/fetchaccounts (comments already dropped): space-separated
   key=value fields. 0, or -1 with *why the reason (the password never appears in it). */
extern int fetch_acct_parse(fetch_acct *a, char const *line, char const **why);
/* 1 if s is an IPv4 or IPv6 loopback literal (127.0.0.0/8, ::1). */
extern int fetch_acct_loopback(char const *s);

/* --- state (fetch_state.c) --------------------------------------------------------------- */
/* One entry per message this account's state knows: its key is "u" + UIDL or "h" + the
   hex SHA-256 of its headers; kind 's' seen (queued: may be deleted), 'b' too big and
   'r' refused (both left on the server, said in the log once). */
typedef struct fetch_state_s {
  stralloc keys;    /* "K key\n" lines, as in the file */
  size_t n;
  int changed;
} fetch_state;
#define FETCH_STATE_ZERO { .keys = STRALLOC_ZERO, .n = 0, .changed = 0 }
#define FETCH_STATE_MAX (8 * 1024 * 1024) /* bytes of a state file */

/* Reads fetch/NAME (a missing file is an empty state). 0, or -1 (errno; EINVAL: the file is
   malformed). Pure parse: fetch_state_parse. */
extern int fetch_state_load(fetch_state *st, char const *name);
extern int fetch_state_parse(fetch_state *st, char const *s, size_t len);
/* The kind of key (0 if unknown). */
extern char fetch_state_get(fetch_state const *st, char const *key, size_t klen);
/* Adds or changes an entry. 0 or -1 (nomem). */
extern int fetch_state_set(fetch_state *st, char kind, char const *key, size_t klen);
/* Drops the entries whose key is not among the NUL-terminated keys[0..klen). 0 or -1. */
extern int fetch_state_prune(fetch_state *st, char const *keys, size_t klen);
/* Writes fetch/NAME durably: fetch/NAME.tmp, fsync, rename, fsync of fetch/. 0 or -1. */
extern int fetch_state_save(fetch_state *st, char const *name);
extern void fetch_state_free(fetch_state *st);

/* --- the connection (fetch_conn.c) ------------------------------------------------------- */
struct tls;
struct tls_config;
typedef struct fetch_conn_s {
  int fd;
  struct tls *tls;
  char rbuf[16384];
  size_t rpos, rlen;
  char err[256];     /* what went wrong, for the log */
  char tlsinfo[128]; /* "TLSv1.3 CIPHER" once encrypted */
} fetch_conn;

/* Connects to host:port before deadline. 0, or -1 with c->err set. */
extern int fetch_conn_open(fetch_conn *c, char const *host, uint16_t port, tain const *deadline);
/* The TLS handshake, checking the certificate against cafile (0: the system bundle) and
   the name. Any byte the server sent before it is refused (STLS). 0, or -1 and c->err. */
extern int fetch_conn_tls(fetch_conn *c, char const *cafile, char const *name, tain const *deadline);
/* One line into line (max bytes; LF removed). 1, or -1 with c->err (timeout, closed,
   too long: errno ETIMEDOUT, EPIPE, EMSGSIZE). */
extern int fetch_conn_getline(fetch_conn *c, char *line, size_t max, size_t *len, tain const *deadline);
extern int fetch_conn_put(fetch_conn *c, char const *s, size_t n, tain const *deadline);
extern void fetch_conn_close(fetch_conn *c);

/* --- messages (fetch_msg.c): pure -------------------------------------------------------- */
/* The length of the header block of m[0..n) (up to and with the empty line, or n). */
extern size_t fetch_msg_hdrlen(char const *m, size_t n);
/* The address of the first Return-Path: field into out (max), "" for <>. 1 found and
   well-formed, 0 not. */
extern int fetch_msg_returnpath(char const *m, size_t n, char *out, size_t max);
/* 1 if a Delivered-To: field of the header names rcpt (case-insensitively). */
extern int fetch_msg_loop(char const *m, size_t n, char const *rcpt);
/* "h" + hex SHA-256 of the header block, into key (66 bytes). */
extern void fetch_msg_hashkey(char const *m, size_t n, char *key);

/* --- the injector (fetch_inject.c) ------------------------------------------------------- */
/* Hands head[0..hn) then m[0..n) with the envelope (sender, one recipient) to the injector
   (inject_qq_start: $MAILROOM_QUEUE or bin/mailroom-queue). Returns its exit code (0
   accepted), or -1 (could not run it, or it died by a signal: *why says). */
extern int fetch_inject(char const *head, size_t hn, char const *m, size_t n, char const *sender,
                        char const *rcpt, char const **why);

/* --- one session (fetch_sess.c) ---------------------------------------------------------- */
typedef struct fetch_ctx_s {
  char me[256];          /* control/me: the trace line's "by" */
  unsigned long timeout; /* seconds per network read */
} fetch_ctx;
/* Polls one account. 0 ok (every message handled), -1 the poll failed (logged). */
extern int fetch_poll(fetch_ctx const *x, fetch_acct const *a);
/* One log line: event, then key=value fields (values quoted when needed), to stdout. */
extern void fetch_log(char const *event, char const *const *kv, unsigned n);

#endif
