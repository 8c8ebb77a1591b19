/* Unit tests of lib/maildir.c: unique names, host escaping, deliveries into a temporary
   Maildir (bytes exact, mode 0600), and failures that must leave tmp/ empty. One PASS/FAIL
   line per case; exit 1 if any failed. Needs no root; removes its folder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "maildir.h"

struct tally { int pass, fail; };

static void check(struct tally *t, int ok, char const *label)
{
  printf("%s maildir: %s\n", ok ? "PASS" : "FAIL", label);
  if (ok) t->pass++;
  else t->fail++;
}

/* Number of entries of dir other than . and .., or -1; the last one's name into last. */
static int count(char const *dir, char *last, size_t n)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int c = 0;
  if (!d) return -1;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    c++;
    if (last) snprintf(last, n, "%s", e->d_name);
  }
  closedir(d);
  return c;
}

static int mkmaildir(char const *base, char const *name, int withnew)
{
  char p[512];
  snprintf(p, sizeof p, "%s/%s", base, name);
  if (mkdir(p, 0700) < 0) return -1;
  snprintf(p, sizeof p, "%s/%s/tmp", base, name);
  if (mkdir(p, 0700) < 0) return -1;
  snprintf(p, sizeof p, "%s/%s/cur", base, name);
  if (mkdir(p, 0700) < 0) return -1;
  if (!withnew) return 0;
  snprintf(p, sizeof p, "%s/%s/new", base, name);
  return mkdir(p, 0700);
}

/* Reads a whole small file into buf; its length or -1. */
static long slurp(char const *fn, char *buf, size_t n)
{
  int fd = open(fn, O_RDONLY);
  long len = 0;
  ssize_t r;
  if (fd < 0) return -1;
  while ((r = read(fd, buf + len, n - (size_t)len)) > 0) len += r;
  close(fd);
  return r < 0 ? -1 : len;
}

static void name_cases(struct tally *t)
{
  char h[4 * MAILDIR_HOST_MAX + 1];
  char s[MAILDIR_NAME_MAX];
  char longhost[200];
  int n;

  maildir_hostesc(h, "mx.example.org");
  check(t, !strcmp(h, "mx.example.org"), "host plain");
  maildir_hostesc(h, "a/b:c");
  check(t, !strcmp(h, "a\\057b\\072c"), "host / and : escaped");
  maildir_hostesc(h, "");
  check(t, !strcmp(h, "localhost"), "empty host");
  memset(longhost, ':', sizeof longhost - 1);
  longhost[sizeof longhost - 1] = 0;
  maildir_hostesc(h, longhost);
  check(t, strlen(h) == 4 * (size_t)MAILDIR_HOST_MAX, "long host cut, then escaped");

  n = maildir_name(s, sizeof s, 1763893836ULL, 42117, 4711, 3, "mx");
  check(t, n > 0 && !strcmp(s, "1763893836.M42117P4711Q3.mx"), "name format");
  maildir_hostesc(h, longhost);
  n = maildir_name(s, sizeof s, 18446744073709551615ULL, 999999, 4294967295UL,
                   18446744073709551615UL, h);
  check(t, n > 0 && (size_t)n < sizeof s, "longest name fits MAILDIR_NAME_MAX");
  errno = 0;
  check(t, maildir_name(s, 10, 1, 2, 3, 4, "host") == -1 && errno == ENAMETOOLONG,
        "name too long for the buffer");
}

