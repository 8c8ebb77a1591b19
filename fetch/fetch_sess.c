/* One poll of one account: connect (TLS as the account says), log in, LIST, UIDL (or the
   hash of each message's headers by TOP n 0), then for each message the state does not
   know: RETR, checks, injection, and the durable record of what was accepted; at the end
   DELE for every queued message (delete mode) and QUIT. Every read has a deadline, every
   line and message a bound; anything wrong ends this poll only, with one log line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <skalibs/buffer.h>
#include <skalibs/tai.h>

#include "control.h"
#include "date822.h"
#include "fetch.h"
#include "qqerr.h"

#define POLL_MAX 3600 /* seconds a whole poll may take */

typedef struct msg_s {
  uint32_t num;
  uint64_t size;
  size_t key;      /* offset of its NUL-terminated key in sess.keys, or (size_t)-1 */
  unsigned dele : 1;
} msg;

typedef struct sess_s {
  fetch_ctx const *x;
  fetch_acct const *a;
  fetch_conn c;
  tain end; /* the whole poll's deadline */
  char line[FETCH_LINE_MAX + 1];
  size_t len;
  char pass[FETCH_PASS_MAX + 1];
  stralloc msgs; /* msg[] */
  stralloc keys; /* NUL-terminated keys */
  stralloc m;    /* the message being fetched, LF line ends */
  stralloc head; /* the Received line */
  fetch_state st;
  unsigned nfetched, nskipped, nrefused, ndele;
  unsigned broken : 1; /* the connection is in no state for DELE and QUIT */
} sess;

static msg *msgat(sess *s, size_t i) { return (msg *)(void *)s->msgs.s + i; }
static size_t nmsgs(sess const *s) { return s->msgs.len / sizeof(msg); }

/* --- the log ------------------------------------------------------------------------------ */
static int plain_value(char const *v)
{
  if (!*v) return 0;
  for (; *v; v++)
    if (*v == ' ' || *v == '"' || *v == '\\' || *v == '<' || (unsigned char)*v < 0x21) return 0;
  return 1;
}

void fetch_log(char const *event, char const *const *kv, unsigned n)
{
  buffer_puts(buffer_1, event);
  for (unsigned i = 0; i + 1 < 2 * n + 1 && i < 2 * n; i += 2) {
    char const *k = kv[i], *v = kv[i + 1];
    char buf[600];
    int addr = k[0] == '<'; /* a key written "<from" is an address: <value> */
    if (addr) k++;
    pop3_printable(buf, sizeof buf, v, strlen(v));
    buffer_puts(buffer_1, " ");
    buffer_puts(buffer_1, k);
    buffer_puts(buffer_1, "=");
    if (addr) {
      buffer_puts(buffer_1, "<");
      buffer_puts(buffer_1, buf);
      buffer_puts(buffer_1, ">");
    } else if (plain_value(buf)) buffer_puts(buffer_1, buf);
    else {
      buffer_puts(buffer_1, "\"");
      buffer_puts(buffer_1, buf);
      buffer_puts(buffer_1, "\"");
    }
  }
  buffer_putsflush(buffer_1, "\n");
}

static void fmtu(char *buf, size_t max, uint64_t v)
{
  char t[24];
  size_t n = 0;
  do t[n++] = (char)('0' + v % 10), v /= 10;
  while (v && n < sizeof t);
  if (n >= max) n = max - 1;
  for (size_t i = 0; i < n; i++) buf[i] = t[n - 1 - i];
  buf[n] = 0;
}

/* ends the poll: "fetchpoll account=NAME result=failed reason=..." */
static int poll_failed(sess *s, char const *why)
{
  char const *kv[] = { "account", s->a->name, "result", "failed", "reason", why };
  fetch_log("fetchpoll", kv, 3);
  return -1;
}

