#ifndef MAILROOM_POP3D_H
#define MAILROOM_POP3D_H
/* The POP3 side: mailroom-popup (AUTHORIZATION), mailroom-checkpassword, mailroom-pop3d
   (TRANSACTION and UPDATE), mailroom-passwd. The modules here return 0/-1 (or a count)
   with errno and never exit; only the programs die. The pure ones (command parser, message
   transform, names, the password entry format) do no I/O and are fuzzed and unit-tested. */
#include <stddef.h>
#include <stdint.h>
#include <skalibs/genalloc.h>
#include <skalibs/stralloc.h>

/* --- limits ------------------------------------------------------------------------------ */
/* A command line, its CRLF included. RFC 2449 says 255; a little more costs nothing and
   spares a client with a long password. Anything longer ends the connection. */
#define POP3_LINE_MAX 512
#define POP3_ARG_MAX 40           /* RFC 1939: an argument is at most 40 characters */
#define POP3_USER_MAX 128         /* a user name, without its NUL */
#define POP3_PASS_MAX 256         /* a password, without its NUL */
#define POP3_TIMEOUT 600          /* seconds: RFC 1939's autologout timer is at least 10 minutes */
#define POP3_ERRORS_MAX 20        /* unknown or malformed commands before the connection ends */
#define POP3_UIDL_MAX 70          /* RFC 1939: 1 to 70 characters in 0x21..0x7e */
#define POP3_PATH_MAX 1024        /* a home or a Maildir path, without its NUL */
#define POP3_HASH_MAX 256         /* a crypt(3) hash, without its NUL */
#define POP3_MSG_MAX 1000000      /* messages listed in one session; the rest wait for the next */
#define POP3_NAME_MAX 255         /* a Maildir file name */
#define POP3_CP_MAX 512           /* the checkpassword data on fd 3 (checkpassword's own limit) */
/* mailroom-popup -> mailroom-pop3d: the fd on which pop3d, once it runs as the user, writes
   one byte, so that popup (root until then) can switch to the same user for the rest of the
   session instead of waiting as root (DESIGN.md: root only until the switch). */
#define POP3_ENV_STARTED "MAILROOM_POPUPFD"
#define POP3_IN_SIZE 4096         /* mailroom-pop3d's input buffer: pipelined commands */
#define POP3_OUT_SIZE 65536       /* the output buffer: one flush per response, or per 64 KiB */
#define POP3_CHUNK 16384          /* message bytes read at a time; the transform doubles at most */

/* --- exit codes (an interface between the three programs, in each man page) --------------- */
#define POP3_EXIT_OK 0      /* the session ended (QUIT, or the client went away) */
#define POP3_EXIT_BADPASS 1 /* checkpassword: the password is wrong (the interface's code) */
#define POP3_EXIT_MISUSE 2  /* checkpassword: misused (the interface's code) */
#define POP3_EXIT_TOLD 100  /* the client was sent a final -ERR line: the caller says nothing more */
#define POP3_EXIT_TEMP 111  /* a temporary failure the client was not told about */

/* --- the command parser (pop3d_cmd.c, pure) ---------------------------------------------- */
enum pop3_verb {
  POP3_USER = 1, POP3_PASS, POP3_APOP, POP3_AUTH, POP3_STLS, POP3_CAPA, POP3_QUIT,
  POP3_STAT, POP3_LIST, POP3_RETR, POP3_DELE, POP3_NOOP, POP3_RSET, POP3_TOP, POP3_UIDL
};
#define POP3_EUNKNOWN (-1) /* not a command we know */
#define POP3_ESYNTAX (-2)  /* a known command with missing, extra or malformed arguments */

struct pop3_cmd {
  int verb;                /* enum pop3_verb */
  unsigned int nargs;      /* numeric arguments given (LIST, RETR, DELE, TOP, UIDL) */
  unsigned long num[2];    /* their values, each at most 4294967295 */
  char const *arg;         /* USER, PASS: the rest of the line (may hold any byte but LF) */
  size_t arglen;
};
/* Parses one command line without its CRLF (len bytes, any bytes). Returns the verb (> 0)
   or POP3_EUNKNOWN / POP3_ESYNTAX; c->arg points into line. */
extern int pop3_parse(char const *line, size_t len, struct pop3_cmd *c);
extern char const *pop3_verbname(int verb);

