/* The conversation (RFC 5321 4.1, 4.3.2): command lines in, replies out, a transaction
   at a time. Lines come from the one input buffer, so commands written together
   (PIPELINING) are answered in order and none is lost; replies wait in the output buffer
   until we would wait for the client. DATA is smtpd_msg.c's. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <skalibs/types.h>

#include "smtpd.h"

int smtpd_sess_reply(smtpd_sess *s, enum smtpd_re r)
{
  if (smtpd_reply_text(r)[0] == '5') s->errors++;
  return smtpd_reply(s->io, r, s->cf->me);
}

void smtpd_sess_reset(smtpd_sess *s)
{
  if (s->bdat == SMTPD_BDAT_OPEN) smtpd_queue_abort(&s->q); /* chunks never ended: nothing queued */
  s->bdat = SMTPD_BDAT_NONE;
  s->inmail = 0;
  s->smtputf8 = 0;
  s->env.len = 0;
  s->rlog.len = 0;
  s->nrcpt = s->nrefused = 0;
}

/* "ip=... helo=..." at the start of every log line of the session. */
static int log_head(smtpd_sess *s, stralloc *sa)
{
  return stralloc_cats(sa, "ip=") && stralloc_cats(sa, s->cf->ip) && stralloc_cats(sa, " helo=") &&
         (s->helo[0] ? smtpd_log_esc(sa, s->helo, strlen(s->helo), 0) : stralloc_cats(sa, "-")) &&
         (!s->cf->tls[0] || stralloc_cats(sa, " tls=1")) &&
         (!s->authuser[0] || (stralloc_cats(sa, " user=") && smtpd_log_esc(sa, s->authuser, strlen(s->authuser), 0)));
}

static int log_from(smtpd_sess *s, stralloc *sa)
{
  char const *from = s->env.len ? s->env.s + 1 : "";
  return stralloc_cats(sa, " from=<") && smtpd_log_esc(sa, from, strlen(from), 0) && stralloc_cats(sa, ">");
}

static int catnum(stralloc *sa, char const *key, unsigned long long n)
{
  char fmt[UINT64_FMT];
  return stralloc_cats(sa, key) && stralloc_catb(sa, fmt, uint64_fmt(fmt, n));
}

static int catquoted(stralloc *sa, char const *key, char const *text)
{
  return stralloc_cats(sa, key) && stralloc_cats(sa, "\"") && smtpd_log_esc(sa, text, strlen(text), 1) &&
         stralloc_cats(sa, "\"");
}

void smtpd_sess_logmsg(smtpd_sess *s, char const *result, char const *reason, long long size,
                       pid_t qp, char const *qid)
{
  stralloc sa = STRALLOC_ZERO;
  int ok = log_head(s, &sa) && log_from(s, &sa) && stralloc_cats(&sa, " rcpt=") &&
           (s->rlog.len ? stralloc_catb(&sa, s->rlog.s, s->rlog.len - 1) : stralloc_cats(&sa, "-")) &&
           catnum(&sa, " nrcpt=", s->nrcpt) && catnum(&sa, " refused=", s->nrefused) &&
           (size < 0 || catnum(&sa, " size=", (unsigned long long)size)) &&
           (!qp || catnum(&sa, " qp=", (unsigned long long)qp)) &&
           (!qid || !*qid || (stralloc_cats(&sa, " qid=") && stralloc_cats(&sa, qid))) &&
           stralloc_cats(&sa, " result=") && stralloc_cats(&sa, result) &&
           (!reason || catquoted(&sa, " reason=", reason));
  if (ok) smtpd_log_line("msg", sa.s, sa.len);
  stralloc_free(&sa);
}

/* Ends an open transaction that did not reach the end of DATA, and says why. */
void smtpd_sess_abandon(smtpd_sess *s, char const *why)
{
  if (!s->inmail) {
    s->bdat = SMTPD_BDAT_NONE; /* a refused BDAT transaction, already logged */
    return;
  }
  smtpd_sess_logmsg(s, why, 0, -1, 0, 0);
  smtpd_sess_reset(s);
}

