/* libFuzzer target: control files. The input is a control file as an administrator (or a
   careless script) writes it. It is put in a private temporary folder and read the ways
   the programs read control files: control_readline (control/me), control_readulong
   (the numbers of mailroom-send), control_readlines (control/locals, smtproutes,
   tlsdomains), and ctlmap's line-by-line lookup (control/rcpthosts, recipients). The two
   line readers must agree on which keys are in the file. The lines are then parsed as
   control/smtproutes and control/tlsdomains for the domains they name: a route found has
   a bounded host, a real port and, for a literal, its address. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "ctlmap.h"
#include "../../remote/remote.h"

#include "fuzz.h"

#define KEYS_MAX 8
#define FILE_MAX (1UL << 20)

static int dirfd_tmp = -1, dirfd_cwd = -1;

/* The folder is named after the process. libFuzzer ends a timed run with _Exit, so no
   atexit handler cleans up: each run removes the folders of runs that are gone instead. */
static void reap(char const *base)
{
  char p[100];
  glob_t g;
  size_t i;
  snprintf(p, sizeof p, "%s/fuzz_control.*", base);
  if (glob(p, 0, 0, &g)) return;
  for (i = 0; i < g.gl_pathc; i++) {
    char const *dot = strrchr(g.gl_pathv[i], '.');
    long pid = dot ? strtol(dot + 1, 0, 10) : 0;
    if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
      snprintf(p, sizeof p, "%s/control/x", g.gl_pathv[i]);
      unlink(p);
      snprintf(p, sizeof p, "%s/control", g.gl_pathv[i]);
      rmdir(p);
      rmdir(g.gl_pathv[i]);
    }
  }
  globfree(&g);
}

/* ctlmap reads control/NAME relative to the cwd, so the lookups run with the cwd in the
   temporary folder; the fuzzer's own paths (the corpus, artifacts) are relative to the
   cwd it started in, which is restored after every input. */
static void make_dir(void)
{
  char const *base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
  char dir[64], sub[80];
  reap(base);
  snprintf(dir, sizeof dir, "%s/fuzz_control.%ld", base, (long)getpid());
  snprintf(sub, sizeof sub, "%s/control", dir);
  FAIL_IF(mkdir(dir, 0700) < 0 && errno != EEXIST);
  FAIL_IF(mkdir(sub, 0700) < 0 && errno != EEXIST);
  dirfd_tmp = open(dir, O_RDONLY | O_DIRECTORY);
  dirfd_cwd = open(".", O_RDONLY | O_DIRECTORY);
  FAIL_IF(dirfd_tmp < 0 || dirfd_cwd < 0);
}

static void readers(char const *s, size_t n)
{
  char line[CONTROL_LINE_MAX];
  unsigned long u = 7;
  int r = control_readline("control/x", line, sizeof line, "dflt");
  size_t l;
  if (r == 1) {
    l = strlen(line);
    FAIL_IF(!l || l >= sizeof line || memchr(line, '\n', l) || strchr(" \t\r", line[l - 1]));
    FAIL_IF(memcmp(line, s, l) != 0 && !memchr(s, 0, l));
  } else if (r == 0) FAIL_IF(strcmp(line, "dflt") != 0);
  else FAIL_IF(errno != EOVERFLOW && errno != EINVAL);
  r = control_readulong("control/x", &u, 42);
  if (!r) FAIL_IF(u != 42);
  /* a buffer of 1 byte holds only "": the default is cut, never overrun */
  r = control_readline("control/x", line, 1, "dflt");
  FAIL_IF(r == 1 || (r == 0 && line[0]));
  (void)n;
}

static void routes(char const *lines, size_t ln, char const *dom)
{
  route rt;
  int r = routes_find(lines, ln, dom, &rt);
  if (r == 1) {
    FAIL_IF(!rt.found || strnlen(rt.host, sizeof rt.host) >= sizeof rt.host || rt.port > 65535);
    if (rt.literal) {
      /* [ip] as routes_literal reads it, or a bare address (qmail's dns_ip) */
      unsigned char ip[16];
      int ok = routes_literal(rt.host, strlen(rt.host), ip);
      if (!ok) {
        ok = inet_pton(AF_INET, rt.host, ip + 12) == 1;
        if (ok) memset(ip, 0, 10), ip[10] = ip[11] = 0xff;
        else ok = inet_pton(AF_INET6, rt.host, ip) == 1;
      }
      FAIL_IF(!ok || memcmp(ip, rt.ip, 16) != 0);
    }
  } else FAIL_IF(r != 0 && !(r == -1 && errno == EINVAL));
  r = tlsdomains_find(lines, ln, dom);
  FAIL_IF(r < -1 || r > TLSREQ_VERIFY || (r == -1 && errno != EINVAL));
}

static void line_sets(void)
{
  char *lines = 0, dom[300];
  size_t ln = 0, i = 0, k = 0;
  int r = control_readlines("control/x", &lines, &ln, FILE_MAX);
  FAIL_IF(r != 1);
  FAIL_IF(ln && lines[ln - 1]);
  routes(lines, ln, "example.org");
  while (i < ln && k < KEYS_MAX) {
    char const *l = lines + i;
    size_t ll = strlen(l), dl;
    char const *c = memchr(l, ':', ll);
    int has, hasc;
    FAIL_IF(!ll || l[0] == '#' || strchr(" \t", l[0]) || strchr(" \t\r", l[ll - 1]));
    FAIL_IF(memchr(l, '\n', ll));
    /* both readers hold the same keys (ctlmap ignores lines over its key limit) */
    has = ctlmap_has("x", l, ll);
    hasc = control_haslinecase(lines, ln, l, ll);
    FAIL_IF(!hasc);
    if (ll <= CTLMAP_KEY_MAX) FAIL_IF(has != 1);
    /* the line's domain, as smtproutes and tlsdomains name them */
    dl = c ? (size_t)(c - l) : ll;
    if (dl < sizeof dom - 2) {
      size_t o = 0;
      if (dl && l[0] == '.') dom[o++] = 'x';
      memcpy(dom + o, l, dl);
      dom[o + dl] = 0;
      if (!memchr(dom, 0, o + dl)) routes(lines, ln, dom);
    }
    i += ll + 1;
    k++;
  }
  free(lines);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  int fd;
  if (size > FILE_MAX) return 0;
  if (dirfd_tmp < 0) make_dir();
  FAIL_IF(fchdir(dirfd_tmp) < 0);
  fd = open("control/x", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  FAIL_IF(fd < 0);
  FAIL_IF(size && write(fd, data, size) != (ssize_t)size);
  close(fd);
  readers((char const *)data, size);
  line_sets();
  FAIL_IF(fchdir(dirfd_cwd) < 0);
  return 0;
}
