#ifndef MAILROOM_TLSCTL_H
#define MAILROOM_TLSCTL_H
/* The server programs' side of mailroom-tlsd (mailroom-smtpd, mailroom-popup): the control
   socket for STARTTLS/STLS and the password verifier for SMTP AUTH. libc only.
   doc/INTERNALS.md, "TLS", describes the interface. */
#include <stddef.h>

#define TLSD_ENV_CTL "MAILROOM_TLSCTL"   /* fd of the control socket (STARTTLS, STLS) */
#define TLSD_ENV_TLS "MAILROOM_TLS"      /* "TLSv1.3 CIPHER": the connection is encrypted */
#define TLSD_ENV_AUTH "MAILROOM_AUTHFD"  /* fd of the password verifier (SMTP AUTH) */
/* set by the verifier for its checkpassword program: check the password, exit 0 or 1, run
   nothing and switch to nobody (mailroom-checkpassword(8)); mailroom-popup never sets it */
#define TLSD_ENV_VERIFY "MAILROOM_VERIFYONLY"
#define TLSD_INFO_MAX 120                /* the "version cipher" text */
#define TLSD_REQ_MAX 400                 /* a verifier request: user \0 password \0 */
#define TLSD_USER_MAX 128                /* as POP3_USER_MAX */
#define TLSD_PASS_MAX 256                /* as POP3_PASS_MAX */
#define TLSD_CTL_WAIT 120                /* seconds a server waits for the handshake's end */
#define TLSD_AUTH_WAIT 60                /* seconds a server waits for the verifier */

/* Verifier answers, one byte. */
#define TLSD_AUTH_OK 'Y'
#define TLSD_AUTH_BAD 'N'   /* wrong user or password (after the delay) */
#define TLSD_AUTH_LAST 'X'  /* wrong, and no more tries: the verifier is gone */
#define TLSD_AUTH_TEMP 'T'  /* the check could not be made */

/* --- the server's side of the control socket (lib/tlsctl.c) --------------------------------- */
/* The fd named by the environment variable name, if it is a number of an open fd > 2,
   else -1. */
extern int tlsctl_envfd(char const *name);
/* Copies the TLS text of MAILROOM_TLS (or of s) into out (TLSD_INFO_MAX + 1) if it is one:
   printable without '(' ')' '\\' ';' and shorter than TLSD_INFO_MAX. 1 or 0. Pure. */
extern int tlsctl_info_ok(char const *s, char *out);
#define TLSD_GO_MAX 256 /* the go-ahead reply carried in the control packet */
/* STARTTLS from the server program: asks mailroom-tlsd on ctl for the handshake, handing it
   the reply that says "go ahead" (go, golen <= TLSD_GO_MAX, CRLF included): tlsd writes it
   to the client itself once it has stopped passing the client's bytes on, so the client's
   first TLS bytes can never be taken for plaintext (or plaintext for them). Everything the
   server wrote before must be flushed already. Waits at most TLSD_CTL_WAIT seconds, and
   puts the new connection on fd 0: a fresh pipe, so every byte the client sent before the
   handshake is dropped with the old one. info gets "version cipher". 0, or -1 (errno;
   the handshake failed or mailroom-tlsd is gone: the connection is lost). */
extern int tlsctl_starttls(int ctl, char const *go, size_t golen, char *info);
/* Asks the verifier on fd for user/pass (bounded as above); returns one of TLSD_AUTH_*. */
extern int tlsctl_verify(int fd, char const *user, size_t ulen, char const *pass, size_t plen);
/* 1 if s[0..len) is a user name the verifier passes on: 1 to TLSD_USER_MAX bytes in
   0x21..0x7e, no '/', not "." or "..". Pure. */
extern int tlsctl_user_ok(char const *s, size_t len);

#endif