/* Notes a recipient and its verdict for the transaction's log line, within bounds: past
   them, one "..." says that some were left out (the refused ones have their own lines). */
static void rlog_add(smtpd_sess *s, char const *code)
{
  stralloc *r = &s->rlog;
  size_t old = r->len;
  if (old >= 4 && !memcmp(r->s + old - 4, "...,", 4)) return;
  if (old > SMTPD_LOG_MAX / 2 ||
      !(stralloc_cats(r, "<") && smtpd_log_esc(r, s->path.addr, s->path.len, 0) && stralloc_cats(r, ">:") &&
        stralloc_cats(r, code) && stralloc_cats(r, ","))) {
    r->len = old;
    if (!stralloc_cats(r, "...,")) r->len = old;
  }
}

static void log_rcpt(smtpd_sess *s, char const *code, char const *reason)
{
  stralloc sa = STRALLOC_ZERO;
  if (log_head(s, &sa) && log_from(s, &sa) && stralloc_cats(&sa, " to=<") &&
      smtpd_log_esc(&sa, s->path.addr, s->path.len, 0) && stralloc_cats(&sa, ">") &&
      stralloc_cats(&sa, " result=") && stralloc_cats(&sa, code) && catquoted(&sa, " reason=", reason))
    smtpd_log_line("rcpt", sa.s, sa.len);
  stralloc_free(&sa);
}

/* The extensions offered (RFC 5321 4.1.1.1): the lines after "250-me". */
static char const ehlo_a[] = "\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE ";
static char const ehlo_b[] = "\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n";
static char const ehlo_dsn[] = "250-DSN\r\n"; /* RFC 3461 */
static char const ehlo_tls[] = "250-STARTTLS\r\n";    /* before TLS, under mailroom-tlsd */
static char const ehlo_auth[] = "250-AUTH PLAIN LOGIN\r\n"; /* under TLS, with a verifier */
static char const ehlo_c[] = "250 SMTPUTF8\r\n";

static int do_helo(smtpd_sess *s, char const *arg, size_t len, int ehlo)
{
  char buf[ULONG_FMT];
  int r = smtpd_cmd_helo(arg, len, s->helo);
  if (r == -1) return smtpd_sess_reply(s, RE_HELO_NOARG);
  if (r < 0) return smtpd_sess_reply(s, RE_HELO_BAD);
  smtpd_sess_abandon(s, "helo"); /* EHLO and HELO start afresh (RFC 5321 4.1.4) */
  s->greeted = ehlo ? 2 : 1;
  if (!ehlo) return smtpd_reply(s->io, RE_HELO, s->cf->me);
  if (smtpd_io_put(s->io, "250-", 4) < 0 || smtpd_io_put(s->io, s->cf->me, strlen(s->cf->me)) < 0) return -1;
  buf[ulong_fmt(buf, s->cf->databytes)] = 0;
  return smtpd_io_put(s->io, ehlo_a, strlen(ehlo_a)) < 0 || smtpd_io_put(s->io, buf, strlen(buf)) < 0 ||
             smtpd_io_put(s->io, ehlo_b, strlen(ehlo_b)) < 0 || smtpd_io_put(s->io, ehlo_dsn, strlen(ehlo_dsn)) < 0 ||
             (s->cf->tlsctl >= 0 && !s->cf->tls[0] && smtpd_io_put(s->io, ehlo_tls, strlen(ehlo_tls)) < 0) ||
             (s->cf->authfd >= 0 && s->cf->tls[0] && !s->authuser[0] &&
              smtpd_io_put(s->io, ehlo_auth, strlen(ehlo_auth)) < 0) ||
             smtpd_io_put(s->io, ehlo_c, strlen(ehlo_c)) < 0
           ? -1
           : 0;
}

