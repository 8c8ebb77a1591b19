/* The Maildir of a POP3 session (cwd): the listing of new/ and cur/, the UIDLs, and the
   UPDATE state. Listing costs a readdir and an fstatat per message and reads no message,
   so 100,000 messages list in a fraction of a second, as long as their names carry ",W="
   (mailroom-local, Courier and Dovecot write it); a message without one (an older
   delivery, a file put there by hand) is read once to count its size as RETR sends it,
   and gets the ",W=" at UPDATE. Nothing is changed before UPDATE: deletions, the move
   from new/ to cur/ and the added sizes happen only after QUIT. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/sha256.h>
#include "crlfsize.h"
#include "pop3d.h"

static char const *const subdir[2] = { "new", "cur" };

struct pop3_msg *pop3_box_msg(struct pop3_box const *b, size_t i)
{
  return genalloc_s(struct pop3_msg, &b->msgs) + i;
}

char const *pop3_box_name(struct pop3_box const *b, size_t i)
{
  return b->names.s + pop3_box_msg(b, i)->name;
}

/* Room for more bytes, doubling: 100,000 names are not copied over and over. */
static int grow(stralloc *sa, size_t more)
{
  return sa->len + more <= sa->a || stralloc_ready_tuned(sa, sa->len + more, 65536, 1, 1);
}

/* The size of a message as RETR sends it, read from the file (lib/crlfsize.h is the same
   count as pop3d_xform.c). 0, or -1 when it cannot be read (the caller falls back on the
   file's size: RETR will fail on it anyway). */
static int count(int dfd, char const *name, uint64_t *size)
{
  char buf[65536];
  crlfsize c;
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  crlfsize_init(&c);
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      close(fd);
      return -1;
    }
    if (!r) break;
    crlfsize_feed(&c, buf, (size_t)r);
  }
  close(fd);
  *size = crlfsize_end(&c);
  return 0;
}

/* The size of a listed message: a ",W=" the name has, unless its ",S=" says the file is
   not the one it was counted for; else counted. */
static void msgsize(int dfd, char const *name, size_t len, struct stat const *st, struct pop3_msg *m)
{
  uint64_t w, sz;
  int hasw = pop3_name_vsize(name, len, &w), hass = pop3_name_ssize(name, len, &sz);
  m->addw = 0;
  if (hasw && (!hass || sz == (uint64_t)st->st_size)) {
    m->size = w;
    return;
  }
  if (count(dfd, name, &m->size) < 0) {
    m->size = (uint64_t)st->st_size;
    return;
  }
  m->addw = !hasw; /* a wrong W= stays: renaming it would change the UIDL */
}

static int listdir(struct pop3_box *b, int cur)
{
  int fd = open(subdir[cur], O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd;
  DIR *d;
  if (fd < 0) return -1;
  b->dirfd[cur] = fd;
  dfd = dup(fd);
  if (dfd < 0) return -1;
  d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return -1;
  }
  for (;;) {
    struct dirent *e;
    struct stat st;
    struct pop3_msg m;
    size_t len;
    errno = 0;
    e = readdir(d);
    if (!e) break;
    if (e->d_name[0] == '.') continue; /* Maildir: names starting with a dot are not mail */
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
    len = strlen(e->d_name);
    if (len > POP3_NAME_MAX) continue;
    if (b->n >= POP3_MSG_MAX) {
      b->skipped++;
      continue;
    }
    if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue; /* gone since readdir: another reader's business */
      goto fail;
    }
    if (!S_ISREG(st.st_mode)) continue;
    m.name = b->names.len;
    m.uidl = 0;
    msgsize(fd, e->d_name, len, &st, &m);
    m.mtime = (int64_t)st.st_mtim.tv_sec;
    m.mtimens = st.st_mtim.tv_nsec;
    m.cur = (unsigned char)cur;
    m.deleted = 0;
    if (!grow(&b->names, len + 1) || !stralloc_catb(&b->names, e->d_name, len + 1)) goto fail;
    if (!grow(&b->msgs, sizeof m) || !genalloc_append(struct pop3_msg, &b->msgs, &m)) goto fail;
    b->n++;
  }
  if (errno) goto fail;
  closedir(d);
  return 0;
fail:
  {
    int e = errno;
    closedir(d);
    errno = e;
  }
  return -1;
}

static int bytime(void const *a, void const *b, void *names)
{
  struct pop3_msg const *x = a, *y = b;
  if (x->mtime != y->mtime) return x->mtime < y->mtime ? -1 : 1;
  if (x->mtimens != y->mtimens) return x->mtimens < y->mtimens ? -1 : 1;
  return strcmp((char const *)names + x->name, (char const *)names + y->name);
}

int pop3_box_scan(struct pop3_box *b)
{
  memset(b, 0, sizeof *b);
  b->dirfd[0] = b->dirfd[1] = -1;
  if (listdir(b, 0) < 0 || listdir(b, 1) < 0) return -1;
  if (b->n > 1) qsort_r(b->msgs.s, b->n, sizeof(struct pop3_msg), &bytime, b->names.s);
  for (size_t i = 0; i < b->n; i++) b->total += pop3_box_msg(b, i)->size;
  return 0;
}

