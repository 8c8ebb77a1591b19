/* A delivery channel and its slots. The local one is the pipe pair to mailroom-lspawn, with
   NUL-terminated fields and one recipient per request; the remote one is the SOCK_SEQPACKET
   socket to mailroom-rspawn: one packet per request, carrying the open message file and up
   to RSPAWN_RCPT_MAX recipients of one domain, one packet per reply (INTERNALS.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/strerr.h>
#include "envelope.h"
#include "send.h"
#include "vdomain.h"

/* slot (10) + result (1) + text + two NULs: anything longer is a broken spawner. */
#define REPLY_MAX (10 + 1 + TEXT_MAX + 2)

static _Noreturn void die_nomem(void) { strerr_diefu1sys(111, "allocate memory"); }

int chan_init(struct chan *c, char const *name, int wfd, int rfd, unsigned conc)
{
  memset(c, 0, sizeof *c);
  c->name = name;
  c->wfd = wfd;
  c->rfd = rfd;
  c->conc = conc;
  c->bmax = 1;
  c->slot = calloc(conc, sizeof *c->slot);
  c->batch = calloc(conc, sizeof *c->batch);
  c->rbuf = malloc(REPLY_MAX);
  return c->slot && c->batch && c->rbuf ? 0 : -1;
}

/* Makes c the packet channel of remote deliveries. */
int chan_packets(struct chan *c)
{
  unsigned *b = calloc((size_t)c->conc * RSPAWN_RCPT_MAX, sizeof *b);
  char *r = malloc(RSPAWN_PACKET_MAX + 1);
  if (!b || !r) {
    free(b);
    free(r);
    return -1;
  }
  free(c->batch);
  free(c->rbuf);
  c->batch = b;
  c->rbuf = r;
  c->bmax = RSPAWN_RCPT_MAX;
  c->packets = 1;
  return 0;
}

static int request(struct chan *c, unsigned slot, struct msg const *m, unsigned i)
{
  char num[16];
  char const *sender = m->env + 1;
  size_t nl = (size_t)snprintf(num, sizeof num, "%u", slot) + 1;
  /* a virtual domain's recipient goes to lspawn as prefix-local@domain (send_msg.c) */
  char const *rcpt = m->vaddr[i] ? m->vaddr[i] : m->rcpt[i];
  size_t il = strlen(m->id) + 1, sl = strlen(sender) + 1, rl = strlen(rcpt) + 1;
  char buf[16 + QID_MAX + 1002 + VDOMAIN_ADDR_MAX + 1];
  memcpy(buf, num, nl);
  memcpy(buf + nl, m->id, il);
  memcpy(buf + nl + il, sender, sl);
  memcpy(buf + nl + il + sl, rcpt, rl);
  return allwrite(c->wfd, buf, nl + il + sl + rl) == nl + il + sl + rl ? 0 : -1;
}

/* One packet with the message file's descriptor in SCM_RIGHTS. */
static int sendpacket(int fd, char const *buf, size_t len, int msgfd)
{
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(sizeof(int))];
  } cm;
  struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
  struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
  ssize_t w;
  memset(&cm, 0, sizeof cm);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(h), &msgfd, sizeof(int));
  do w = sendmsg(fd, &mh, MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);
  return w == (ssize_t)len ? 0 : -1;
}

static char const *domain_of(char const *addr)
{
  char const *at = strrchr(addr, '@');
  return at ? at + 1 : "";
}

/* The envelope's parameter records of an address as the ESMTP words of its field
   (rspawn_proto.h): addr (the sender when sender, else a recipient as envelope_next gave it)
   and, when it has records, LF and the words, into buf; addr itself when it has none. */
static char const *field(char *buf, size_t max, char const *env, char const *addr, int sender)
{
  size_t w = strlen(addr);
  int any = 0;
  if (w >= max) return addr;
  memcpy(buf, addr, w + 1);
  for (char const *l = sender ? "REA" : "NO"; *l; l++) {
    char const *v = sender ? envelope_mparam(env, *l) : envelope_rparam(addr, *l);
    char const *kw = *l == 'R' ? "RET=" : *l == 'E' ? "ENVID=" : *l == 'A' ? "AUTH=" : *l == 'N' ? "NOTIFY=" : "ORCPT=";
    if (!v) continue;
    w += (size_t)snprintf(buf + w, max - w, "%s%s%s", any ? " " : "\n", kw, v);
    if (w >= max) return addr; /* cannot happen: max holds every record at its longest */
    any = 1;
  }
  return any ? buf : addr;
}