static void delivery_cases(struct tally *t, char const *base)
{
  static char const head[] = "Return-Path: <a@b>\nDelivered-To: u@x\n";
  maildir_ctx ctx = MAILDIR_CTX_ZERO;
  char msgfn[512], dir[512], p[1024], name[4 + MAILDIR_NAME_MAX], name2[4 + MAILDIR_NAME_MAX];
  char *big, *got;
  size_t biglen = 300000 + 17; /* several copy buffers and a ragged end */
  size_t envlen = 40;
  struct stat st;
  int fd, stage, r;
  long len;

  big = malloc(biglen + envlen);
  got = malloc(biglen + envlen + 1024);
  if (!big || !got) {
    free(big);
    free(got);
    check(t, 0, "malloc");
    return;
  }
  for (size_t i = 0; i < biglen; i++) big[i] = (char)(i % 251 ? 'a' + i % 26 : '\n');
  big[5] = 0; /* bytes are bytes, NULs included */
  memset(big + biglen, 'E', envlen); /* stands for the envelope: must never be copied */
  snprintf(msgfn, sizeof msgfn, "%s/message", base);
  fd = open(msgfn, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, big, biglen + envlen) != (ssize_t)(biglen + envlen)) {
    check(t, 0, "write message file");
    return;
  }

  mkmaildir(base, "Maildir", 1);
  snprintf(dir, sizeof dir, "%s/Maildir/", base);
  r = maildir_deliver(&ctx, dir, head, sizeof head - 1, fd, 0, biglen, name, sizeof name, &stage);
  check(t, r == 0 && stage == MAILDIR_SOK && !strncmp(name, "new/", 4), "deliver");
  snprintf(p, sizeof p, "%s%s", dir, name);
  len = slurp(p, got, biglen + envlen + 1024);
  check(t, len == (long)(sizeof head - 1 + biglen) && !memcmp(got, head, sizeof head - 1)
           && !memcmp(got + sizeof head - 1, big, biglen),
        "content byte-exact, nothing after msglen");
  check(t, !stat(p, &st) && (st.st_mode & 07777) == 0600, "mode 0600");
  {
    /* ",S=" the octets on disk, ",W=" with CR LF: one LF per 251 bytes of big, 2 in head */
    char want[64];
    unsigned long long lfs = 2;
    for (size_t i = 0; i < biglen; i++) lfs += big[i] == '\n';
    snprintf(want, sizeof want, ",S=%llu,W=%llu", (unsigned long long)len,
             (unsigned long long)len + lfs + (big[biglen - 1] != '\n' ? 2 : 0));
    check(t, strlen(name) > strlen(want) && !strcmp(name + strlen(name) - strlen(want), want),
          "name ends with ,S=size,W=size with CR LF");
  }
  snprintf(p, sizeof p, "%stmp", dir);
  check(t, count(p, 0, 0) == 0, "tmp/ empty after delivery");

  r = maildir_deliver(&ctx, dir, "", 0, fd, 10, 5, name2, sizeof name2, &stage);
  snprintf(p, sizeof p, "%s%s", dir, name2);
  len = slurp(p, got, 100);
  check(t, r == 0 && strcmp(name, name2) != 0 && len == 5 && !memcmp(got, big + 10, 5),
        "second delivery: another name, offset honoured");
  check(t, ctx.count == 2 && strstr(name2, "Q2."), "Q counter counts deliveries");
  r = maildir_deliver(&ctx, dir, head, sizeof head - 1, fd, 0, 0, name2, sizeof name2, &stage);
  snprintf(p, sizeof p, "%s%s", dir, name2);
  len = slurp(p, got, 100);
  check(t, r == 0 && len == (long)(sizeof head - 1), "empty message");

  /* Failures: nothing may stay in tmp/. */
  mkmaildir(base, "NoNew", 0);
  snprintf(dir, sizeof dir, "%s/NoNew/", base);
  errno = 0;
  r = maildir_deliver(&ctx, dir, head, sizeof head - 1, fd, 0, biglen, name, sizeof name, &stage);
  check(t, r == -1 && stage == MAILDIR_SNEW && errno == ENOENT, "new/ missing: SNEW ENOENT");
  snprintf(p, sizeof p, "%stmp", dir);
  check(t, count(p, 0, 0) == 0, "new/ missing: tmp/ left empty");

  snprintf(dir, sizeof dir, "%s/Maildir/", base);
  errno = 0;
  r = maildir_deliver(&ctx, dir, head, sizeof head - 1, fd, 0, biglen + envlen + 1, name,
                      sizeof name, &stage);
  check(t, r == -1 && stage == MAILDIR_SREAD && errno == EPROTO, "short file: SREAD EPROTO");
  snprintf(p, sizeof p, "%stmp", dir);
  check(t, count(p, 0, 0) == 0, "short file: tmp/ left empty");

  r = maildir_deliver(&ctx, dir, head, sizeof head - 1, -1, 0, 10, name, sizeof name, &stage);
  check(t, r == -1 && stage == MAILDIR_SREAD && errno == EBADF && count(p, 0, 0) == 0,
        "unreadable message: SREAD, tmp/ empty");

  snprintf(dir, sizeof dir, "%s/Missing/", base);
  errno = 0;
  r = maildir_deliver(&ctx, dir, head, sizeof head - 1, fd, 0, 10, name, sizeof name, &stage);
  check(t, r == -1 && stage == MAILDIR_SDIR && errno == ENOENT, "maildir missing: SDIR ENOENT");

  snprintf(p, sizeof p, "%s/NoTmp", base);
  mkdir(p, 0700);
  snprintf(dir, sizeof dir, "%s/NoTmp/", base);
  errno = 0;
  r = maildir_deliver(&ctx, dir, head, sizeof head - 1, fd, 0, 10, name, sizeof name, &stage);
  check(t, r == -1 && stage == MAILDIR_STMP && errno == ENOENT, "tmp/ missing: STMP ENOENT");

  /* A write that fails half way (as on a full disk): a file size limit, with SIGXFSZ
     ignored so that write() says EFBIG instead of killing us. */
  {
    struct rlimit old, lim;
    snprintf(dir, sizeof dir, "%s/Maildir/", base);
    snprintf(p, sizeof p, "%stmp", dir);
    (void)signal(SIGXFSZ, SIG_IGN);
    if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
      lim = old;
      lim.rlim_cur = 100000;
      if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        errno = 0;
        r = maildir_deliver(&ctx, dir, head, sizeof head - 1, fd, 0, biglen, name, sizeof name,
                            &stage);
        int e = errno;
        setrlimit(RLIMIT_FSIZE, &old);
        check(t, r == -1 && stage == MAILDIR_SWRITE && e == EFBIG, "write fails half way: SWRITE");
        check(t, count(p, 0, 0) == 0, "write fails half way: tmp/ left empty");
      } else check(t, 0, "setrlimit");
    }
    (void)signal(SIGXFSZ, SIG_DFL);
  }
  close(fd);
  free(big);
  free(got);
}

int main(void)
{
  struct tally t = { 0, 0 };
  char base[] = "/tmp/mailroom-test-maildir.XXXXXX";
  char cmd[128];
  if (!mkdtemp(base)) {
    printf("FAIL maildir: mkdtemp\n");
    return 1;
  }
  name_cases(&t);
  delivery_cases(&t, base);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", base);
  printf("# maildir: %d passed, %d failed\n", t.pass, t.fail);
  return t.fail ? 1 : 0;
}
