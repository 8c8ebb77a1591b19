/* mailroom-showctl's checks: each control file read the way its program reads it, and the
   mistakes named with the file and the line; then what only shows across files (a virtual
   domain that locals takes first, a cdb older than its text, files no program reads). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "control.h"
#include "linescan.h"
#include "qtool.h"
#include "showctl.h"
#include "vdomain.h"
#include "vdomain_db.h"
#include "../remote/remote.h"

#define PATH_LEN 128
#define TEXT_LEN 1400

static char *dupf(char const *fmt, va_list ap)
{
  char buf[TEXT_LEN];
  char *s;
  vsnprintf(buf, sizeof buf, fmt, ap);
  s = strdup(buf);
  if (!s) qt_die_nomem();
  return s;
}

void sc_mistake(struct sc_report *r, char const *file, unsigned long line, char const *fmt, ...)
{
  va_list ap;
  if (r->nm == r->capm) {
    size_t c = r->capm ? 2 * r->capm : 16;
    struct sc_mistake *n = realloc(r->m, c * sizeof *n);
    if (!n) qt_die_nomem();
    r->m = n;
    r->capm = c;
  }
  snprintf(r->m[r->nm].file, sizeof r->m[r->nm].file, "%s", file);
  r->m[r->nm].line = line;
  va_start(ap, fmt);
  r->m[r->nm].text = dupf(fmt, ap);
  va_end(ap);
  r->nm++;
}

void sc_note(struct sc_report *r, char const *fmt, ...)
{
  va_list ap;
  if (r->nn == r->capn) {
    size_t c = r->capn ? 2 * r->capn : 8;
    char **n = realloc(r->notes, c * sizeof *n);
    if (!n) qt_die_nomem();
    r->notes = n;
    r->capn = c;
  }
  va_start(ap, fmt);
  r->notes[r->nn++] = dupf(fmt, ap);
  va_end(ap);
}

void sc_free(struct sc_report *r)
{
  for (size_t i = 0; i < r->ne; i++) free(r->e[i].value);
  for (size_t i = 0; i < r->nm; i++) free(r->m[i].text);
  for (size_t i = 0; i < r->nn; i++) free(r->notes[i]);
  free(r->e);
  free(r->m);
  free(r->notes);
}

/* --- the text of a file as lines, each checked by a kind's function --------------------- */
struct lines {
  struct sc_report *r;
  struct sc_entry *e;
  char const *name;
  size_t vlen, vcap;
  int (*check)(struct lines *l, char const *s, size_t n, unsigned long lineno);
  struct vdomain_rule rule; /* SC_VDOMAINS: the last parsed */
  char **keys;              /* SC_VDOMAINS: every domain rule's key, for the cross checks */
  size_t nkeys, capkeys;
};

static void value_add(struct lines *l, char const *s, size_t n)
{
  if (++l->e->nlines > SC_SHOW_MAX) return;
  if (l->vlen + n + 2 > l->vcap) {
    size_t c = (l->vlen + n + 2) * 2;
    char *v = realloc(l->e->value, c);
    if (!v) qt_die_nomem();
    l->e->value = v;
    l->vcap = c;
  }
  if (l->vlen) l->e->value[l->vlen++] = '\n';
  for (size_t i = 0; i < n; i++) l->e->value[l->vlen++] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
  l->e->value[l->vlen] = 0;
}

static int one_line(void *ctx, char *s, size_t n, int toolong, unsigned long lineno)
{
  struct lines *l = ctx;
  size_t a = 0;
  if (toolong) {
    sc_mistake(l->r, l->name, lineno, "line longer than %d bytes", LINESCAN_MAX);
    return 0;
  }
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
  while (a < n && (s[a] == ' ' || s[a] == '\t')) a++;
  if (a == n || s[a] == '#') return 0;
  value_add(l, s + a, n - a);
  if (memchr(s + a, 0, n - a)) {
    sc_mistake(l->r, l->name, lineno, "binary byte (NUL) in the line");
    return 0;
  }
  return l->check(l, s + a, n - a, lineno);
}