/* A remote job that can start: its domain has room. Takes the message's other due
   recipients of that domain along (up to RSPAWN_RCPT_MAX), opens the message file and
   sends the request. */
static void remote_start(struct send *s, struct chan *c, struct job j, struct domain *d, time_t now)
{
  static char pkt[RSPAWN_PACKET_MAX];
  static char fields[RSPAWN_RCPT_MAX][ENV_ADDR_MAX + ENV_RPARAMS_MAX + 16];
  static char sfield[ENV_ADDR_MAX + ENV_MPARAMS_MAX + 16];
  char const *sender;
  char const *rc[RSPAWN_RCPT_MAX];
  char path[QID_MAX + 16], q[1100];
  struct msg *m = j.m;
  char const *dom = domain_of(m->rcpt[j.i]);
  unsigned k = 0, n = 0, *b;
  size_t len;
  int fd;
  while (c->slot[k].m) k++;
  b = c->batch + (size_t)k * c->bmax;
  b[n++] = j.i;
  for (unsigned u = 0; u < m->nrcpt && n < c->bmax; u++)
    if (u != j.i && m->chan[u] == 'R' && m->state[u] == 'T' && !m->flight[u] && m->nexttry[u] <= now &&
        !strcasecmp(domain_of(m->rcpt[u]), dom))
      b[n++] = u;
  for (unsigned u = 0; u < n; u++) rc[u] = field(fields[u], sizeof fields[u], m->env, m->rcpt[b[u]], 0);
  sender = field(sfield, sizeof sfield, m->env, m->env + 1, 1);
  len = rreq_pack(pkt, sizeof pkt, k, m->id, m->msglen, sender, rc, n);
  /* long addresses with their parameters may not all fit in one packet: fewer do */
  while (!len && n > 1) len = rreq_pack(pkt, sizeof pkt, k, m->id, m->msglen, sender, rc, --n);
  snprintf(path, sizeof path, "queue/mess/%s", m->id);
  fd = len ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  if (fd < 0) {
    char const *why = len ? "4.3.0 unable to open the message file in the queue" : "4.3.0 request too large";
    strerr_warnwu2sys("open ", path);
    if (!d->busy && !d->wlen) domain_release(s, d);
    for (unsigned u = 0; u < n; u++) result_apply(s, m, b[u], 0, 'Z', why, now); /* m may go at the last */
    return;
  }
  j.d = ++s->dcount;
  j.n = n;
  j.dom = d;
  c->slot[k] = j;
  c->busy++;
  d->busy++;
  m->inflight += n;
  log_quote(q, sizeof q, dom);
  for (unsigned u = 0; u < n; u++) {
    m->flight[b[u]] = 1;
    log_line("start", m, "d=%llu chan=%s to=<%s> domain=%s nrcpt=%u", j.d, c->name, m->rcpt[b[u]], q, n);
  }
  if (sendpacket(c->wfd, pkt, len, fd) < 0) strerr_diefu2sys(111, "send a request to ", c->name);
  close(fd);
}

