/* Key sets in control files: control/NAME.cdb, else control/NAME read line by line.
   The text is streamed through a small buffer, never held whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cdb.h>

#include "ctlmap.h"
#include "cdbfile.h"
#include "linescan.h"

#define PATH_MAX_LEN 300

struct scan {
  char const *name; /* ctlmap_make: control/NAME */
  char const *key;  /* lowercase */
  size_t len;
  struct cdb_make *cm;
  long nkeys;
  unsigned long badline;
};

static char lower(char c)
{
  return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static int path_of(char *p, char const *name, char const *suffix)
{
  int n = snprintf(p, PATH_MAX_LEN, "control/%s%s", name, suffix);
  if (n < 0 || n >= PATH_MAX_LEN) return (errno = ENAMETOOLONG, -1);
  return 0;
}

/* One line of the text (already cut and lowercased, not a comment): 1 stop, 0 go on,
   -1 error. toolong: the line was longer than CTLMAP_KEY_MAX and is not in line. */
typedef int line_fn(struct scan *sc, char const *line, size_t len, int toolong, unsigned long lineno);

static int line_match(struct scan *sc, char const *line, size_t len, int toolong, unsigned long lineno)
{
  (void)lineno;
  return !toolong && len == sc->len && !memcmp(line, sc->key, len);
}

static int line_add(struct scan *sc, char const *line, size_t len, int toolong, unsigned long lineno)
{
  if (toolong) {
    sc->badline = lineno;
    return (errno = EINVAL, -1);
  }
  /* a key listed twice is stored twice: harmless for a lookup, and no rescan */
  if (cdb_make_add(sc->cm, line, (unsigned)len, "", 0) < 0) return -1;
  sc->nkeys++;
  return 0;
}

/* Ends the current line: cuts blanks, skips comments and blank lines, calls f. */
static int line_end(struct scan *sc, line_fn *f, char *line, size_t len, int toolong, unsigned long lineno)
{
  size_t a = 0;
  if (!toolong) {
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) len--;
    while (a < len && (line[a] == ' ' || line[a] == '\t')) a++;
    if (a == len || line[a] == '#') return 0;
  }
  return f(sc, line + a, len - a, toolong, lineno);
}

struct each {
  struct scan *sc;
  line_fn *f;
};

static int each_one(void *ctx, char *line, size_t len, int toolong, unsigned long lineno)
{
  struct each *x = ctx;
  for (size_t i = 0; i < len; i++) line[i] = lower(line[i]);
  return line_end(x->sc, x->f, line, len, toolong, lineno);
}

/* Reads path line by line. 1 stopped by f, 0 read to the end, -1 error; ENOENT passes. */
static int each_line(char const *path, line_fn *f, struct scan *sc)
{
  struct each x = { .sc = sc, .f = f };
  return linescan(path, &each_one, &x);
}

static int cdb_has(char const *path, char const *key, size_t len)
{
  struct cdb c;
  int r, e;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (cdb_init(&c, fd) < 0) {
    e = errno;
    close(fd);
    errno = e ? e : EPROTO;
    return -1;
  }
  r = cdb_find(&c, key, (unsigned)len);
  e = errno;
  cdb_free(&c);
  close(fd);
  if (r < 0) return (errno = e ? e : EPROTO, -1);
  return r > 0;
}

int ctlmap_has(char const *name, char const *key, size_t len)
{
  char path[PATH_MAX_LEN];
  char lk[CTLMAP_KEY_MAX];
  struct scan sc;
  size_t i;
  int r;
  if (!len || len > CTLMAP_KEY_MAX) return 0;
  for (i = 0; i < len; i++) lk[i] = lower(key[i]);
  if (path_of(path, name, ".cdb") < 0) return -1;
  r = cdb_has(path, lk, len);
  if (r >= 0 || errno != ENOENT) return r;
  if (path_of(path, name, "") < 0) return -1;
  sc.key = lk;
  sc.len = len;
  r = each_line(path, &line_match, &sc);
  if (r < 0) return errno == ENOENT ? 0 : -1;
  return r;
}

int ctlmap_exists(char const *name)
{
  char path[PATH_MAX_LEN];
  struct stat st;
  if (path_of(path, name, ".cdb") < 0) return -1;
  if (!stat(path, &st)) return 1;
  if (errno != ENOENT) return -1;
  if (path_of(path, name, "") < 0) return -1;
  if (!stat(path, &st)) return 1;
  return errno == ENOENT ? 0 : -1;
}

static int fill(struct cdb_make *cm, void *ctx)
{
  struct scan *sc = ctx;
  char src[PATH_MAX_LEN];
  sc->cm = cm;
  if (path_of(src, sc->name, "") < 0) return -1;
  return each_line(src, &line_add, sc) < 0 ? -1 : 0;
}

long ctlmap_make(char const *name, unsigned long *badline)
{
  char src[PATH_MAX_LEN], dst[PATH_MAX_LEN], tmp[PATH_MAX_LEN];
  struct scan sc = { .name = name, .key = 0, .len = 0, .cm = 0, .nkeys = 0, .badline = 0 };
  int r;
  if (badline) *badline = 0;
  if (path_of(src, name, "") < 0 || path_of(dst, name, ".cdb") < 0 || path_of(tmp, name, ".cdb.tmp") < 0)
    return -1;
  r = cdbfile_make(src, tmp, dst, "control", &fill, &sc);
  if (badline) *badline = sc.badline;
  return r < 0 ? -1 : sc.nkeys;
}
