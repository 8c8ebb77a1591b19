/* Maildir names and deliveries. The file is written in tmp/ under a name nobody else can
   take (O_EXCL), fsynced, linked into new/, and new/ is fsynced before success is said:
   a reader never sees a partial message, and a crash loses nothing that was reported.
   A process with several deliveries in hand writes them all to tmp/ first
   (maildir_write_tmp), then makes them durable together (maildir_commit_many): every file
   fsynced, every name linked, each distinct new/ fsynced once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include "crlfsize.h"
#include "maildir.h"

void maildir_hostesc(char *d, char const *host)
{
  size_t j = 0;
  if (!*host) host = "localhost";
  for (size_t i = 0; i < MAILDIR_HOST_MAX && host[i]; i++) {
    char c = host[i];
    if (c == '/' || c == ':') {
      memcpy(d + j, c == '/' ? "\\057" : "\\072", 4);
      j += 4;
    } else d[j++] = c;
  }
  d[j] = 0;
}

int maildir_name(char *s, size_t n, unsigned long long sec, unsigned long usec,
                 unsigned long pid, unsigned long count, char const *eschost)
{
  int r = snprintf(s, n, "%llu.M%luP%luQ%lu.%s", sec, usec, pid, count, eschost);
  if (r < 0 || (size_t)r >= n) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return r;
}

int maildir_sized(char *s, size_t n, char const *name, unsigned long long size, unsigned long long wsize)
{
  int r = snprintf(s, n, "new/%s,S=%llu,W=%llu", name, size, wsize);
  if (r < 0 || (size_t)r >= n) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return r;
}

/* A bounded output buffer over one fd, counting what goes through it for the name. */
typedef struct wbuf_s wbuf;
struct wbuf_s {
  int fd;
  size_t len;
  unsigned long long size;
  crlfsize cs;
  char buf[MAILDIR_BUFSIZE];
};

