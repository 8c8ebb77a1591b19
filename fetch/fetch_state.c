/* The per-account state: which messages this account has queued (and may delete), and
   which it left on the server and said so once. A text file fetch/NAME, owned by mrfetch:
   a first line "mailroom-fetch state 1", then one "K key" line per message (fetch.h).
   It is rewritten whole and durably after each accepted injection (tmp, fsync, rename,
   fsync of the folder), before any DELE: doc/INTERNALS.md, "mailroom-fetch (issue 17)". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>

#include "fetch.h"

#define STATE_DIR "fetch"
#define STATE_HEAD "mailroom-fetch state 1\n"
#define PATH_LEN (sizeof STATE_DIR + FETCH_NAME_MAX + 8)

static int kind_ok(char k) { return k == 's' || k == 'b' || k == 'r'; }

/* a key: "u" + 1..70 bytes 0x21..0x7e, or "h" + 64 hex digits */
static int key_ok(char const *k, size_t n)
{
  if (n < 2) return 0;
  if (k[0] == 'u') {
    if (n - 1 > FETCH_UIDL_MAX) return 0;
    for (size_t i = 1; i < n; i++)
      if (k[i] < 0x21 || k[i] > 0x7e) return 0;
    return 1;
  }
  if (k[0] != 'h' || n != 65) return 0;
  for (size_t i = 1; i < n; i++)
    if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f'))) return 0;
  return 1;
}

int fetch_state_parse(fetch_state *st, char const *s, size_t len)
{
  size_t i, hl = sizeof STATE_HEAD - 1;
  st->keys.len = 0;
  st->n = 0;
  st->changed = 0;
  if (!len) return 0;
  if (len < hl || memcmp(s, STATE_HEAD, hl)) return errno = EINVAL, -1;
  for (i = hl; i < len;) {
    char const *nl = memchr(s + i, '\n', len - i);
    size_t n;
    if (!nl) return errno = EINVAL, -1;
    n = (size_t)(nl - (s + i));
    if (n < 3 || !kind_ok(s[i]) || s[i + 1] != ' ' || !key_ok(s + i + 2, n - 2)) return errno = EINVAL, -1;
    if (fetch_state_get(st, s + i + 2, n - 2)) return errno = EINVAL, -1;
    if (!stralloc_catb(&st->keys, s + i, n + 1)) return -1;
    st->n++;
    i += n + 1;
  }
  return 0;
}

/* the offset of key's line in st->keys, or -1 */
static long find(fetch_state const *st, char const *key, size_t klen)
{
  size_t i = 0;
  while (i < st->keys.len) {
    char const *l = st->keys.s + i;
    char const *nl = memchr(l, '\n', st->keys.len - i);
    size_t n = (size_t)(nl - l);
    if (n - 2 == klen && !memcmp(l + 2, key, klen)) return (long)i;
    i += n + 1;
  }
  return -1;
}

char fetch_state_get(fetch_state const *st, char const *key, size_t klen)
{
  long i = find(st, key, klen);
  return i < 0 ? 0 : st->keys.s[i];
}

int fetch_state_set(fetch_state *st, char kind, char const *key, size_t klen)
{
  long i = find(st, key, klen);
  if (i >= 0) {
    if (st->keys.s[i] != kind) st->keys.s[i] = kind, st->changed = 1;
    return 0;
  }
  if (!stralloc_catb(&st->keys, &kind, 1) || !stralloc_catb(&st->keys, " ", 1)
      || !stralloc_catb(&st->keys, key, klen) || !stralloc_catb(&st->keys, "\n", 1))
    return -1;
  st->n++;
  st->changed = 1;
  return 0;
}

/* 1 if key is one of the NUL-terminated keys */
static int among(char const *keys, size_t len, char const *key, size_t klen)
{
  for (size_t i = 0; i < len;) {
    size_t n = strlen(keys + i);
    if (n == klen && !memcmp(keys + i, key, klen)) return 1;
    i += n + 1;
  }
  return 0;
}

int fetch_state_prune(fetch_state *st, char const *keys, size_t klen)
{
  size_t i = 0, w = 0;
  while (i < st->keys.len) {
    char *l = st->keys.s + i;
    char *nl = memchr(l, '\n', st->keys.len - i);
    size_t n = (size_t)(nl - l) + 1;
    if (among(keys, klen, l + 2, n - 3)) {
      memmove(st->keys.s + w, l, n);
      w += n;
    } else {
      st->n--;
      st->changed = 1;
    }
    i += n;
  }
  st->keys.len = w;
  return 0;
}

static void path(char *buf, char const *name, char const *suffix)
{
  snprintf(buf, PATH_LEN, "%s/%s%s", STATE_DIR, name, suffix);
}

int fetch_state_load(fetch_state *st, char const *name)
{
  char fn[PATH_LEN];
  struct stat sb;
  stralloc sa = STRALLOC_ZERO;
  int fd, r;
  path(fn, name, "");
  fd = open_read(fn);
  if (fd < 0) {
    if (errno != ENOENT) return -1;
    return fetch_state_parse(st, "", 0);
  }
  if (fstat(fd, &sb) < 0) goto fail;
  if (sb.st_size > FETCH_STATE_MAX) {
    errno = EFBIG;
    goto fail;
  }
  if (!stralloc_ready(&sa, (size_t)sb.st_size + 1)) goto fail;
  sa.len = allread(fd, sa.s, (size_t)sb.st_size + 1);
  if (sa.len != (size_t)sb.st_size) {
    if (!errno) errno = EINVAL; /* it changed under us: nobody else writes it */
    goto fail;
  }
  fd_close(fd);
  r = fetch_state_parse(st, sa.s, sa.len);
  stralloc_free(&sa);
  return r;
fail:
  {
    int e = errno;
    fd_close(fd);
    stralloc_free(&sa);
    errno = e;
  }
  return -1;
}

int fetch_state_save(fetch_state *st, char const *name)
{
  char fn[PATH_LEN], tmp[PATH_LEN];
  int fd;
  path(fn, name, "");
  path(tmp, name, ".tmp");
  fd = open3(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (allwrite(fd, STATE_HEAD, sizeof STATE_HEAD - 1) < sizeof STATE_HEAD - 1
      || allwrite(fd, st->keys.s, st->keys.len) < st->keys.len || fsync(fd) < 0) {
    int e = errno;
    fd_close(fd);
    unlink(tmp);
    errno = e;
    return -1;
  }
  if (close(fd) < 0 || rename(tmp, fn) < 0) {
    int e = errno;
    unlink(tmp);
    errno = e;
    return -1;
  }
  /* the rename is durable only once the folder is */
  fd = open_read(STATE_DIR);
  if (fd < 0) return -1;
  if (fsync(fd) < 0) {
    int e = errno;
    fd_close(fd);
    errno = e;
    return -1;
  }
  fd_close(fd);
  st->changed = 0;
  return 0;
}

void fetch_state_free(fetch_state *st) { stralloc_free(&st->keys); }
