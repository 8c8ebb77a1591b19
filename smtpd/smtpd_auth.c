/* STARTTLS (RFC 3207) and AUTH (RFC 4954, PLAIN RFC 4616 and LOGIN), with mailroom-tlsd on
   the other side of two sockets (lib/tlsctl.c): this process never sees the TLS key nor the
   password database. STARTTLS drops every byte the client sent after the command (those in
   our buffer here, those in the pipe by the switch to a new pipe) and starts the session
   afresh (RFC 3207 4.2: no HELO, no transaction, no AUTH). AUTH is offered only under TLS;
   a wrong password is delayed by the verifier, and after SMTPD_AUTH_FAILS_MAX the session
   ends. Passwords are wiped from our buffers once used and are never logged. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpd.h"

static void wipe(void *p, size_t n)
{
  volatile char *v = p;
  while (n--) *v++ = 0;
}

#define TLS_GO "220 2.0.0 Ready to start TLS\r\n"

int smtpd_starttls(smtpd_sess *s, char const *arg, size_t arglen)
{
  smtpd_io *io = s->io;
  if (s->cf->tlsctl < 0) return smtpd_sess_reply(s, RE_NOTIMPL);
  if (s->cf->tls[0]) return smtpd_sess_reply(s, RE_TLS_ACTIVE);
  if (arglen) return smtpd_sess_reply(s, RE_TLS_ARG);
  /* the go-ahead travels to mailroom-tlsd, which sends it when it reads no more plaintext */
  if (smtpd_io_flush(io) < 0) return -1;
  if (tlsctl_starttls(s->cf->tlsctl, TLS_GO, sizeof TLS_GO - 1, s->cf->tls) < 0) {
    s->cf->tls[0] = 0;
    s->end = "tls-failed";
    return -1;
  }
  /* the client's pipelined bytes in our buffer: dropped, never commands */
  smtpd_io_init(io, 0, 1, io->timeout);
  smtpd_sess_abandon(s, "starttls");
  s->greeted = 0;
  s->helo[0] = 0;
  smtpd_log_line("tls", s->cf->tls, strlen(s->cf->tls));
  return 0;
}

/* One SASL response line from the client, decoded into out: its length, -2 cancelled
   ("*"), -3 not base64, -1 the session ends. */
static long response(smtpd_sess *s, char *out, size_t max)
{
  long n;
  int r = smtpd_sess_nextline(s);
  if (r <= 0) {
    if (!r) s->end = "drop";
    return -1;
  }
  if (s->line.flags) n = -3;
  else if (s->line.len == 1 && s->line.s[0] == '*') n = -2;
  else {
    n = smtpd_b64_decode(s->line.s, s->line.len, out, max);
    if (n < 0) n = -3;
  }
  wipe(s->line.s, sizeof s->line.s);
  return n;
}

/* The verdict on a user and password. */
static int verify(smtpd_sess *s, smtpd_cred const *c)
{
  char lb[TLSD_USER_MAX + 40];
  int v = tlsctl_user_ok(c->user, c->ulen) ? tlsctl_verify(s->cf->authfd, c->user, c->ulen, c->pass, c->plen)
                                             : TLSD_AUTH_BAD;
  size_t i, n = c->ulen < TLSD_USER_MAX ? c->ulen : TLSD_USER_MAX;
  memcpy(lb, "user=", 5);
  for (i = 0; i < n; i++) lb[5 + i] = (c->user[i] > 0x20 && c->user[i] < 0x7f) ? c->user[i] : '?';
  lb[5 + n] = 0;
  if (v == TLSD_AUTH_OK) {
    memcpy(s->authuser, c->user, c->ulen);
    s->authuser[c->ulen] = 0;
    s->cf->pol.relayclient = 1; /* an authenticated user may send anywhere (RFC 6409 5) */
    memcpy(lb + 5 + n, " result=235", 12);
    smtpd_log_line("auth", lb, strlen(lb));
    return smtpd_sess_reply(s, RE_AUTH_OK);
  }
  if (v == TLSD_AUTH_TEMP) {
    memcpy(lb + 5 + n, " result=454", 12);
    smtpd_log_line("auth", lb, strlen(lb));
    return smtpd_sess_reply(s, RE_AUTH_TEMP);
  }
  memcpy(lb + 5 + n, " result=535", 12);
  smtpd_log_line("auth", lb, strlen(lb));
  if (v == TLSD_AUTH_LAST || ++s->authfails >= SMTPD_AUTH_FAILS_MAX) {
    s->end = "auth-failures";
    smtpd_reply(s->io, RE_AUTH_LAST, s->cf->me);
    return -1;
  }
  return smtpd_sess_reply(s, RE_AUTH_BAD);
}

