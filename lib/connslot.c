/* Slot files (lib/connslot.h). Every operation is a lock attempt or a directory entry:
   no fsync (a slot means nothing after a reboot, when no session is alive), no process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "connslot.h"

static int same_file(int dirfd, char const *name, int fd)
{
  struct stat a, b;
  if (fstat(fd, &a) < 0) return -1;
  if (fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : -1;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Slot name: 1 locked by us (fd), 0 held by another session, -1 error. The file may have
   been removed by its last holder between our open and our lock: then the lock is on a
   file nobody else will find, and we try the name again. */
static int try_name(int dirfd, char const *name, int *fdp)
{
  for (int tries = 0; tries < 8; tries++) {
    int fd = openat(dirfd, name, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    int same;
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
      int e = errno;
      close(fd);
      if (e == EWOULDBLOCK) return 0;
      return (errno = e, -1);
    }
    same = same_file(dirfd, name, fd);
    if (same > 0) {
      *fdp = fd;
      return 1;
    }
    close(fd);
    if (same < 0) return -1;
  }
  return (errno = EAGAIN, -1);
}

int connslot_take(struct connslot *s, char const *dir, char const *key, unsigned int max)
{
  unsigned int n = max ? max : CONNSLOT_ANY_MAX;
  s->fd = -1;
  s->name[0] = 0;
  if (strlen(key) > CONNLIMIT_KEY_MAX) return (errno = EINVAL, -1);
  s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->dirfd < 0) return -1;
  for (unsigned int k = 0; k < n; k++) {
    int r;
    snprintf(s->name, sizeof s->name, "%s.%u", key, k);
    r = try_name(s->dirfd, s->name, &s->fd);
    if (r) return r;
  }
  s->name[0] = 0;
  return 0;
}

void connslot_release(struct connslot *s)
{
  if (s->fd < 0) return;
  /* removed while still locked: whoever opened it meanwhile sees it gone (try_name); a
     failure (popup after its switch to the user) leaves a stale file, reused or reaped */
  (void)unlinkat(s->dirfd, s->name, 0);
  close(s->fd);
  s->fd = -1;
}

void connslot_close(struct connslot *s)
{
  connslot_release(s);
  if (s->dirfd >= 0) close(s->dirfd);
  s->dirfd = -1;
}

static int slotname(char const *n)
{
  return n[0] == 'v' && (n[1] == '4' || n[1] == '6') && n[2] == '-';
}

/* 1 held by a live session, 0 stale (removed when reap), -1 cannot tell (not ours to
   open: counted as held). */
static int held(int dirfd, char const *name, int reap)
{
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  int r;
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) r = errno == EWOULDBLOCK ? 1 : -1;
  else {
    r = 0;
    if (reap && same_file(dirfd, name, fd) > 0) unlinkat(dirfd, name, 0);
  }
  close(fd);
  return r;
}

long connslot_count(int dirfd, unsigned long exact_from, int reap)
{
  DIR *d;
  struct dirent *e;
  unsigned long names = 0, live = 0;
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  while ((e = readdir(d)))
    if (slotname(e->d_name)) names++;
  if (names >= exact_from) {
    rewinddir(d);
    while ((e = readdir(d)))
      if (slotname(e->d_name)) live += held(dirfd, e->d_name, reap) != 0;
    names = live;
  }
  closedir(d);
  return (long)names;
}

/* 1 if the flag's mtime (the last exact count) is less than CONNSLOT_FRESH seconds old. */
static int fresh(struct stat const *st)
{
  struct timespec now;
  if (clock_gettime(CLOCK_REALTIME, &now) < 0) return 0;
  return now.tv_sec - st->st_mtim.tv_sec < CONNSLOT_FRESH && now.tv_sec >= st->st_mtim.tv_sec;
}

int connslot_overloaded(int dirfd, unsigned long thr, unsigned long low, int reap, long *load, int *changed)
{
  struct stat st;
  int in = fstatat(dirfd, CONNSLOT_FLAG, &st, 0) == 0;
  long n = connslot_count(dirfd, (unsigned long)-1, 0); /* names: at least the live ones */
  *changed = 0;
  if (n < 0) return -1;
  *load = n;
  if (!in && (unsigned long)n < thr) return 0;
  if (in && (unsigned long)n >= low && fresh(&st)) return 1;
  if (!in || (unsigned long)n >= low) {
    n = connslot_count(dirfd, 0, reap);
    if (n < 0) return -1;
    *load = n;
  }
  if ((unsigned long)n >= thr || (in && (unsigned long)n >= low)) {
    if (!in) *changed = connslot_setmode(dirfd, 1);
    else (void)utimensat(dirfd, CONNSLOT_FLAG, 0, 0); /* this count is fresh for the others */
    return 1;
  }
  if (in) *changed = connslot_setmode(dirfd, 0);
  return 0;
}

int connslot_check(int dirfd, struct connlimit const *c, char const *svc)
{
  unsigned int thr = connlimit_threshold(c);
  long n;
  int changed, in = connslot_overloaded(dirfd, thr, thr - thr / 5, 1, &n, &changed);
  if (changed)
    connslot_log("overload service=%s state=%s load=%ld threshold=%u sessions=%u", svc, in > 0 ? "on" : "off", n, thr,
                 c->sessions);
  return in > 0;
}

int connslot_setmode(int dirfd, int over)
{
  if (over) {
    int fd = openat(dirfd, CONNSLOT_FLAG, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return 0;
    close(fd);
    return 1;
  }
  return unlinkat(dirfd, CONNSLOT_FLAG, 0) == 0;
}

int connslot_inmode(int dirfd)
{
  return faccessat(dirfd, CONNSLOT_FLAG, F_OK, AT_EACCESS) == 0;
}

int connlimit_load(char const *file, struct connlimit *c, unsigned int *line, char const **why)
{
  char buf[CONNLIMIT_FILE_MAX + 1];
  size_t n = 0;
  int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  *line = 0;
  *why = 0;
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof buf - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      return (errno = e, -1);
    }
    if (!r) break;
    n += (size_t)r;
    if (n == sizeof buf) break;
  }
  close(fd);
  return connlimit_parse(buf, n, c, line, why);
}

void connslot_log(char const *fmt, ...)
{
  char line[512];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  while (write(2, line, (size_t)n) < 0 && errno == EINTR) ;
}
