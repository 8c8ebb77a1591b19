/* The client side of one SMTP conversation (RFC 5321): connect under timeoutconnect,
   greeting, EHLO (HELO when EHLO is refused), MAIL with SIZE / BODY=8BITMIME / SMTPUTF8 as
   needed, every RCPT, DATA, the message, QUIT; with PIPELINING the MAIL, RCPT and DATA
   commands go out in one write and their replies are read in order. Until the server has
   answered EHLO/HELO with 2xx, any failure passes the delivery on to the next address; after
   MAIL is sent, the results are final. Every reply is read under timeoutremote.
   STARTTLS (RFC 3207) whenever the server offers it: then EHLO again, and everything after it
   goes through libtls on the same non-blocking socket, under the same deadlines. When the
   domain requires TLS (control/tlsdomains), a server without STARTTLS, a refused STARTTLS or
   a failed handshake or certificate check pass the delivery on with a temporary reason: no
   MAIL is ever sent in clear then. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "remote.h"
#include "remote_smtp.h"

#define RSPAWN_PARAMS_MAX_REMOTE 1200 /* = send/rspawn_proto.h's RSPAWN_PARAMS_MAX */

#define RBUF 4096
#define WBUF 16384
#define MSGCHUNK (WBUF / 2) /* msgconv_data writes at most 2 bytes a byte */
/* After the transaction, QUIT's reply is waited for at most this long. */
#define QUIT_SECS 10
/* ... and when a kept session is closed (idle, bounds, the worker's end): nothing waits on it,
   but the worker takes no job meanwhile. */
#define QUIT_IDLE_SECS 2
/* RSET on a kept session is answered within this long (or timeoutremote when shorter), as
   Postfix's smtp_rset_timeout: a cached session that hangs costs little before a fresh one. */
#define RSET_SECS 20
/* The TLS handshake, at most this long (or timeoutremote when shorter). */
#define HANDSHAKE_SECS 60
/* A TLS error: the text is in conn.tlserr (not an errno of the system). */
#define ETLS EBADMSG

typedef struct conn_s {
  int fd;
  struct tls *tls; /* after STARTTLS */
  unsigned tremote;
  char tlserr[200];
  size_t rpos, rlen, wlen;
  char rbuf[RBUF];
  char wbuf[WBUF];
  char who[320]; /* "host [ip]" */
} conn;

/* A session kept open after a transaction (the worker's connection cache): the connection
   and what its EHLO said, so the next transaction skips the greeting, EHLO and STARTTLS. */
struct smtpsess_s {
  conn c;
  unsigned ext;
  unsigned long sizemax;
  char tlsver[32];
};

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for ev on fd until deadline: 1 ready, 0 timed out, -1 error. */
static int waitfd(int fd, short ev, long long deadline)
{
  for (;;) {
    struct pollfd p;
    long long left = deadline - now_ms();
    int r;
    if (left <= 0) return 0;
    p.fd = fd;
    p.events = ev;
    p.revents = 0;
    r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return -1;
  }
}

static int conn_open(conn *c, unsigned char const *ip, unsigned port, unsigned tconnect)
{
  static unsigned char const mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  struct sockaddr_storage ss;
  socklen_t sl;
  int e = 0, r;
  socklen_t el = sizeof e;
  memset(&ss, 0, sizeof ss);
  if (!memcmp(ip, mapped, 12)) {
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    s->sin_port = htons((unsigned short)port);
    memcpy(&s->sin_addr, ip + 12, 4);
    sl = sizeof *s;
  } else {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((unsigned short)port);
    memcpy(&s->sin6_addr, ip, 16);
    sl = sizeof *s;
  }
  c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  if (connect(c->fd, (struct sockaddr *)&ss, sl) == 0) return 0;
  if (errno != EINPROGRESS) return -1;
  r = waitfd(c->fd, POLLOUT, now_ms() + (long long)tconnect * 1000);
  if (r < 0) return -1;
  if (!r) {
    errno = ETIMEDOUT;
    return -1;
  }
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0) return -1;
  if (e) {
    errno = e;
    return -1;
  }
  return 0;
}

static void tls_seterr(conn *c, char const *what)
{
  char const *e = c->tls ? tls_error(c->tls) : 0;
  size_t len = 0;
  c->tlserr[0] = 0;
  text_cats(c->tlserr, sizeof c->tlserr, &len, what);
  if (e) {
    text_cats(c->tlserr, sizeof c->tlserr, &len, ": ");
    text_cats(c->tlserr, sizeof c->tlserr, &len, e);
  }
  errno = ETLS;
}

/* One tls_read or tls_write: bytes, 0 end of stream, or -1 with errno EAGAIN (and *ev what
   to wait for: TLS may need to read in order to write and the other way round) or ETLS. */
