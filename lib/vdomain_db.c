/* control/virtualdomains(.cdb): lookups and the compiler (vdomain_db.h). The text is
   streamed through a small buffer, never held whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cdb.h>

#include "cdbfile.h"
#include "linescan.h"
#include "vdomain_db.h"

_Static_assert(VDOMAIN_LINE_MAX == LINESCAN_MAX, "a rule is a line of linescan.h's");

#define TMP_FILE "control/virtualdomains.cdb.tmp"

/* --- lookup in the text: one pass, the best rank wins (the first of equal ones) --- */
struct best {
  char const *addr;
  size_t len;
  size_t rank;
  enum vdomain_kind kind;
  char prefix[VDOMAIN_PREFIX_MAX + 1];
};

static int text_line(void *ctx, char *line, size_t len, int toolong, unsigned long lineno)
{
  struct best *b = ctx;
  struct vdomain_rule r;
  char const *why;
  size_t k;
  (void)lineno;
  if (toolong || vdomain_parseline(line, len, &r, &why) != 1) return 0;
  k = vdomain_rank(&r, b->addr, b->len);
  if (k < b->rank) {
    b->rank = k;
    b->kind = r.kind;
    memcpy(b->prefix, r.prefix, r.prefixlen + 1);
  }
  return 0;
}

static int text_lookup(char const *addr, size_t len, char *prefix, enum vdomain_kind *kind)
{
  struct best b = { .addr = addr, .len = len, .rank = (size_t)-1, .kind = VD_NONE };
  if (linescan(VDOMAIN_FILE, &text_line, &b) < 0) return errno == ENOENT ? 0 : -1;
  if (b.rank == (size_t)-1 || !b.prefix[0]) return 0;
  memcpy(prefix, b.prefix, strlen(b.prefix) + 1);
  if (kind) *kind = b.kind;
  return 1;
}

/* --- lookup in the cdb: the keys in qmail-send's order --- */
static int cdb_try(struct cdb *c, char const *key, size_t klen, char *prefix)
{
  unsigned vl;
  int r = cdb_find(c, key, (unsigned)klen);
  if (r <= 0) return r < 0 ? (errno = EPROTO, -1) : 0;
  vl = cdb_datalen(c);
  if (vl > VDOMAIN_PREFIX_MAX) return (errno = EPROTO, -1);
  if (cdb_read(c, prefix, vl, cdb_datapos(c)) < 0) return (errno = EPROTO, -1);
  prefix[vl] = 0;
  return 1;
}

static int cdb_lookup(int fd, char const *lc, size_t len, size_t at, char *prefix, enum vdomain_kind *kind)
{
  struct cdb c;
  enum vdomain_kind k = VD_ADDR;
  int r;
  if (cdb_init(&c, fd) < 0) return (errno = EPROTO, -1);
  r = cdb_try(&c, lc, len, prefix);
  if (!r) {
    k = VD_DOMAIN;
    r = cdb_try(&c, lc + at + 1, len - at - 1, prefix);
  }
  for (size_t i = at + 2; !r && i < len; i++)
    if (lc[i] == '.') {
      k = VD_SUB;
      r = cdb_try(&c, lc + i, len - i, prefix);
    }
  if (!r) {
    k = VD_ALL;
    r = cdb_try(&c, "", 0, prefix);
  }
  cdb_free(&c);
  if (r <= 0) return r;
  if (!prefix[0]) return 0; /* an exception: not virtual */
  if (kind) *kind = k;
  return 1;
}

static size_t lowercopy(char *d, char const *s, size_t n)
{
  for (size_t i = 0; i < n; i++) d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
  return n;
}

int vdomain_lookup(char const *addr, size_t len, char *prefix, enum vdomain_kind *kind)
{
  char lc[VDOMAIN_LINE_MAX];
  size_t at = len, n;
  int fd, r, e;
  for (size_t i = len; i-- > 0;)
    if (addr[i] == '@') {
      at = i;
      break;
    }
  if (at == len || !at || at + 1 == len) return 0;
  if (len - at - 1 > VDOMAIN_DOMAIN_MAX) return 0;
  if (len > sizeof lc) {
    /* longer than any rule: only its domain's rules can fit. Look up "\0@domain": the
       local part never matters to them, and no one-address rule holds a NUL. */
    lc[0] = 0;
    n = 1 + lowercopy(lc + 1, addr + at, len - at);
    at = 1;
  } else
    n = lowercopy(lc, addr, len);
  fd = open(VDOMAIN_CDB, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) return -1;
    return text_lookup(lc, n, prefix, kind);
  }
  r = cdb_lookup(fd, lc, n, at, prefix, kind);
  e = errno;
  close(fd);
  errno = e;
  return r;
}

/* --- the compiler --- */
struct make {
  long n;
  unsigned long badline;
  char const *why;
  struct cdb_make *cm;
};

static int make_line(void *ctx, char *line, size_t len, int toolong, unsigned long lineno)
{
  struct make *m = ctx;
  struct vdomain_rule r;
  int k;
  if (toolong) {
    m->badline = lineno;
    m->why = "line longer than 1024 bytes";
    return (errno = EINVAL, -1);
  }
  k = vdomain_parseline(line, len, &r, &m->why);
  if (k < 0) {
    m->badline = lineno;
    return -1;
  }
  if (!k) return 0;
  k = cdb_make_exists(m->cm, r.key, (unsigned)r.keylen);
  if (k < 0) return -1;
  if (k) {
    m->badline = lineno;
    m->why = r.keylen ? "duplicate entry: this domain or address is listed above already"
                      : "duplicate entry: a second catch-all ':prefix'";
    return (errno = EINVAL, -1);
  }
  if (cdb_make_add(m->cm, r.key, (unsigned)r.keylen, r.prefix, (unsigned)r.prefixlen) < 0) return -1;
  m->n++;
  return 0;
}

static int fill(struct cdb_make *cm, void *ctx)
{
  struct make *m = ctx;
  m->cm = cm;
  return linescan(VDOMAIN_FILE, &make_line, m) < 0 ? -1 : 0;
}

long vdomain_make(unsigned long *badline, char const **why)
{
  struct make m = { .n = 0, .badline = 0, .why = 0, .cm = 0 };
  int r = cdbfile_make(VDOMAIN_FILE, TMP_FILE, VDOMAIN_CDB, "control", &fill, &m);
  *badline = m.badline;
  *why = m.badline ? m.why : 0;
  return r < 0 ? -1 : m.n;
}