/* --- the message transform (pop3d_xform.c, pure) ----------------------------------------- */
/* A Maildir file to a multi-line response body: every line end becomes CRLF (LF or CRLF in
   the file; a bare CR stays data), a line starting with '.' gets another, a last line
   without its LF gets a CRLF, and ".\r\n" ends it. For TOP, the header, its blank line, and
   at most `lines` body lines. */
struct pop3_xform {
  int bol;              /* at the beginning of a line */
  int cr;               /* a CR is held back: is it the start of CRLF? */
  int hdr;              /* still in the header (no empty line yet) */
  int top;              /* count body lines */
  int done;             /* TOP has all it wants: read no further */
  size_t linelen;       /* bytes of the current line so far, a held CR not counted */
  unsigned long lines;  /* TOP: body lines still to send */
};
#define POP3_XFORM_END 5 /* the most pop3_xform_end() writes */
extern void pop3_xform_init(struct pop3_xform *x, int top, unsigned long lines);
/* Transforms in[0..len) into out, which has room for 2 * len bytes. Returns the bytes
   written; *used gets the input bytes consumed (less than len only once x->done). */
extern size_t pop3_xform(struct pop3_xform *x, char const *in, size_t len, char *out, size_t *used);
/* The end of the response into out (POP3_XFORM_END bytes): returns the bytes written. */
extern size_t pop3_xform_end(struct pop3_xform *x, char *out);

/* --- names and paths (pop3d_name.c, pure) ------------------------------------------------ */
/* 1 if s (len bytes) can be a user name: 1 to POP3_USER_MAX bytes in 0x21..0x7e, no '/',
   and not "." or "..". Refuses what would walk out of a folder or cut the fd 3 record. */
extern int pop3_user_ok(char const *s, size_t len);
/* 1 if s is a Maildir path relative to the home: not empty, not absolute, no ".."
   component, shorter than POP3_PATH_MAX. */
extern int pop3_relpath_ok(char const *s);
/* 1 if s is a home: absolute, no "." or ".." component, shorter than POP3_PATH_MAX. */
extern int pop3_abspath_ok(char const *s);
/* The UIDL of a Maildir file name (len bytes, the ":2,..." info included or not): its unique
   part, before the ':', when that is 1 to 70 bytes of 0x21..0x7e; else 'H' and 64 hex digits
   of its SHA-256. Writes it NUL-terminated into out (POP3_UIDL_MAX + 1 bytes); returns its
   length. Stable: moving new/ to cur/ and flag changes keep the unique part. */
extern size_t pop3_uidl(char const *name, size_t len, char *out);
/* The ",W=N" size (Courier, Dovecot: the size with CRLF line ends) in the unique part of
   a name: 1 and *size, or 0 when there is none. */
extern int pop3_name_vsize(char const *name, size_t len, uint64_t *size);
/* The same for ",S=N" (the size on disk, Courier and Dovecot): 1 and *size, or 0. */
extern int pop3_name_ssize(char const *name, size_t len, uint64_t *size);

/* --- the password database (pop3d_pw.c; libc and tinycdb) -------------------------------- */
/* users/password.cdb, a tinycdb: user name -> hash \0 uid \0 gid \0 home \0. */
#define POP3_PW_CDB "users/password.cdb"
#define POP3_PW_TMP "users/password.cdb.tmp"
#define POP3_PW_VAL_MAX (POP3_HASH_MAX + 2 * 11 + POP3_PATH_MAX + 4)
#define POP3_ID_MAX 4294967294UL /* (uid_t)-1 is "no change" to setuid: never a user */
struct pop3_pw {
  char hash[POP3_HASH_MAX + 1];
  unsigned long uid, gid;
  char home[POP3_PATH_MAX + 1];
};
/* Checks every field (hash printable and without ':', uid 1..POP3_ID_MAX, gid 0..POP3_ID_MAX,
   home absolute without ".."); writes the value into val (max bytes). 0, or -1 EINVAL with
   a reason in *why. Pure. */
extern int pop3_pw_pack(struct pop3_pw const *p, char *val, size_t max, size_t *len, char const **why);
/* The inverse, as strict: 0, or -1 EPROTO. Pure. */
extern int pop3_pw_unpack(char const *val, size_t len, struct pop3_pw *p);
/* Looks user up in the cdb at path: 1 found and valid, 0 no such user (or no cdb),
   -1 error (EPROTO: a corrupt entry). */