/* The reply for a parser's error, for MAIL (mail = 1) or RCPT. */
static enum smtpd_re perr_reply(enum smtpd_perr e, int mail)
{
  switch (e) {
    case P_SYNTAX: return mail ? RE_MAIL_SYNTAX : RE_RCPT_SYNTAX;
    case P_NODOMAIN: return mail ? RE_MAIL_NODOMAIN : RE_RCPT_NODOMAIN;
    case P_LONG: return mail ? RE_MAIL_LONG : RE_RCPT_LONG;
    case P_UTF8: return RE_UTF8_NEEDED;
    case P_BADUTF8: return RE_UTF8_BAD;
    case P_PARAM: return RE_PARAM;
    case P_PARAMSYN: return RE_PARAM_SYNTAX;
    case P_DUP: return RE_PARAM_DUP;
    case P_NOTIFY: return RE_DSN_NOTIFY;
    case P_ORCPT: return RE_DSN_ORCPT;
    case P_RET: return RE_DSN_RET;
    case P_ENVID: return RE_DSN_ENVID;
    case P_AUTHP: return RE_AUTH_PARAM;
    case P_ADDR:
    case P_OK: break;
  }
  return mail ? RE_MAIL_ADDR : RE_RCPT_ADDR;
}

/* One parameter record (lib/envelope.h) of letter and value v onto the envelope. */
static int env_param(smtpd_sess *s, char letter, char const *v)
{
  return stralloc_catb(&s->env, &letter, 1) && stralloc_catb(&s->env, v, strlen(v) + 1);
}

/* The sender's parameter records: RET and ENVID as sent; AUTH= only from a session that
   authenticated, otherwise as AUTH=<> (RFC 4954 5: a server that does not trust the
   client must behave as if AUTH=<> had been given). */
static int env_mparams(smtpd_sess *s)
{
  smtpd_path const *p = &s->path;
  return (!p->envid[0] || env_param(s, 'E', p->envid)) &&
         (!p->ret || env_param(s, 'R', p->ret == DSN_RET_FULL ? "FULL" : "HDRS")) &&
         (!p->auth[0] || env_param(s, 'A', s->authuser[0] ? p->auth : "<>"));
}

static int env_rparams(smtpd_sess *s)
{
  char n[DSN_NOTIFY_MAX + 1];
  smtpd_path const *p = &s->path;
  if (p->notify) dsn_notify_fmt(p->notify, n);
  return (!p->notify || env_param(s, 'N', n)) && (!p->orcpt[0] || env_param(s, 'O', p->orcpt));
}

static int do_mail(smtpd_sess *s, char const *arg, size_t len)
{
  enum smtpd_perr e;
  if (!s->greeted) return smtpd_sess_reply(s, RE_MAIL_NOHELO);
  if (s->inmail) return smtpd_sess_reply(s, RE_MAIL_NESTED);
  if (s->cf->submission && !s->authuser[0]) return smtpd_sess_reply(s, RE_MAIL_AUTHFIRST);
  e = smtpd_cmd_mail(arg, len, s->greeted == 2, &s->path);
  if (e != P_OK) return smtpd_sess_reply(s, perr_reply(e, 1));
  if (s->path.hassize && s->path.size > s->cf->databytes) return smtpd_sess_reply(s, RE_MAIL_SIZE);
  smtpd_sess_reset(s);
  if (!stralloc_catb(&s->env, "F", 1) || !stralloc_catb(&s->env, s->path.addr, s->path.len + 1) ||
      !env_mparams(s))
    return (errno = ENOMEM, -1);
  s->inmail = 1;
  s->smtputf8 = s->path.smtputf8;
  s->ntrans++;
  return smtpd_sess_reply(s, RE_MAIL_OK);
}

/* 1 if the envelope already has this recipient (byte for byte). */
static int have_rcpt(smtpd_sess *s)
{
  size_t i = strlen(s->env.s) + 1;
  while (i < s->env.len) {
    size_t l = strlen(s->env.s + i + 1);
    if (s->env.s[i] == 'T' && l == s->path.len && !memcmp(s->env.s + i + 1, s->path.addr, l)) return 1;
    i += l + 2;
  }
  return 0;
}

