/* mailroom-dkimsign: signs outgoing mail with DKIM (RFC 6376, RFC 8463). mailroom-start runs
   it as mrdkim, the only role that reads the private keys (control/dkim/DOMAIN/key.pem), in
   the remote channel between mailroom-send (fd 0, both ways) and mailroom-rspawn (fd 3):
   each request from send, with its message file, goes on to rspawn, with a second file
   holding the DKIM-Signature field when the message is signed; rspawn's replies go back
   unchanged. It trusts mailroom-send and the control files; it signs nothing rspawn says
   (mrremote talks to hostile servers) and reads nothing but packets from it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <skalibs/strerr.h>

#include "auto_home.h"
#include "dkim_canon.h"
#include "dkim_crypto.h"
#include "dkim_sign.h"
#include "rspawn_proto.h"

#define FDS_MAX 4
#define HEAD_MAX ((size_t)1024 * 1024) /* a header section longer than this is sent unsigned */
#define CHUNK ((size_t)65536)
#define HEAD_STEP ((size_t)16384) /* the header is read in steps of this, up to its end */
#define KEYS_MAX 64            /* domains whose keys are kept loaded */
#define DOMAIN_MAX 253
#define SELECTOR_MAX 63
#define HLIST_MAX 2048
#define SIGFIELD_MAX 8192

struct key {
  char domain[DOMAIN_MAX + 1];
  char selector[SELECTOR_MAX + 1];
  dkim_key *k;
  struct stat kst, sst; /* key.pem and selector as loaded: reloaded when either changes */
};

struct signer {
  struct key keys[KEYS_MAX];
  unsigned nkeys, next;
  char pkt[RSPAWN_PACKET_MAX + 1];
  char *head; /* HEAD_MAX */
  char *chunk;
};

static _Noreturn void die_nomem(void) { strerr_dief1x(111, "out of memory"); }
static _Noreturn void die_proto(char const *what) { strerr_dief2x(111, "protocol error from mailroom-send: ", what); }
static _Noreturn void die_write(char const *to) { strerr_diefu2sys(111, "write to ", to); }

static int same(struct stat const *a, struct stat const *b)
{
  return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The key of domain d: 1 and *out, 0 when d has none (no control/dkim/d/), -1 when it has
   one that cannot be used (why says why: the delivery is deferred, not sent unsigned). */
static int key_for(struct signer *g, char const *d, struct key **out, char *why, size_t whymax)
{
  char kf[DOMAIN_MAX + 64], sf[DOMAIN_MAX + 64], sel[SELECTOR_MAX + 2];
  struct stat kst, sst;
  struct key *e = 0;
  ssize_t r;
  int fd;
  size_t n;
  if (!dkim_name_ok(d, DOMAIN_MAX)) return 0;
  snprintf(kf, sizeof kf, "control/dkim/%s/key.pem", d);
  snprintf(sf, sizeof sf, "control/dkim/%s/selector", d);
  if (stat(sf, &sst) < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    snprintf(why, whymax, "unable to read %s: %s", sf, strerror(errno));
    return -1;
  }
  if (stat(kf, &kst) < 0) {
    snprintf(why, whymax, "unable to read %s: %s", kf, strerror(errno));
    return -1;
  }
  for (unsigned i = 0; i < g->nkeys; i++)
    if (!strcmp(g->keys[i].domain, d)) e = &g->keys[i];
  if (e && same(&e->kst, &kst) && same(&e->sst, &sst)) {
    *out = e;
    return 1;
  }
  fd = open(sf, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, whymax, "unable to read %s: %s", sf, strerror(errno));
    return -1;
  }
  r = read(fd, sel, sizeof sel - 1);
  close(fd);
  if (r < 0) {
    snprintf(why, whymax, "unable to read %s: %s", sf, strerror(errno));
    return -1;
  }
  n = (size_t)r;
  while (n && (sel[n - 1] == '\n' || sel[n - 1] == '\r' || sel[n - 1] == ' ')) n--;
  sel[n] = 0;
  if (!dkim_name_ok(sel, SELECTOR_MAX)) {
    snprintf(why, whymax, "%s holds no usable selector (letters, digits, '-', '.': at most 63)", sf);
    return -1;
  }
  if (!e) {
    if (g->nkeys < KEYS_MAX)
      e = &g->keys[g->nkeys++];
    else {
      e = &g->keys[g->next++ % KEYS_MAX]; /* a host with more domains reloads in turn */
      dkim_key_free(e->k);
      e->k = 0;
    }
  } else {
    dkim_key_free(e->k);
    e->k = 0;
  }
  e->domain[0] = 0;
  e->k = dkim_key_load(kf);
  if (!e->k) {
    snprintf(why, whymax, "unable to load the key %s: %s", kf,
             errno == EINVAL ? "no RSA (1024 bits or more) or Ed25519 private key in PEM" : strerror(errno));
    return -1;
  }
  snprintf(e->domain, sizeof e->domain, "%s", d);
  memcpy(e->selector, sel, n + 1);
  e->kst = kst;
  e->sst = sst;
  *out = e;
  return 1;
}

