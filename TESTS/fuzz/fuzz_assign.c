/* libFuzzer target: users/assign. The input is the text an administrator writes (what
   mailroom-newu compiles), cut into lines as mailroom-newu cuts them. Every line the
   parser accepts must give a bounded key and a value that the cdb record decoder
   (assign_unpack, which mailroom-lspawn trusts no more than the text) accepts and gives
   back field for field. The raw input is also handed to the decoder as a cdb value, as a
   cdb written by another tool could be. Then the accepted lines are compiled into a cdb
   (in a private temporary folder) and a few local parts looked up through it: whatever
   the lookup returns is a mail user (uid not 0, absolute home) with a bounded extension. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cdb.h>

#include "assign.h"

#include "fuzz.h"

#define LOOKUPS_MAX 4

static char cdbpath[80];

/* The folder is named after the process. libFuzzer ends a timed run with _Exit, so no
   atexit handler cleans up: each run removes the folders of runs that are gone instead. */
static void reap(char const *base)
{
  char p[80];
  glob_t g;
  size_t i;
  snprintf(p, sizeof p, "%s/fuzz_assign.*", base);
  if (glob(p, 0, 0, &g)) return;
  for (i = 0; i < g.gl_pathc; i++) {
    char const *dot = strrchr(g.gl_pathv[i], '.');
    long pid = dot ? strtol(dot + 1, 0, 10) : 0;
    if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
      snprintf(p, sizeof p, "%s/assign.cdb", g.gl_pathv[i]);
      unlink(p);
      rmdir(g.gl_pathv[i]);
    }
  }
  globfree(&g);
}

static void make_dir(void)
{
  /* /dev/shm when there is one: a disk-backed /tmp makes each run an order slower */
  char const *base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
  char dir[64];
  reap(base);
  snprintf(dir, sizeof dir, "%s/fuzz_assign.%ld", base, (long)getpid());
  FAIL_IF(mkdir(dir, 0700) < 0 && errno != EEXIST);
  snprintf(cdbpath, sizeof cdbpath, "%s/assign.cdb", dir);
}

static void check_user(struct assign_user const *u)
{
  FAIL_IF(!u->uid || u->uid > 4294967294UL || u->gid > 4294967294UL);
  FAIL_IF(strnlen(u->user, sizeof u->user) >= sizeof u->user || !u->user[0]);
  FAIL_IF(strnlen(u->home, sizeof u->home) >= sizeof u->home || u->home[0] != '/');
  FAIL_IF(strnlen(u->ext, sizeof u->ext) >= sizeof u->ext);
  FAIL_IF(strcmp(u->dash, "") != 0 && strcmp(u->dash, "-") != 0);
}

/* The value fields of an accepted line must come back from the decoder as they were. */
static void roundtrip(char const *val, size_t vallen)
{
  struct assign_user u;
  size_t l0, l3, l4;
  FAIL_IF(vallen > ASSIGN_VAL_MAX);
  FAIL_IF(assign_unpack(val, vallen, &u) < 0);
  check_user(&u);
  l0 = strlen(val);
  FAIL_IF(strcmp(u.user, val) != 0);
  val += l0 + 1;
  val += strlen(val) + 1; /* uid */
  val += strlen(val) + 1; /* gid */
  l3 = strlen(val);
  FAIL_IF(strcmp(u.home, val) != 0);
  val += l3 + 1;
  l4 = strlen(val);
  FAIL_IF(strcmp(u.dash, val) != 0);
  val += l4 + 1;
  FAIL_IF(strcmp(u.ext, val) != 0);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *s = (char const *)data;
  static char key[ASSIGN_KEY_MAX + 1], val[ASSIGN_VAL_MAX], look[LOOKUPS_MAX][ASSIGN_FIELD_MAX + 8];
  struct assign_user u;
  struct cdb_make cm;
  size_t pos = 0, nlook = 0, i;
  int fd, r = 1;

  if (size > (size_t)64 * 1024) return 0;
  if (assign_unpack(s, size, &u) == 0) check_user(&u);
  if (!*cdbpath) make_dir();
  fd = open(cdbpath, O_RDWR | O_CREAT | O_TRUNC, 0600); /* read too: CDB_PUT_INSERT looks */
  FAIL_IF(fd < 0);
  FAIL_IF(cdb_make_start(&cm, fd) < 0);
  while (pos < size && r > 0) {
    char const *nl = memchr(s + pos, '\n', size - pos);
    size_t len = nl ? (size_t)(nl - (s + pos)) : size - pos, keylen = 0, vallen = 0;
    char const *why = 0;
    if (len > ASSIGN_LINE_MAX) break; /* mailroom-newu refuses the file there */
    r = assign_parseline(s + pos, len, key, &keylen, ASSIGN_KEY_MAX, val, &vallen, sizeof val, &why);
    pos += len + 1;
    if (r < 0) {
      FAIL_IF(!why || errno != EINVAL);
      break;
    }
    if (!r) break;
    FAIL_IF(keylen < 1 || keylen > ASSIGN_KEY_MAX || (key[0] != '=' && key[0] != '+'));
    for (i = 1; i < keylen; i++) FAIL_IF(key[i] >= 'A' && key[i] <= 'Z');
    roundtrip(val, vallen);
    FAIL_IF(cdb_make_put(&cm, key, (unsigned)keylen, val, (unsigned)vallen, CDB_PUT_INSERT) < 0);
    if (nlook < LOOKUPS_MAX) {
      /* the entry's own local part, and for a wildcard one with more after it */
      memcpy(look[nlook], key + 1, keylen - 1);
      if (key[0] == '+') memcpy(look[nlook] + keylen - 1, "Ext-A", 6);
      else look[nlook][keylen - 1] = 0;
      nlook++;
    }
  }
  FAIL_IF(cdb_make_finish(&cm) < 0);
  close(fd);
  for (i = 0; i < nlook; i++) {
    if (!look[i][0]) continue;
    r = assign_lookup(cdbpath, look[i], &u);
    if (r == 1) check_user(&u);
  }
  return 0;
}
