/* mailroom-remote: delivers one message to the recipients of one domain over SMTP.
   Started by mailroom-rspawn as mrremote in the instance home (it reads control/ there),
   with the message file on fd 0 (bytes 0..msglen-1 are the message), the report pipe on fd 1
   and the log on fd 2. It trusts its arguments' framing and control/; it trusts nothing from
   DNS or the network: every answer is parsed with bounds, every wait has a deadline.
   It writes one "R text\0" record per recipient (R: K, Z or D) and exits 0. A libowfat
   program: it never links skalibs (LIBRARIES.md). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errmsg.h>

#include "auto_home.h"
#include "control.h"
#include "exitcodes.h"
#include "remote.h"
#include "remote_dns.h"
#include "remote_smtp.h"

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
static _Noreturn void die_usage(void) { die(EX_PERM, "usage: mailroom-remote domain sender msglen recipient ... (in ", auto_home, ")"); }
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
} job;

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

static void report(job const *jb)
{
  static char buf[RCPT_MAX * (REPORT_TEXT_MAX + 2)];
  size_t n = 0, done = 0;
  unsigned i;
  for (i = 0; i < jb->nrcpt; i++) {
    size_t l = strlen(jb->res[i].text);
    buf[n++] = jb->res[i].code == 'K' || jb->res[i].code == 'D' ? jb->res[i].code : 'Z';
    memcpy(buf + n, jb->res[i].text, l);
    n += l;
    buf[n++] = 0;
  }
  while (done < n) {
    ssize_t w = write(1, buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die_write();
    done += (size_t)w;
  }
}

/* Ends the delivery: every recipient gets the same result. */
static void finish_all(job *jb, char code, char const *text)
{
  setall(jb, code, text);
  report(jb);
  _exit(EX_OK);
}

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