static int auth_plain(smtpd_sess *s, char const *init, size_t initlen)
{
  char buf[SMTPD_SASL_MAX];
  smtpd_cred c;
  long n;
  int r;
  if (initlen) {
    n = (initlen == 1 && init[0] == '=') ? 0 : smtpd_b64_decode(init, initlen, buf, sizeof buf);
    if (n < 0) n = -3;
  } else {
    if (smtpd_io_put(s->io, "334 \r\n", 6) < 0) return -1;
    n = response(s, buf, sizeof buf);
  }
  if (n == -1) return -1;
  if (n == -2) return smtpd_sess_reply(s, RE_AUTH_CANCEL);
  if (n == -3) return smtpd_sess_reply(s, RE_AUTH_B64);
  r = smtpd_sasl_plain(buf, (size_t)n, &c);
  if (r == -2) r = smtpd_sess_reply(s, RE_AUTH_AUTHZ);
  else if (r < 0) r = smtpd_sess_reply(s, RE_AUTH_B64);
  else r = verify(s, &c);
  wipe(buf, sizeof buf);
  return r;
}

static int auth_login(smtpd_sess *s, char const *init, size_t initlen)
{
  char ubuf[SMTPD_SASL_MAX], pbuf[SMTPD_SASL_MAX];
  smtpd_cred c;
  long un, pn;
  int r;
  if (initlen) {
    un = smtpd_b64_decode(init, initlen, ubuf, sizeof ubuf);
    if (un < 0) un = -3;
  } else {
    if (smtpd_io_put(s->io, "334 VXNlcm5hbWU6\r\n", 18) < 0) return -1; /* "Username:" */
    un = response(s, ubuf, sizeof ubuf);
  }
  if (un == -1) return -1;
  if (un == -2) return smtpd_sess_reply(s, RE_AUTH_CANCEL);
  if (un == -3) return smtpd_sess_reply(s, RE_AUTH_B64);
  if (smtpd_io_put(s->io, "334 UGFzc3dvcmQ6\r\n", 18) < 0) return -1; /* "Password:" */
  pn = response(s, pbuf, sizeof pbuf);
  if (pn == -1) return -1;
  if (pn == -2) return smtpd_sess_reply(s, RE_AUTH_CANCEL);
  if (pn == -3) return smtpd_sess_reply(s, RE_AUTH_B64);
  c.user = ubuf;
  c.ulen = (size_t)un;
  c.pass = pbuf;
  c.plen = (size_t)pn;
  r = memchr(ubuf, 0, c.ulen) || memchr(pbuf, 0, c.plen) ? smtpd_sess_reply(s, RE_AUTH_B64) : verify(s, &c);
  wipe(pbuf, sizeof pbuf);
  return r;
}

int smtpd_auth(smtpd_sess *s, char const *arg, size_t arglen)
{
  size_t m = 0, i;
  if (s->cf->authfd < 0) return smtpd_sess_reply(s, RE_NOTIMPL);
  if (!s->cf->tls[0]) return smtpd_sess_reply(s, RE_AUTH_NOTLS);
  if (s->authuser[0]) return smtpd_sess_reply(s, RE_AUTH_AGAIN);
  if (s->inmail) return smtpd_sess_reply(s, RE_AUTH_INMAIL);
  if (s->greeted != 2) return smtpd_sess_reply(s, RE_AUTH_NOEHLO);
  while (m < arglen && arg[m] != ' ') m++;
  if (!m) return smtpd_sess_reply(s, RE_AUTH_SYNTAX);
  i = m;
  while (i < arglen && arg[i] == ' ') i++;
  if (memchr(arg + i, ' ', arglen - i)) return smtpd_sess_reply(s, RE_AUTH_SYNTAX);
  if (m == 5 && !strncasecmp(arg, "PLAIN", 5)) return auth_plain(s, arg + i, arglen - i);
  if (m == 5 && !strncasecmp(arg, "LOGIN", 5)) return auth_login(s, arg + i, arglen - i);
  return smtpd_sess_reply(s, RE_AUTH_MECH);
}