static void msg_log(sess *s, char const *result, msg const *m, char const *key, char const *reason)
{
  char num[24], size[24];
  char const *kv[] = { "account", s->a->name, "result", result, "msg", num, "key", key ? key : "-",
                       "bytes", size, "reason", reason };
  fmtu(num, sizeof num, m->num);
  fmtu(size, sizeof size, m->size);
  fetch_log("fetch", kv, reason ? 6 : 5);
}

/* --- commands ----------------------------------------------------------------------------- */
static void line_deadline(sess *s, tain *d)
{
  tain_now_g();
  tain_addsec_g(d, (int)s->x->timeout);
  if (tain_less(&s->end, d)) *d = s->end;
}

static int getline_(sess *s, size_t max)
{
  tain d;
  line_deadline(s, &d);
  return fetch_conn_getline(&s->c, s->line, max, &s->len, &d) < 0 ? -1 : 0;
}

static int send_(sess *s, char const *cmd, char const *arg)
{
  tain d;
  line_deadline(s, &d);
  if (fetch_conn_put(&s->c, cmd, strlen(cmd), &d) < 0) return -1;
  if (arg && (fetch_conn_put(&s->c, " ", 1, &d) < 0 || fetch_conn_put(&s->c, arg, strlen(arg), &d) < 0)) return -1;
  return fetch_conn_put(&s->c, "\r\n", 2, &d);
}

/* Reads a status line: 1 +OK, 0 -ERR (s->c.err holds the server's text), -1 broken. */
static int status(sess *s)
{
  size_t t;
  int r;
  if (getline_(s, FETCH_STATUS_MAX) < 0) return -1;
  r = pop3_status(s->line, s->len, &t);
  if (r < 0) {
    char buf[120];
    pop3_printable(buf, sizeof buf, s->line, s->len);
    strcpy(s->c.err, "the server's answer is neither +OK nor -ERR: ");
    strncat(s->c.err, buf, sizeof s->c.err - strlen(s->c.err) - 1);
    return -1;
  }
  if (!r) {
    char buf[160];
    pop3_printable(buf, sizeof buf, s->line + t, s->len - t);
    strcpy(s->c.err, buf[0] ? buf : "(no text)");
  }
  return r;
}

/* cmd arg, then +OK expected; else fails the poll with what */
static int command(sess *s, char const *cmd, char const *arg, char const *what)
{
  int r;
  if (send_(s, cmd, arg) < 0 || (r = status(s)) < 0) {
    char why[400];
    s->broken = 1;
    strcpy(why, what);
    strcat(why, ": ");
    strncat(why, s->c.err, sizeof why - strlen(why) - 1);
    return poll_failed(s, why);
  }
  if (!r) {
    char why[400];
    strcpy(why, what);
    strcat(why, " refused by the server: ");
    strncat(why, s->c.err, sizeof why - strlen(why) - 1);
    return poll_failed(s, why);
  }
  return 0;
}

static int conn_failed(sess *s, char const *what)
{
  char why[400];
  s->broken = 1;
  strcpy(why, what);
  strcat(why, ": ");
  strncat(why, s->c.err, sizeof why - strlen(why) - 1);
  return poll_failed(s, why);
}