static ssize_t tls_io(conn *c, int wr, char *buf, size_t n, short *ev)
{
  ssize_t r = wr ? tls_write(c->tls, buf, n) : tls_read(c->tls, buf, n);
  if (r >= 0) return r;
  if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
    *ev = r == TLS_WANT_POLLIN ? POLLIN : POLLOUT;
    errno = EAGAIN;
    return -1;
  }
  tls_seterr(c, wr ? "TLS write" : "TLS read");
  return -1;
}

static int conn_flush(conn *c)
{
  size_t done = 0;
  long long deadline = now_ms() + (long long)c->tremote * 1000;
  while (done < c->wlen) {
    short ev = POLLOUT;
    ssize_t w = c->tls ? tls_io(c, 1, c->wbuf + done, c->wlen - done, &ev) : write(c->fd, c->wbuf + done, c->wlen - done);
    if (w > 0) {
      done += (size_t)w;
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR) return -1;
    w = waitfd(c->fd, ev, deadline);
    if (w < 0) return -1;
    if (!w) {
      errno = ETIMEDOUT;
      return -1;
    }
  }
  c->wlen = 0;
  return 0;
}

static int conn_put(conn *c, char const *s, size_t n)
{
  while (n) {
    size_t k = WBUF - c->wlen < n ? WBUF - c->wlen : n;
    memcpy(c->wbuf + c->wlen, s, k);
    c->wlen += k;
    s += k;
    n -= k;
    if (c->wlen == WBUF && conn_flush(c) < 0) return -1;
  }
  return 0;
}

static int conn_puts(conn *c, char const *s) { return conn_put(c, s, strlen(s)); }

/* The next reply into r, waiting at most secs. 0, or -1 with errno: ETIMEDOUT, ECONNABORTED
   (closed by the server), smtpreply_feed's errors, a read error. */
static int conn_reply(conn *c, smtpreply *r, unsigned secs)
{
  long long deadline = now_ms() + (long long)secs * 1000;
  smtpreply_init(r);
  for (;;) {
    ssize_t n;
    short ev;
    int w;
    if (c->rpos < c->rlen) {
      size_t used;
      int e = smtpreply_feed(r, c->rbuf + c->rpos, c->rlen - c->rpos, &used);
      c->rpos += used;
      if (e) return e > 0 ? 0 : -1;
    }
    c->rpos = c->rlen = 0;
    ev = POLLIN;
    n = c->tls ? tls_io(c, 0, c->rbuf, RBUF, &ev) : read(c->fd, c->rbuf, RBUF);
    if (n > 0) {
      c->rlen = (size_t)n;
      continue;
    }
    if (!n) {
      errno = ECONNABORTED;
      return -1;
    }
    if (errno != EAGAIN && errno != EINTR) return -1;
    w = waitfd(c->fd, ev, deadline);
    if (w < 0) return -1;
    if (!w) {
      errno = ETIMEDOUT;
      return -1;
    }
  }
}

/* "host [ip] " + what went wrong, into buf. */
/* pre, the number, post: the bounds a peer broke, in a result text */
static void catnum(char *buf, size_t max, size_t *len, char const *pre, unsigned long n, char const *post)
{
  char num[24];
  snprintf(num, sizeof num, "%lu", n);
  text_cats(buf, max, len, pre);
  text_cats(buf, max, len, num);
  text_cats(buf, max, len, post);
}

static void failtext(conn const *c, smtpreply const *r, int e, unsigned secs, char const *when, char *buf, size_t max)
{
  size_t len = 0;
  buf[0] = 0;
  text_cats(buf, max, &len, c->who);
  switch (e) {
  case ETIMEDOUT:
    catnum(buf, max, &len, " did not reply within ", secs, " s");
    break;
  case ECONNABORTED:
    text_cats(buf, max, &len, r->nlines || r->linelen ? " closed the connection in the middle of a reply" : " closed the connection");
    break;
  case EMSGSIZE:
    catnum(buf, max, &len, " sent a reply line longer than ", SMTPREPLY_LINE_MAX, " bytes");
    break;
  case E2BIG:
    catnum(buf, max, &len, " sent a reply of more than ", SMTPREPLY_LINES_MAX, " lines");
    break;
  case EPROTO:
    text_cats(buf, max, &len, " sent a malformed reply");
    break;
  case ETLS:
    text_cats(buf, max, &len, ": ");
    text_cats(buf, max, &len, c->tlserr);
    break;
  default:
    text_cats(buf, max, &len, ": ");
    text_cats(buf, max, &len, strerror(e));
  }
  text_cats(buf, max, &len, " ");
  text_cats(buf, max, &len, when);
  text_cats(buf, max, &len, " (#4.4.2)");
}

/* "host [ip] said: <reply> (when)" */
static void saidtext(conn const *c, smtpreply const *r, char const *when, char *buf, size_t max)
{
  size_t len = 0;
  buf[0] = 0;
  text_cats(buf, max, &len, c->who);
  text_cats(buf, max, &len, " said: ");
  text_cats(buf, max, &len, r->text);
  if (when) {
    text_cats(buf, max, &len, " (");
    text_cats(buf, max, &len, when);
    text_cats(buf, max, &len, ")");
  }
}