static int check_domainline(struct lines *l, char const *s, size_t n, unsigned long lineno)
{
  char const *why;
  int sub = l->e->f->source && !strcmp(l->e->f->source, "sub");
  if (sub && n && s[0] == '.') s++, n--;
  if (vdomain_checkdomain(s, n, &why) < 0) sc_mistake(l->r, l->name, lineno, "not a domain: %s", why);
  return 0;
}

static int check_addrline(struct lines *l, char const *s, size_t n, unsigned long lineno)
{
  char const *at = 0, *why;
  for (size_t i = n; i-- > 0;)
    if (s[i] == '@') {
      at = s + i;
      break;
    }
  if (!at || at == s) sc_mistake(l->r, l->name, lineno, "not an address local@domain");
  else if (vdomain_checkdomain(at + 1, (size_t)(s + n - at - 1), &why) < 0)
    sc_mistake(l->r, l->name, lineno, "bad domain in the address: %s", why);
  return 0;
}

static int check_vdomline(struct lines *l, char const *s, size_t n, unsigned long lineno)
{
  char const *why;
  if (vdomain_parseline(s, n, &l->rule, &why) < 0) {
    sc_mistake(l->r, l->name, lineno, "%s", why);
    return 0;
  }
  for (size_t i = 0; i < l->nkeys; i++)
    if (!strcmp(l->keys[i], l->rule.key)) {
      sc_mistake(l->r, l->name, lineno, "duplicate entry for '%s' (mailroom-newcontrol refuses the file)",
                 l->rule.keylen ? l->rule.key : ":prefix catch-all");
      return 0;
    }
  if (l->nkeys == l->capkeys) {
    size_t c = l->capkeys ? 2 * l->capkeys : 16;
    char **k = realloc(l->keys, c * sizeof *k);
    if (!k) qt_die_nomem();
    l->keys = k;
    l->capkeys = c;
  }
  if (!(l->keys[l->nkeys] = strdup(l->rule.key))) qt_die_nomem();
  l->nkeys++;
  return 0;
}

/* The options of a route line as mailroom-remote reads them (remote/remote_routes.c), put
   behind a relay that is surely well-formed: 1 when that parser refuses them. */
static int route_options_bad(char const *s, size_t n, size_t keylen)
{
  char line[CONTROL_LINE_MAX + 64], dom[300];
  char const *opt = 0;
  route rt;
  int w;
  for (size_t i = keylen + 1; i < n && !opt; i++)
    if (s[i] == ' ' || s[i] == '\t') opt = s + i;
  if (!opt) return 0;                       /* no options: the host and port checks say the rest */
  if (opt == s + keylen + 1) return 1;      /* options on a route without a relay */
  if (n > CONTROL_LINE_MAX || keylen + 2 > sizeof dom) return 0; /* the other checks say so */
  w = snprintf(line, sizeof line, "%.*s:relay.invalid%.*s", (int)keylen, s, (int)(s + n - opt), opt);
  if (w < 0 || (size_t)w >= sizeof line) return 0;
  if (!keylen) snprintf(dom, sizeof dom, "any.invalid");
  else if (s[0] == '.') snprintf(dom, sizeof dom, "a%.*s", (int)keylen, s);
  else snprintf(dom, sizeof dom, "%.*s", (int)keylen, s);
  return routes_find(line, (size_t)w + 1, dom, &rt) < 0;
}