struct hashes {
  dkim_sha *sha;
};

/* Reads bytes off..off+n of the message into buf. 0, or -1 (why). */
static int readat(int fd, char *buf, size_t n, unsigned long long off, char *why, size_t whymax)
{
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      snprintf(why, whymax, "unable to read the message: %s", r < 0 ? strerror(errno) : "it is shorter than msglen");
      return -1;
    }
    got += (size_t)r;
  }
  return 0;
}

/* The signature field for the message of request q into field: its length, 0 for a message
   not signed (its origin, no key), -1 on a failure (why). */
static ssize_t sign(struct signer *g, struct rreq const *q, int fd, char *field, char *why, size_t whymax)
{
  unsigned long long len = q->len, off;
  size_t hn, have, body, hend, flen;
  char dom[DOMAIN_MAX + 2], hlist[HLIST_MAX], bh64[48], b64[4 * (DKIM_SIG_MAX / 3 + 1) + 1];
  unsigned char bh[32], hh[32], sig[DKIM_SIG_MAX];
  char const *at;
  struct key *k = 0;
  dkim_body b = DKIM_BODY_ZERO;
  dkim_sha *sha;
  int r = 0;
  size_t sl, cn;
  b.lf = 1; /* the queue's form, as mailroom-remote sends it */
  /* the header section, read a chunk at a time until its end: mail that is not signed costs
     a read of its header, not of its first MiB */
  have = 0;
  for (size_t lim = len < HEAD_MAX ? (size_t)len : HEAD_MAX;;) {
    size_t n = lim - have < HEAD_STEP ? lim - have : HEAD_STEP;
    if (readat(fd, g->head + have, n, have, why, whymax) < 0) return -1;
    have += n;
    hend = dkim_header_end(g->head, have, &body);
    if (hend < have || have == lim) break;
  }
  if (hend == have && have < len) {
    strerr_warnw3x("msg ", q->id, ": not signed: its header section is over 1 MiB");
    return 0;
  }
  hn = hend;
  if (dkim_origin(g->head, hn) == DKIM_ORIGIN_NET) return 0;
  /* the From domain (what DMARC aligns with), else the envelope sender's */
  if (dkim_from_domain(g->head, hn, dom, sizeof dom)) r = key_for(g, dom, &k, why, whymax);
  if (!r && (at = strrchr(q->sender, '@')) && strlen(at + 1) < sizeof dom) {
    size_t i;
    for (i = 0; at[1 + i]; i++) dom[i] = at[1 + i] >= 'A' && at[1 + i] <= 'Z' ? (char)(at[1 + i] + 32) : at[1 + i];
    dom[i] = 0;
    r = key_for(g, dom, &k, why, whymax);
  }
  if (r <= 0) return r;
  /* the body hash: what the header holds after the empty line, then the rest of the file */
  if (!(sha = dkim_sha_new())) die_nomem();
  if (body < have) dkim_body_feed(&b, g->head + body, have - body, dkim_sha_update, sha);
  for (off = have; off < len;) {
    size_t n = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
    if (readat(fd, g->chunk, n, off, why, whymax) < 0) {
      dkim_sha_final(sha, bh);
      return -1;
    }
    dkim_body_feed(&b, g->chunk, n, dkim_sha_update, sha);
    off += n;
  }
  dkim_body_end(&b, dkim_sha_update, sha);
  if (dkim_sha_final(sha, bh) < 0) {
    snprintf(why, whymax, "SHA-256 failed");
    return -1;
  }
  dkim_base64(bh, 32, bh64);
  if (!(sha = dkim_sha_new())) die_nomem();
  if (dkim_sign_fields(g->head, hn, hlist, sizeof hlist, dkim_sha_update, sha) < 0) {
    dkim_sha_final(sha, hh);
    if (errno == ENOMEM) die_nomem();
    strerr_warnw3x("msg ", q->id, ": not signed: too many header fields to sign");
    return 0;
  }
  flen = dkim_sig_head(field, SIGFIELD_MAX, dkim_key_alg(k->k), k->domain, k->selector, (long long)time(0), hlist,
                       bh64);
  if (!flen) {
    dkim_sha_final(sha, hh);
    snprintf(why, whymax, "the DKIM-Signature field does not fit");
    return -1;
  }
  {
    char canon[SIGFIELD_MAX + 3];
    cn = dkim_canon_header(field, flen, canon, 0);
    dkim_sha_update(sha, canon, cn);
  }
  if (dkim_sha_final(sha, hh) < 0 || !(sl = dkim_key_sign(k->k, hh, sig))) {
    snprintf(why, whymax, "the %s signature failed", dkim_key_alg(k->k));
    return -1;
  }
  dkim_base64(sig, sl, b64);
  flen = dkim_sig_finish(field, flen, SIGFIELD_MAX, b64);
  if (!flen) {
    snprintf(why, whymax, "the DKIM-Signature field does not fit");
    return -1;
  }
  return (ssize_t)flen;
}

