/* mailroom-remote: delivers one message to the recipients of one domain over SMTP.
   Started by mailroom-rspawn as mrremote in the instance home (it reads control/ there).
   One-shot: the message file on fd 0 (bytes 0..msglen-1 are the message), the report pipe on
   fd 1 and the log on fd 2. Worker (-w): fd 0 is a SOCK_SEQPACKET socket to rspawn carrying
   one job after another (remote_wproto.h), and after a clean transaction the SMTP session
   (with its TLS) stays open for a bounded time, for the next job to the same destination. It trusts its arguments' framing and control/; it trusts nothing from
   DNS or the network: every answer is parsed with bounds, every wait has a deadline.
   It writes one "R text\0" record per recipient (R: K, Z or D) and exits 0. A libowfat
   program: it never links skalibs (LIBRARIES.md). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <errmsg.h>

#include <tls.h>

#include "auto_home.h"
#include "control.h"
#include "exitcodes.h"
#include "remote.h"
#include "remote_dns.h"
#include "remote_smtp.h"
#include "remote_wproto.h"

/* Recipients in one call (rspawn sends at most 50, INTERNALS.md) and the address bound of
   the envelope (ENV_ADDR_MAX). */
#define RCPT_MAX 100
#define ADDR_MAX 1000
#define DOMAIN_MAX 255
#define SMTPROUTES_MAX ((size_t)1024 * 1024)
#define TLSDOMAINS_MAX ((size_t)1024 * 1024)
/* Debian's bundle of the system's trusted CAs (package ca-certificates) */
#define CAFILE_DEFAULT "/etc/ssl/certs/ca-certificates.crt"
#define WHY_MAX (REPORT_TEXT_MAX + 1)

/* rspawn starts us in the instance home; the usage names the compiled-in one. */
static _Noreturn void die_usage(void)
{
  die(EX_PERM, "usage: mailroom-remote domain sender msglen recipient ... | mailroom-remote -w (in ", auto_home, ")");
}
static _Noreturn void die_root(void) { die(EX_TEMP, "refusing to run as root: mailroom-rspawn runs me as mrremote"); }
static _Noreturn void die_write(void) { diesys(EX_TEMP, "unable to write the report on fd 1"); }

typedef struct job_s {
  char const *domain;
  unsigned nrcpt;
  rcptres res[RCPT_MAX];
  char hosts[MX_HOSTS_MAX + 1][DOMAIN_MAX * 4 + 8]; /* dotted, for reports */
  unsigned nhosts;
  mxaddr addr[MX_ADDRS_MAX];
  unsigned naddr;
  unsigned port;
  char why[WHY_MAX];
  int dnstemp; /* a lookup failed temporarily: no address is then not a permanent failure */
  authcred *cred; /* the credentials rspawn handed over with the job, or 0 */
} job;

/* What a worker keeps between jobs: at most one SMTP session, and the TLS configurations
   (loading the CA bundle costs more than a delivery). */
#define KEY_MAX (DOMAIN_MAX + 2 * CONTROL_LINE_MAX + ROUTE_AUTHNAME_MAX + AUTH_USER_MAX + 128)
typedef struct cache_s {
  smtpsess *s;           /* 0: none */
  char key[KEY_MAX];     /* the destination and policy it was made under (cachekey) */
  char domain[DOMAIN_MAX + 1]; /* the job's domain, told to rspawn */
  long long born, idle_until; /* ms, CLOCK_MONOTONIC */
  unsigned msgs;         /* transactions on it */
  struct tls_config *tlsplain, *tlsverify;
  char cafile[CONTROL_LINE_MAX]; /* the bundle tlsverify holds */
} cache;

static unsigned rnd(unsigned n) { return n > 1 ? arc4random_uniform(n) : 0; }

static void setall(job *jb, char code, char const *text)
{
  unsigned i;
  for (i = 0; i < jb->nrcpt; i++) {
    size_t len = 0;
    jb->res[i].code = code;
    jb->res[i].text[0] = 0;
    text_cats(jb->res[i].text, sizeof jb->res[i].text, &len, text);
  }
}