/* "[literal]" or a host name or a bare address, then ":port" for a name or literal */
static int check_routeline(struct lines *l, char const *s, size_t n, unsigned long lineno)
{
  char host[300];
  char const *why;
  char const *c = memchr(s, ':', n), *relay, *port = 0, *end = s + n;
  size_t hl;
  unsigned char ip[16];
  if (!c) return (sc_mistake(l->r, l->name, lineno, "missing ':' between the domain and the relay"), 0);
  if (route_options_bad(s, n, (size_t)(c - s)))
    sc_mistake(l->r, l->name, lineno, "an unknown or malformed option (smtps, verify, auth=NAME), or options without a relay");
  for (char const *b = c; b < end; b++)
    if (*b == ' ' || *b == '\t') {
      end = b; /* the options, checked above by mailroom-remote's own parser */
      break;
    }
  if (c > s && vdomain_checkdomain(s[0] == '.' ? s + 1 : s, (size_t)(c - s) - (s[0] == '.'), &why) < 0)
    sc_mistake(l->r, l->name, lineno, "bad domain: %s", why);
  relay = c + 1;
  if (relay < end && *relay == '[') {
    char const *rb = memchr(relay, ']', (size_t)(end - relay));
    if (!rb) return (sc_mistake(l->r, l->name, lineno, "'[' of an address literal without its ']'"), 0);
    hl = (size_t)(rb - relay - 1);
    if (hl >= sizeof host) hl = sizeof host - 1;
    memcpy(host, relay + 1, hl);
    host[hl] = 0;
    if (!strncasecmp(host, "IPv6:", 5)) memmove(host, host + 5, strlen(host + 5) + 1);
    if (inet_pton(AF_INET, host, ip) != 1 && inet_pton(AF_INET6, host, ip) != 1)
      sc_mistake(l->r, l->name, lineno, "not an IP address in the literal [%s]", host);
    if (rb + 1 < end) {
      if (rb[1] != ':') return (sc_mistake(l->r, l->name, lineno, "text after the address literal"), 0);
      port = rb + 2;
    }
  } else {
    char const *c2 = memchr(relay, ':', (size_t)(end - relay));
    hl = (size_t)((c2 ? c2 : end) - relay);
    if (c2 && memchr(c2 + 1, ':', (size_t)(end - c2 - 1))) {
      /* more colons: a bare IPv6 address (no port can follow it unbracketed) */
      hl = (size_t)(end - relay);
      if (hl >= sizeof host) hl = sizeof host - 1;
      memcpy(host, relay, hl);
      host[hl] = 0;
      if (inet_pton(AF_INET6, host, ip) != 1)
        sc_mistake(l->r, l->name, lineno, "'%s' is neither host:port nor an IPv6 address (write [IPv6:...]:port)", host);
      return 0;
    }
    if (hl >= sizeof host) hl = sizeof host - 1;
    memcpy(host, relay, hl);
    host[hl] = 0;
    if (hl && inet_pton(AF_INET, host, ip) != 1 && vdomain_checkdomain(host, hl, &why) < 0)
      sc_mistake(l->r, l->name, lineno, "bad relay host '%s': %s", host, why);
    if (c2) port = c2 + 1;
  }
  if (port) {
    unsigned long p = 0;
    char const *q = port;
    for (; q < end && *q >= '0' && *q <= '9' && p <= 65535; q++) p = p * 10 + (unsigned long)(*q - '0');
    if (q == port || q != end || !p || p > 65535)
      sc_mistake(l->r, l->name, lineno, "the port is not a number from 1 to 65535");
  }
  return 0;
}

static int check_tlsline(struct lines *l, char const *s, size_t n, unsigned long lineno)
{
  char const *c = memchr(s, ':', n), *why;
  size_t dl = c ? (size_t)(c - s) : n;
  if (c && !(n - dl - 1 == 6 && !strncmp(c + 1, "verify", 6)))
    sc_mistake(l->r, l->name, lineno, "only ':verify' may follow the domain");
  if (dl && s[0] == '.') s++, dl--;
  if (vdomain_checkdomain(s, dl, &why) < 0) sc_mistake(l->r, l->name, lineno, "not a domain: %s", why);
  return 0;
}

