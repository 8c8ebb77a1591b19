/* peakrss: runs a program and prints its peak resident set (wait4's ru_maxrss) on stderr
   as "peakrss KB", then exits with its status. The parent is this small program, not a
   Python interpreter, because the kernel counts the RSS of the process before exec into
   ru_maxrss: a child forked from a 10 MB parent would report at least 10 MB.
   Usage: peakrss [-u UID -g GID] [-d DIR] PROG ARG...   (root only for -u/-g) */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  long uid = -1, gid = -1;
  char const *dir = 0;
  struct rusage ru;
  int opt, st;
  pid_t pid;
  while ((opt = getopt(argc, argv, "+u:g:d:")) != -1) {
    switch (opt) {
    case 'u': uid = strtol(optarg, 0, 10); break;
    case 'g': gid = strtol(optarg, 0, 10); break;
    case 'd': dir = optarg; break;
    default: fprintf(stderr, "usage: peakrss [-u UID -g GID] [-d DIR] PROG ARG...\n"); return 100;
    }
  }
  if (optind >= argc || (uid < 0) != (gid < 0)) {
    fprintf(stderr, "usage: peakrss [-u UID -g GID] [-d DIR] PROG ARG...\n");
    return 100;
  }
  pid = fork();
  if (pid < 0) {
    perror("peakrss: fatal: unable to fork");
    return 111;
  }
  if (!pid) {
    if (gid >= 0 && (setgroups(0, 0) < 0 || setgid((gid_t)gid) < 0 || setuid((uid_t)uid) < 0)) {
      perror("peakrss: fatal: unable to switch user");
      _exit(111);
    }
    if (dir && chdir(dir) < 0) {
      perror("peakrss: fatal: unable to chdir");
      _exit(111);
    }
    execv(argv[optind], argv + optind);
    perror("peakrss: fatal: unable to exec");
    _exit(111);
  }
  while (wait4(pid, &st, 0, &ru) < 0)
    if (errno != EINTR) {
      perror("peakrss: fatal: unable to wait");
      return 111;
    }
  fprintf(stderr, "peakrss %ld\n", ru.ru_maxrss);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