/* --- connect and log in ------------------------------------------------------------------ */
static int login(sess *s)
{
  fetch_acct const *a = s->a;
  tain d;
  int r;
  if (a->passfile[0]) {
    r = control_readline(a->passfile, s->pass, sizeof s->pass, 0);
    if (r <= 0) return poll_failed(s, r < 0 ? "unable to read the password file" : "the password file is empty");
  } else memcpy(s->pass, a->pass, sizeof s->pass);
  line_deadline(s, &d);
  if (fetch_conn_open(&s->c, a->server, a->port, &d) < 0) return conn_failed(s, "connection");
  if (a->tls == FETCH_TLS_POP3S && fetch_conn_tls(&s->c, a->ca, a->tlsname, &d) < 0)
    return conn_failed(s, "no TLS, nothing fetched");
  r = status(s);
  if (r <= 0) return r < 0 ? conn_failed(s, "greeting") : poll_failed(s, "the server's greeting is -ERR");
  if (a->tls == FETCH_TLS_STLS) {
    if (command(s, "STLS", 0, "STLS (no TLS, nothing fetched)") < 0) return -1;
    line_deadline(s, &d);
    if (fetch_conn_tls(&s->c, a->ca, a->tlsname, &d) < 0) return conn_failed(s, "no TLS, nothing fetched");
  }
  if (command(s, "USER", a->user, "login (USER)") < 0) return -1;
  r = send_(s, "PASS", s->pass) < 0 ? -1 : status(s);
  memset(s->pass, 0, sizeof s->pass);
  if (r < 0) return conn_failed(s, "login (PASS)");
  if (!r) {
    char why[400];
    strcpy(why, "login refused by the server (wrong user or password?): ");
    strncat(why, s->c.err, sizeof why - strlen(why) - 1);
    return poll_failed(s, why);
  }
  return 0;
}

/* --- LIST and UIDL ----------------------------------------------------------------------- */
/* The next line of a multi-line answer: 1 data at s->line[*off..+*n), 0 end, -1 (logged) */
static int mline(sess *s, size_t max, size_t *off, size_t *n, char const *what)
{
  if (getline_(s, max) < 0) return conn_failed(s, what);
  return pop3_mline(s->line, s->len, off, n);
}

static int list(sess *s)
{
  size_t off, n;
  int r;
  if (command(s, "LIST", 0, "LIST") < 0) return -1;
  while ((r = mline(s, FETCH_STATUS_MAX, &off, &n, "LIST")) > 0) {
    msg m = { .key = (size_t)-1, .dele = 0 };
    if (!pop3_scan_list(s->line + off, n, &m.num, &m.size)) return poll_failed(s, "LIST: a malformed line");
    if (nmsgs(s) >= FETCH_MSGS_MAX) return poll_failed(s, "LIST: more than 100000 messages");
    if (nmsgs(s) && msgat(s, nmsgs(s) - 1)->num >= m.num) return poll_failed(s, "LIST: message numbers out of order");
    if (!stralloc_catb(&s->msgs, (char const *)&m, sizeof m)) return poll_failed(s, "out of memory");
  }
  return r;
}