void chan_dispatch(struct send *s, struct chan *c)
{
  time_t now = time(0);
  unsigned k = 0;
  while (c->rlen && (c->wfd < 0 || c->busy < c->conc) && !s->stopping) {
    struct job j = c->ready[c->rhead];
    c->rhead = (c->rhead + 1) % c->rcap;
    c->rlen--;
    if (msg_unref(j.m) || j.m->state[j.i] != 'T') continue;
    if (ctl_park(s, j.m, j.i)) continue; /* held (send_ctl.c) */
    if (c->wfd < 0) {
      result_apply(s, j.m, j.i, 0, 'Z', "4.3.2 no delivery program runs for this channel yet", now);
      continue;
    }
    if (c->packets) {
      struct domain *d;
      if (j.m->flight[j.i] || j.m->nexttry[j.i] > now) {
        /* Taken along by another delivery, or deferred since: a stale entry. If it was
           moved up from its domain's waiting list, the place it had goes to the next. */
        d = domain_find(s, domain_of(j.m->rcpt[j.i]));
        if (d && d->wlen) domain_release(s, d);
        continue;
      }
      d = domain_get(s, domain_of(j.m->rcpt[j.i]));
      if (!d) die_nomem();
      if (d->busy >= s->cf.concdomain) {
        j.m->refs++;
        if (domain_wait(d, &j) < 0) die_nomem();
        continue;
      }
      remote_start(s, c, j, d, now);
      continue;
    }
    while (c->slot[k].m) k++;
    j.d = ++s->dcount;
    j.n = 1;
    c->slot[k] = j;
    c->batch[k] = j.i;
    c->busy++;
    j.m->inflight++;
    log_line("start", j.m, "d=%llu chan=%s to=<%s>", j.d, c->name, j.m->rcpt[j.i]);
    if (request(c, k, j.m, j.i) < 0) strerr_diefu2sys(111, "write to ", c->name);
  }
}

/* Applies one reply packet of the remote channel. */
static void packet(struct send *s, struct chan *c, size_t len, time_t now)
{
  static struct rres res[RSPAWN_RCPT_MAX];
  unsigned slot, *b;
  struct job j;
  if (rrep_slot(c->rbuf, len, &slot) < 0 || slot >= c->conc || !c->slot[slot].m ||
      rrep_parse(c->rbuf, len, &slot, res, c->slot[slot].n) < 0)
    strerr_dief2x(111, "protocol error in a reply from ", c->name);
  j = c->slot[slot];
  b = c->batch + (size_t)slot * c->bmax;
  c->slot[slot].m = 0;
  c->busy--;
  j.dom->busy--;
  for (unsigned u = 0; u < j.n; u++) {
    j.m->flight[b[u]] = 0;
    j.m->inflight--;
    result_apply(s, j.m, b[u], j.d, res[u].r, res[u].text, now); /* m may go at the last */
  }
  domain_release(s, j.dom);
}

/* Reads what the spawner has sent and applies every complete reply. Returns 0, or -1 when
   the spawner has gone (EOF). */
int chan_read(struct send *s, struct chan *c, time_t now)
{
  ssize_t r;
  if (c->packets) {
    for (;;) {
      r = recv(c->rfd, c->rbuf, RSPAWN_PACKET_MAX + 1, MSG_DONTWAIT);
      if (r < 0) return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
      if (!r) return -1;
      if (r > RSPAWN_PACKET_MAX) strerr_dief2x(111, "overlong reply from ", c->name);
      packet(s, c, (size_t)r, now);
    }
  }
  r = read(c->rfd, c->rbuf + c->rbuflen, REPLY_MAX - c->rbuflen);
  if (r < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
  if (!r) return -1;
  c->rbuflen += (size_t)r;
  for (;;) {
    char *z1 = memchr(c->rbuf, 0, c->rbuflen), *z2, *end;
    unsigned long slot;
    struct job j;
    if (!z1) break;
    z2 = memchr(z1 + 1, 0, c->rbuflen - (size_t)(z1 + 1 - c->rbuf));
    if (!z2) break;
    slot = strtoul(c->rbuf, &end, 10);
    if (end != z1 || end == c->rbuf || slot >= c->conc || !c->slot[slot].m || !z1[1] || !strchr("KZD", z1[1]))
      strerr_dief2x(111, "protocol error in reply from ", c->name);
    j = c->slot[slot];
    c->slot[slot].m = 0;
    c->busy--;
    j.m->inflight--;
    result_apply(s, j.m, j.i, j.d, z1[1], z1 + 2, now);
    c->rbuflen -= (size_t)(z2 + 1 - c->rbuf);
    memmove(c->rbuf, z2 + 1, c->rbuflen);
  }
  if (c->rbuflen == REPLY_MAX) strerr_dief2x(111, "overlong reply from ", c->name);
  return 0;
}
