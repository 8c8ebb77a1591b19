/* Reading the queue for the queue tools: message files (trailer and envelope checked, as
   mailroom-send does) and info files, never changing anything. A file that disappears while
   it is read was delivered meanwhile: it is skipped, not an error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "control.h"
#include "envelope.h"
#include "msgfile.h"
#include "qtool.h"
#include "vdomain_db.h"

int qt_config(struct qt_cf *cf)
{
  if (control_readline("control/me", cf->me, sizeof cf->me, "localhost") < 0) return -1;
  if (control_readlines("control/locals", &cf->locals, &cf->localslen, 1 << 20) < 0) return -1;
  return 0;
}

/* The same rule as mailroom-send's (send_msg.c): me and control/locals are local. */
int qt_islocal(struct qt_cf const *cf, char const *addr)
{
  char const *at = strrchr(addr, '@');
  size_t dl;
  if (!at || !at[1]) return 1;
  at++;
  dl = strlen(at);
  if (strlen(cf->me) == dl && !strncasecmp(cf->me, at, dl)) return 1;
  return control_haslinecase(cf->locals, cf->localslen, at, dl);
}

/* A recipient that is not local but in a virtual domain (send_msg.c's msg_virtual): 1
   with out (cap bytes) = the prefix-local@domain mailroom-send delivers it as, 0 not, -1
   the lookup failed. */
int qt_virtual(char const *addr, char *out, size_t cap)
{
  char prefix[VDOMAIN_PREFIX_MAX + 1];
  size_t len = strlen(addr);
  int r = vdomain_lookup(addr, len, prefix, 0);
  if (r <= 0) return r;
  return vdomain_rewrite(prefix, addr, len, out, cap) ? 1 : 0;
}

int qt_domainis(char const *addr, char const *domain)
{
  char const *at = strrchr(addr, '@');
  return at && !strcasecmp(at + 1, domain);
}

static int num(char const *s, size_t n, unsigned long long *v)
{
  unsigned long long x = 0;
  size_t i = 0;
  while (i < n && s[i] == ' ') i++;
  if (i == n) return -1;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    x = x * 10 + (unsigned long long)(s[i] - '0');
  }
  *v = x;
  return 0;
}