static int rcpt_refuse(smtpd_sess *s, enum smtpd_re r, char const *code, char const *reason)
{
  log_rcpt(s, code, reason);
  rlog_add(s, code);
  s->nrefused++;
  return smtpd_sess_reply(s, r);
}

static int do_rcpt(smtpd_sess *s, char const *arg, size_t len)
{
  enum smtpd_perr e;
  enum smtpd_rv v;
  if (!s->inmail) return smtpd_sess_reply(s, RE_RCPT_NOMAIL);
  e = smtpd_cmd_rcpt(arg, len, s->greeted == 2, s->smtputf8, &s->path);
  if (e != P_OK) return smtpd_sess_reply(s, perr_reply(e, 0));
  if (s->nrcpt >= s->cf->maxrcpt) return rcpt_refuse(s, RE_RCPT_TOOMANY, "452", "too many recipients");
  v = smtpd_rcpt_check(&s->cf->pol, &s->path);
  switch (v) {
    case RV_NOUSER:
    case RV_EXTNOTLISTED: return rcpt_refuse(s, RE_RCPT_NOUSER, "550", smtpd_rcpt_reason(v));
    case RV_NORELAY: return rcpt_refuse(s, RE_RCPT_NORELAY, "550", smtpd_rcpt_reason(v));
    case RV_TEMP: return rcpt_refuse(s, RE_RCPT_TEMP, "451", smtpd_rcpt_reason(v));
    default: break;
  }
  if (s->path.at >= s->path.len) {
    /* <postmaster> alone is postmaster at control/me (RFC 5321 4.5.1) */
    size_t ml = strlen(s->cf->me);
    if (s->path.len + 1 + ml > ENV_ADDR_MAX) return rcpt_refuse(s, RE_RCPT_LONG, "501", "address too long");
    s->path.addr[s->path.len] = '@';
    memcpy(s->path.addr + s->path.len + 1, s->cf->me, ml + 1);
    s->path.len += 1 + ml;
  }
  if (!have_rcpt(s)) {
    if (!stralloc_catb(&s->env, "T", 1) || !stralloc_catb(&s->env, s->path.addr, s->path.len + 1) ||
        !env_rparams(s))
      return (errno = ENOMEM, -1);
    s->nrcpt++;
  }
  rlog_add(s, "250");
  return smtpd_sess_reply(s, RE_RCPT_OK);
}

/* One command line. 0 go on, 1 QUIT, -1 the session ends (s->end says why, or errno). */
static int command(smtpd_sess *s)
{
  smtpd_line *l = &s->line;
  size_t ap;
  enum smtpd_verb v;
  if (l->flags & LINE_NUL) return smtpd_sess_reply(s, RE_LINE_NUL);
  if (l->flags & LINE_LONG) return smtpd_sess_reply(s, RE_LINE_LONG);
  if (l->flags & LINE_BARECR) return smtpd_sess_reply(s, RE_LINE_BARECR);
  if (l->flags & LINE_BARELF) return smtpd_sess_reply(s, RE_LINE_BARELF);
  v = smtpd_cmd_verb(l->s, l->len, &ap);
  switch (v) {
    case V_EMPTY: return smtpd_sess_reply(s, RE_EMPTY);
    case V_UNKNOWN: return smtpd_sess_reply(s, RE_UNKNOWN);
    case V_NOTIMPL: return smtpd_sess_reply(s, RE_NOTIMPL);
    case V_HELO: return do_helo(s, l->s + ap, l->len - ap, 0);
    case V_EHLO: return do_helo(s, l->s + ap, l->len - ap, 1);
    case V_MAIL: return do_mail(s, l->s + ap, l->len - ap);
    case V_RCPT: return do_rcpt(s, l->s + ap, l->len - ap);
    case V_DATA: return smtpd_msg_data(s, l->s + ap, l->len - ap);
    case V_RSET:
      if (ap < l->len) return smtpd_sess_reply(s, RE_RSET_ARG);
      smtpd_sess_abandon(s, "rset");
      return smtpd_sess_reply(s, RE_RSET);
    case V_NOOP: return smtpd_sess_reply(s, RE_NOOP);
    case V_QUIT:
      smtpd_sess_abandon(s, "quit");
      s->end = "quit";
      return smtpd_sess_reply(s, RE_QUIT) < 0 ? -1 : 1;
    case V_VRFY: return smtpd_sess_reply(s, ap < l->len ? RE_VRFY : RE_VRFY_NOARG);
    case V_EXPN: return smtpd_sess_reply(s, RE_EXPN);
    case V_HELP: return smtpd_sess_reply(s, RE_HELP);
    case V_STARTTLS: return smtpd_starttls(s, l->s + ap, l->len - ap);
    case V_AUTH: return smtpd_auth(s, l->s + ap, l->len - ap);
    case V_BDAT: return smtpd_bdat(s, l->s + ap, l->len - ap);
  }
  return smtpd_sess_reply(s, RE_UNKNOWN);
}