static int byuidl(void const *a, void const *b, void *box)
{
  struct pop3_box const *bx = box;
  size_t i = *(size_t const *)a, j = *(size_t const *)b;
  int r = strcmp(bx->uidls.s + pop3_box_msg(bx, i)->uidl, bx->uidls.s + pop3_box_msg(bx, j)->uidl);
  return r ? r : (i < j ? -1 : i > j);
}

/* A second UIDL for a message whose unique part another message has too (a Maildir a
   careless tool copied into): the hash of its folder and whole name, unique as paths are. */
static int rehash(struct pop3_box *b, size_t i)
{
  static char const hex[] = "0123456789abcdef";
  struct pop3_msg *m = pop3_box_msg(b, i);
  char const *name = pop3_box_name(b, i);
  char u[66], digest[32];
  SHA256Schedule ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, subdir[m->cur], 3);
  sha256_update(&ctx, "/", 1);
  sha256_update(&ctx, name, strlen(name));
  sha256_final(&ctx, digest);
  u[0] = 'H';
  for (int k = 0; k < 32; k++) {
    u[1 + 2 * k] = hex[(unsigned char)digest[k] >> 4];
    u[2 + 2 * k] = hex[(unsigned char)digest[k] & 15];
  }
  u[65] = 0;
  m->uidl = b->uidls.len;
  return stralloc_catb(&b->uidls, u, 66) ? 0 : -1;
}

int pop3_box_uidls(struct pop3_box *b)
{
  size_t *idx;
  if (b->uidlsdone) return 0;
  for (size_t i = 0; i < b->n; i++) {
    char u[POP3_UIDL_MAX + 1];
    char const *name = pop3_box_name(b, i);
    size_t len = pop3_uidl(name, strlen(name), u);
    pop3_box_msg(b, i)->uidl = b->uidls.len;
    if (!grow(&b->uidls, len + 1) || !stralloc_catb(&b->uidls, u, len + 1)) return -1;
  }
  if (b->n > 1) {
    idx = malloc(b->n * sizeof *idx);
    if (!idx) return -1;
    for (size_t i = 0; i < b->n; i++) idx[i] = i;
    qsort_r(idx, b->n, sizeof *idx, &byuidl, b);
    /* Equal UIDLs are now side by side; the first of each run keeps its own. Offsets, not
       pointers: rehash() may move uidls.s. */
    size_t head = pop3_box_msg(b, idx[0])->uidl;
    for (size_t k = 1; k < b->n; k++) {
      size_t off = pop3_box_msg(b, idx[k])->uidl;
      if (strcmp(b->uidls.s + head, b->uidls.s + off) != 0) {
        head = off;
      } else if (rehash(b, idx[k]) < 0) {
        free(idx);
        return -1;
      }
    }
    free(idx);
  }
  b->uidlsdone = 1;
  return 0;
}

char const *pop3_box_uidl(struct pop3_box const *b, size_t i)
{
  return b->uidls.s + pop3_box_msg(b, i)->uidl;
}

int pop3_box_open(struct pop3_box const *b, size_t i)
{
  struct pop3_msg const *m = pop3_box_msg(b, i);
  return openat(b->dirfd[m->cur], b->names.s + m->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

size_t pop3_box_expunge(struct pop3_box *b)
{
  size_t failed = 0;
  int touched[2] = { 0, 0 };
  for (size_t i = 0; i < b->n; i++) {
    struct pop3_msg *m = pop3_box_msg(b, i);
    if (!m->deleted) continue;
    if (unlinkat(b->dirfd[m->cur], b->names.s + m->name, 0) < 0 && errno != ENOENT) failed++;
    else touched[m->cur] = 1;
  }
  /* The client is told the messages are gone: make that survive a crash. */
  for (int k = 0; k < 2; k++)
    if (touched[k]) fsync(b->dirfd[k]);
  return failed;
}

void pop3_box_tocur(struct pop3_box *b)
{
  for (size_t i = 0; i < b->n; i++) {
    struct pop3_msg *m = pop3_box_msg(b, i);
    char const *name = b->names.s + m->name;
    char const *info = strchr(name, ':');
    size_t blen = info ? (size_t)(info - name) : strlen(name);
    char to[POP3_NAME_MAX + 32];
    char w[32];
    int n;
    if (m->deleted || (m->cur && !m->addw)) continue;
    w[0] = 0;
    if (m->addw) snprintf(w, sizeof w, ",W=%llu", (unsigned long long)m->size);
    /* new/ names carry no info; one that does keeps it. Never replace a file. */
    n = snprintf(to, sizeof to, "%.*s%s%s", (int)blen, name, w, info ? info : ":2,");
    if (n < 0 || (size_t)n > POP3_NAME_MAX) {
      if (m->cur) continue;
      n = snprintf(to, sizeof to, info ? "%s" : "%s:2,", name); /* no room for the size */
      if (n < 0 || (size_t)n > POP3_NAME_MAX) continue;
    }
    (void)renameat2(b->dirfd[m->cur], name, b->dirfd[1], to, RENAME_NOREPLACE);
  }
}

void pop3_box_free(struct pop3_box *b)
{
  for (int k = 0; k < 2; k++)
    if (b->dirfd[k] >= 0) close(b->dirfd[k]);
  b->dirfd[0] = b->dirfd[1] = -1;
  stralloc_free(&b->names);
  genalloc_free(struct pop3_msg, &b->msgs);
  stralloc_free(&b->uidls);
}
