/* The remote channel's packets and mailroom-remote's records (INTERNALS.md). Every parser
   here takes a length and never reads past it: the input is a packet or a pipe's bytes. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include "envelope.h"
#include "qid.h"
#include "rspawn_proto.h"

/* The length of the address in a field: up to the LF before its parameters, if any. */
static size_t addrlen(char const *a)
{
  char const *nl = strchr(a, '\n');
  return nl ? (size_t)(nl - a) : strlen(a);
}

char const *rspawn_domain(char const *addr)
{
  size_t l = addrlen(addr);
  char const *at = memrchr(addr, '@', l);
  return at ? at + 1 : addr + l;
}

/* The domain's length in a field. */
static size_t domainlen(char const *addr)
{
  return addrlen(addr) - (size_t)(rspawn_domain(addr) - addr);
}

static int samedomain(char const *a, char const *b)
{
  size_t l = domainlen(a);
  return l == domainlen(b) && !strncasecmp(rspawn_domain(a), rspawn_domain(b), l);
}

static int put(char *buf, size_t cap, size_t *w, char const *s, size_t n)
{
  if (n > cap - *w) return 0;
  memcpy(buf + *w, s, n);
  *w += n;
  return 1;
}

size_t rreq_pack(char *buf, size_t cap, unsigned slot, char const *id, unsigned long long msglen,
                 char const *sender, char const *const *rcpt, unsigned n)
{
  char num[24];
  size_t w = 0;
  if (!n || n > RSPAWN_RCPT_MAX || slot >= RSPAWN_SLOTS) return 0;
  snprintf(num, sizeof num, "%u", slot);
  if (!put(buf, cap, &w, num, strlen(num) + 1) || !put(buf, cap, &w, id, strlen(id) + 1)) return 0;
  snprintf(num, sizeof num, "%llu", msglen);
  if (!put(buf, cap, &w, num, strlen(num) + 1) || !put(buf, cap, &w, sender, strlen(sender) + 1)) return 0;
  for (unsigned k = 0; k < n; k++) {
    if (!*rcpt[k] || !samedomain(rcpt[0], rcpt[k])) return 0;
    if (!put(buf, cap, &w, rcpt[k], strlen(rcpt[k]) + 1)) return 0;
  }
  return w;
}

/* A decimal number of at most maxdig digits, no sign, no leading zero (but "0"). */
static int decimal(char const *s, unsigned maxdig, unsigned long long *u)
{
  unsigned long long x = 0;
  size_t l = strlen(s);
  if (!l || l > maxdig || (s[0] == '0' && l > 1)) return 0;
  for (size_t i = 0; i < l; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    x = x * 10 + (unsigned long long)(s[i] - '0');
  }
  *u = x;
  return 1;
}

/* The next NUL-terminated field at *pos, or 0 when none is complete. */
static char const *field(char const *buf, size_t len, size_t *pos)
{
  char const *z, *f = buf + *pos;
  if (*pos >= len) return 0;
  z = memchr(f, 0, len - *pos);
  if (!z) return 0;
  *pos = (size_t)(z - buf) + 1;
  return f;
}

/* An address, then optionally LF and its parameters (rspawn_proto.h): printable ASCII
   words "KEY=value" separated by single spaces, of the keys allowed. */
static int addrok(char const *a, char const *const *keys)
{
  size_t l = addrlen(a);
  char const *p = a + l;
  if (l > ENV_ADDR_MAX || memchr(a, '\r', l)) return 0;
  if (!*p) return 1;
  return rspawn_params_ok(p + 1, keys);
}

static char const *const mkeys[] = { "RET", "ENVID", "AUTH", 0 };
static char const *const rkeys[] = { "NOTIFY", "ORCPT", 0 };

int rspawn_params_ok(char const *p, char const *const *keys)
{
  size_t n = strlen(p);
  unsigned seen = 0;
  if (!n || n > RSPAWN_PARAMS_MAX) return 0;
  for (;;) {
    char const *sp = strchr(p, ' '), *eq;
    size_t wl = sp ? (size_t)(sp - p) : strlen(p), k;
    eq = memchr(p, '=', wl);
    if (!eq || eq == p || eq + 1 == p + wl) return 0;
    for (k = 0; keys[k]; k++)
      if (strlen(keys[k]) == (size_t)(eq - p) && !memcmp(keys[k], p, (size_t)(eq - p))) break;
    if (!keys[k] || (seen & (1u << k))) return 0;
    seen |= 1u << k;
    for (char const *c = eq + 1; c < p + wl; c++)
      if ((unsigned char)*c <= 32 || (unsigned char)*c >= 127 || *c == '=') return 0;
    if (!sp) return 1;
    p = sp + 1;
  }
}