/* The next line into s->line. 1 got one, 0 EOF, -1 error (errno; ETIMEDOUT). */
int smtpd_sess_nextline(smtpd_sess *s)
{
  int done = 0;
  smtpd_line_reset(&s->line);
  while (!done) {
    struct iovec v[2];
    size_t k;
    if (buffer_isempty(&s->io->in)) {
      ssize_t r = smtpd_io_fill(s->io);
      if (r <= 0) return (int)r;
    }
    buffer_rpeek(&s->io->in, v);
    k = smtpd_line_feed(&s->line, v[0].iov_base, v[0].iov_len, &done);
    if (!done && v[1].iov_len) k += smtpd_line_feed(&s->line, v[1].iov_base, v[1].iov_len, &done);
    buffer_rseek(&s->io->in, k);
  }
  return 1;
}

static void log_session(smtpd_sess *s)
{
  stralloc sa = STRALLOC_ZERO;
  if (log_head(s, &sa) && catnum(&sa, " trans=", s->ntrans) && catnum(&sa, " msgs=", s->nmsgs) &&
      catnum(&sa, " errors=", s->errors) && stralloc_cats(&sa, " end=") && stralloc_cats(&sa, s->end))
    smtpd_log_line("session", sa.s, sa.len);
  stralloc_free(&sa);
}

int smtpd_session(smtpd_conf *cf, smtpd_io *io)
{
  smtpd_sess s;
  int r = 0;
  memset(&s, 0, sizeof s);
  s.cf = cf;
  s.io = io;
  s.env = (stralloc)STRALLOC_ZERO;
  s.rlog = (stralloc)STRALLOC_ZERO;
  s.end = 0;
  if (smtpd_reply(io, RE_GREETING, cf->me) < 0) r = -1;
  while (!r) {
    int k = smtpd_sess_nextline(&s);
    if (k <= 0) {
      if (!k) s.end = "drop";
      r = -1;
      break;
    }
    r = command(&s);
    if (!r && s.errors >= SMTPD_ERRORS_MAX) {
      s.end = "errors";
      smtpd_reply(io, RE_TOO_MANY_ERRORS, cf->me);
      r = -1;
    }
  }
  /* smtpd_msg_data() names the end it saw (drop, timeout) itself */
  if (!s.end) {
    if (errno == ENOMEM) {
      s.end = "nomem";
      smtpd_reply(io, RE_NOMEM, cf->me);
    } else if (errno == ETIMEDOUT) {
      s.end = smtpd_io_why(io);
      smtpd_reply(io, RE_TIMEOUT, cf->me);
    } else s.end = "error";
  }
  smtpd_sess_abandon(&s, s.end);
  smtpd_io_flush(io);
  log_session(&s);
  stralloc_free(&s.env);
  stralloc_free(&s.rlog);
  return r == 1 ? 0 : 111;
}