static unsigned controlnum(job *jb, char const *file, unsigned long def, unsigned long max)
{
  unsigned long u;
  if (control_readulong(file, &u, def) < 0 || u > max) {
    why(jb, "unable to read a number from ", file, " (#4.3.0)", 0);
    finish_all(jb, 'Z', jb->why);
  }
  return (unsigned)u;
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

/* MX records of the domain (or its A/AAAA records when there are none) into jb->addr. */
static void mxlookup(job *jb, dnsq_clock *clk)
{
  static dnsans a;
  unsigned char q[DNSNAME_MAX + 1];
  unsigned i;
  if (dnsname_fromdot(jb->domain, strlen(jb->domain), q) < 0) {
    why(jb, "the domain ", jb->domain, " is not a valid DNS name (#5.1.2)", 0);
    finish_all(jb, 'D', jb->why);
  }
  if (dnsq_query(q, DNSQ_MX, clk, &a) < 0) {
    why(jb, "DNS lookup of the MX records of ", jb->domain, dnserr(errno), 0);
    finish_all(jb, 'Z', jb->why);
  }
  if (a.rcode == 3) {
    why(jb, "the domain ", jb->domain, " does not exist (DNS: NXDOMAIN) (#5.1.2)", 0);
    finish_all(jb, 'D', jb->why);
  }
  if (a.rcode) {
    why(jb, "DNS lookup of the MX records of ", jb->domain, " failed temporarily (#4.4.3)", 0);
    finish_all(jb, 'Z', jb->why);
  }
  if (a.nullmx) {
    why(jb, "the domain ", jb->domain, " does not accept mail (null MX, RFC 7505) (#5.1.10)", 0);
    finish_all(jb, 'D', jb->why);
  }
  if (!a.nmx) {
    addhost(jb, q, 0, clk); /* RFC 5321 5.1: the domain itself is the implicit MX */
    return;
  }
  mx_sort(a.mx, a.nmx, rnd);
  for (i = 0; i < a.nmx && i < MX_HOSTS_MAX; i++) addhost(jb, a.mx[i].name, a.mx[i].pref, clk);
}

/* An address that is not printable ASCII-or-UTF-8 text could smuggle commands. */
static int addrok(char const *s, size_t max)
{
  size_t i;
  for (i = 0; s[i]; i++)
    if ((unsigned char)s[i] < 32 || s[i] == 127 || i >= max) return 0;
  return 1;
}

int main(int argc, char **argv)
{
  static job jb;
  static unsigned char self[SELF_MAX][16];
  smtpjob sj;
  char helo[CONTROL_LINE_MAX];
  char *routes = 0, *tlsdoms = 0;
  size_t routeslen = 0, tlsdomslen = 0;
  char cafile[CONTROL_LINE_MAX];
  route rt;
  dnsq_clock clk;
  unsigned long long msglen = 0;
  char const *p;
  unsigned i, nself;
  int anyperm = 0, anytemp = 0, r;

  errmsg_iam("mailroom-remote");
  if (argc < 5) die_usage();
  if (!getuid() || !geteuid()) die_root();
  (void)signal(SIGPIPE, SIG_IGN);
  jb.domain = argv[1];
  jb.nrcpt = (unsigned)(argc - 4);
  if (jb.nrcpt > RCPT_MAX) die(EX_PERM, "more than 100 recipients");
  for (p = argv[3]; *p; p++) {
    if (*p < '0' || *p > '9' || msglen > (~0ULL - 9) / 10) die(EX_PERM, "msglen is not a number: ", argv[3]);
    msglen = msglen * 10 + (unsigned long long)(*p - '0');
  }
  if (p == argv[3]) die_usage();

  memset(&sj, 0, sizeof sj);
  sj.sender = argv[2];
  sj.rcpt = argv + 4;
  sj.nrcpt = jb.nrcpt;
  sj.fdmsg = 0;
  sj.msglen = msglen;
  if (!*jb.domain || strlen(jb.domain) > DOMAIN_MAX || !addrok(jb.domain, DOMAIN_MAX))
    finish_all(&jb, 'D', "the recipient domain is empty, too long or malformed (#5.1.2)");
  if (!addrok(sj.sender, ADDR_MAX)) finish_all(&jb, 'D', "the sender address is too long or malformed (#5.1.7)");
  sj.utf8 = has8bit(sj.sender, strlen(sj.sender));
  for (i = 0; i < jb.nrcpt; i++) {
    if (!*sj.rcpt[i] || !addrok(sj.rcpt[i], ADDR_MAX))
      finish_all(&jb, 'D', "a recipient address is empty, too long or malformed (#5.1.3)");
    if (has8bit(sj.rcpt[i], strlen(sj.rcpt[i]))) sj.utf8 = 1;
  }

  sj.tconnect = controlnum(&jb, "control/timeoutconnect", 60, 86400);
  sj.tremote = controlnum(&jb, "control/timeoutremote", 1200, 86400);
  jb.port = controlnum(&jb, "control/remoteport", 25, 65535);
  if (!jb.port) jb.port = 25;
  r = control_readline("control/helohost", helo, sizeof helo, 0);
  if (r == 0) r = control_readline("control/me", helo, sizeof helo, "localhost");
  if (r < 0) finish_all(&jb, 'Z', "unable to read control/helohost or control/me (#4.3.0)");
  if (!helo[0] || !addrok(helo, DOMAIN_MAX) || strchr(helo, ' ')) strcpy(helo, "localhost");
  sj.helo = helo;
  if (control_readlines("control/smtproutes", &routes, &routeslen, SMTPROUTES_MAX) < 0)
    finish_all(&jb, 'Z', "unable to read control/smtproutes (#4.3.0)");
  if (control_readlines("control/tlsdomains", &tlsdoms, &tlsdomslen, TLSDOMAINS_MAX) < 0)
    finish_all(&jb, 'Z', "unable to read control/tlsdomains (#4.3.0)");
  sj.tlsreq = tlsdomains_find(tlsdoms, tlsdomslen, jb.domain);
  free(tlsdoms);
  if (sj.tlsreq < 0) {
    why(&jb, "control/tlsdomains: the line for ", jb.domain, " is malformed (only domain or domain:verify) (#4.3.5)", 0);
    finish_all(&jb, 'Z', jb.why);
  }
  if (control_readline("control/tlscafile", cafile, sizeof cafile, CAFILE_DEFAULT) < 0)
    finish_all(&jb, 'Z', "unable to read control/tlscafile (#4.3.0)");
  if (smtp_tlsinit(&sj, cafile, jb.why, sizeof jb.why) < 0) {
    /* without a TLS requirement the mail can still go, in clear, as it did before TLS */
    if (sj.tlsreq != TLSREQ_NONE) finish_all(&jb, 'Z', jb.why);
    errmsg_warn("no STARTTLS: ", jb.why, (char *)0);
    jb.why[0] = 0;
  }

  /* The message: its size on the wire and whether it has 8-bit bytes. */
  {
    char buf[8192];
    msgconv mc;
    unsigned long long off = 0;
    msgconv_init(&mc);
    while (off < msglen) {
      size_t want = msglen - off < sizeof buf ? (size_t)(msglen - off) : sizeof buf;
      ssize_t n = pread(0, buf, want, (off_t)off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) finish_all(&jb, 'Z', "unable to read the message on fd 0 (#4.3.0)");
      if (!n) finish_all(&jb, 'Z', "the message file on fd 0 is shorter than msglen (#4.3.0)");
      msgconv_scan(&mc, buf, (size_t)n);
      off += (unsigned long long)n;
    }
    msgconv_scanend(&mc);
    sj.wire = mc.wire;
    sj.eightbit = mc.eightbit;
  }

  dnsq_init();
  dnsq_deadline(&clk, DNSQ_TOTAL_SECS);
  r = routes_find(routes, routeslen, jb.domain, &rt);
  free(routes); /* rt has its own copy */
  if (r < 0) {
    why(&jb, "control/smtproutes: the line for ", jb.domain, " is malformed (#4.3.5)", 0);
    finish_all(&jb, 'Z', jb.why);
  }
  if (r && rt.port) jb.port = rt.port;
  if (r && rt.literal) {
    snprintf(jb.hosts[0], sizeof jb.hosts[0], "%s", rt.host);
    jb.nhosts = 1;
    memcpy(jb.addr[0].ip, rt.ip, 16);
    jb.naddr = 1;
  } else if (r && rt.host[0]) {
    unsigned char q[DNSNAME_MAX + 1];
    if (dnsname_fromdot(rt.host, strlen(rt.host), q) < 0) {
      why(&jb, "control/smtproutes: the host for ", jb.domain, " is not a valid name (#4.3.5)", 0);
      finish_all(&jb, 'Z', jb.why);
    }
    addhost(&jb, q, 0, &clk);
  } else if (routes_literal(jb.domain, strlen(jb.domain), jb.addr[0].ip)) {
    snprintf(jb.hosts[0], sizeof jb.hosts[0], "%s", jb.domain);
    jb.nhosts = 1;
    jb.naddr = 1;
  } else {
    int wasself;
    mxlookup(&jb, &clk);
    nself = selfaddrs(self, SELF_MAX);
    jb.naddr = mx_dropself(jb.addr, jb.naddr, (unsigned char const(*)[16])self, nself, &wasself);
    if (!jb.naddr && wasself) {
      why(&jb, "the best MX host of ", jb.domain, " is this host, but the domain is not local here (#5.4.6)", 0);
      finish_all(&jb, 'D', jb.why);
    }
  }
  if (!jb.naddr) {
    if (!jb.why[0]) why(&jb, "no address found for any mail host of ", jb.domain, " (#5.4.4)", 0);
    finish_all(&jb, jb.dnstemp ? 'Z' : 'D', jb.why);
  }

  for (i = 0; i < jb.naddr; i++) {
    unsigned k;
    for (k = 0; k < jb.nrcpt; k++) jb.res[k].code = 0;
    sj.notls = 0;
    r = smtp_try(&sj, jb.hosts[jb.addr[i].host], jb.addr[i].ip, jb.port, jb.res, jb.why, sizeof jb.why);
    if (r == TRY_NOTLS) {
      /* RFC 3207 4.1: the handshake failed before any mail: the same host, without STARTTLS */
      errmsg_warn("trying again without STARTTLS: ", jb.why, (char *)0);
      sj.notls = 1;
      r = smtp_try(&sj, jb.hosts[jb.addr[i].host], jb.addr[i].ip, jb.port, jb.res, jb.why, sizeof jb.why);
    }
    if (r == TRY_DONE) {
      report(&jb);
      smtp_tlsfree(&sj);
      return EX_OK;
    }
    if (r == TRY_NEXTPERM) anyperm = 1;
    else anytemp = 1;
    errmsg_warn("passing over: ", jb.why, (char *)0);
  }
  finish_all(&jb, anyperm && !anytemp ? 'D' : 'Z', jb.why);
  return EX_OK;
}
