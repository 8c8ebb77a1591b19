/* BDAT (RFC 3030 CHUNKING). The first chunk of a transaction starts the injector and
   writes the Received: line, as DATA does; each chunk's octets then stream through the
   data machine (smtpd_data_chunk: LF line ends, bare CR/LF and NUL refused, databytes
   and hops counted) into it, and the LAST chunk gives the envelope and the verdict.
   Whatever happens to the transaction, a chunk whose size could be read is read whole,
   so its octets are never taken for commands; a refused chunk (no MAIL, no RCPT, a
   message refused for its content or size) is read and discarded. A transaction refused
   part-way answers its remaining chunks with the same refusal up to LAST. The injector
   gets no envelope unless LAST arrives with the message intact, so a client that goes
   away mid-chunk, RSET, MAIL-less retries, DATA after BDAT leave nothing in the queue. */
#include <errno.h>
#include <sys/uio.h>

#include <skalibs/stralloc.h>

#include "smtpd.h"

/* Starts the message: the injector, its Received: line, the data machine. 0 started;
   1 the queue could not be started (the transaction is refused, and said so in the log);
   -1 out of memory. */
static int start(smtpd_sess *s)
{
  stralloc rec = STRALLOC_ZERO;
  unsigned long long max = s->cf->databytes;
  if (smtpd_queue_open(&s->q, s->cf->queueprog, s->cf->queuesock) < 0) {
    smtpd_sess_logmsg(s, "451", "unable to start the queue", -1, 0, 0);
    smtpd_sess_reset(s);
    s->bdat = SMTPD_BDAT_FAILED;
    s->bdatre = RE_DATA_NOQUEUE;
    return 1;
  }
  if (!smtpd_msg_received(s, &rec, s->q.pid)) {
    stralloc_free(&rec);
    smtpd_queue_abort(&s->q);
    return (errno = ENOMEM, -1);
  }
  smtpd_queue_put(&s->q, rec.s, rec.len);
  s->bdatrec = rec.len;
  stralloc_free(&rec);
  /* databytes bounds what the queue gets, as in DATA */
  smtpd_data_chunkinit(&s->data, s->bdatrec < max ? max - s->bdatrec : 0);
  s->bdat = SMTPD_BDAT_OPEN;
  return 0;
}

/* Reads the n octets of a chunk from the client; into the message while keep says so
   and the message is still good (the injector is let go at the first refused byte).
   1 read, 0 the client went away, -1 timeout or error (errno). */
static int chunk(smtpd_sess *s, unsigned long long n, int keep)
{
  char out[SMTPD_INBUF];
  while (n) {
    struct iovec v[2];
    size_t k = 0;
    if (buffer_isempty(&s->io->in)) {
      ssize_t r = smtpd_io_fill(s->io);
      if (r <= 0) return (int)r;
    }
    buffer_rpeek(&s->io->in, v);
    for (int j = 0; j < 2 && n; j++) {
      size_t m = v[j].iov_len < n ? v[j].iov_len : (size_t)n, o;
      if (!m) continue;
      if (keep) {
        smtpd_data_chunk(&s->data, v[j].iov_base, m, out, &o);
        if (o) smtpd_queue_put(&s->q, out, o);
      }
      k += m;
      n -= m;
    }
    if (keep && (s->data.flags & DATA_BAD)) {
      smtpd_queue_abort(&s->q);
      keep = 0;
    }
    buffer_rseek(&s->io->in, k);
  }
  return 1;
}

/* The message was refused for what it holds: logged, the transaction ended, and the
   chunks still to come answered the same way. */
static int refuse(smtpd_sess *s, int last)
{
  char const *why;
  enum smtpd_re re = smtpd_msg_refusal(s->data.flags, &why);
  long long size = (long long)(s->bdatrec + s->data.size);
  pid_t qp = s->q.pid;
  smtpd_queue_abort(&s->q);
  s->bdat = SMTPD_BDAT_NONE; /* the injector is gone already */
  smtpd_sess_logmsg(s, re == RE_DATA_BIG ? "552" : "554", why, size, qp, 0);
  smtpd_sess_reset(s);
  if (!last) {
    s->bdat = SMTPD_BDAT_FAILED;
    s->bdatre = re;
  }
  return smtpd_sess_reply(s, re);
}

/* LAST with the message intact: the envelope, the injector's verdict. */
static int finish(smtpd_sess *s)
{
  char out[1];
  size_t o;
  pid_t qp = s->q.pid;
  int code, r;
  smtpd_data_chunkend(&s->data, out, &o);
  if (s->data.flags & DATA_BAD) return refuse(s, 1);
  if (o) smtpd_queue_put(&s->q, out, o);
  if (!stralloc_0(&s->env)) return (errno = ENOMEM, -1);
  s->bdat = SMTPD_BDAT_NONE;
  code = smtpd_queue_finish(&s->q, s->env.s, s->env.len);
  r = smtpd_msg_verdict(s, code, qp, (long long)(s->bdatrec + s->data.size));
  smtpd_sess_reset(s);
  return r;
}

int smtpd_bdat(smtpd_sess *s, char const *arg, size_t arglen)
{
  unsigned long long n;
  int last, r;
  enum smtpd_re re = RE_COUNT;
  if (smtpd_bdat_parse(arg, arglen, &n, &last) < 0) {
    /* The chunk cannot be framed, so an open message cannot be completed: it goes. */
    if (s->bdat != SMTPD_BDAT_NONE) smtpd_sess_abandon(s, "bad bdat");
    s->bdat = SMTPD_BDAT_NONE;
    return smtpd_sess_reply(s, RE_BDAT_SYNTAX);
  }
  if (s->bdat == SMTPD_BDAT_FAILED) re = s->bdatre;
  else if (!s->inmail) re = RE_DATA_NOMAIL;
  else if (!s->nrcpt) re = RE_DATA_NORCPT;
  else if (s->bdat == SMTPD_BDAT_NONE) {
    int k = start(s);
    if (k < 0) return -1;
    if (k) re = s->bdatre;
  }
  r = chunk(s, n, re == RE_COUNT);
  if (r <= 0) {
    int e = errno;
    s->end = r ? (e == ETIMEDOUT ? "timeout" : "error") : "drop";
    if (s->bdat == SMTPD_BDAT_OPEN)
      smtpd_sess_logmsg(s, s->end, "during BDAT", (long long)(s->bdatrec + s->data.size), s->q.pid, 0);
    smtpd_sess_reset(s); /* the injector gets no envelope: nothing is queued */
    if (r && e == ETIMEDOUT) smtpd_reply(s->io, RE_TIMEOUT, s->cf->me);
    errno = e;
    return -1;
  }
  if (re != RE_COUNT) {
    if (last && s->bdat == SMTPD_BDAT_FAILED) s->bdat = SMTPD_BDAT_NONE;
    return smtpd_sess_reply(s, re);
  }
  if (s->data.flags & DATA_BAD) return refuse(s, last);
  if (last) return finish(s);
  return smtpd_sess_reply(s, RE_BDAT_CHUNK);
}