/* A file holding the field, for the deliverer to put on top of the message. */
static int sigfile(char const *field, size_t n)
{
  int fd = memfd_create("dkim-signature", MFD_CLOEXEC);
  size_t w = 0;
  if (fd < 0) return -1;
  while (w < n) {
    ssize_t r = write(fd, field + w, n - w);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      close(fd);
      return -1;
    }
    w += (size_t)r;
  }
  return fd;
}

static void sendfds(int sock, char const *pkt, size_t len, int const *fds, unsigned nfd)
{
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(2 * sizeof(int))];
  } cm;
  struct iovec iov = { .iov_base = (void *)pkt, .iov_len = len };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = CMSG_SPACE(nfd * sizeof(int)) };
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  ssize_t w;
  memset(cm.b, 0, sizeof cm.b);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(nfd * sizeof(int));
  memcpy(CMSG_DATA(c), fds, nfd * sizeof(int));
  do w = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);
  if (w != (ssize_t)len) die_write("mailroom-rspawn");
}

/* Every recipient of q gets Z with why: the signer's own reply, rspawn never sees the job. */
static void defer(struct signer *g, struct rreq const *q, char const *why)
{
  static struct rres res[RSPAWN_RCPT_MAX];
  size_t n;
  ssize_t w;
  strerr_warnw4x("msg ", q->id, ": deferred: ", why);
  for (unsigned i = 0; i < q->n; i++) {
    res[i].r = 'Z';
    snprintf(res[i].text, sizeof res[i].text, "4.3.0 DKIM signing failed: %.800s", why);
  }
  n = rrep_pack(g->pkt, sizeof g->pkt, q->slot, res, q->n);
  if (!n) strerr_dief1x(101, "a reply does not fit in a packet");
  do w = send(0, g->pkt, n, MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);
  if (w != (ssize_t)n) die_write("mailroom-send");
}

/* One packet from send: 1, or 0 at its end. */
static int request(struct signer *g)
{
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(FDS_MAX * sizeof(int))];
  } cm;
  struct iovec iov = { .iov_base = g->pkt, .iov_len = sizeof g->pkt };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
  int fds[FDS_MAX], out[2];
  unsigned nfd = 0;
  struct rreq q;
  char field[SIGFIELD_MAX], why[512];
  ssize_t len, fl;
  do len = recvmsg(0, &mh, MSG_CMSG_CLOEXEC);
  while (len < 0 && errno == EINTR);
  if (len < 0) {
    if (errno == ECONNRESET) return 0;
    strerr_diefu1sys(111, "read from mailroom-send");
  }
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfd < FDS_MAX; k++)
        memcpy(&fds[nfd++], CMSG_DATA(c) + k * sizeof(int), sizeof(int));
  if (!len && !nfd) return 0;
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) die_proto("packet or ancillary data too long");
  if (nfd != 1) die_proto("not exactly one file descriptor");
  /* the packet is forwarded as it came: parse a copy of its bytes' pointers only */
  if (rreq_parse(g->pkt, (size_t)len, &q) < 0) die_proto("malformed packet");
  out[0] = fds[0];
  why[0] = 0;
  fl = sign(g, &q, fds[0], field, why, sizeof why);
  if (fl < 0) {
    defer(g, &q, why);
    close(fds[0]);
    return 1;
  }
  if (fl > 0 && (out[1] = sigfile(field, (size_t)fl)) < 0) {
    snprintf(why, sizeof why, "unable to make the signature's file: %s", strerror(errno));
    defer(g, &q, why);
    close(fds[0]);
    return 1;
  }
  sendfds(3, g->pkt, (size_t)len, out, fl > 0 ? 2 : 1);
  close(fds[0]);
  if (fl > 0) close(out[1]);
  return 1;
}

/* One reply from rspawn, passed to send unchanged (dropped once send has gone): 1, or 0
   at rspawn's end. */
static int reply(struct signer *g, int sendopen)
{
  ssize_t len, w;
  do len = recv(3, g->pkt, sizeof g->pkt, 0);
  while (len < 0 && errno == EINTR);
  if (len < 0 && errno != ECONNRESET) strerr_diefu1sys(111, "read from mailroom-rspawn");
  if (len <= 0) return 0;
  do w = send(0, g->pkt, (size_t)len, MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);
  if (w != len && sendopen) die_write("mailroom-send");
  return 1;
}

int main(void)
{
  static struct signer g;
  int sendopen = 1;
  PROG = "mailroom-dkimsign";
  if (!getuid() || !geteuid()) strerr_dief1x(100, "refusing to run as root");
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  umask(077);
  if (!(g.head = malloc(HEAD_MAX)) || !(g.chunk = malloc(CHUNK))) die_nomem();
  for (;;) {
    struct pollfd p[2] = { { .fd = sendopen ? 0 : -1, .events = POLLIN }, { .fd = 3, .events = POLLIN } };
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      strerr_diefu1sys(111, "poll");
    }
    if (p[1].revents && !reply(&g, sendopen)) return 0; /* rspawn gone: send sees our end close */
    if (sendopen && p[0].revents && !request(&g)) {
      /* send is done: rspawn finishes, replies, and closes */
      sendopen = 0;
      shutdown(3, SHUT_WR);
    }
  }
}
