/* floor: the fsync floor of a crash-safe queue, the baseline of `make bench`.
   Per message it does what one durable write costs at least: create a file in tmp/, write
   SIZE bytes, fsync it, rename it into new/, fsync new/. Nothing mailroom does per message
   with one durable stage can be cheaper, so every figure is also printed as a ratio to it.
   Usage: floor DIR COUNT [SIZE]   (DIR is made and emptied; prints one line:
   "floor count=N size=S secs=X rate=R") */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COUNT_MAX 1000000UL
#define SIZE_MAX_ 1048576UL

static _Noreturn void die(char const *what, char const *obj)
{
  fprintf(stderr, "floor: fatal: unable to %s %s: %s\n", what, obj, strerror(errno));
  exit(111);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long num(char const *s, unsigned long max)
{
  char *end;
  unsigned long x;
  errno = 0;
  x = strtoul(s, &end, 10);
  if (errno || !*s || *end || !x || x > max) {
    fprintf(stderr, "floor: fatal: bad number %s (1 to %lu)\n", s, max);
    exit(100);
  }
  return x;
}

int main(int argc, char **argv)
{
  char tmpd[4096], newd[4096], a[4200], b[4200];
  static char buf[SIZE_MAX_];
  unsigned long count, size = 2048;
  double t0, t1;
  int dfd;
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: floor DIR COUNT [SIZE]\n");
    return 100;
  }
  if (strlen(argv[1]) > 4000) {
    fprintf(stderr, "floor: fatal: DIR too long\n");
    return 100;
  }
  count = num(argv[2], COUNT_MAX);
  if (argc == 4) size = num(argv[3], SIZE_MAX_);
  for (unsigned long i = 0; i < size; i++) buf[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
  snprintf(tmpd, sizeof tmpd, "%s/tmp", argv[1]);
  snprintf(newd, sizeof newd, "%s/new", argv[1]);
  if (mkdir(argv[1], 0700) < 0 && errno != EEXIST) die("create", argv[1]);
  if (mkdir(tmpd, 0700) < 0 && errno != EEXIST) die("create", tmpd);
  if (mkdir(newd, 0700) < 0 && errno != EEXIST) die("create", newd);
  dfd = open(newd, O_RDONLY | O_DIRECTORY);
  if (dfd < 0) die("open", newd);
  t0 = now();
  for (unsigned long i = 0; i < count; i++) {
    size_t off = 0;
    int fd;
    snprintf(a, sizeof a, "%s/%lu", tmpd, i);
    snprintf(b, sizeof b, "%s/%lu", newd, i);
    fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) die("create", a);
    while (off < size) {
      ssize_t w = write(fd, buf + off, size - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        die("write", a);
      }
      off += (size_t)w;
    }
    if (fsync(fd) < 0) die("fsync", a);
    if (close(fd) < 0) die("close", a);
    if (rename(a, b) < 0) die("rename", a);
    if (fsync(dfd) < 0) die("fsync", newd);
  }
  t1 = now();
  for (unsigned long i = 0; i < count; i++) {
    snprintf(b, sizeof b, "%s/%lu", newd, i);
    unlink(b);
  }
  close(dfd);
  rmdir(tmpd);
  rmdir(newd);
  rmdir(argv[1]);
  printf("floor count=%lu size=%lu secs=%.6f rate=%.1f\n", count, size, t1 - t0, (double)count / (t1 - t0));
  return 0;
}
