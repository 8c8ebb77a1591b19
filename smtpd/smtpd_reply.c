/* Every reply mailroom-smtpd gives, in one place (mailroom-smtpd(8) lists them too).
   Each 2xx/4xx/5xx text starts with its enhanced status code (RFC 2034, RFC 3463); the
   greeting and the answers to HELO and EHLO carry none, as RFC 2034 says, so EHLO's
   lines stay plain keywords. A text with a second part is written part one, control/me,
   part two. */
#include <string.h>

#include "smtpd.h"

static struct {
  char const *a, *b;
} const replies[RE_COUNT] = {
  [RE_GREETING] = { "220 ", " ESMTP mailroom" },
  [RE_HELO] = { "250 ", "" },
  [RE_HELO_NOARG] = { "501 5.5.4 Syntax: EHLO domain (or HELO domain)", 0 },
  [RE_HELO_BAD] = { "501 5.5.4 Bad EHLO/HELO argument: longer than 255 bytes or with control characters", 0 },

  [RE_MAIL_OK] = { "250 2.1.0 Sender ok", 0 },
  [RE_MAIL_NOHELO] = { "503 5.5.1 Say EHLO or HELO first", 0 },
  [RE_MAIL_NESTED] = { "503 5.5.1 Sender already given: RSET first", 0 },
  [RE_MAIL_SYNTAX] = { "501 5.5.4 Syntax: MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME] [SMTPUTF8]", 0 },
  [RE_MAIL_ADDR] = { "501 5.1.7 Bad sender address syntax", 0 },
  [RE_MAIL_NODOMAIN] = { "501 5.1.7 Sender address needs a domain", 0 },
  [RE_MAIL_LONG] = { "501 5.1.7 Sender address too long", 0 },
  [RE_MAIL_SIZE] = { "552 5.3.4 Message size exceeds fixed maximum message size", 0 },

  [RE_RCPT_OK] = { "250 2.1.5 Recipient ok", 0 },
  [RE_RCPT_NOMAIL] = { "503 5.5.1 MAIL first", 0 },
  [RE_RCPT_SYNTAX] = { "501 5.5.4 Syntax: RCPT TO:<address>", 0 },
  [RE_RCPT_ADDR] = { "501 5.1.3 Bad recipient address syntax", 0 },
  [RE_RCPT_NODOMAIN] = { "501 5.1.3 Recipient address needs a domain (only <postmaster> may go without)", 0 },
  [RE_RCPT_LONG] = { "501 5.1.3 Recipient address too long", 0 },
  [RE_RCPT_NOUSER] = { "550 5.1.1 No such user here", 0 },
  [RE_RCPT_NORELAY] = { "550 5.7.1 Relaying denied: that domain is not served here", 0 },
  [RE_RCPT_TEMP] = { "451 4.3.0 Temporary failure looking up the recipient: try again later", 0 },
  [RE_RCPT_TOOMANY] = { "452 4.5.3 Too many recipients: send the rest in another message", 0 },

  [RE_UTF8_NEEDED] = { "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter on MAIL", 0 },
  [RE_UTF8_BAD] = { "501 5.6.7 Address is not valid UTF-8", 0 },
  [RE_PARAM] = { "555 5.5.4 Unsupported parameter (offered: SIZE, BODY=7BIT or 8BITMIME, SMTPUTF8, RET, ENVID, AUTH on MAIL; NOTIFY, ORCPT on RCPT)", 0 },
  [RE_PARAM_SYNTAX] = { "501 5.5.4 Malformed or repeated parameter", 0 },
  [RE_PARAM_DUP] = { "501 5.5.4 Parameter given twice", 0 },
  [RE_DSN_NOTIFY] = { "501 5.5.4 Bad NOTIFY parameter: NEVER alone, or a list of SUCCESS, FAILURE, DELAY, each once (RFC 3461 4.1)", 0 },
  [RE_DSN_ORCPT] = { "501 5.5.4 Bad ORCPT parameter: addr-type;xtext, at most 500 characters (RFC 3461 4.2)", 0 },
  [RE_DSN_RET] = { "501 5.5.4 Bad RET parameter: FULL or HDRS (RFC 3461 4.3)", 0 },
  [RE_DSN_ENVID] = { "501 5.5.4 Bad ENVID parameter: xtext of 1 to 100 characters (RFC 3461 4.4)", 0 },
  [RE_AUTH_PARAM] = { "501 5.5.4 Bad AUTH parameter: <> or an xtext mailbox of at most 500 characters (RFC 4954 5)", 0 },

  [RE_DATA_NOMAIL] = { "503 5.5.1 MAIL first", 0 },
  [RE_DATA_NORCPT] = { "554 5.5.1 No valid recipients", 0 },
  [RE_DATA_ARG] = { "501 5.5.4 Syntax: DATA (no argument)", 0 },
  [RE_DATA_GO] = { "354 End data with <CR><LF>.<CR><LF>", 0 },
  [RE_DATA_NOQUEUE] = { "451 4.3.0 Unable to start the queue: try again later", 0 },
  [RE_DATA_BARELF] = { "554 5.6.0 Message refused: it has a bare LF (a line end without CR); SMTP lines end with CR LF (RFC 5321 2.3.8), so the sending software must be fixed", 0 },
  [RE_DATA_BARECR] = { "554 5.6.0 Message refused: it has a bare CR (a CR not followed by LF), which cannot be stored as sent", 0 },
  [RE_DATA_NUL] = { "554 5.6.0 Message refused: it contains a NUL byte", 0 },
  [RE_DATA_BIG] = { "552 5.3.4 Message size exceeds fixed maximum message size", 0 },
  [RE_DATA_HOPS] = { "554 5.4.6 Too many Received/Delivered-To lines: a mail loop", 0 },

  [RE_RSET] = { "250 2.0.0 Ok", 0 },
  [RE_RSET_ARG] = { "501 5.5.4 Syntax: RSET (no argument)", 0 },
  [RE_NOOP] = { "250 2.0.0 Ok", 0 },
  [RE_QUIT] = { "221 2.0.0 ", " closing connection" },
  [RE_VRFY] = { "252 2.5.0 Cannot VRFY user, but will accept a message and attempt delivery", 0 },
  [RE_VRFY_NOARG] = { "501 5.5.4 Syntax: VRFY address", 0 },
  [RE_EXPN] = { "502 5.5.1 EXPN is not available", 0 },
  [RE_HELP] = { "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\r\n"
                "214-2.0.0 Extensions: PIPELINING 8BITMIME SIZE ENHANCEDSTATUSCODES CHUNKING DSN SMTPUTF8\r\n"
                "214 2.0.0 See RFC 5321 and mailroom-smtpd(8)", 0 },
  [RE_NOTIMPL] = { "502 5.5.1 Command not implemented", 0 },
  [RE_UNKNOWN] = { "500 5.5.2 Unknown command", 0 },
  [RE_EMPTY] = { "500 5.5.2 Syntax error: empty command line", 0 },
  [RE_LINE_LONG] = { "500 5.5.2 Line too long: at most 1000 bytes with its CR LF", 0 },
  [RE_LINE_NUL] = { "500 5.5.2 NUL byte in a command", 0 },
  [RE_LINE_BARELF] = { "500 5.5.2 Bare LF in a command: SMTP lines end with CR LF", 0 },
  [RE_LINE_BARECR] = { "500 5.5.2 Bare CR in a command: SMTP lines end with CR LF", 0 },

  [RE_TOO_MANY_ERRORS] = { "421 4.7.0 ", " too many errors, closing connection" },
  [RE_TIMEOUT] = { "421 4.4.2 ", " timeout, closing connection" },
  [RE_NOMEM] = { "421 4.3.0 ", " out of memory, closing connection" },
  [RE_UNAVAILABLE] = { "421 4.3.0 ", " service not available (see the server's log), closing connection" },

  [RE_TLS_ARG] = { "501 5.5.4 Syntax: STARTTLS (no argument)", 0 },
  [RE_TLS_ACTIVE] = { "503 5.5.1 TLS is already active", 0 },
  [RE_MAIL_AUTHFIRST] = { "530 5.7.0 Authentication required: this is the submission service (STARTTLS, then AUTH)", 0 },
  [RE_AUTH_OK] = { "235 2.7.0 Authentication successful", 0 },
  [RE_AUTH_NOTLS] = { "538 5.7.11 Encryption required for requested authentication mechanism: STARTTLS first", 0 },
  [RE_AUTH_AGAIN] = { "503 5.5.1 Already authenticated", 0 },
  [RE_AUTH_INMAIL] = { "503 5.5.1 AUTH not permitted during a mail transaction", 0 },
  [RE_AUTH_NOEHLO] = { "503 5.5.1 Say EHLO first", 0 },
  [RE_AUTH_MECH] = { "504 5.5.4 Unrecognized authentication type (offered: PLAIN LOGIN)", 0 },
  [RE_AUTH_SYNTAX] = { "501 5.5.4 Syntax: AUTH mechanism [initial-response]", 0 },
  [RE_AUTH_CANCEL] = { "501 5.0.0 Authentication cancelled", 0 },
  [RE_AUTH_B64] = { "501 5.5.2 Cannot decode the response (base64)", 0 },
  [RE_AUTH_BAD] = { "535 5.7.8 Authentication credentials invalid", 0 },
  [RE_AUTH_AUTHZ] = { "535 5.7.8 Authentication credentials invalid: acting for another user is not offered", 0 },
  [RE_AUTH_TEMP] = { "454 4.7.0 Temporary authentication failure: try again later", 0 },
  [RE_AUTH_LAST] = { "421 4.7.0 ", " too many failed logins, closing connection" },

  [RE_BDAT_SYNTAX] = { "501 5.5.4 Syntax: BDAT chunk-size [LAST] (chunk-size: 1 to 19 digits)", 0 },
  [RE_BDAT_CHUNK] = { "250 2.0.0 Chunk received", 0 },
  [RE_BDAT_MIXED] = { "503 5.5.1 DATA cannot follow BDAT in one transaction (RFC 3030): the transaction is abandoned", 0 }
};

int smtpd_reply(smtpd_io *io, enum smtpd_re r, char const *me)
{
  char const *a = replies[r].a, *b = replies[r].b;
  if (smtpd_io_put(io, a, strlen(a)) < 0) return -1;
  if (b) {
    if (smtpd_io_put(io, me, strlen(me)) < 0) return -1;
    if (smtpd_io_put(io, b, strlen(b)) < 0) return -1;
  }
  return smtpd_io_put(io, "\r\n", 2);
}

char const *smtpd_reply_text(enum smtpd_re r)
{
  return replies[r].a;
}