/* An info file (INTERNALS.md) for a message of nrcpt recipients. 0 if valid, -1 if not. */
int qt_parseinfo(char const *buf, size_t len, unsigned nrcpt, struct qt_rcpt *r, unsigned long *flags)
{
  unsigned long long v;
  unsigned long f = 0;
  if (len != QT_INFO_HEADER + (size_t)nrcpt * QT_INFO_RECORD) return -1;
  if (memcmp(buf, "MRI1 ", 5) != 0 || buf[QT_INFO_HEADER - 1] != '\n' || num(buf + 5, 10, &v) < 0 || buf[15] != ' ' ||
      buf[24] != ' ' || num(buf + 25, 8, &v) < 0 || v != nrcpt)
    return -1;
  for (int k = 16; k < 24; k++) {
    char c = buf[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    f = f << 4 | (unsigned long)d;
  }
  for (unsigned i = 0; i < nrcpt; i++) {
    char const *p = buf + QT_INFO_HEADER + (size_t)i * QT_INFO_RECORD;
    size_t tl = QT_INFO_TEXT;
    if (p[QT_INFO_RECORD - 1] != '\n' || !p[0] || !strchr("TDFB", p[0]) || (p[2] != 'L' && p[2] != 'R')) return -1;
    r[i].state = p[0];
    r[i].chan = p[2];
    if (num(p + 4, 8, &v) < 0) return -1;
    r[i].attempts = (unsigned)v;
    if (num(p + 13, 10, &v) < 0) return -1;
    r[i].next = v;
    while (tl && p[24 + tl - 1] == ' ') tl--;
    memcpy(r[i].text, p + 24, tl);
    r[i].text[tl] = 0;
  }
  *flags = f;
  return 0;
}

static void readinfo(struct qt_msg *m)
{
  char path[QID_MAX + 20];
  size_t want = QT_INFO_HEADER + (size_t)m->nrcpt * QT_INFO_RECORD, got = 0;
  char *buf;
  int fd;
  snprintf(path, sizeof path, "queue/info/%s", m->id);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  buf = malloc(want + 1);
  if (!buf) qt_die_nomem();
  for (;;) {
    ssize_t r = read(fd, buf + got, want + 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
    if (got > want) break;
  }
  close(fd);
  if (qt_parseinfo(buf, got, m->nrcpt, m->r, &m->flags) == 0) m->hasinfo = 1;
  free(buf);
}

/* Loads queue/new/ID (dir 'n') or queue/mess/ID ('m') with its info file. 1 loaded, 0 the
   file is gone, -1 with errno (EPROTO: not a valid message file). */
int qt_loadone(struct qt_msg *m, struct qt_cf const *cf, char dir, char const *id)
{
  char path[QID_MAX + 20];
  struct stat st;
  unsigned k = 0;
  int fd;
  memset(m, 0, sizeof *m);
  if (!qid_parse(id, &m->arrival, 0)) return (errno = EPROTO, -1);
  memcpy(m->id, id, strlen(id) + 1);
  m->where = dir;
  snprintf(path, sizeof path, "queue/%s/%s", dir == 'n' ? "new" : "mess", id);
  fd = msgfile_open(path, &m->msglen, &m->env, &m->envlen);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  if (fstat(fd, &st) == 0) m->fsize = (unsigned long long)st.st_size;
  close(fd);
  m->sender = m->env + 1;
  for (char const *p = envelope_next(m->env, 0); p; p = envelope_next(m->env, p)) k++;
  m->nrcpt = k;
  m->r = calloc(k ? k : 1, sizeof *m->r);
  if (!m->r) qt_die_nomem();
  k = 0;
  for (char const *p = envelope_next(m->env, 0); p; p = envelope_next(m->env, p), k++) {
    m->r[k].addr = p;
    m->r[k].state = 'T';
    m->r[k].chan = 'L';
    if (!qt_islocal(cf, p)) {
      char va[VDOMAIN_ADDR_MAX + 1];
      /* a lookup that fails is shown as not virtual; mailroom-send waits on it */
      if (qt_virtual(p, va, sizeof va) <= 0) m->r[k].chan = 'R';
      else if (!(m->r[k].vaddr = strdup(va))) qt_die_nomem();
    }
  }
  if (dir == 'm') readinfo(m);
  if (!m->hasinfo)
    for (k = 0; k < m->nrcpt; k++) m->r[k].state = 'T', m->r[k].attempts = 0, m->r[k].next = 0, m->r[k].text[0] = 0;
  return 1;
}

static int cmp(void const *a, void const *b)
{
  struct qt_msg const *x = a, *y = b;
  if (x->arrival != y->arrival) return x->arrival < y->arrival ? -1 : 1;
  if (strlen(x->id) != strlen(y->id)) return strlen(x->id) < strlen(y->id) ? -1 : 1;
  return strcmp(x->id, y->id);
}

static int loaddir(struct qt_list *l, struct qt_cf const *cf, char dir)
{
  DIR *d = opendir(dir == 'n' ? "queue/new" : "queue/mess");
  struct dirent *e;
  if (!d) return -1;
  for (;;) {
    int r;
    errno = 0;
    e = readdir(d);
    if (!e) break;
    if (e->d_name[0] == '.') continue;
    if (!qid_parse(e->d_name, 0, 0)) {
      l->bad++;
      continue;
    }
    if (l->n == l->cap) {
      size_t nc = l->cap ? l->cap * 2 : 256;
      struct qt_msg *n = realloc(l->m, nc * sizeof *n);
      if (!n) qt_die_nomem();
      l->m = n;
      l->cap = nc;
    }
    r = qt_loadone(&l->m[l->n], cf, dir, e->d_name);
    if (r > 0) l->n++;
    else if (r < 0) l->bad++;
  }
  {
    int err = errno;
    closedir(d);
    if (err) return (errno = err, -1);
  }
  return 0;
}

/* Every message in queue/mess, then those still in queue/new, sorted by arrival. A message
   seen in new/ and, after its pick-up, in mess/ too is kept once. */
int qt_load(struct qt_list *l, struct qt_cf const *cf)
{
  size_t nm;
  memset(l, 0, sizeof *l);
  if (loaddir(l, cf, 'm') < 0) return -1;
  nm = l->n;
  if (loaddir(l, cf, 'n') < 0) return -1;
  for (size_t k = nm; k < l->n;) {
    int dup = 0;
    for (size_t j = 0; j < nm && !dup; j++) dup = !strcmp(l->m[j].id, l->m[k].id);
    if (dup) {
      qt_freemsg(&l->m[k]);
      l->m[k] = l->m[--l->n];
    } else
      k++;
  }
  if (l->n > 1) qsort(l->m, l->n, sizeof *l->m, cmp); /* an empty queue has no array: qsort wants one */
  return 0;
}

struct qt_msg *qt_find(struct qt_list const *l, char const *id)
{
  for (size_t k = 0; k < l->n; k++)
    if (!strcmp(l->m[k].id, id)) return &l->m[k];
  return 0;
}

void qt_freemsg(struct qt_msg *m)
{
  if (m->r)
    for (unsigned i = 0; i < m->nrcpt; i++) free(m->r[i].vaddr);
  free(m->env);
  free(m->r);
  m->env = 0;
  m->r = 0;
}

void qt_free(struct qt_list *l)
{
  for (size_t k = 0; k < l->n; k++) qt_freemsg(&l->m[k]);
  free(l->m);
  memset(l, 0, sizeof *l);
}

/* The qstat bucket of recipient i. */
int qt_bucket(struct qt_msg const *m, unsigned i)
{
  struct qt_rcpt const *r = &m->r[i];
  if (m->where == 'n') return QT_NEW;
  if (r->state == 'F') return QT_BOUNCING;
  if (r->state != 'T') return QT_DONE;
  if (m->flags & QT_FLAG_HELD) return QT_HELD;
  return r->attempts ? QT_DEFERRED : QT_FIRST;
}