static int wbuf_flush(wbuf *w)
{
  size_t done = 0;
  w->size += w->len;
  crlfsize_feed(&w->cs, w->buf, w->len);
  while (done < w->len) {
    ssize_t r = write(w->fd, w->buf + done, w->len - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    done += (size_t)r;
  }
  w->len = 0;
  return 0;
}

static int wbuf_put(wbuf *w, char const *s, size_t n)
{
  while (n) {
    size_t k = sizeof w->buf - w->len;
    if (k > n) k = n;
    memcpy(w->buf + w->len, s, k);
    w->len += k;
    s += k;
    n -= k;
    if (w->len == sizeof w->buf && wbuf_flush(w) < 0) return -1;
  }
  return 0;
}

/* Copies len bytes of fd from off into w, reading straight into w's free space. Returns 0,
   -1 with *stage = MAILDIR_SREAD (read) or MAILDIR_SWRITE (write). */
static int copy_message(wbuf *w, int fd, unsigned long long off, unsigned long long len,
                        int *stage)
{
  while (len) {
    size_t k = sizeof w->buf - w->len;
    ssize_t r;
    if (!k) {
      if (wbuf_flush(w) < 0) return (*stage = MAILDIR_SWRITE, -1);
      continue;
    }
    if (k > len) k = (size_t)len;
    r = pread(fd, w->buf + w->len, k, (off_t)off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return (*stage = MAILDIR_SREAD, -1);
    }
    if (!r) {
      errno = EPROTO; /* the file is shorter than the caller said */
      return (*stage = MAILDIR_SREAD, -1);
    }
    w->len += (size_t)r;
    off += (unsigned long long)r;
    len -= (unsigned long long)r;
  }
  return 0;
}

/* Creates tmp/NAME with O_EXCL; on a clash (another process with our pid on another host
   of a shared Maildir, or a clock that went back) takes the next counter. */
static int create_tmp(maildir_ctx *ctx, int dfd, char *tmpname, size_t n)
{
  struct timeval tv;
  unsigned long pid = (unsigned long)getpid();
  for (unsigned int i = 0; i < MAILDIR_TRIES; i++) {
    int fd;
    gettimeofday(&tv, 0);
    memcpy(tmpname, "tmp/", 4);
    if (maildir_name(tmpname + 4, n - 4, (unsigned long long)tv.tv_sec,
                     (unsigned long)tv.tv_usec, pid, ++ctx->count, ctx->host) < 0)
      return -1;
    fd = openat(dfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

/* link() keeps the rule "never overwrite"; a file system without hard links gets rename(). */
static int move_new(int dfd, char const *tmpname, char const *newname)
{
  if (!linkat(dfd, tmpname, dfd, newname, 0)) {
    unlinkat(dfd, tmpname, 0);
    return 0;
  }
  if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP) return -1;
  return renameat(dfd, tmpname, dfd, newname);
}

static int sync_new(int dfd)
{
  int fd = openat(dfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r;
  if (fd < 0) return -1;
  r = fsync(fd);
  /* Some file systems cannot fsync a directory; their renames are as durable as they get. */
  if (r < 0 && (errno == EINVAL || errno == EROFS)) r = 0;
  if (r < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  close(fd);
  return 0;
}

int maildir_write_tmp(maildir_ctx *ctx, char const *dir, char const *head, size_t headlen,
                      int fd, unsigned long long off, unsigned long long len, maildir_tmp *t)
{
  wbuf w;
  int e;

  t->fd = -1;
  t->err = 0;
  t->stage = MAILDIR_SDIR;
  t->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (t->dfd < 0) return (t->err = errno, -1);
  if (!ctx->host[0]) {
    char h[MAILDIR_HOST_MAX + 1];
    if (gethostname(h, sizeof h) < 0) h[0] = 0;
    h[MAILDIR_HOST_MAX] = 0;
    maildir_hostesc(ctx->host, h);
  }

  t->stage = MAILDIR_STMP;
  w.len = 0;
  w.size = 0;
  crlfsize_init(&w.cs);
  w.fd = create_tmp(ctx, t->dfd, t->tmpname, sizeof t->tmpname);
  if (w.fd < 0) goto fail_dir;

  t->stage = MAILDIR_SWRITE;
  if (wbuf_put(&w, head, headlen) < 0) goto fail_file;
  if (copy_message(&w, fd, off, len, &t->stage) < 0) goto fail_file;
  t->stage = MAILDIR_SWRITE;
  if (wbuf_flush(&w) < 0) goto fail_file;
  /* the sizes go in the unique part, before any ":2," info (Courier, Dovecot) */
  if (maildir_sized(t->newname, sizeof t->newname, t->tmpname + 4, w.size, crlfsize_end(&w.cs)) < 0) goto fail_file;
  t->fd = w.fd;
  t->stage = MAILDIR_SOK;
  return 0;

fail_file:
  e = errno;
  close(w.fd);
  unlinkat(t->dfd, t->tmpname, 0);
  errno = e;
fail_dir:
  t->err = errno;
  close(t->dfd);
  t->dfd = -1;
  errno = t->err;
  return -1;
}

void maildir_abort(maildir_tmp *t)
{
  if (t->fd >= 0) close(t->fd);
  if (t->dfd >= 0) {
    unlinkat(t->dfd, t->tmpname, 0);
    close(t->dfd);
  }
  t->fd = t->dfd = -1;
}

static void tmp_failed(maildir_tmp *t, int stage)
{
  int e = errno;
  maildir_abort(t);
  t->stage = stage;
  t->err = e;
}

/* Two Maildir folders are the same when their new/ is: one fsync covers both. */
static int same_dir(int a, int b)
{
  struct stat sa, sb;
  if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0) return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void maildir_commit_many(maildir_tmp *const *t, size_t n)
{
  /* 1. every file's data on disk, before any name in new/ points at it */
  for (size_t i = 0; i < n; i++) {
    if (t[i]->stage != MAILDIR_SOK || t[i]->dfd < 0) continue;
    if (fsync(t[i]->fd) < 0) {
      tmp_failed(t[i], MAILDIR_SWRITE);
      continue;
    }
    if (close(t[i]->fd) < 0) { /* NFS reports quota errors here */
      t[i]->fd = -1;
      tmp_failed(t[i], MAILDIR_SWRITE);
      continue;
    }
    t[i]->fd = -1;
  }
  /* 2. the names */
  for (size_t i = 0; i < n; i++) {
    if (t[i]->stage != MAILDIR_SOK || t[i]->dfd < 0) continue;
    if (move_new(t[i]->dfd, t[i]->tmpname, t[i]->newname) < 0) tmp_failed(t[i], MAILDIR_SNEW);
  }
  /* 3. each distinct new/ once; a failure there is every one of its deliveries' */
  for (size_t i = 0; i < n; i++) {
    int r, e;
    if (t[i]->stage != MAILDIR_SOK || t[i]->dfd < 0) continue;
    r = sync_new(t[i]->dfd);
    e = errno;
    for (size_t k = n; k-- > i;) {
      if (t[k]->stage != MAILDIR_SOK || t[k]->dfd < 0) continue;
      if (k != i && !same_dir(t[i]->dfd, t[k]->dfd)) continue;
      if (r < 0) {
        t[k]->stage = MAILDIR_SSYNC; /* in new/, perhaps not durable: said so, not removed */
        t[k]->err = e;
      }
      close(t[k]->dfd);
      t[k]->dfd = -1;
    }
  }
}

int maildir_deliver(maildir_ctx *ctx, char const *dir, char const *head, size_t headlen,
                    int fd, unsigned long long off, unsigned long long len, char *name,
                    size_t namemax, int *stage)
{
  maildir_tmp t;
  maildir_tmp *one = &t;
  if (maildir_write_tmp(ctx, dir, head, headlen, fd, off, len, &t) < 0) {
    *stage = t.stage;
    return -1;
  }
  maildir_commit_many(&one, 1);
  *stage = t.stage;
  if (t.stage != MAILDIR_SOK) {
    errno = t.err;
    return -1;
  }
  if (strlen(t.newname) >= namemax) {
    errno = ENAMETOOLONG; /* delivered: only the caller's report is cut */
    if (namemax) name[0] = 0;
  } else memcpy(name, t.newname, strlen(t.newname) + 1);
  return 0;
}
