/* DATA: the injector is started, a Received: line and then the message stream into it
   as the client sends it (nothing is held here but one buffer), and its exit code
   becomes the reply. A message the state machine refuses (bare LF or CR, NUL, too big,
   a loop), or a client that goes away, gets no envelope: the injector then exits
   without queueing anything and removes what it wrote. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <skalibs/stralloc.h>
#include <skalibs/types.h>

#include "date822.h"
#include "exitcodes.h"
#include "qqerr.h"
#include "smtpd.h"

/* "Received: from HELO ([IP])\n\tby ME (mailroom-smtpd, qp PID) with PROTO;\n\tDATE\n"
   (RFC 5321 4.4; PROTO as RFC 3848 and RFC 6531 register them). The HELO name is the
   client's word: anything but what a domain or address literal holds becomes '?'. */
int smtpd_msg_received(smtpd_sess *s, stralloc *sa, pid_t qp)
{
  char date[DATE822_MAX + 1];
  char fmt[ULONG_FMT];
  size_t i, start;
  char const *ip = s->cf->ip;
  if (!stralloc_cats(sa, "Received: from ")) return 0;
  start = sa->len;
  if (!stralloc_cats(sa, s->helo)) return 0;
  for (i = start; i < sa->len; i++) {
    char c = sa->s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(".-_:[]", c)))
      sa->s[i] = '?';
  }
  if (!stralloc_cats(sa, " (") ||
      !(strcmp(ip, "unknown") ? stralloc_cats(sa, strchr(ip, ':') ? "[IPv6:" : "[") && stralloc_cats(sa, ip) &&
                                    stralloc_cats(sa, "]")
                              : stralloc_cats(sa, "unknown")) ||
      !stralloc_cats(sa, ")\n\tby ") || !stralloc_cats(sa, s->cf->me) ||
      !stralloc_cats(sa, " (mailroom-smtpd, qp ") || !stralloc_catb(sa, fmt, ulong_fmt(fmt, (unsigned long)qp)) ||
      !stralloc_cats(sa, ") with ") ||
      !stralloc_cats(sa, s->smtputf8 ? "UTF8SMTP" : s->greeted == 2 ? "ESMTP" : "SMTP"))
    return 0;
  /* RFC 3848: S under TLS, A once authenticated; the version, the cipher and the user in a
     comment (both were checked: printable, no parentheses or backslash) */
  if (s->greeted == 2 && ((s->cf->tls[0] && !stralloc_cats(sa, "S")) || (s->authuser[0] && !stralloc_cats(sa, "A"))))
    return 0;
  if (s->cf->tls[0] && !(stralloc_cats(sa, " (") && stralloc_cats(sa, s->cf->tls) &&
                         (!s->authuser[0] || (stralloc_cats(sa, ", authenticated as ") &&
                                              stralloc_cats(sa, s->authuser))) &&
                         stralloc_cats(sa, ")")))
    return 0;
  if (!date822_fmtlocal(date, time(0))) date822_fmt(date, (long long)time(0), 0);
  return stralloc_cats(sa, ";\n\t") && stralloc_cats(sa, date) && stralloc_cats(sa, "\n");
}

/* The data from the client through the state machine into the injector, up to the end
   of the data. 1 ended, 0 the client went away, -1 timeout or error (errno). */
static int stream(smtpd_sess *s, int towrite)
{
  char out[SMTPD_INBUF];
  smtpd_data *d = &s->data;
  while (d->state != SMTPD_DATA_END) {
    struct iovec v[2];
    size_t k, n, j;
    if (buffer_isempty(&s->io->in)) {
      ssize_t r = smtpd_io_fill(s->io);
      if (r <= 0) return (int)r;
    }
    buffer_rpeek(&s->io->in, v);
    for (j = 0, k = 0; j < 2 && d->state != SMTPD_DATA_END; j++) {
      if (!v[j].iov_len) continue;
      k += smtpd_data_feed(d, v[j].iov_base, v[j].iov_len, out, &n);
      if (n && towrite) smtpd_queue_put(&s->q, out, n);
    }
    if (towrite && (d->flags & DATA_BAD)) {
      /* refused whatever follows: the injector goes now, the rest is only read */
      smtpd_queue_abort(&s->q);
      towrite = 0;
    }
    buffer_rseek(&s->io->in, k);
  }
  return 1;
}

enum smtpd_re smtpd_msg_refusal(unsigned int flags, char const **why)
{
  if (flags & DATA_BARELF) return *why = "bare LF", RE_DATA_BARELF;
  if (flags & DATA_BARECR) return *why = "bare CR", RE_DATA_BARECR;
  if (flags & DATA_NUL) return *why = "NUL byte", RE_DATA_NUL;
  if (flags & DATA_BIG) return *why = "larger than databytes", RE_DATA_BIG;
  return *why = "too many hops", RE_DATA_HOPS;
}