static void read_lines(struct sc_report *r, struct sc_entry *e, struct lines *l)
{
  char path[PATH_LEN];
  snprintf(path, sizeof path, "control/%s", e->f->name);
  l->r = r;
  l->e = e;
  l->name = e->f->name;
  switch (e->f->kind) {
    case SC_DOMAINS: l->check = check_domainline; break;
    case SC_ADDRS: l->check = check_addrline; break;
    case SC_VDOMAINS: l->check = check_vdomline; break;
    case SC_ROUTES: l->check = check_routeline; break;
    default: l->check = check_tlsline; break;
  }
  if (linescan(path, one_line, l) < 0 && errno != ENOENT)
    sc_mistake(r, e->f->name, 0, "cannot be read: %s", strerror(errno));
}

/* --- one-line files ------------------------------------------------------------------- */
static void check_first(struct sc_report *r, struct sc_entry *e)
{
  char path[PATH_LEN], line[CONTROL_LINE_MAX];
  char const *why;
  unsigned long u;
  int k;
  snprintf(path, sizeof path, "control/%s", e->f->name);
  if (e->f->kind == SC_NUM) {
    if (control_readulong(path, &u, e->f->def) < 0) {
      if (errno == EINVAL) sc_mistake(r, e->f->name, 1, "not a number (the programs that read it stop)");
      else if (errno != ENOENT) sc_mistake(r, e->f->name, 0, "cannot be read: %s", strerror(errno));
      if (control_readline(path, line, sizeof line, 0) > 0 && !(e->value = strdup(line))) qt_die_nomem();
      return;
    }
    snprintf(line, sizeof line, "%lu", u);
    if (!(e->value = strdup(line))) qt_die_nomem();
    if (u < e->f->min || u > e->f->max)
      sc_mistake(r, e->f->name, 1, "%lu is outside %lu..%lu", u, e->f->min, e->f->max);
    return;
  }
  k = control_readline(path, line, sizeof line, 0);
  if (k < 0) {
    if (errno == EOVERFLOW) sc_mistake(r, e->f->name, 1, "first line longer than %d bytes", CONTROL_LINE_MAX - 1);
    else if (errno == EINVAL) sc_mistake(r, e->f->name, 1, "binary byte (NUL) in the first line");
    else sc_mistake(r, e->f->name, 0, "cannot be read: %s", strerror(errno));
    return;
  }
  if (!k) {
    if (e->exists) sc_mistake(r, e->f->name, 1, "empty: the default applies, remove the file or give a value");
    return;
  }
  if (!(e->value = strdup(line))) qt_die_nomem();
  if (e->f->kind == SC_HOST && vdomain_checkdomain(line, strlen(line), &why) < 0)
    sc_mistake(r, e->f->name, 1, "not a host name: %s", why);
}

/* --- whole files, cdbs ----------------------------------------------------------------- */
static int newer(struct stat const *a, struct stat const *b)
{
  if (a->st_mtim.tv_sec != b->st_mtim.tv_sec) return a->st_mtim.tv_sec > b->st_mtim.tv_sec;
  return a->st_mtim.tv_nsec > b->st_mtim.tv_nsec;
}

static void check_cdb(struct sc_report *r, struct sc_entry *e, struct stat const *st)
{
  char path[PATH_LEN];
  struct stat src;
  snprintf(path, sizeof path, "control/%s", e->f->source);
  e->value = strdup("(a cdb)");
  if (!e->value) qt_die_nomem();
  if (stat(path, &src) < 0) {
    if (errno == ENOENT)
      sc_mistake(r, e->f->name, 0, "control/%s is gone but its cdb is still read: run mailroom-newcontrol (or make setup)",
                 e->f->source);
    return;
  }
  if (newer(&src, st))
    sc_mistake(r, e->f->name, 0, "older than control/%s: its edits are not in force; run %s", e->f->source,
               strcmp(e->f->source, "smtp.rules") ? "mailroom-newcontrol" : "make setup (tcprules)");
}