extern int pop3_pw_lookup(char const *path, char const *user, size_t ulen, struct pop3_pw *p);
/* 1 if the NUL-terminated a and b are equal; the time depends on their lengths only. */
extern int pop3_streq_ct(char const *a, char const *b);
/* A decimal id of 1 to 10 digits, at most POP3_ID_MAX: 0, or -1. */
extern int pop3_scan_id(char const *s, size_t len, unsigned long *n);

/* --- password hashing (pop3d_crypt.c; libcrypt: programs link -lcrypt) ------------------- */
#define POP3_HASH_YESCRYPT 'y'
#define POP3_HASH_SHA512 '6'
/* A new hash of pass with a fresh salt from the system's random source: 0, or -1. */
extern int pop3_hash(char const *pass, int method, char *out, size_t max);
/* 1 if pass matches hash, 0 if not (a locked or malformed hash never matches). The compare
   is constant-time. A null hash checks against a fixed dummy, to spend the same time for
   an unknown user, and returns 0. */
extern int pop3_verify(char const *pass, char const *hash);

/* --- bounded, timed I/O on the client connection (pop3d_io.c) ----------------------------- */
struct connbound;
struct pop3_in {
  int fd;
  unsigned int timeout; /* seconds a line may take */
  struct connbound *bound; /* the session's bounds (pop3d_limit.c), or 0 */
  int onebyte;          /* never read past a LF: what follows belongs to the next program */
  size_t len;
  char buf[POP3_IN_SIZE];
};
struct pop3_out {
  int fd;
  unsigned int timeout; /* seconds a flush may go without progress */
  struct connbound *bound; /* the same bounds as the input's, or 0 */
  size_t len;
  char buf[POP3_OUT_SIZE];
};
extern void pop3_in_init(struct pop3_in *in, int fd, unsigned int timeout, int onebyte);
/* The next line without its LF (and CR) into line (POP3_LINE_MAX bytes). 1 a line, 0 end of
   input, -1 error: ETIMEDOUT, E2BIG (longer than POP3_LINE_MAX with its CRLF), or the read's. */
extern int pop3_getline(struct pop3_in *in, char *line, size_t *len);
/* 1 if a whole line is buffered already (pipelined): flushing can wait. */
extern int pop3_in_hasline(struct pop3_in const *in);
extern void pop3_out_init(struct pop3_out *out, int fd, unsigned int timeout);
extern int pop3_put(struct pop3_out *out, char const *s, size_t n);
extern int pop3_puts(struct pop3_out *out, char const *s);
/* Room for n bytes (n <= POP3_OUT_SIZE) at the end of the buffer, flushing first if needed:
   a pointer to it, or 0 on a write error. pop3_commit() then counts what was written. */
extern char *pop3_room(struct pop3_out *out, size_t n);
extern void pop3_commit(struct pop3_out *out, size_t n);
/* Writes everything out within the timeout: 0, or -1 (ETIMEDOUT, EPIPE, ...). */
extern int pop3_flush(struct pop3_out *out);
/* Before closing on the client with its input unread: our last line and a FIN go out, and
   what the client still sends is read and dropped (at most 1 MiB, for 2 seconds), so that
   the close sends no RST that could destroy that last line on its way. */
extern void pop3_linger(struct pop3_in *in, struct pop3_out *out);
/* Writes line (a final "-ERR ...\r\n") to fd 1, the client, and exits POP3_EXIT_TOLD: the
   caller (mailroom-popup) then knows the client has its answer. */
extern _Noreturn void pop3_told(char const *line);
/* Under inetd (xinetd, openbsd-inetd) fd 2 is the connection too: a log line would reach the
   client in the middle of the protocol. Then fd 2 becomes /dev/null (nothing is logged);
   under tcpserver it is the log and stays. */
extern void pop3_stderr_check(void);
/* TCP_NODELAY on fd when it is a TCP socket (else nothing): no Nagle wait between responses. */
extern void pop3_nodelay(int fd);

