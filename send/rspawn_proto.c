/* The remote channel's packets and mailroom-remote's records (INTERNALS.md). Every parser
   here takes a length and never reads past it: the input is a packet or a pipe's bytes. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include "envelope.h"
#include "qid.h"
#include "rspawn_proto.h"

char const *rspawn_domain(char const *addr)
{
  char const *at = strrchr(addr, '@');
  return at ? at + 1 : "";
}

static int samedomain(char const *a, char const *b)
{
  return !strcasecmp(rspawn_domain(a), rspawn_domain(b));
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

static int addrok(char const *a)
{
  size_t l = strlen(a);
  return l <= ENV_ADDR_MAX && !strpbrk(a, "\r\n");
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
  if (!(q->sender = field(buf, len, &pos)) || !addrok(q->sender)) return -1;
  while (pos < len) {
    if (q->n == RSPAWN_RCPT_MAX) return -1;
    if (!(f = field(buf, len, &pos)) || !*f || !addrok(f)) return -1;
    if (q->n && !samedomain(q->rcpt[0], f)) return -1;
    q->rcpt[q->n++] = f;
  }
  return q->n ? 0 : -1;
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
