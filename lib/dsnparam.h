#ifndef MAILROOM_DSNPARAM_H
#define MAILROOM_DSNPARAM_H
/* The values of the DSN parameters (RFC 3461: NOTIFY, ORCPT on RCPT; RET, ENVID on MAIL)
   and of AUTH= on MAIL (RFC 4954 section 5), and their xtext encoding (RFC 3461 4).
   mailroom-smtpd parses them, the envelope (lib/envelope.c) carries them, mailroom-remote
   passes them on and mailroom-send quotes them in its reports. Pure code, libc only. */
#include <stddef.h>

/* Bounds, as RFC 3461 sets them (4.2: ORCPT at most 500 characters; 4.4: ENVID at most
   100) and for AUTH= (a mailbox: ENV_ADDR_MAX bytes, which xtext may triple, cut to 500
   as for ORCPT). The values are kept as the client sent them (xtext), never decoded in
   the queue, so they pass on byte for byte. */
#define DSN_ENVID_MAX 100
#define DSN_ORCPT_MAX 500
#define DSN_AUTH_MAX 500
#define DSN_NOTIFY_MAX 21 /* "SUCCESS,FAILURE,DELAY" */

#define DSN_NOTIFY_SUCCESS 1u
#define DSN_NOTIFY_FAILURE 2u
#define DSN_NOTIFY_DELAY 4u
#define DSN_NOTIFY_NEVER 8u

#define DSN_RET_FULL 1
#define DSN_RET_HDRS 2

/* 1 if s[0..n) is xtext: 1 or more of "+XX" (two uppercase hex digits) or a printable
   ASCII character other than '+' and '='. */
extern int xtext_valid(char const *s, size_t n);
/* Decodes xtext s[0..n) into out (max bytes, no NUL added): the length, or -1 if s is not
   xtext or does not fit. */
extern long xtext_decode(char const *s, size_t n, char *out, size_t max);
/* Encodes s[0..n) as xtext into out (max bytes, NUL added): the length, or -1 if it does
   not fit. */
extern long xtext_encode(char const *s, size_t n, char *out, size_t max);

/* NOTIFY's value: "NEVER", or a comma list of SUCCESS, FAILURE, DELAY (any case, each at
   most once; NEVER alone). The DSN_NOTIFY_* bits, or 0 if malformed. */
extern unsigned dsn_notify_parse(char const *s, size_t n);
/* The canonical spelling of bits into out (DSN_NOTIFY_MAX + 1 bytes); its length. */
extern size_t dsn_notify_fmt(unsigned bits, char *out);
/* RET's value: DSN_RET_FULL, DSN_RET_HDRS (any case), or 0. */
extern int dsn_ret_parse(char const *s, size_t n);
/* ORCPT's value: addr-type ";" xtext, addr-type an atom (letters, digits, '-'), at most
   DSN_ORCPT_MAX bytes. 1 or 0. */
extern int dsn_orcpt_valid(char const *s, size_t n);
/* ENVID's value: xtext of 1 to DSN_ENVID_MAX bytes. 1 or 0. */
extern int dsn_envid_valid(char const *s, size_t n);
/* AUTH='s value: "<>" or xtext of at most DSN_AUTH_MAX bytes whose decoding is printable
   ASCII without spaces (an addr-spec). 1 or 0. */
extern int dsn_auth_valid(char const *s, size_t n);
#endif