static void setall(rcptres *res, unsigned n, char code, char const *text)
{
  unsigned i;
  for (i = 0; i < n; i++) {
    size_t len = 0;
    res[i].code = code;
    res[i].text[0] = 0;
    text_cats(res[i].text, sizeof res[i].text, &len, text);
  }
}

static void quit(conn *c)
{
  smtpreply r;
  if (conn_puts(c, "QUIT\r\n") == 0 && conn_flush(c) == 0) conn_reply(c, &r, c->tremote < QUIT_SECS ? c->tremote : QUIT_SECS);
}

static int command(conn *c, char const *a, char const *b, char const *d)
{
  if (conn_puts(c, a) < 0) return -1;
  if (b && conn_puts(c, b) < 0) return -1;
  if (d && conn_puts(c, d) < 0) return -1;
  return conn_puts(c, "\r\n");
}

/* The message as the DATA stream; the caller checked msglen against the file. */
static int sendmsg_data(conn *c, smtpjob const *j, char *why, size_t whymax)
{
  char in[MSGCHUNK];
  char out[WBUF];
  msgconv mc;
  unsigned long long off = 0;
  size_t n;
  msgconv_init(&mc);
  if (j->headlen && j->headlen <= MSGCHUNK) {
    n = msgconv_data(&mc, j->head, j->headlen, out);
    if (conn_put(c, out, n) < 0) return -1;
  }
  while (off < j->msglen) {
    size_t want = j->msglen - off < MSGCHUNK ? (size_t)(j->msglen - off) : MSGCHUNK;
    ssize_t r = pread(j->fdmsg, in, want, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      snprintf(why, whymax, "unable to read the message (fd 0) at byte %llu: %s (#4.3.0)", off,
               r < 0 ? strerror(errno) : "the file ends before msglen");
      return -2;
    }
    off += (unsigned long long)r;
    n = msgconv_data(&mc, in, (size_t)r, out);
    if (conn_put(c, out, n) < 0) return -1;
  }
  n = msgconv_end(&mc, out);
  if (conn_put(c, out, n) < 0) return -1;
  return conn_flush(c);
}

int smtp_tlsinit(smtpjob *j, char const *cafile, char *why, size_t whymax)
{
  struct tls_config *cfg;
  uint32_t protos = 0;
  if (tls_init() < 0 || !(cfg = tls_config_new())) {
    snprintf(why, whymax, "unable to set up TLS: out of memory (#4.3.0)");
    return -1;
  }
  if (tls_config_parse_protocols(&protos, "tlsv1.2,tlsv1.3") < 0 || tls_config_set_protocols(cfg, protos) < 0) {
    snprintf(why, whymax, "unable to set up TLS: %s (#4.3.0)", tls_config_error(cfg));
    tls_config_free(cfg);
    return -1;
  }
  if (j->tlsreq == TLSREQ_VERIFY) {
    /* libtls reads the file here, before any connection: a missing bundle is our fault */
    if (tls_config_set_ca_file(cfg, cafile) < 0) {
      char const *e = tls_config_error(cfg);
      snprintf(why, whymax, "unable to load the CA bundle %.300s (control/tlscafile): %.200s (#4.3.0)", cafile,
               e ? e : "unknown error");
      tls_config_free(cfg);
      return -1;
    }
  } else {
    /* opportunistic TLS protects against passive listeners only; checking certificates
       nobody asked for would just send the mail in clear (or nowhere) instead */
    tls_config_insecure_noverifycert(cfg);
    tls_config_insecure_noverifyname(cfg);
  }
  j->tlscfg = cfg;
  return 0;
}

void smtp_tlsfree(smtpjob *j)
{
  if (j->tlscfg) tls_config_free(j->tlscfg);
  j->tlscfg = 0;
}

/* The TLS handshake on c->fd after the server's 220 to STARTTLS, the name to check being
   host (an address literal's brackets removed). 0, or -1 with errno ETIMEDOUT or ETLS. */
static unsigned handshake_secs(smtpjob const *j) { return j->tremote < HANDSHAKE_SECS ? j->tremote : HANDSHAKE_SECS; }

static int conn_starttls(conn *c, smtpjob const *j, char const *host)
{
  char name[260];
  unsigned secs = handshake_secs(j);
  long long deadline = now_ms() + (long long)secs * 1000;
  size_t n = strlen(host);
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']') host++, n -= 2;
  if (n >= sizeof name) n = sizeof name - 1;
  memcpy(name, host, n);
  name[n] = 0;
  /* whatever the server sent after its 220 was sent in clear: it must not count as an answer
     under TLS (the client side of CVE-2011-0411) */
  c->rpos = c->rlen = 0;
  c->tls = tls_client();
  if (!c->tls) {
    snprintf(c->tlserr, sizeof c->tlserr, "TLS: out of memory");
    errno = ETLS;
    return -1;
  }
  if (tls_configure(c->tls, j->tlscfg) < 0 || tls_connect_socket(c->tls, c->fd, name) < 0) {
    tls_seterr(c, "TLS set-up");
    return -1;
  }
  for (;;) {
    int r = tls_handshake(c->tls), w;
    if (!r) return 0;
    if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT) {
      tls_seterr(c, "TLS");
      return -1;
    }
    w = waitfd(c->fd, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT, deadline);
    if (w < 0) return -1;
    if (!w) {
      errno = ETIMEDOUT;
      return -1;
    }
  }
}