#define RECORDS_MAX (RCPT_MAX * (REPORT_TEXT_MAX + 2))
/* The records "R text\0" of every recipient into buf (RECORDS_MAX bytes): their length. */
static size_t records(job const *jb, char *buf)
{
  size_t n = 0;
  unsigned i;
  for (i = 0; i < jb->nrcpt; i++) {
    size_t l = strlen(jb->res[i].text);
    buf[n++] = jb->res[i].code == 'K' || jb->res[i].code == 'D' ? jb->res[i].code : 'Z';
    memcpy(buf + n, jb->res[i].text, l);
    n += l;
    buf[n++] = 0;
  }
  return n;
}

static void report(job const *jb)
{
  static char buf[RECORDS_MAX];
  size_t n = records(jb, buf), done = 0;
  while (done < n) {
    ssize_t w = write(1, buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die_write();
    done += (size_t)w;
  }
}

/* Ends the delivery: every recipient gets the same result. */
static void finish_all(job *jb, char code, char const *text) { setall(jb, code, text); }

static void why(job *jb, char const *a, char const *b, char const *c, char const *d)
{
  size_t len = 0;
  jb->why[0] = 0;
  text_cats(jb->why, sizeof jb->why, &len, a);
  if (b) text_cats(jb->why, sizeof jb->why, &len, b);
  if (c) text_cats(jb->why, sizeof jb->why, &len, c);
  if (d) text_cats(jb->why, sizeof jb->why, &len, d);
}

static char const *dnserr(int e)
{
  switch (e) {
  case ETIMEDOUT: return " timed out (#4.4.3)";
  case ELOOP: return " failed: a CNAME chain too long or a loop (#4.4.3)";
  case EPROTO: return " failed: a malformed answer (#4.4.3)";
  default: return " failed temporarily (#4.4.3)";
  }
}

/* A number from a control file into *u: 0, or -1 with every recipient's result set. */
static int controlnum(job *jb, char const *file, unsigned long def, unsigned long max, unsigned *u)
{
  unsigned long v;
  if (control_readulong(file, &v, def) < 0 || v > max) {
    why(jb, "unable to read a number from ", file, " (#4.3.0)", 0);
    finish_all(jb, 'Z', jb->why);
    return -1;
  }
  *u = (unsigned)v;
  return 0;
}

/* The addresses of host (wire form, pref) appended to jb->addr: AAAA first, then A. */
static void addhost(job *jb, unsigned char const *name, unsigned pref, dnsq_clock *clk)
{
  static unsigned const types[2] = {DNSQ_AAAA, DNSQ_A};
  unsigned t, h = jb->nhosts, got = 0;
  dnsans a;
  if (h > MX_HOSTS_MAX) return;
  dnsname_todot(name, jb->hosts[h], sizeof jb->hosts[h]);
  jb->nhosts++;
  for (t = 0; t < 2; t++) {
    unsigned i, k;
    if (dnsq_query(name, types[t], clk, &a) < 0) {
      why(jb, "DNS lookup of ", jb->hosts[h], types[t] == DNSQ_A ? " (A)" : " (AAAA)", dnserr(errno));
      jb->dnstemp = 1;
      continue;
    }
    for (i = 0; i < a.naddr && got < MX_HOST_ADDRS_MAX && jb->naddr < MX_ADDRS_MAX; i++) {
      for (k = 0; k < jb->naddr && memcmp(jb->addr[k].ip, a.addr[i], 16) != 0; k++) {
      }
      if (k < jb->naddr) continue; /* the same address under two names: tried once */
      jb->addr[jb->naddr].pref = pref;
      jb->addr[jb->naddr].host = h;
      memcpy(jb->addr[jb->naddr].ip, a.addr[i], 16);
      jb->naddr++;
      got++;
    }
  }
  if (!got && !jb->dnstemp) why(jb, "no address found for ", jb->hosts[h], " (#5.4.4)", 0);
}

/* MX records of the domain (or its A/AAAA records when there are none) into jb->addr:
   0, or -1 when every recipient has its result. */
static int mxlookup(job *jb, dnsq_clock *clk)
{
  static dnsans a;
  unsigned char q[DNSNAME_MAX + 1];
  unsigned i;
  if (dnsname_fromdot(jb->domain, strlen(jb->domain), q) < 0) {
    why(jb, "the domain ", jb->domain, " is not a valid DNS name (#5.1.2)", 0);
    finish_all(jb, 'D', jb->why);
    return -1;
  }
  if (dnsq_query(q, DNSQ_MX, clk, &a) < 0) {
    why(jb, "DNS lookup of the MX records of ", jb->domain, dnserr(errno), 0);
    finish_all(jb, 'Z', jb->why);
    return -1;
  }
  if (a.rcode == 3) {
    why(jb, "the domain ", jb->domain, " does not exist (DNS: NXDOMAIN) (#5.1.2)", 0);
    finish_all(jb, 'D', jb->why);
    return -1;
  }
  if (a.rcode) {
    why(jb, "DNS lookup of the MX records of ", jb->domain, " failed temporarily (#4.4.3)", 0);
    finish_all(jb, 'Z', jb->why);
    return -1;
  }
  if (a.nullmx) {
    why(jb, "the domain ", jb->domain, " does not accept mail (null MX, RFC 7505) (#5.1.10)", 0);
    finish_all(jb, 'D', jb->why);
    return -1;
  }
  if (!a.nmx) {
    addhost(jb, q, 0, clk); /* RFC 5321 5.1: the domain itself is the implicit MX */
    return 0;
  }
  mx_sort(a.mx, a.nmx, rnd);
  for (i = 0; i < a.nmx && i < MX_HOSTS_MAX; i++) addhost(jb, a.mx[i].name, a.mx[i].pref, clk);
  return 0;
}

/* An address that is not printable ASCII-or-UTF-8 text could smuggle commands. */
static int addrok(char const *s, size_t max)
{
  size_t i;
  for (i = 0; s[i]; i++)
    if ((unsigned char)s[i] < 32 || s[i] == 127 || i >= max) return 0;
  return 1;
}

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* What a connection for this job would be made under: the next hop (a smtproutes host, or
   the domain's MX hosts), the port, the TLS policy with the CA bundle it checks against, and
   the HELO name. A kept session is reused only for a job whose key is the same, so a session
   made in clear or without a certificate check never carries mail of a domain that requires
   more, and a verified one was verified for the name this job would check (the route's host,
   or an MX host of this domain). */
static void cachekey(char *key, size_t n, char const *domain, route const *rt, int routed, unsigned port,
                     int tlsreq, char const *cafile, char const *helo, authcred const *cred)
{
  char d[DOMAIN_MAX + 1];
  char const *hop = routed && (rt->literal || rt->host[0]) ? rt->host : domain;
  unsigned long long h = 14695981039346656037ULL;
  size_t i;
  for (i = 0; i < DOMAIN_MAX && hop[i]; i++) d[i] = hop[i] >= 'A' && hop[i] <= 'Z' ? (char)(hop[i] + 32) : hop[i];
  d[i] = 0;
  /* a session authenticated as one user carries mail only for routes with the same
     credentials; the password enters as a hash (FNV-1a), so a changed password in
     control/smtproutes-auth makes a new session, and the key itself holds no secret */
  for (i = 0; cred && cred->pass[i]; i++) h = (h ^ (unsigned char)cred->pass[i]) * 1099511628211ULL;
  snprintf(key, n, "%s %s port=%u tls=%d%s ca=%s helo=%s auth=%s:%s:%llx", hop == domain ? "mx" : "route", d, port,
           tlsreq, routed && rt->smtps ? " smtps" : "", tlsreq == TLSREQ_VERIFY ? cafile : "", helo,
           cred ? cred->name : "", cred ? cred->user : "", cred ? h : 0ULL);
}

/* After a transaction over the cached session: counted, and closed at once if a bound is
   reached, else kept until the idle bound (but never past its lifetime). */
static void cache_after(cache *kc, unsigned idle, unsigned msgs, unsigned life)
{
  long long t = now_ms(), end = kc->born + (long long)life * 1000;
  if (!kc->s) return;
  kc->msgs++;
  if (kc->msgs >= msgs || t >= end) {
    smtp_close(&kc->s, 1);
    return;
  }
  kc->idle_until = t + (long long)idle * 1000;
  if (kc->idle_until > end) kc->idle_until = end;
}

/* The TLS configuration for sj->tlsreq into sj->tlscfg: the worker's, made once per kind
   (and again when control/tlscafile changes), or a new one that the caller frees. 0, or -1
   with jb->why set. */
static int tlsconfig(job *jb, smtpjob *sj, cache *kc, char const *cafile)
{
  int verify = sj->tlsreq == TLSREQ_VERIFY;
  struct tls_config **have = kc ? (verify ? &kc->tlsverify : &kc->tlsplain) : 0;
  if (have && *have && (!verify || !strcmp(kc->cafile, cafile))) {
    sj->tlscfg = *have;
    return 0;
  }
  if (smtp_tlsinit(sj, cafile, jb->why, sizeof jb->why) < 0) return -1;
  if (have) {
    /* a session made under the old bundle was closed: its key named that bundle */
    if (*have) tls_config_free(*have);
    *have = sj->tlscfg;
    if (verify) snprintf(kc->cafile, sizeof kc->cafile, "%s", cafile);
  }
  return 0;
}

/* One delivery: every recipient of jb gets its result in jb->res. kc: the worker's cache
   (0 in the one-shot mode, which then keeps nothing). */
static void deliver(job *jb, smtpjob *sj, cache *kc)
{
  static unsigned char self[SELF_MAX][16];
  char helo[CONTROL_LINE_MAX];
  char cafile[CONTROL_LINE_MAX];
  char key[KEY_MAX];
  char *routes = 0, *tlsdoms = 0;
  size_t routeslen = 0, tlsdomslen = 0;
  route rt;
  dnsq_clock clk;
  unsigned i, nself, cidle = 0, cmsgs = 0, clife = 0;
  int anyperm = 0, anytemp = 0, r, routed;

  if (!*jb->domain || strlen(jb->domain) > DOMAIN_MAX || !addrok(jb->domain, DOMAIN_MAX)) {
    finish_all(jb, 'D', "the recipient domain is empty, too long or malformed (#5.1.2)");
    return;
  }
  {
    int bad = 0;
    /* the sender field is ours to cut: it points into the job packet or argv */
    sj->mparams = dsn_split((char *)sj->sender, &bad);
    if (bad) {
      finish_all(jb, 'D', "the sender's DSN or AUTH parameters are malformed (#5.5.4)");
      return;
    }
  }
  if (!addrok(sj->sender, ADDR_MAX)) {
    finish_all(jb, 'D', "the sender address is too long or malformed (#5.1.7)");
    return;
  }
  sj->utf8 = has8bit(sj->sender, strlen(sj->sender));
  for (i = 0; i < jb->nrcpt; i++) {
    int bad = 0;
    sj->rparams[i] = dsn_split(sj->rcpt[i], &bad);
    if (bad) {
      finish_all(jb, 'D', "a recipient's DSN parameters are malformed (#5.5.4)");
      return;
    }
    if (!*sj->rcpt[i] || !addrok(sj->rcpt[i], ADDR_MAX)) {
      finish_all(jb, 'D', "a recipient address is empty, too long or malformed (#5.1.3)");
      return;
    }
    if (has8bit(sj->rcpt[i], strlen(sj->rcpt[i]))) sj->utf8 = 1;
  }

  if (controlnum(jb, "control/timeoutconnect", 60, 86400, &sj->tconnect) < 0 ||
      controlnum(jb, "control/timeoutremote", 1200, 86400, &sj->tremote) < 0 ||
      controlnum(jb, "control/remoteport", 25, 65535, &jb->port) < 0)
    return;
  if (kc && (controlnum(jb, "control/remotecacheidle", 2, 3600, &cidle) < 0 ||
             controlnum(jb, "control/remotecachemessages", 100, 1000000, &cmsgs) < 0 ||
             controlnum(jb, "control/remotecachelifetime", 300, 86400, &clife) < 0))
    return;
  if (!jb->port) jb->port = 25;
  r = control_readline("control/helohost", helo, sizeof helo, 0);
  if (r == 0) r = control_readline("control/me", helo, sizeof helo, "localhost");
  if (r < 0) {
    finish_all(jb, 'Z', "unable to read control/helohost or control/me (#4.3.0)");
    return;
  }
  if (!helo[0] || !addrok(helo, DOMAIN_MAX) || strchr(helo, ' ')) strcpy(helo, "localhost");
  sj->helo = helo;
  if (control_readlines("control/smtproutes", &routes, &routeslen, SMTPROUTES_MAX) < 0) {
    finish_all(jb, 'Z', "unable to read control/smtproutes (#4.3.0)");
    return;
  }
  routed = routes_find(routes, routeslen, jb->domain, &rt);
  free(routes); /* rt has its own copy */
  if (routed < 0) {
    why(jb, "control/smtproutes: the line for ", jb->domain, " is malformed (#4.3.5)", 0);
    finish_all(jb, 'Z', jb->why);
    return;
  }
  if (routed && rt.smtps) jb->port = 465; /* RFC 8314 3.3: submissions */
  if (routed && rt.port) jb->port = rt.port;
  if (routed && rt.auth[0]) {
    /* credentials come only from mailroom-rspawn, for this route (INTERNALS.md) */
    if (!jb->cred || strcmp(jb->cred->name, rt.auth) != 0) {
      why(jb, "control/smtproutes: the route for ", jb->domain,
          " names credentials that mailroom-rspawn did not hand over (auth=", rt.auth);
      {
        size_t len = strlen(jb->why);
        text_cats(jb->why, sizeof jb->why, &len, "; one-shot mode, or smtproutes changed since rspawn read it) (#4.3.5)");
      }
      finish_all(jb, 'Z', jb->why);
      return;
    }
    sj->authuser = jb->cred->user;
    sj->authpass = jb->cred->pass;
  }
  sj->smtps = routed && rt.smtps;
  if (control_readlines("control/tlsdomains", &tlsdoms, &tlsdomslen, TLSDOMAINS_MAX) < 0) {
    finish_all(jb, 'Z', "unable to read control/tlsdomains (#4.3.0)");
    return;
  }
  sj->tlsreq = tlsdomains_find(tlsdoms, tlsdomslen, jb->domain);
  free(tlsdoms);
  if (sj->tlsreq < 0) {
    why(jb, "control/tlsdomains: the line for ", jb->domain, " is malformed (only domain or domain:verify) (#4.3.5)", 0);
    finish_all(jb, 'Z', jb->why);
    return;
  }
  if (routed && rt.verify) sj->tlsreq = TLSREQ_VERIFY; /* smtps, verify, auth=: the route asks */
  if (control_readline("control/tlscafile", cafile, sizeof cafile, CAFILE_DEFAULT) < 0) {
    finish_all(jb, 'Z', "unable to read control/tlscafile (#4.3.0)");
    return;
  }
  cachekey(key, sizeof key, jb->domain, &rt, routed, jb->port, sj->tlsreq, cafile, helo, sj->authuser ? jb->cred : 0);
  if (kc && kc->s) {
    long long t = now_ms();
    /* another destination or policy, or a bound passed while the job was on its way */
    if (strcmp(kc->key, key) != 0 || t >= kc->idle_until || kc->msgs >= cmsgs || !cidle) smtp_close(&kc->s, 1);
  }
  if (tlsconfig(jb, sj, kc, cafile) < 0) {
    /* without a TLS requirement the mail can still go, in clear, as it did before TLS */
    if (sj->tlsreq != TLSREQ_NONE) {
      finish_all(jb, 'Z', jb->why);
      return;
    }
    errmsg_warn("no STARTTLS: ", jb->why, (char *)0);
    jb->why[0] = 0;
  }

  /* The message: its size on the wire and whether it has 8-bit bytes. */
  {
    char buf[8192];
    msgconv mc;
    unsigned long long off = 0;
    msgconv_init(&mc);
    while (off < sj->msglen) {
      size_t want = sj->msglen - off < sizeof buf ? (size_t)(sj->msglen - off) : sizeof buf;
      ssize_t n = pread(sj->fdmsg, buf, want, (off_t)off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        finish_all(jb, 'Z', "unable to read the message file (#4.3.0)");
        return;
      }
      if (!n) {
        finish_all(jb, 'Z', "the message file is shorter than msglen (#4.3.0)");
        return;
      }
      msgconv_scan(&mc, buf, (size_t)n);
      off += (unsigned long long)n;
    }
    msgconv_scanend(&mc);
    msgconv_scan(&mc, sj->head, sj->headlen); /* the DKIM-Signature field sent on top */
    sj->wire = mc.wire;
    sj->eightbit = mc.eightbit;
  }

  /* The kept session first: no DNS, no connection, no greeting, EHLO or TLS handshake. */
  if (kc && kc->s) {
    for (i = 0; i < jb->nrcpt; i++) jb->res[i].code = 0;
    if (smtp_reuse(&kc->s, sj, jb->res, jb->why, sizeof jb->why) == TRY_DONE) {
      cache_after(kc, cidle, cmsgs, clife);
      return;
    }
    errmsg_warn("connecting afresh: ", jb->why, (char *)0);
    jb->why[0] = 0;
  }

  dnsq_deadline(&clk, DNSQ_TOTAL_SECS);
  if (routed && rt.literal) {
    snprintf(jb->hosts[0], sizeof jb->hosts[0], "%s", rt.host);
    jb->nhosts = 1;
    memcpy(jb->addr[0].ip, rt.ip, 16);
    jb->naddr = 1;
  } else if (routed && rt.host[0]) {
    unsigned char q[DNSNAME_MAX + 1];
    if (dnsname_fromdot(rt.host, strlen(rt.host), q) < 0) {
      why(jb, "control/smtproutes: the host for ", jb->domain, " is not a valid name (#4.3.5)", 0);
      finish_all(jb, 'Z', jb->why);
      return;
    }
    addhost(jb, q, 0, &clk);
    if (!jb->naddr) {
      /* a relay named by the admin that does not resolve is a mistake to fix, not a reason
         to destroy the mail: defer (and bounce only at the queue lifetime) */
      if (!jb->dnstemp) why(jb, "control/smtproutes: the relay ", rt.host, " has no address in DNS (#4.4.4)", 0);
      finish_all(jb, 'Z', jb->why);
      return;
    }
  } else if (routes_literal(jb->domain, strlen(jb->domain), jb->addr[0].ip)) {
    snprintf(jb->hosts[0], sizeof jb->hosts[0], "%s", jb->domain);
    jb->nhosts = 1;
    jb->naddr = 1;
  } else {
    int wasself;
    if (mxlookup(jb, &clk) < 0) return;
    nself = selfaddrs(self, SELF_MAX);
    jb->naddr = mx_dropself(jb->addr, jb->naddr, (unsigned char const(*)[16])self, nself, &wasself);
    if (!jb->naddr && wasself) {
      why(jb, "the best MX host of ", jb->domain, " is this host, but the domain is not local here (#5.4.6)", 0);
      finish_all(jb, 'D', jb->why);
      return;
    }
  }
  if (!jb->naddr) {
    if (!jb->why[0]) why(jb, "no address found for any mail host of ", jb->domain, " (#5.4.4)", 0);
    finish_all(jb, jb->dnstemp ? 'Z' : 'D', jb->why);
    return;
  }

  for (i = 0; i < jb->naddr; i++) {
    smtpsess *keep = 0;
    smtpsess **kp = kc && cidle && cmsgs > 1 && clife ? &keep : 0;
    unsigned k;
    for (k = 0; k < jb->nrcpt; k++) jb->res[k].code = 0;
    sj->notls = 0;
    r = smtp_try(sj, jb->hosts[jb->addr[i].host], jb->addr[i].ip, jb->port, jb->res, jb->why, sizeof jb->why, kp);
    if (r == TRY_NOTLS) {
      /* RFC 3207 4.1: the handshake failed before any mail: the same host, without STARTTLS */
      errmsg_warn("trying again without STARTTLS: ", jb->why, (char *)0);
      sj->notls = 1;
      r = smtp_try(sj, jb->hosts[jb->addr[i].host], jb->addr[i].ip, jb->port, jb->res, jb->why, sizeof jb->why, kp);
    }
    if (r == TRY_DONE) {
      if (keep) {
        kc->s = keep;
        snprintf(kc->key, sizeof kc->key, "%s", key);
        snprintf(kc->domain, sizeof kc->domain, "%s", jb->domain);
        kc->born = now_ms();
        kc->msgs = 0;
        cache_after(kc, cidle, cmsgs, clife);
      }
      return;
    }
    if (r == TRY_NEXTPERM) anyperm = 1;
    else anytemp = 1;
    errmsg_warn("passing over: ", jb->why, (char *)0);
  }
  finish_all(jb, anyperm && !anytemp ? 'D' : 'Z', jb->why);
}

static unsigned long long parselen(char const *s)
{
  unsigned long long msglen = 0;
  char const *p;
  for (p = s; *p; p++) {
    if (*p < '0' || *p > '9' || msglen > (~0ULL - 9) / 10) die(EX_PERM, "msglen is not a number: ", s);
    msglen = msglen * 10 + (unsigned long long)(*p - '0');
  }
  if (p == s) die_usage();
  return msglen;
}

/* The credentials of a job: the read end of a pipe rspawn filled with one
   "NAME:user:password" and closed. 0 and *c, or -1 (the worker then dies, as for any
   malformed job: rspawn reports it). */
static int getcred(int fd, authcred *c)
{
  char buf[AUTH_LINE_MAX + 1];
  size_t n = 0;
  int r = -1;
  for (;;) {
    ssize_t k = read(fd, buf + n, sizeof buf - n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) break;
    if (!k) {
      r = auth_parseline(buf, n, c);
      break;
    }
    n += (size_t)k;
    if (n == sizeof buf) break; /* longer than any line auth_parseline takes */
  }
  explicit_bzero(buf, sizeof buf);
  close(fd);
  return r;
}

/* One job packet from rspawn with its message file and, as the route and the message have
   them, the pipe that holds the route's credentials and the file of the message's
   DKIM-Signature field (mailroom-dkimsign's). The extra descriptors are told apart by kind
   (a pipe, a regular file), at most one of each. 1, *fd, *sigfd (-1 without one) and
   *hascred, 0 at rspawn's end. A malformed packet is rspawn's bug: the worker dies, rspawn
   reports the job. */
static int getjob(char *pkt, size_t cap, struct rwjob *j, int *fd, int *sigfd, authcred *cred, int *hascred)
{
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(4 * sizeof(int))];
  } cm;
  struct iovec iov = { .iov_base = pkt, .iov_len = cap };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b };
  int fds[4];
  unsigned nfd = 0, k;
  ssize_t len;
  for (;;) {
    len = recvmsg(0, &mh, MSG_CMSG_CLOEXEC);
    if (len >= 0 || errno != EINTR) break;
  }
  if (len < 0 && errno == ECONNRESET) return 0;
  if (len < 0) diesys(EX_TEMP, "unable to read a job from mailroom-rspawn");
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfd < 4; i++)
        memcpy(&fds[nfd++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  if (!len && !nfd) return 0;
  *hascred = 0;
  *sigfd = -1;
  if (nfd >= 1 && nfd <= 3 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && rwjob_parse(pkt, (size_t)len, j) == 0) {
    int credfd = -1, bad = 0;
    for (k = 1; k < nfd; k++) {
      struct stat st;
      int ok = fstat(fds[k], &st) == 0;
      if (ok && S_ISFIFO(st.st_mode) && credfd < 0) credfd = fds[k];
      else if (ok && S_ISREG(st.st_mode) && *sigfd < 0) *sigfd = fds[k];
      else bad = 1; /* unreadable, of another kind, or a second of one kind */
    }
    if (!bad) {
      *fd = fds[0];
      if (credfd < 0) return 1;
      if (getcred(credfd, cred) == 0) { /* getcred closes the pipe */
        *hascred = 1;
        return 1;
      }
      close(fds[0]);
      if (*sigfd >= 0) close(*sigfd);
      die(EX_TEMP, "protocol error in the credentials of a job from mailroom-rspawn");
    }
  }
  for (k = 0; k < nfd; k++) close(fds[k]);
  die(EX_TEMP, "protocol error in a job from mailroom-rspawn");
}

/* The DKIM-Signature field from its file into buf (SIGHEAD_MAX): its length; 0 when the
   file is unreadable, too long, or not one "DKIM-Signature:" field ending in LF (then the
   job is deferred rather than sent unsigned or with a broken field). */
#define SIGHEAD_MAX 8192
static size_t getsig(int sigfd, char *buf)
{
  size_t n = 0;
  for (;;) {
    ssize_t r = pread(sigfd, buf + n, SIGHEAD_MAX - n, (off_t)n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 0;
    if (!r) break;
    n += (size_t)r;
    if (n == SIGHEAD_MAX) return 0;
  }
  if (n < 16 || memcmp(buf, "DKIM-Signature: ", 16) != 0 || buf[n - 1] != '\n') return 0;
  return n;
}

/* -w: jobs from rspawn on fd 0 until it closes its end; between jobs, the kept session is
   closed (with QUIT) at its idle bound, and at once if the server speaks or hangs up. */
static int worker(void)
{
  static job jb;
  static cache kc;
  static char pkt[RWJOB_PACKET_MAX + 1];
  static char rec[RECORDS_MAX];
  static char out[RWJOB_PACKET_MAX];
  static authcred cred;
  for (;;) {
    struct pollfd p[2];
    nfds_t np = 1;
    int timeout = -1, fd, sigfd, hascred;
    static char sig[SIGHEAD_MAX];
    struct rwjob j;
    smtpjob sj;
    size_t n, m;
    p[0].fd = 0;
    p[0].events = POLLIN;
    p[0].revents = 0;
    if (kc.s) {
      long long left = kc.idle_until - now_ms();
      if (left <= 0) {
        smtp_close(&kc.s, 1);
        continue;
      }
      p[1].fd = smtp_sessfd(kc.s);
      p[1].events = POLLIN;
      p[1].revents = 0;
      np = 2;
      timeout = left > 3600000 ? 3600000 : (int)left;
    }
    if (poll(p, np, timeout) < 0) {
      if (errno == EINTR) continue;
      diesys(EX_TEMP, "unable to poll");
    }
    /* an idle session has nothing to say: what comes is a 421 or the end of it */
    if (np == 2 && p[1].revents) smtp_close(&kc.s, 0);
    if (!p[0].revents) continue;
    if (!getjob(pkt, sizeof pkt, &j, &fd, &sigfd, &cred, &hascred)) break;
    memset(&jb, 0, sizeof jb);
    memset(&sj, 0, sizeof sj);
    jb.domain = j.domain;
    jb.nrcpt = j.n;
    sj.sender = j.sender;
    sj.rcpt = j.rcpt;
    sj.nrcpt = j.n;
    sj.fdmsg = fd;
    sj.msglen = j.len;
    jb.cred = hascred ? &cred : 0;
    if (sigfd >= 0) {
      sj.head = sig;
      sj.headlen = getsig(sigfd, sig);
      close(sigfd);
    }
    if (sigfd >= 0 && !sj.headlen)
      finish_all(&jb, 'Z', "the DKIM signature from mailroom-dkimsign is unreadable or malformed (#4.3.0)");
    else
      deliver(&jb, &sj, &kc);
    explicit_bzero(&cred, sizeof cred); /* a kept session needs no password any more */
    close(fd);
    n = records(&jb, rec);
    m = rwrep_pack(out, sizeof out, kc.s ? kc.domain : "", rec, n);
    if (!m) m = rwrep_pack(out, sizeof out, "", rec, n); /* a domain rspawn could not be told */
    if (send(0, out, m, MSG_NOSIGNAL) < 0) {
      if (errno == EPIPE || errno == ECONNRESET) break;
      diesys(EX_TEMP, "unable to send a reply to mailroom-rspawn");
    }
  }
  smtp_close(&kc.s, 1);
  return EX_OK;
}

int main(int argc, char **argv)
{
  static job jb;
  smtpjob sj;

  errmsg_iam("mailroom-remote");
  if (argc == 2 && !strcmp(argv[1], "-w")) {
    if (!getuid() || !geteuid()) die_root();
    (void)signal(SIGPIPE, SIG_IGN);
    dnsq_init();
    return worker();
  }
  if (argc < 5) die_usage();
  if (!getuid() || !geteuid()) die_root();
  (void)signal(SIGPIPE, SIG_IGN);
  jb.domain = argv[1];
  jb.nrcpt = (unsigned)(argc - 4);
  if (jb.nrcpt > RCPT_MAX) die(EX_PERM, "more than 100 recipients");
  memset(&sj, 0, sizeof sj);
  sj.msglen = parselen(argv[3]);
  sj.sender = argv[2];
  sj.rcpt = argv + 4;
  sj.nrcpt = jb.nrcpt;
  sj.fdmsg = 0;
  dnsq_init();
  deliver(&jb, &sj, 0);
  report(&jb);
  smtp_tlsfree(&sj);
  return EX_OK;
}