/* Replies the injector's verdict, with the queue id or qp in a 250, and logs. */
int smtpd_msg_verdict(smtpd_sess *s, int code, pid_t qp, long long size)
{
  char fmt[ULONG_FMT + 40];
  char const *text;
  int perm;
  stralloc r = STRALLOC_ZERO;
  int ok;
  if (code < 0 || code > 255) {
    text = code < 0 ? "the queue did not finish in time" : "the queue crashed";
    code = 111;
    perm = 0;
  } else text = qq_describe(code, &perm);
  if (!code) {
    fmt[ulong_fmt(fmt, (unsigned long)qp)] = 0;
    ok = stralloc_cats(&r, "250 2.0.0 Ok: queued as ") &&
         (s->q.id[0] ? stralloc_cats(&r, s->q.id) && stralloc_cats(&r, " (qp ") && stralloc_cats(&r, fmt) &&
                           stralloc_cats(&r, ")")
                     : stralloc_cats(&r, "qp ") && stralloc_cats(&r, fmt));
    smtpd_sess_logmsg(s, "250", 0, size, qp, s->q.id);
    s->nmsgs++;
  } else {
    /* A full queue is RFC 5321's 452 "insufficient system storage", RFC 3463's 4.3.1. */
    char const *head = code == QQ_PERM_REFUSED ? "552 5.3.4 " : perm ? "554 5.3.0 " : code == QQ_WRITE ? "452 4.3.1 " : "451 4.3.0 ";
    ok = stralloc_cats(&r, head) && stralloc_cats(&r, "Message not queued: ") && stralloc_cats(&r, text);
    smtpd_sess_logmsg(s, perm ? (code == QQ_PERM_REFUSED ? "552" : "554") : code == QQ_WRITE ? "452" : "451", text, size, qp, 0);
    if (perm) s->errors++;
  }
  ok = ok && stralloc_cats(&r, "\r\n") && smtpd_io_put(s->io, r.s, r.len) >= 0;
  stralloc_free(&r);
  return ok ? 0 : -1;
}

int smtpd_msg_data(smtpd_sess *s, char const *arg, size_t arglen)
{
  stralloc rec = STRALLOC_ZERO;
  unsigned long long max = s->cf->databytes;
  size_t reclen;
  pid_t qp;
  int r, code;
  if (s->bdat != SMTPD_BDAT_NONE) {
    /* RFC 3030 2: DATA after BDAT in one transaction is a 503; the chunks so far go */
    smtpd_sess_abandon(s, "data after bdat");
    return smtpd_sess_reply(s, RE_BDAT_MIXED);
  }
  if (arglen) return smtpd_sess_reply(s, RE_DATA_ARG);
  if (!s->inmail) return smtpd_sess_reply(s, RE_DATA_NOMAIL);
  if (!s->nrcpt) return smtpd_sess_reply(s, RE_DATA_NORCPT);
  if (smtpd_queue_open(&s->q, s->cf->queueprog, s->cf->queuesock) < 0) {
    smtpd_sess_logmsg(s, "451", "unable to start the queue", -1, 0, 0);
    smtpd_sess_reset(s);
    return smtpd_sess_reply(s, RE_DATA_NOQUEUE);
  }
  qp = s->q.pid;
  if (!smtpd_msg_received(s, &rec, qp)) {
    stralloc_free(&rec);
    smtpd_queue_abort(&s->q);
    return (errno = ENOMEM, -1);
  }
  smtpd_queue_put(&s->q, rec.s, rec.len);
  reclen = rec.len;
  /* databytes bounds what the queue gets, as mailroom-queue counts it */
  max = reclen < max ? max - reclen : 0;
  stralloc_free(&rec);
  if (smtpd_sess_reply(s, RE_DATA_GO) < 0) {
    smtpd_queue_abort(&s->q);
    return -1;
  }
  smtpd_data_init(&s->data, max);
  r = stream(s, 1);
  if (r <= 0) {
    int e = errno;
    smtpd_queue_abort(&s->q);
    s->end = r ? (e == ETIMEDOUT ? smtpd_io_why(s->io) : "error") : "drop";
    smtpd_sess_logmsg(s, s->end, "during DATA", (long long)(reclen + s->data.size), qp, 0);
    smtpd_sess_reset(s);
    if (r && e == ETIMEDOUT) smtpd_reply(s->io, RE_TIMEOUT, s->cf->me);
    errno = e;
    return -1;
  }
  if (s->data.flags & DATA_BAD) {
    char const *why;
    enum smtpd_re re = smtpd_msg_refusal(s->data.flags, &why);
    smtpd_queue_abort(&s->q);
    smtpd_sess_logmsg(s, re == RE_DATA_BIG ? "552" : "554", why, (long long)(reclen + s->data.size), qp, 0);
    smtpd_sess_reset(s);
    return smtpd_sess_reply(s, re);
  }
  if (!stralloc_0(&s->env)) {
    smtpd_queue_abort(&s->q);
    return (errno = ENOMEM, -1);
  }
  code = smtpd_queue_finish(&s->q, s->env.s, s->env.len);
  r = smtpd_msg_verdict(s, code, qp, (long long)(reclen + s->data.size));
  smtpd_sess_reset(s);
  return r;
}
