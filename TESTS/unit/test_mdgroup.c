/* lib/maildir.c's two phases (maildir_write_tmp, maildir_commit_many, maildir_abort): what a
   warm mailroom-local uses to commit several deliveries together. Real files in a
   temporary folder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "maildir.h"

static int count(char const *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void mk(char const *base, char const *name, int withnew)
{
  char p[512];
  snprintf(p, sizeof p, "%s/%s", base, name);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/%s/tmp", base, name);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/%s/cur", base, name);
  mkdir(p, 0700);
  if (withnew) {
    snprintf(p, sizeof p, "%s/%s/new", base, name);
    mkdir(p, 0700);
  }
}

static int same(char const *dir, char const *name, char const *want)
{
  char p[1024], got[256];
  int fd;
  ssize_t n;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  fd = open(p, O_RDONLY);
  if (fd < 0) return 0;
  n = read(fd, got, sizeof got);
  close(fd);
  return n == (ssize_t)strlen(want) && !memcmp(got, want, (size_t)n);
}

int main(void)
{
  char base[] = "/tmp/mdgroup.XXXXXX";
  char a[600], b[600], c[600], p[700];
  static char const msg[] = "Subject: x\n\nbody\n";
  maildir_ctx ctx = MAILDIR_CTX_ZERO;
  maildir_tmp t[4];
  maildir_tmp *v[4] = { &t[0], &t[1], &t[2], &t[3] };
  char fn[] = "/tmp/mdgroup.msg.XXXXXX";
  int fd = mkstemp(fn);
  if (!mkdtemp(base) || fd < 0 || write(fd, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1)) return 111;
  unlink(fn);
  mk(base, "A", 1);
  mk(base, "B", 0); /* no new/: the link fails */
  mk(base, "C", 1);
  snprintf(a, sizeof a, "%s/A", base);
  snprintf(b, sizeof b, "%s/B", base);
  snprintf(c, sizeof c, "%s/C", base);

  check(maildir_write_tmp(&ctx, a, "H1\n", 3, fd, 0, sizeof msg - 1, &t[0]) == 0, "write_tmp A 1", "failed");
  check(maildir_write_tmp(&ctx, b, "H2\n", 3, fd, 0, sizeof msg - 1, &t[1]) == 0, "write_tmp B", "failed");
  check(maildir_write_tmp(&ctx, a, "H3\n", 3, fd, 0, sizeof msg - 1, &t[2]) == 0, "write_tmp A 2", "failed");
  check(maildir_write_tmp(&ctx, c, "H4\n", 3, fd, 0, sizeof msg - 1, &t[3]) == 0, "write_tmp C", "failed");
  snprintf(p, sizeof p, "%s/tmp", a);
  check(count(p) == 2, "phase 1: A's files are in tmp/", "not 2");
  snprintf(p, sizeof p, "%s/new", a);
  check(count(p) == 0, "phase 1: nothing in new/ yet", "not empty");
  check(strcmp(t[0].tmpname, t[2].tmpname) != 0 && ctx.count == 4, "phase 1: names unique, counter shared", "same");
  maildir_commit_many(v, 4);
  check(t[0].stage == MAILDIR_SOK && t[2].stage == MAILDIR_SOK && t[3].stage == MAILDIR_SOK, "commit: A and C delivered",
        "stage");
  check(t[1].stage == MAILDIR_SNEW && t[1].err == ENOENT, "commit: B without new/ fails SNEW ENOENT", "stage");
  check(t[0].dfd == -1 && t[0].fd == -1 && t[1].dfd == -1 && t[1].fd == -1, "commit: every fd closed", "open");
  snprintf(p, sizeof p, "%s/tmp", b);
  check(count(p) == 0, "commit: B's tmp/ left empty", "not empty");
  snprintf(p, sizeof p, "%s/tmp", a);
  check(count(p) == 0, "commit: A's tmp/ empty", "not empty");
  snprintf(p, sizeof p, "%s/new", a);
  check(count(p) == 2, "commit: A's new/ has both", "not 2");
  check(same(a, t[0].newname, "H1\nSubject: x\n\nbody\n") && same(a, t[2].newname, "H3\nSubject: x\n\nbody\n")
          && same(c, t[3].newname, "H4\nSubject: x\n\nbody\n"),
        "commit: files byte-exact", "differ");

  check(maildir_write_tmp(&ctx, a, "H5\n", 3, fd, 0, sizeof msg - 1, &t[0]) == 0, "abort: written", "failed");
  maildir_abort(&t[0]);
  snprintf(p, sizeof p, "%s/tmp", a);
  check(count(p) == 0 && t[0].fd == -1 && t[0].dfd == -1, "abort: tmp/ empty, fds closed", "left");
  snprintf(p, sizeof p, "%s/new", a);
  check(count(p) == 2, "abort: nothing added to new/", "added");

  check(maildir_write_tmp(&ctx, a, "H6\n", 3, fd, 0, sizeof msg + 5, &t[0]) < 0 && t[0].stage == MAILDIR_SREAD
          && t[0].err == EPROTO,
        "write_tmp: a short message fails SREAD EPROTO", "stage");
  snprintf(p, sizeof p, "%s/tmp", a);
  check(count(p) == 0, "write_tmp: the short message left nothing in tmp/", "left");
  snprintf(p, sizeof p, "%s/nope", base);
  check(maildir_write_tmp(&ctx, p, "", 0, fd, 0, 1, &t[0]) < 0 && t[0].stage == MAILDIR_SDIR && t[0].err == ENOENT,
        "write_tmp: a missing Maildir fails SDIR ENOENT", "stage");
  maildir_commit_many(v, 1); /* a failed one is skipped */
  check(t[0].stage == MAILDIR_SDIR, "commit: a failed write is skipped", "changed");
  close(fd);
  {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) return 111;
  }
  printf("# mdgroup: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
