/* mailroom-dkimkey: makes a DKIM key pair for a domain and prints the DNS TXT record to
   publish. Run by the administrator (root, in a set-up instance) in the instance home: it
   writes control/dkim/DOMAIN/key.pem (mrdkim, mode 0400: only mailroom-dkimsign reads it)
   and control/dkim/DOMAIN/selector, each through a temporary file, fsynced and renamed. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>

#include "auto_home.h"
#include "dkim_crypto.h"
#include "dkim_sign.h"
#include "roles.h"

#define USAGE "mailroom-dkimkey [ -t rsa|ed25519 ] [ -s selector ] [ -f ] domain"
#define PUB_MAX 1024

static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }

/* A directory of the key store: root:mrdkim 0750 as root, else ours 0700. */
static void mkdir_owned(char const *d, struct passwd const *pw)
{
  if (mkdir(d, 0700) < 0 && errno != EEXIST) strerr_diefu2sys(111, "make ", d);
  if (pw && chown(d, 0, pw->pw_gid) < 0) strerr_diefu2sys(111, "chown ", d);
  if (chmod(d, pw ? 0750 : 0700) < 0) strerr_diefu2sys(111, "chmod ", d);
}

/* fn written through fn.tmp: fsync, owner and mode, rename. The key (text 0) from k. */
static void put(char const *fn, char const *text, dkim_key *k, uid_t uid, gid_t gid, mode_t mode, int own)
{
  char tmp[600];
  int fd;
  snprintf(tmp, sizeof tmp, "%s.tmp", fn);
  unlink(tmp);
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) strerr_diefu2sys(111, "create ", tmp);
  if (k ? dkim_key_write(k, fd) < 0 : write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    strerr_diefu2sys(111, "write ", tmp);
  if (own && fchown(fd, uid, gid) < 0) strerr_diefu2sys(111, "chown ", tmp);
  if (fchmod(fd, mode) < 0) strerr_diefu2sys(111, "chmod ", tmp);
  if (fsync(fd) < 0 || close(fd) < 0) strerr_diefu2sys(111, "fsync ", tmp);
  if (rename(tmp, fn) < 0) strerr_diefu4sys(111, "rename ", tmp, " to ", fn);
}

int main(int argc, char const *const *argv)
{
  subgetopt l = SUBGETOPT_ZERO;
  char const *type = "rsa", *domain;
  char selector[64], dir[400], fn[500], pub[PUB_MAX], line[80];
  struct passwd *pw = 0;
  struct stat st;
  struct tm tm;
  time_t now = time(0);
  int force = 0, opt;
  dkim_key *k;
  size_t pn;
  PROG = "mailroom-dkimkey";
  selector[0] = 0;
  while ((opt = subgetopt_r(argc, argv, "t:s:f", &l)) != -1) switch (opt) {
      case 't': type = l.arg; break;
      case 's': snprintf(selector, sizeof selector, "%s", l.arg); if (strlen(l.arg) >= sizeof selector) die_usage(); break;
      case 'f': force = 1; break;
      default: die_usage();
    }
  argc -= l.ind;
  argv += l.ind;
  if (argc != 1) die_usage();
  domain = argv[0];
  if (strcmp(type, "rsa") != 0 && strcmp(type, "ed25519") != 0) strerr_dief2x(100, "unknown key type (rsa or ed25519): ", type);
  if (!dkim_name_ok(domain, 253)) strerr_dief2x(100, "not a domain name (lowercase letters, digits, '-', '.'): ", domain);
  if (!selector[0]) {
    /* a dated selector (RFC 6376 3.1: rotation), one per key type */
    gmtime_r(&now, &tm);
    snprintf(selector, sizeof selector, "%s%04d%02d", type[0] == 'r' ? "rsa" : "ed", tm.tm_year + 1900, tm.tm_mon + 1);
  }
  if (!dkim_name_ok(selector, 63)) strerr_dief2x(100, "not a selector (lowercase letters, digits, '-', '.'): ", selector);
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  if (!getuid()) {
    pw = getpwnam(ROLE_DKIM);
    if (!pw) strerr_dief3x(111, "no user ", ROLE_DKIM, ": run make setup as root first");
  }
  snprintf(dir, sizeof dir, "control/dkim/%s", domain);
  snprintf(fn, sizeof fn, "%s/key.pem", dir);
  if (!force && stat(fn, &st) == 0) strerr_dief3x(100, fn, " exists: give -f (and a new -s selector) to replace it", "");
  mkdir_owned("control/dkim", pw);
  mkdir_owned(dir, pw);
  if (!(k = dkim_key_generate(type))) strerr_dief2x(111, "unable to make a key of type ", type);
  pn = dkim_key_public(k, pub, sizeof pub);
  if (!pn) strerr_dief1x(111, "unable to encode the public key");
  put(fn, 0, k, pw ? pw->pw_uid : 0, pw ? pw->pw_gid : 0, 0400, !!pw);
  snprintf(fn, sizeof fn, "%s/selector", dir);
  snprintf(line, sizeof line, "%s\n", selector);
  put(fn, line, 0, 0, pw ? pw->pw_gid : 0, 0644, !!pw);
  dkim_key_free(k);
  /* the record as a zone-file line: strings of at most 255 bytes (RFC 1035 3.3.14) */
  printf("%s._domainkey.%s. IN TXT ( \"v=DKIM1; k=%s; \"", selector, domain, type);
  for (size_t i = 0; i < pn; i += 250) printf(" \"%s%.*s\"", i ? "" : "p=", (int)(pn - i < 250 ? pn - i : 250), pub + i);
  printf(" )\n");
  if (fflush(stdout) != 0) strerr_diefu1sys(111, "write to stdout");
  return 0;
}