int rreq_parse(char const *buf, size_t len, struct rreq *q)
{
  size_t pos = 0;
  unsigned long long u;
  char const *f;
  if (len > RSPAWN_PACKET_MAX) return -1;
  memset(q, 0, sizeof *q);
  if (!(f = field(buf, len, &pos)) || !decimal(f, 4, &u) || u >= RSPAWN_SLOTS) return -1;
  q->slot = (unsigned)u;
  if (!(q->id = field(buf, len, &pos)) || !qid_parse(q->id, 0, 0)) return -1;
  if (!(q->msglen = field(buf, len, &pos)) || !decimal(q->msglen, 19, &q->len)) return -1;
  if (!(q->sender = field(buf, len, &pos)) || !addrok(q->sender, mkeys)) return -1;
  while (pos < len) {
    if (q->n == RSPAWN_RCPT_MAX) return -1;
    if (!(f = field(buf, len, &pos)) || !*f || *f == '\n' || !addrok(f, rkeys)) return -1;
    if (q->n && !samedomain(q->rcpt[0], f)) return -1;
    q->rcpt[q->n++] = f;
  }
  if (!q->n) return -1;
  {
    size_t dl = domainlen(q->rcpt[0]);
    memcpy(q->domain, rspawn_domain(q->rcpt[0]), dl);
    q->domain[dl] = 0;
  }
  return 0;
}

size_t rrep_pack(char *buf, size_t cap, unsigned slot, struct rres const *res, unsigned n)
{
  char num[16];
  size_t w = 0;
  snprintf(num, sizeof num, "%u", slot);
  if (!put(buf, cap, &w, num, strlen(num) + 1)) return 0;
  for (unsigned k = 0; k < n; k++) {
    size_t tl = strnlen(res[k].text, RSPAWN_TEXT_MAX);
    if (!put(buf, cap, &w, &res[k].r, 1) || !put(buf, cap, &w, res[k].text, tl) || !put(buf, cap, &w, "", 1))
      return 0;
  }
  return w;
}

/* One "R text\0" at buf[*pos..len): 1 and res filled if well formed (R in KZD, printable
   text of at most RSPAWN_TEXT_MAX bytes), else 0. */
static int record(char const *buf, size_t len, size_t *pos, struct rres *res)
{
  size_t p = *pos, tl = 0;
  if (p >= len || !strchr("KZD", buf[p]) || !buf[p]) return 0;
  for (p++; p < len && buf[p]; p++, tl++) {
    unsigned char c = (unsigned char)buf[p];
    if (tl == RSPAWN_TEXT_MAX || c < 32 || c > 126) return 0;
  }
  if (p >= len) return 0; /* no NUL */
  res->r = buf[*pos];
  memcpy(res->text, buf + *pos + 1, tl);
  res->text[tl] = 0;
  *pos = p + 1;
  return 1;
}

int rrep_slot(char const *buf, size_t len, unsigned *slot)
{
  size_t pos = 0;
  unsigned long long u;
  char const *f = field(buf, len, &pos);
  if (!f || !decimal(f, 4, &u) || u >= RSPAWN_SLOTS) return -1;
  *slot = (unsigned)u;
  return 0;
}

int rrep_parse(char const *buf, size_t len, unsigned *slot, struct rres *res, unsigned n)
{
  size_t pos = 0;
  unsigned long long u;
  char const *f = field(buf, len, &pos);
  if (!f || !decimal(f, 4, &u) || u >= RSPAWN_SLOTS) return -1;
  *slot = (unsigned)u;
  for (unsigned k = 0; k < n; k++)
    if (!record(buf, len, &pos, &res[k])) return -1;
  return pos == len ? 0 : -1;
}

unsigned rrec_results(char const *buf, size_t len, int truncated, int status, unsigned n, struct rres *res,
                      char *note, size_t notelen)
{
  char how[80];
  size_t pos = 0;
  unsigned good = 0;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  char fill = code == 100 ? 'D' : 'Z';
  while (good < n && record(buf, len, &pos, &res[good])) good++;
  if (WIFEXITED(status)) snprintf(how, sizeof how, "exited %d", code);
  else if (WIFSIGNALED(status)) snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
  else snprintf(how, sizeof how, "ended with status %d", status);
  note[0] = 0;
  if (good < n) {
    char const *what = pos < len ? "a malformed record" : "no record";
    if (truncated && pos == len) what = "an overlong report";
    snprintf(note, notelen, "mailroom-remote %s and wrote %s after %u of %u", how, what, good, n);
    for (unsigned k = good; k < n; k++) {
      res[k].r = fill;
      snprintf(res[k].text, sizeof res[k].text, "%s mailroom-remote %s and wrote %s for this recipient",
               fill == 'D' ? "5.3.0" : "4.3.0", how, what);
    }
  } else if (pos < len || truncated)
    snprintf(note, notelen, "mailroom-remote %s and wrote more than %u records: the excess was ignored", how, n);
  else if (code != 0)
    snprintf(note, notelen, "mailroom-remote %s after reporting every recipient", how);
  return good;
}