static msg *bynum(sess *s, uint32_t num)
{
  size_t lo = 0, hi = nmsgs(s);
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    msg *m = msgat(s, mid);
    if (m->num == num) return m;
    if (m->num < num) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

static int keycmp(void const *x, void const *y) { return strcmp(*(char const *const *)x, *(char const *const *)y); }

/* 1 if two messages have the same key */
static int dupkeys(sess *s)
{
  size_t n = nmsgs(s), k = 0;
  char const **v;
  int dup = 0;
  if (n < 2) return 0;
  v = malloc(n * sizeof *v);
  if (!v) return 1;
  for (size_t i = 0; i < n; i++)
    if (msgat(s, i)->key != (size_t)-1) v[k++] = s->keys.s + msgat(s, i)->key;
  qsort(v, k, sizeof *v, keycmp);
  for (size_t i = 1; i < k && !dup; i++) dup = !strcmp(v[i - 1], v[i]);
  free(v);
  return dup;
}

/* 1 with the UIDL keys, 0 when the server has no UIDL, -1 (logged) */
static int uidl(sess *s)
{
  size_t off, n, uoff, ulen;
  int r;
  if (send_(s, "UIDL", 0) < 0 || (r = status(s)) < 0) return conn_failed(s, "UIDL");
  if (!r) return 0;
  while ((r = mline(s, FETCH_STATUS_MAX, &off, &n, "UIDL")) > 0) {
    uint32_t num;
    msg *m;
    if (!pop3_scan_uidl(s->line + off, n, &num, &uoff, &ulen)) return poll_failed(s, "UIDL: a malformed line");
    m = bynum(s, num);
    if (!m) return poll_failed(s, "UIDL: a message LIST did not show");
    if (m->key != (size_t)-1) return poll_failed(s, "UIDL: a message number twice");
    m->key = s->keys.len;
    if (!stralloc_catb(&s->keys, "u", 1) || !stralloc_catb(&s->keys, s->line + off + uoff, ulen)
        || !stralloc_0(&s->keys))
      return poll_failed(s, "out of memory");
  }
  if (r < 0) return -1;
  for (size_t i = 0; i < nmsgs(s); i++)
    if (msgat(s, i)->key == (size_t)-1) return poll_failed(s, "UIDL: a message LIST showed has no UIDL");
  if (dupkeys(s)) return poll_failed(s, "UIDL: two messages have the same UIDL: the server cannot be trusted to name them");
  return 1;
}

/* --- one message ------------------------------------------------------------------------- */
/* Reads a multi-line answer into s->m (LF line ends), at most max bytes: 0, -1 (logged) */
static int body(sess *s, uint64_t max, msg const *m, char const *what)
{
  size_t off, n;
  int r;
  s->m.len = 0;
  while ((r = mline(s, FETCH_LINE_MAX, &off, &n, what)) > 0) {
    if ((uint64_t)s->m.len + n + 1 > max) {
      char why[200], num[24], lim[24];
      fmtu(num, sizeof num, m->num);
      fmtu(lim, sizeof lim, max);
      strcpy(why, what);
      strcat(why, " ");
      strcat(why, num);
      strcat(why, ": longer than the ");
      strcat(why, lim);
      strcat(why, " bytes LIST said (a lying or broken server): nothing queued");
      s->broken = 1;
      return poll_failed(s, why);
    }
    if (!stralloc_catb(&s->m, s->line + off, n) || !stralloc_catb(&s->m, "\n", 1)) return poll_failed(s, "out of memory");
  }
  return r;
}

static char const *with(fetch_acct const *a)
{
  return a->tls == FETCH_TLS_POP3S ? "POP3S" : a->tls == FETCH_TLS_STLS ? "POP3 (STLS)" : "POP3";
}

static int make_received(sess *s)
{
  char date[DATE822_MAX + 1], port[8];
  fetch_acct const *a = s->a;
  fmtu(port, sizeof port, a->port);
  if (!date822_fmtlocal(date, time(0))) date[0] = 0;
  s->head.len = 0;
  return stralloc_cats(&s->head, "Received: from ") && stralloc_cats(&s->head, a->server)
         && stralloc_cats(&s->head, " (port ") && stralloc_cats(&s->head, port)
         && stralloc_cats(&s->head, ", account ") && stralloc_cats(&s->head, a->name)
         && stralloc_cats(&s->head, ", ") && stralloc_cats(&s->head, s->c.tlsinfo[0] ? s->c.tlsinfo : "no TLS")
         && stralloc_cats(&s->head, ")\n\tby ") && stralloc_cats(&s->head, s->x->me)
         && stralloc_cats(&s->head, " (mailroom-fetch) with ") && stralloc_cats(&s->head, with(a))
         && stralloc_cats(&s->head, "\n\tfor <") && stralloc_cats(&s->head, a->rcpt)
         && stralloc_cats(&s->head, ">; ") && stralloc_cats(&s->head, date) && stralloc_cats(&s->head, "\n");
}

static int record(sess *s, char kind, char const *key)
{
  if (fetch_state_set(&s->st, kind, key, strlen(key)) < 0 || fetch_state_save(&s->st, s->a->name) < 0) {
    char why[200];
    strcpy(why, "unable to save the state file fetch/");
    strcat(why, s->a->name);
    strcat(why, ": ");
    strncat(why, strerror(errno), 80);
    return poll_failed(s, why);
  }
  return 0;
}

/* RETR, checks, injection, record. 0 go on, -1 the poll ends (logged). */
static int fetch_one(sess *s, msg *m, char const *key)
{
  fetch_acct const *a = s->a;
  char num[24], sender[FETCH_FIELD_MAX + 1];
  char const *why = 0;
  int code, perm;
  fmtu(num, sizeof num, m->num);
  if (command(s, "RETR", num, "RETR") < 0) {
    msg_log(s, "failed", m, key, "RETR refused or broken: nothing queued");
    return -1;
  }
  if (body(s, m->size, m, "RETR") < 0) {
    msg_log(s, "failed", m, key, "the message did not arrive whole: nothing queued");
    return -1;
  }
  if (fetch_msg_loop(s->m.s, s->m.len, a->rcpt)) {
    msg_log(s, "refused", m, key, "a loop: it has a Delivered-To line for the local recipient; left on the server");
    s->nrefused++;
    return record(s, 'r', key);
  }
  if (!fetch_msg_returnpath(s->m.s, s->m.len, sender, sizeof sender)) memcpy(sender, a->address, sizeof sender);
  if (!make_received(s)) return poll_failed(s, "out of memory");
  code = fetch_inject(s->head.s, s->head.len, s->m.s, s->m.len, sender, a->rcpt, &why);
  if (code < 0 || (code && (why = qq_describe(code, &perm), !perm))) {
    msg_log(s, "failed", m, key, why);
    return poll_failed(s, "the injector failed: the poll stops, the next one tries again");
  }
  if (code) {
    msg_log(s, "refused", m, key, why);
    s->nrefused++;
    return record(s, 'r', key);
  }
  /* accepted: recorded durably before anything else, and before any DELE */
  if (record(s, 's', key) < 0) return -1;
  {
    char size[24];
    char const *kv[] = { "account", a->name, "result", "fetched", "msg", num, "key", key, "bytes", size,
                         "<from", sender, "<to", a->rcpt, "tls", s->c.tlsinfo[0] ? s->c.tlsinfo : "none" };
    fmtu(size, sizeof size, s->m.len);
    fetch_log("fetch", kv, 8);
  }
  s->nfetched++;
  if (a->del) m->dele = 1;
  return 0;
}

/* The keys of a server without UIDL: the hash of each message's headers, by TOP n 0.
   1, 0 the server has no TOP either, -1 (logged). */
static int hashkeys(sess *s)
{
  for (size_t i = 0; i < nmsgs(s); i++) {
    msg *m = msgat(s, i);
    char arg[32], key[66];
    int r;
    fmtu(arg, sizeof arg - 2, m->num);
    strcat(arg, " 0");
    if (send_(s, "TOP", arg) < 0 || (r = status(s)) < 0) return conn_failed(s, "TOP");
    if (!r) return 0;
    if (body(s, FETCH_HDR_MAX, m, "TOP") < 0) return -1;
    fetch_msg_hashkey(s->m.s, s->m.len, key);
    m->key = s->keys.len;
    if (!stralloc_catb(&s->keys, key, sizeof key)) return poll_failed(s, "out of memory");
  }
  return 1;
}

static int each(sess *s)
{
  fetch_acct const *a = s->a;
  for (size_t i = 0; i < nmsgs(s); i++) {
    msg *m = msgat(s, i);
    char const *key = s->keys.s + m->key;
    char kind = fetch_state_get(&s->st, key, strlen(key));
    if (kind == 's') {
      if (a->del) m->dele = 1;
      continue;
    }
    if (kind) continue; /* left on the server, said once */
    if (m->size > a->maxsize) {
      char why[120], lim[24];
      fmtu(lim, sizeof lim, a->maxsize);
      strcpy(why, "over the size limit of ");
      strcat(why, lim);
      strcat(why, " bytes: left on the server");
      msg_log(s, "skipped", m, key, why);
      s->nskipped++;
      if (record(s, 'b', key) < 0) return -1;
      continue;
    }
    if (fetch_one(s, m, key) < 0) return -1;
  }
  return 0;
}

/* DELE for every queued message (delete mode), then QUIT: the server deletes only then, so
   a connection lost before deletes nothing, and the next poll sends the DELEs again. */
static int finish(sess *s)
{
  for (size_t i = 0; i < nmsgs(s); i++) {
    msg *m = msgat(s, i);
    char num[24];
    int r;
    if (!m->dele) continue;
    fmtu(num, sizeof num, m->num);
    if (send_(s, "DELE", num) < 0 || (r = status(s)) < 0)
      return conn_failed(s, "DELE (nothing is deleted before QUIT: the next poll deletes again)");
    if (r) s->ndele++;
  }
  if (send_(s, "QUIT", 0) < 0 || status(s) <= 0) {
    s->ndele = 0;
    return conn_failed(s, "QUIT (nothing deleted: the next poll deletes again)");
  }
  return 0;
}

static int poll_(sess *s)
{
  int r;
  if (fetch_state_load(&s->st, s->a->name) < 0) {
    char why[200];
    strcpy(why, "unable to read the state file fetch/");
    strcat(why, s->a->name);
    strcat(why, ": ");
    strncat(why, errno == EINVAL ? "malformed" : strerror(errno), 80);
    return poll_failed(s, why);
  }
  if (login(s) < 0 || list(s) < 0 || (r = uidl(s)) < 0) return -1;
  if (!r) {
    char const *kv[] = { "account", s->a->name, "text", "the server has no UIDL: messages are named by a hash (SHA-256) of their headers" };
    fetch_log("fetchinfo", kv, 2);
    if ((r = hashkeys(s)) < 0) return -1;
    if (!r) return poll_failed(s, "the server has neither UIDL nor TOP: nothing fetched");
  }
  if (each(s) < 0) {
    /* what was queued before the failure is recorded: delete it if the connection still works */
    if (!s->broken) (void)finish(s);
    return -1;
  }
  /* the state forgets what the server no longer has */
  if (fetch_state_prune(&s->st, s->keys.s, s->keys.len) < 0) return poll_failed(s, "out of memory");
  if (s->st.changed && fetch_state_save(&s->st, s->a->name) < 0) return poll_failed(s, "unable to save the state file");
  return finish(s);
}

int fetch_poll(fetch_ctx const *x, fetch_acct const *a)
{
  sess *s = malloc(sizeof *s);
  int r;
  if (!s) {
    char const *kv[] = { "account", a->name, "result", "failed", "reason", "out of memory" };
    fetch_log("fetchpoll", kv, 3);
    return -1;
  }
  memset(s, 0, sizeof *s);
  s->x = x;
  s->a = a;
  s->c.fd = -1;
  s->msgs = s->keys = s->m = s->head = (stralloc)STRALLOC_ZERO;
  s->st = (fetch_state)FETCH_STATE_ZERO;
  tain_now_g();
  tain_addsec_g(&s->end, POLL_MAX);
  r = poll_(s);
  if (!r) {
    char f[24], k[24], rf[24], d[24], n[24];
    char const *kv[] = { "account", a->name, "result", "ok", "messages", n, "fetched", f, "skipped", k,
                         "refused", rf, "deleted", d, "tls", s->c.tlsinfo[0] ? s->c.tlsinfo : "none" };
    fmtu(n, sizeof n, nmsgs(s));
    fmtu(f, sizeof f, s->nfetched);
    fmtu(k, sizeof k, s->nskipped);
    fmtu(rf, sizeof rf, s->nrefused);
    fmtu(d, sizeof d, s->ndele);
    fetch_log("fetchpoll", kv, 8);
  }
  fetch_conn_close(&s->c);
  memset(s->pass, 0, sizeof s->pass);
  stralloc_free(&s->msgs);
  stralloc_free(&s->keys);
  stralloc_free(&s->m);
  stralloc_free(&s->head);
  fetch_state_free(&s->st);
  free(s);
  return r;
}