/* What the message needs against what the server offers: 0, or TRY_NEXTPERM with why set. */
static int offered(conn const *c, smtpjob const *j, unsigned ext, unsigned long sizemax, char *why, size_t whymax)
{
  if ((ext & EXT_SIZE) && sizemax && j->wire > sizemax) {
    snprintf(why, whymax, "%s accepts messages of at most %lu bytes, this one has %llu (#5.3.4)", c->who, sizemax,
             j->wire);
    return TRY_NEXTPERM;
  }
  if (j->eightbit && !(ext & EXT_8BITMIME)) {
    snprintf(why, whymax, "the message has 8-bit bytes and %s does not offer 8BITMIME (#5.6.3)", c->who);
    return TRY_NEXTPERM;
  }
  if (j->utf8 && !(ext & EXT_SMTPUTF8)) {
    snprintf(why, whymax, "an address has UTF-8 characters and %s does not offer SMTPUTF8 (#5.6.7)", c->who);
    return TRY_NEXTPERM;
  }
  return 0;
}

static void conn_close(conn *c)
{
  if (c->tls) {
    /* close_notify, without waiting for the server's: the socket is non-blocking */
    tls_close(c->tls);
    tls_free(c->tls);
    c->tls = 0;
  }
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

static int transaction(conn *c, smtpjob const *j, unsigned ext, char const *tlsver, rcptres *res, char *why,
                       size_t whymax, int *reusable);

/* --- smarthost AUTH (RFC 4954; PLAIN of RFC 4616, else LOGIN) ------------------------------
   Only on a connection under TLS whose certificate was checked for the relay's name: the
   route's auth= implies verify (remote_routes.c), and this is checked once more here. The
   credentials are never written anywhere but to the server: every text made from a reply
   after AUTH has the password (as sent, as printed and in base64) replaced by "*". */
#define AUTH_B64_MAX ((AUTH_USER_MAX * 2 + AUTH_PASS_MAX + 3) / 3 * 4 + 8)

/* What asks for TLS, for the texts that say it was missing. */
static char const *tlswho(smtpjob const *j)
{
  return j->authuser || j->smtps ? "route (control/smtproutes)" : "domain (control/tlsdomains)";
}

static void redact(char *why, smtpjob const *j)
{
  char b64[AUTH_B64_MAX], shown[AUTH_PASS_MAX + 1];
  char plain[AUTH_USER_MAX + AUTH_PASS_MAX + 3];
  size_t ul = strlen(j->authuser), pl = strlen(j->authpass), len = 0;
  text_redact(why, j->authpass, pl);
  shown[0] = 0;
  text_cat(shown, sizeof shown, &len, j->authpass, pl);
  text_redact(why, shown, len);
  if (b64_encode(j->authpass, pl, b64, sizeof b64)) text_redact(why, b64, strlen(b64));
  plain[0] = 0;
  memcpy(plain + 1, j->authuser, ul);
  plain[ul + 1] = 0;
  memcpy(plain + ul + 2, j->authpass, pl);
  if (b64_encode(plain, ul + pl + 2, b64, sizeof b64)) text_redact(why, b64, strlen(b64));
  explicit_bzero(plain, sizeof plain);
  explicit_bzero(b64, sizeof b64);
}

/* The reply to the last step of the exchange into why; TRY_NEXT (a 535 or any refusal means
   this relay will not take our mail now: later, perhaps with a corrected password). */
static int auth_refused(conn const *c, smtpjob const *j, smtpreply const *r, char *why, size_t whymax)
{
  size_t len;
  saidtext(c, r, "AUTH", why, whymax);
  redact(why, j);
  len = strlen(why);
  text_cats(why, whymax, &len,
            r->code == 535   ? "; the relay refused the credentials of control/smtproutes-auth (#4.7.8)"
            : r->code == 454 ? " (#4.7.0)"
            : r->code == 534 ? "; the relay wants a stronger mechanism than PLAIN or LOGIN (#4.7.9)"
                             : "; authentication failed (#4.7.0)");
  return TRY_NEXT;
}

static int smtp_auth(conn *c, smtpjob const *j, unsigned ext, char *why, size_t whymax)
{
  char b64[AUTH_B64_MAX];
  char plain[AUTH_USER_MAX + AUTH_PASS_MAX + 3];
  smtpreply r;
  size_t ul = strlen(j->authuser), pl = strlen(j->authpass);
  char const *when = "after AUTH";
  int rc;
  smtpreply_init(&r);
  if (!c->tls || j->tlsreq != TLSREQ_VERIFY) {
    snprintf(why, whymax, "%s: credentials are sent only under TLS with a verified certificate (#4.7.10)", c->who);
    return TRY_NEXT;
  }
  if (!(ext & (EXT_AUTH_PLAIN | EXT_AUTH_LOGIN))) {
    snprintf(why, whymax, "%s does not offer AUTH PLAIN or LOGIN, and the route names credentials (#4.7.0)", c->who);
    return TRY_NEXT;
  }
  if (ext & EXT_AUTH_PLAIN) {
    /* RFC 4616: authzid (empty) NUL authcid NUL passwd, as the initial response */
    plain[0] = 0;
    memcpy(plain + 1, j->authuser, ul);
    plain[ul + 1] = 0;
    memcpy(plain + ul + 2, j->authpass, pl);
    rc = b64_encode(plain, ul + pl + 2, b64, sizeof b64) ? 0 : -1;
    explicit_bzero(plain, sizeof plain);
    if (rc < 0 || command(c, "AUTH PLAIN ", b64, 0) < 0 || conn_flush(c) < 0) goto ioerr;
    explicit_bzero(b64, sizeof b64);
    explicit_bzero(c->wbuf, sizeof c->wbuf);
    if (conn_reply(c, &r, c->tremote) < 0) goto ioerr;
  } else {
    when = "after AUTH LOGIN";
    if (command(c, "AUTH LOGIN", 0, 0) < 0 || conn_flush(c) < 0 || conn_reply(c, &r, c->tremote) < 0) goto ioerr;
    if (r.code != 334) return auth_refused(c, j, &r, why, whymax);
    when = "after the AUTH LOGIN user name";
    if (!b64_encode(j->authuser, ul, b64, sizeof b64) || command(c, b64, 0, 0) < 0 || conn_flush(c) < 0 ||
        conn_reply(c, &r, c->tremote) < 0)
      goto ioerr;
    if (r.code != 334) return auth_refused(c, j, &r, why, whymax);
    when = "after the AUTH LOGIN password";
    if (!b64_encode(j->authpass, pl, b64, sizeof b64) || command(c, b64, 0, 0) < 0 || conn_flush(c) < 0) goto ioerr;
    explicit_bzero(b64, sizeof b64);
    explicit_bzero(c->wbuf, sizeof c->wbuf);
    if (conn_reply(c, &r, c->tremote) < 0) goto ioerr;
  }
  if (r.code == 235) return 0;
  if (r.code == 334) {
    /* a challenge we did not ask for: cancel the exchange (RFC 4954 4) */
    smtpreply x;
    if (command(c, "*", 0, 0) == 0 && conn_flush(c) == 0) conn_reply(c, &x, c->tremote);
  }
  return auth_refused(c, j, &r, why, whymax);
ioerr:
  explicit_bzero(b64, sizeof b64);
  failtext(c, &r, errno, j->tremote, when, why, whymax);
  return TRY_NEXT;
}

int smtp_try(smtpjob const *j, char const *host, unsigned char const *ip, unsigned port, rcptres *res, char *why,
             size_t whymax, smtpsess **keep)
{
  smtpsess *s;
  conn *c;
  smtpreply r;
  char ipt[46], num[32];
  int rc = TRY_NEXT, reusable = 0;
  char const *when;
  char tlsver[32];

  if (keep) *keep = 0;
  /* on the heap: a kept session outlives this call (and 20 KB of buffers stay off the stack) */
  s = malloc(sizeof *s);
  if (!s) {
    snprintf(why, whymax, "unable to allocate memory for an SMTP session (#4.3.0)");
    return TRY_NEXT;
  }
  c = &s->c;
  smtpreply_init(&r);
  c->rpos = c->rlen = c->wlen = 0;
  c->fd = -1;
  c->tls = 0;
  c->tlserr[0] = 0;
  tlsver[0] = 0;
  c->tremote = j->tremote;
  ip_fmt(ip, ipt);
  snprintf(c->who, sizeof c->who, "%s [%s]", host, ipt);

  if (conn_open(c, ip, port, j->tconnect) < 0) {
    int e = errno;
    size_t len = 0;
    why[0] = 0;
    text_cats(why, whymax, &len, "connecting to ");
    text_cats(why, whymax, &len, c->who);
    snprintf(num, sizeof num, ":%u", port);
    text_cats(why, whymax, &len, num);
    text_cats(why, whymax, &len, " failed: ");
    if (e == ETIMEDOUT) {
      snprintf(num, sizeof num, "no answer within %u s", j->tconnect);
      text_cats(why, whymax, &len, num);
    } else
      text_cats(why, whymax, &len, strerror(e));
    text_cats(why, whymax, &len, " (#4.4.1)");
    goto out;
  }
  if (j->smtps) {
    /* implicit TLS (RFC 8314 3.3, port 465): the handshake first, the greeting under TLS */
    when = "during the TLS handshake (implicit TLS)";
    if (conn_starttls(c, j, host) < 0) goto tlserr;
    snprintf(tlsver, sizeof tlsver, "%s", tls_conn_version(c->tls) ? tls_conn_version(c->tls) : "TLS");
  }
  when = "while waiting for the greeting";
  if (conn_reply(c, &r, j->tremote) < 0) goto ioerr_next;
  if (r.code / 100 != 2) {
    saidtext(c, &r, "greeting", why, whymax);
    quit(c);
    goto out;
  }
  when = "after EHLO";
  if (command(c, "EHLO ", j->helo, 0) < 0 || conn_flush(c) < 0) goto ioerr_next;
  if (conn_reply(c, &r, j->tremote) < 0) goto ioerr_next;
  if (r.code / 100 != 2) {
    if (r.code == 421) {
      saidtext(c, &r, "EHLO", why, whymax);
      goto out;
    }
    when = "after HELO";
    if (command(c, "HELO ", j->helo, 0) < 0 || conn_flush(c) < 0) goto ioerr_next;
    if (conn_reply(c, &r, j->tremote) < 0) goto ioerr_next;
    if (r.code / 100 != 2) {
      saidtext(c, &r, "HELO", why, whymax);
      quit(c);
      goto out;
    }
    r.ext = 0; /* HELO: no extensions */
  }

  if ((r.ext & EXT_STARTTLS) && !j->notls && j->tlscfg && !c->tls) {
    when = "after STARTTLS";
    if (command(c, "STARTTLS", 0, 0) < 0 || conn_flush(c) < 0) goto ioerr_next;
    if (conn_reply(c, &r, j->tremote) < 0) goto ioerr_next;
    if (r.code == 220) {
      when = "during the TLS handshake";
      if (conn_starttls(c, j, host) < 0) goto tlserr;
      snprintf(tlsver, sizeof tlsver, "%s", tls_conn_version(c->tls) ? tls_conn_version(c->tls) : "TLS");
      /* RFC 3207 4.2: everything learnt before the handshake is forgotten */
      when = "after EHLO under TLS";
      if (command(c, "EHLO ", j->helo, 0) < 0 || conn_flush(c) < 0) goto tlserr;
      if (conn_reply(c, &r, j->tremote) < 0) goto tlserr;
      if (r.code / 100 != 2) {
        saidtext(c, &r, "EHLO under TLS", why, whymax);
        quit(c);
        goto out;
      }
    } else if (j->tlsreq != TLSREQ_NONE) {
      size_t len;
      saidtext(c, &r, "STARTTLS", why, whymax);
      len = strlen(why);
      text_cats(why, whymax, &len, "; TLS is required for this ");
      text_cats(why, whymax, &len, tlswho(j));
      text_cats(why, whymax, &len, " (#4.7.10)");
      quit(c);
      goto out;
    }
    /* else: a refused STARTTLS leaves the session as it was (RFC 3207 4): on in clear */
  }
  if (j->tlsreq != TLSREQ_NONE && !c->tls) {
    snprintf(why, whymax, "%s does not offer STARTTLS, and TLS is required for this %s (#4.7.10)", c->who, tlswho(j));
    quit(c);
    goto out;
  }
  if (j->authuser && (rc = smtp_auth(c, j, r.ext, why, whymax)) != 0) {
    quit(c);
    goto out;
  }

  rc = offered(c, j, r.ext, r.sizemax, why, whymax);
  if (rc == TRY_NEXTPERM) {
    quit(c);
    goto out;
  }
  rc = TRY_DONE;
  s->ext = r.ext;
  s->sizemax = r.sizemax;
  snprintf(s->tlsver, sizeof s->tlsver, "%s", tlsver);
  transaction(c, j, r.ext, tlsver, res, why, whymax, &reusable);
  if (reusable && keep) {
    *keep = s;
    return rc;
  }
  if (reusable) quit(c);
  goto out;

ioerr_next:
  failtext(c, &r, errno, j->tremote, when, why, whymax);
  goto out;
tlserr:
  /* a failed handshake leaves the connection unusable: without a TLS requirement, this
     address once more without STARTTLS; with one, the next address (and in the end, later) */
  {
    static char const io[] = " (#4.4.2)";
    int e = errno;
    size_t len;
    failtext(c, &r, e, c->tls && !tlsver[0] ? handshake_secs(j) : j->tremote, when, why, whymax);
    len = strlen(why);
    if (len >= sizeof io - 1 && !strcmp(why + len - (sizeof io - 1), io)) why[len - (sizeof io - 1)] = 0;
    len = strlen(why);
    if (j->tlsreq != TLSREQ_NONE) {
      text_cats(why, whymax, &len, "; TLS is required for this ");
      text_cats(why, whymax, &len, tlswho(j));
      text_cats(why, whymax, &len, " (#4.7.5)");
    } else {
      text_cats(why, whymax, &len, " (#4.7.5)");
      rc = TRY_NOTLS;
    }
  }
out:
  conn_close(c);
  free(s);
  return rc;
}

/* MAIL, RCPT, DATA and the message over an open session whose EHLO offered ext; every
   recipient gets its result in res. *reusable: the server answered the end of the message
   with anything but 421, so the session may carry another transaction (after RSET);
   otherwise QUIT was sent where the session allowed it. */
static int transaction(conn *c, smtpjob const *j, unsigned ext, char const *tlsver, rcptres *res, char *why,
                       size_t whymax, int *reusable)
{
  smtpreply r;
  static char const *const dsnm[] = { "RET", "ENVID", 0 }, *const authm[] = { "AUTH", 0 };
  static char const *const dsnr[] = { "NOTIFY", "ORCPT", 0 };
  char mailargs[96 + 2 * RSPAWN_PARAMS_MAX_REMOTE];
  static char rcptargs[RCPT_PARAMS_MAX][RSPAWN_PARAMS_MAX_REMOTE]; /* one transaction at a time */
  unsigned i, accepted = 0;
  int pipe;
  char const *when;

  *reusable = 0;
  smtpreply_init(&r);
  /* From here the results are final. */
  pipe = !!(ext & EXT_PIPELINING);
  mailargs[0] = 0;
  if (ext & EXT_SIZE) snprintf(mailargs, sizeof mailargs, " SIZE=%llu", j->wire);
  /* at most 6 + 20 + 14 + 9 bytes: no truncation */
  snprintf(mailargs + strlen(mailargs), sizeof mailargs - strlen(mailargs), "%s%s", j->eightbit ? " BODY=8BITMIME" : "",
           j->utf8 ? " SMTPUTF8" : "");
  /* RFC 3461 5.2: the DSN parameters go on to a server that offers DSN; RFC 4954 5: AUTH=
     to one that offers AUTH. To others they are left out (and a NOTIFY=SUCCESS recipient
     gets its "relayed" notice from mailroom-send, below). */
  if (ext & EXT_DSN) dsn_words(j->mparams, dsnm, mailargs, sizeof mailargs);
  if (ext & EXT_AUTH) dsn_words(j->mparams, authm, mailargs, sizeof mailargs);
  for (i = 0; i < j->nrcpt && i < RCPT_PARAMS_MAX; i++) {
    rcptargs[i][0] = 0;
    if (ext & EXT_DSN) dsn_words(j->rparams[i], dsnr, rcptargs[i], sizeof rcptargs[i]);
  }

  when = "after MAIL";
  if (conn_puts(c, "MAIL FROM:<") < 0 || conn_puts(c, j->sender) < 0 || command(c, ">", mailargs, 0) < 0)
    goto ioerr_all;
  if (!pipe && conn_flush(c) < 0) goto ioerr_all;
  if (pipe) {
    for (i = 0; i < j->nrcpt; i++)
      if (conn_puts(c, "RCPT TO:<") < 0 || command(c, j->rcpt[i], ">", rcptargs[i]) < 0) goto ioerr_all;
    if (conn_puts(c, "DATA\r\n") < 0 || conn_flush(c) < 0) goto ioerr_all;
  }
  if (conn_reply(c, &r, j->tremote) < 0) goto ioerr_all;
  if (r.code / 100 != 2) {
    saidtext(c, &r, "MAIL", why, whymax);
    setall(res, j->nrcpt, r.code / 100 == 5 ? 'D' : 'Z', why);
    if (!pipe) goto clean;
    quit(c); /* the replies to the pipelined RCPTs and DATA are still on their way */
    goto out;
  }
  when = "after RCPT";
  for (i = 0; i < j->nrcpt; i++) {
    if (!pipe && (conn_puts(c, "RCPT TO:<") < 0 || command(c, j->rcpt[i], ">", rcptargs[i]) < 0 || conn_flush(c) < 0))
      goto ioerr_all;
    if (conn_reply(c, &r, j->tremote) < 0) goto ioerr_all;
    if (r.code / 100 == 2) {
      res[i].code = 'k'; /* accepted, pending DATA */
      accepted++;
    } else {
      res[i].code = r.code / 100 == 5 ? 'D' : 'Z';
      saidtext(c, &r, "RCPT", res[i].text, sizeof res[i].text);
    }
  }
  when = "after DATA";
  if (!pipe) {
    if (!accepted) goto clean;
    if (conn_puts(c, "DATA\r\n") < 0 || conn_flush(c) < 0) goto ioerr_all;
  }
  if (conn_reply(c, &r, j->tremote) < 0) goto ioerr_all;
  if (r.code != 354) {
    saidtext(c, &r, "DATA", why, whymax);
    for (i = 0; i < j->nrcpt; i++)
      if (res[i].code == 'k') {
        size_t len = 0;
        res[i].code = r.code / 100 == 5 ? 'D' : 'Z';
        res[i].text[0] = 0;
        text_cats(res[i].text, sizeof res[i].text, &len, why);
      }
    goto clean;
  }
  if (!accepted) {
    /* a server that said 354 after refusing every RCPT (RFC 2920 3.1): an empty message */
    if (conn_puts(c, ".\r\n") < 0 || conn_flush(c) < 0 || conn_reply(c, &r, j->tremote) < 0) goto out;
    goto clean;
  }
  when = "while sending the message";
  switch (sendmsg_data(c, j, why, whymax)) {
  case -1:
    goto ioerr_all;
  case -2:
    for (i = 0; i < j->nrcpt; i++)
      if (res[i].code == 'k') {
        size_t len = 0;
        res[i].code = 'Z';
        res[i].text[0] = 0;
        text_cats(res[i].text, sizeof res[i].text, &len, why);
      }
    goto out; /* no final dot: the server drops what it got */
  }
  when = "after the end of the message";
  if (conn_reply(c, &r, j->tremote) < 0) goto ioerr_all;
  if (r.code / 100 == 2) {
    size_t len = 0;
    why[0] = 0;
    text_cats(why, whymax, &len, c->who);
    text_cats(why, whymax, &len, " accepted the message");
    if (tlsver[0]) {
      text_cats(why, whymax, &len, " over ");
      text_cats(why, whymax, &len, tlsver);
    }
    text_cats(why, whymax, &len, ": ");
    text_cats(why, whymax, &len, r.text);
  } else
    saidtext(c, &r, "end of message", why, whymax);
  for (i = 0; i < j->nrcpt; i++)
    if (res[i].code == 'k') {
      size_t len = 0;
      res[i].code = r.code / 100 == 2 ? 'K' : r.code / 100 == 5 ? 'D' : 'Z';
      res[i].text[0] = 0;
      /* RFC 3461 5.2.2.2: NOTIFY=SUCCESS to a server without DSN: we owe the "relayed"
         notice; the prefix tells mailroom-send (send.h's RELAYED_PREFIX) */
      if (res[i].code == 'K' && !(ext & EXT_DSN) && dsn_wants_success(j->rparams[i]))
        text_cats(res[i].text, sizeof res[i].text, &len, "relayed: ");
      text_cats(res[i].text, sizeof res[i].text, &len, why);
    }
clean:
  /* every reply read, nothing pending: the session is between transactions */
  if (r.code == 421) quit(c);
  else *reusable = 1;
  return 0;

ioerr_all:
  failtext(c, &r, errno, j->tremote, when, why, whymax);
  /* recipients already refused keep their result; the others get this failure */
  for (i = 0; i < j->nrcpt; i++)
    if (res[i].code != 'D' && res[i].code != 'Z') {
      size_t len = 0;
      res[i].code = 'Z';
      res[i].text[0] = 0;
      text_cats(res[i].text, sizeof res[i].text, &len, why);
    }
out:
  return 0;
}

int smtp_reuse(smtpsess **sp, smtpjob const *j, rcptres *res, char *why, size_t whymax)
{
  smtpsess *s = *sp;
  conn *c = &s->c;
  smtpreply r;
  int reusable = 0;
  unsigned secs = j->tremote < RSET_SECS ? j->tremote : RSET_SECS;
  c->tremote = j->tremote;
  /* a server that cannot take this message would say so again on a new connection, where
     smtp_try passes the delivery on to the next MX host as it always did */
  if (offered(c, j, s->ext, s->sizemax, why, whymax)) {
    smtp_close(sp, 1);
    return TRY_STALE;
  }
  smtpreply_init(&r);
  if (command(c, "RSET", 0, 0) < 0 || conn_flush(c) < 0 || conn_reply(c, &r, secs) < 0) {
    failtext(c, &r, errno, secs, "after RSET on a kept connection", why, whymax);
    smtp_close(sp, 0);
    return TRY_STALE;
  }
  if (r.code != 250) {
    saidtext(c, &r, "RSET on a kept connection", why, whymax);
    smtp_close(sp, r.code != 421);
    return TRY_STALE;
  }
  transaction(c, j, s->ext, s->tlsver, res, why, whymax, &reusable);
  if (!reusable) {
    conn_close(c);
    free(s);
    *sp = 0;
  }
  return TRY_DONE;
}

void smtp_close(smtpsess **sp, int sendquit)
{
  smtpsess *s = *sp;
  if (!s) return;
  if (sendquit) {
    s->c.tremote = s->c.tremote < QUIT_IDLE_SECS ? s->c.tremote : QUIT_IDLE_SECS;
    quit(&s->c);
  }
  conn_close(&s->c);
  free(s);
  *sp = 0;
}

int smtp_sessfd(smtpsess const *s) { return s->c.fd; }