/* --- connection limits (pop3d_limit.c): control/pop3dlimits, lib/connslot.h ----------- */
#include "connbound.h"
#include "connslot.h"
#define POP3_LIMITS "control/pop3dlimits" /* relative to the instance home */
#define POP3_SLOTS "slots/pop3d"
struct pop3_limit {
  struct connlimit c;
  struct connslot slot;
  struct connbound b;
  char key[CONNLIMIT_KEY_MAX + 1];
  char ip[48];
  char const *prog;   /* "popup" or "pop3d", for the log */
};
/* Reads home/control/pop3dlimits (home 0: the cwd is the instance home). take (popup):
   takes the client's slot in POP3_SLOTS from TCPREMOTEIP; else (pop3d, as the user) opens
   the folder for overload mode's count only. 0 go on, 1 the client holds its limit already
   (logged: answer -ERR [SYS/TEMP] and end), -1 the control file is bad (logged; errno). */
extern int pop3_limit_start(struct pop3_limit *l, char const *home, char const *prog, int take);
/* Logs a bound that ended the session (once), gives the slot back. */
extern void pop3_limit_end(struct pop3_limit *l);
#define POP3_R_PERCLIENT "-ERR [SYS/TEMP] too many connections from your address, try again later\r\n"

/* --- the mailbox (pop3d_box.c): cwd is the Maildir ----------------------------------------- */
struct pop3_msg {
  size_t name;          /* offset of the file name in names */
  size_t uidl;          /* offset of its UIDL in uidls, once pop3_box_uidls() ran */
  uint64_t size;        /* octets as RETR sends them (RFC 1939 11: CR LF line ends, stuffed
                           dots not counted): ,W= when the name has a usable one, else
                           counted from the file (lib/crlfsize.h) */
  int64_t mtime;        /* seconds; the listing is in delivery order */
  long mtimens;
  unsigned char cur;    /* 0: in new/, 1: in cur/ */
  unsigned char deleted;
  unsigned char addw;   /* counted, and the name may take ",W=": added at UPDATE */
};
struct pop3_box {
  int dirfd[2];         /* new/, cur/ */
  stralloc names;       /* NUL-terminated file names */
  genalloc msgs;        /* struct pop3_msg, numbered from 1 in the protocol */
  stralloc uidls;       /* NUL-terminated UIDLs, once computed */
  int uidlsdone;
  size_t n;             /* messages */
  size_t ndel;          /* marked deleted */
  uint64_t total;       /* octets of the messages not deleted */
  size_t skipped;       /* files past POP3_MSG_MAX, left for the next session */
};
/* Lists new/ and cur/ of the Maildir in the cwd, oldest first: 0, or -1 with errno. */
extern int pop3_box_scan(struct pop3_box *b);
extern struct pop3_msg *pop3_box_msg(struct pop3_box const *b, size_t i); /* i from 0 */
extern char const *pop3_box_name(struct pop3_box const *b, size_t i);
/* Computes every UIDL once, unique within the listing: 0, or -1 ENOMEM. */
extern int pop3_box_uidls(struct pop3_box *b);
extern char const *pop3_box_uidl(struct pop3_box const *b, size_t i);
/* Opens message i for reading: an fd, or -1 (ENOENT: someone else removed it). */
extern int pop3_box_open(struct pop3_box const *b, size_t i);
/* UPDATE: unlinks the messages marked deleted. Returns how many could not be removed. */
extern size_t pop3_box_expunge(struct pop3_box *b);
/* Moves the remaining new/ messages to cur/ with ":2," (Maildir: they have been seen by a
   reader), and adds ",W=size" to the names of those whose size was counted, so that the
   next session need not read them (the UIDL leaves a last ",W=" out, so it stays the
   same). Best effort: a failure leaves the message where and as it was, as good. */
extern void pop3_box_tocur(struct pop3_box *b);
extern void pop3_box_free(struct pop3_box *b);

/* --- the TRANSACTION state (pop3d_sess.c) ------------------------------------------------- */
struct pop3d {
  struct pop3_in in;
  struct pop3_out out;
  struct pop3_box box;
  unsigned int errors;
  int lockfd;          /* the mailbox lock: let go before lingering on a closing connection */
};
/* Runs the session after the greeting until QUIT, end of input or an error. Returns the
   exit code: POP3_EXIT_OK, POP3_EXIT_TOLD or POP3_EXIT_TEMP. */
extern int pop3d_session(struct pop3d *s);
/* The CAPA list, each line CRLF-ended, ".\r\n" last; USER listed in both states (RFC 2449). */
extern char const *pop3_capa(void);
#endif