static void check_entry(struct sc_report *r, struct sc_entry *e, struct lines *vd)
{
  char path[PATH_LEN];
  struct stat st;
  struct lines l = { 0 };
  snprintf(path, sizeof path, "control/%s", e->f->name);
  e->exists = stat(path, &st) == 0;
  if (!e->exists && errno != ENOENT) sc_mistake(r, e->f->name, 0, "cannot be read: %s", strerror(errno));
  if (!e->exists && !strcmp(e->f->name, "me"))
    sc_mistake(r, "me", 0, "missing: every program takes this host for 'localhost' (make setup writes it)");
  if (!e->exists) return;
  switch (e->f->kind) {
    case SC_NUM:
    case SC_HOST:
    case SC_LINE: check_first(r, e); break;
    case SC_DOMAINS:
    case SC_ADDRS:
    case SC_ROUTES:
    case SC_TLSDOMS: read_lines(r, e, &l); break;
    case SC_VDOMAINS: read_lines(r, e, vd); break;
    case SC_SECRET:
      if (st.st_mode & 077) sc_mistake(r, e->f->name, 0, "readable or writable by group or others (mode %04o)",
                                       (unsigned)(st.st_mode & 07777));
      /* fall through */
    case SC_FILE:
      if (!(e->value = strdup(S_ISREG(st.st_mode) ? "(present)" : "(not a regular file)"))) qt_die_nomem();
      if (!S_ISREG(st.st_mode)) sc_mistake(r, e->f->name, 0, "not a regular file");
      break;
    case SC_DIR:
      if (!(e->value = strdup(S_ISDIR(st.st_mode) ? "(a folder)" : "(not a folder)"))) qt_die_nomem();
      if (!S_ISDIR(st.st_mode)) sc_mistake(r, e->f->name, 0, "not a folder");
      else if (st.st_mode & 007)
        sc_mistake(r, e->f->name, 0, "open to others (mode %04o): it holds private keys", (unsigned)(st.st_mode & 07777));
      break;
    case SC_CDB: check_cdb(r, e, &st); break;
  }
}

/* A domain rule of virtualdomains that control/locals or me takes first is never used. */
static void cross_checks(struct sc_report *r, struct lines const *vd)
{
  char *locals = 0, me[256];
  size_t nl = 0;
  if (control_readlines("control/locals", &locals, &nl, 1 << 20) < 0) return;
  if (control_readline("control/me", me, sizeof me, "localhost") < 0) me[0] = 0;
  for (size_t i = 0; i < vd->nkeys; i++) {
    char const *k = vd->keys[i];
    char const *at = strchr(k, '@');
    char const *d = at ? at + 1 : k;
    if (!*d || *d == '.') continue;
    if (control_haslinecase(locals, nl, d, strlen(d)) || !strcasecmp(d, me))
      sc_mistake(r, "virtualdomains", 0, "%s is also a local domain (control/locals or me): locals win, the rule %s is never used",
                 d, k);
  }
  free(locals);
}

static void unknown_files(struct sc_report *r)
{
  DIR *d = opendir("control");
  struct dirent *de;
  if (!d) return;
  while ((de = readdir(d))) {
    char const *n = de->d_name;
    size_t len = strlen(n);
    if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]))) continue;
    if (sc_lookup(n)) continue;
    if (len > 4 && !strcmp(n + len - 4, ".tmp")) {
      sc_note(r, "control/%s: a temporary file left by an interrupted edit or compile; remove it", n);
      continue;
    }
    sc_mistake(r, n, 0, "unknown control file: no mailroom program reads it (a misspelt name?)");
  }
  closedir(d);
}

int sc_check(struct sc_report *r)
{
  struct lines vd = { 0 };
  struct stat st;
  if (stat("control", &st) < 0) return -1;
  r->e = calloc(sc_nfiles, sizeof *r->e);
  if (!r->e) qt_die_nomem();
  r->ne = sc_nfiles;
  for (size_t i = 0; i < sc_nfiles; i++) {
    r->e[i].f = &sc_files[i];
    check_entry(r, &r->e[i], &vd);
  }
  cross_checks(r, &vd);
  unknown_files(r);
  for (size_t i = 0; i < vd.nkeys; i++) free(vd.keys[i]);
  free(vd.keys);
  return 0;
}
