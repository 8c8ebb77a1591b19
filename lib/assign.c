/* users/assign: the line parser (pure) and the lookup over users/assign.cdb and passwd.
   The cdb is trusted no more than the text: every value read back is checked again, so a
   cdb written by another tool cannot hand uid 0 or a relative home to mailroom-lspawn. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cdb.h>
#include "assign.h"

#define ASSIGN_NFIELDS 6        /* user uid gid home dash ext, after the local part */
#define ASSIGN_ID_MAX 4294967294UL /* (uid_t)-1 means "no change" to setuid: never a user */

static char lower(char c)
{
  return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* A decimal number of 1 to 10 digits, at most ASSIGN_ID_MAX. */
static int scan_id(char const *s, size_t len, unsigned long *n)
{
  unsigned long v = 0;
  size_t i;
  if (!len || len > 10) return -1;
  for (i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > ASSIGN_ID_MAX) return -1;
  *n = v;
  return 0;
}

/* The rules every entry obeys, from the text or from the cdb. Returns 0 or the reason. */
static char const *check_fields(char const *const f[ASSIGN_NFIELDS], size_t const fl[ASSIGN_NFIELDS],
                                unsigned long *uid, unsigned long *gid)
{
  if (!fl[0]) return "empty user name";
  if (fl[0] >= ASSIGN_USER_MAX) return "user name too long";
  if (scan_id(f[1], fl[1], uid) < 0) return "uid is not a number below 4294967295";
  if (!*uid) return "uid 0 (root) is not a mail user";
  if (scan_id(f[2], fl[2], gid) < 0) return "gid is not a number below 4294967295";
  if (!fl[3] || f[3][0] != '/') return "home folder is empty or not an absolute path";
  if (fl[3] >= ASSIGN_FIELD_MAX) return "home folder too long";
  if (fl[4] > 1 || (fl[4] == 1 && f[4][0] != '-')) return "dash field must be empty or -";
  if (fl[5] >= ASSIGN_FIELD_MAX) return "extension too long";
  return 0;
}

static int fail(char const **why, char const *reason)
{
  if (why) *why = reason;
  errno = EINVAL;
  return -1;
}

static size_t fmt_ulong(char *s, unsigned long n)
{
  char t[20];
  size_t len = 0, i;
  do {
    t[len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  for (i = 0; i < len; i++) s[i] = t[len - 1 - i];
  return len;
}

int assign_parseline(char const *line, size_t len, char *key, size_t *keylen, size_t keymax,
                     char *val, size_t *vallen, size_t valmax, char const **why)
{
  char const *f[ASSIGN_NFIELDS + 1]; /* local part, then the six value fields */
  size_t fl[ASSIGN_NFIELDS + 1];
  char num[2][11];
  size_t numlen[2];
  unsigned long uid, gid;
  char const *reason;
  size_t i, pos, n, w;

  if (len == 1 && line[0] == '.') return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)line[i];
    if (!c) return fail(why, "NUL byte in line");
    if (c < 0x20 || c == 0x7f) return fail(why, "control character in line");
  }
  if (!len) return fail(why, "empty line (only =, + and a final . are allowed)");
  if (line[0] == '.') return fail(why, "bytes after the final .");
  if (line[0] != '=' && line[0] != '+') return fail(why, "line does not start with =, + or .");

  /* Seven fields, each ended by a colon: local:user:uid:gid:home:dash:ext: */
  pos = 1;
  for (n = 0; n < ASSIGN_NFIELDS + 1; n++) {
    char const *colon = memchr(line + pos, ':', len - pos);
    if (!colon) return fail(why, "fewer than 7 colon-ended fields (local:user:uid:gid:home:dash:ext:)");
    f[n] = line + pos;
    fl[n] = (size_t)(colon - f[n]);
    pos += fl[n] + 1;
  }
  if (pos != len) return fail(why, "bytes after the 7th colon");

  if (line[0] == '=' && !fl[0]) return fail(why, "empty local part after =");
  if (fl[0] >= ASSIGN_FIELD_MAX) return fail(why, "local part too long");
  reason = check_fields(f + 1, fl + 1, &uid, &gid);
  if (reason) return fail(why, reason);

  if (1 + fl[0] > keymax) return fail(why, "key buffer too small");
  key[0] = line[0];
  for (i = 0; i < fl[0]; i++) key[1 + i] = lower(f[0][i]);
  *keylen = 1 + fl[0];

  numlen[0] = fmt_ulong(num[0], uid);
  numlen[1] = fmt_ulong(num[1], gid);
  f[2] = num[0]; fl[2] = numlen[0];
  f[3] = num[1]; fl[3] = numlen[1];
  w = 0;
  for (n = 1; n <= ASSIGN_NFIELDS; n++) w += fl[n] + 1;
  if (w > valmax) return fail(why, "value buffer too small");
  w = 0;
  for (n = 1; n <= ASSIGN_NFIELDS; n++) {
    memcpy(val + w, f[n], fl[n]);
    w += fl[n];
    val[w++] = 0;
  }
  *vallen = w;
  return 1;
}

int assign_unpack(char const *val, size_t vallen, struct assign_user *u)
{
  char const *f[ASSIGN_NFIELDS];
  size_t fl[ASSIGN_NFIELDS];
  unsigned long uid, gid;
  size_t pos = 0, n;

  for (n = 0; n < ASSIGN_NFIELDS; n++) {
    char const *z = pos < vallen ? memchr(val + pos, 0, vallen - pos) : 0;
    if (!z) goto bad;
    f[n] = val + pos;
    fl[n] = (size_t)(z - f[n]);
    pos += fl[n] + 1;
  }
  if (pos != vallen) goto bad;
  for (pos = 0; pos < vallen; pos++) {
    unsigned char c = (unsigned char)val[pos];
    if (c && (c < 0x20 || c == 0x7f || c == ':')) goto bad;
  }
  if (check_fields(f, fl, &uid, &gid)) goto bad;
  memcpy(u->user, f[0], fl[0]); u->user[fl[0]] = 0;
  u->uid = uid;
  u->gid = gid;
  memcpy(u->home, f[3], fl[3]); u->home[fl[3]] = 0;
  memcpy(u->dash, f[4], fl[4]); u->dash[fl[4]] = 0;
  memcpy(u->ext, f[5], fl[5]); u->ext[fl[5]] = 0;
  return 0;
bad:
  errno = EPROTO;
  return -1;
}

/* The value of the current cdb_find() hit into *u. */
static int cdb_getuser(struct cdb *c, struct assign_user *u)
{
  char val[ASSIGN_VAL_MAX];
  unsigned dlen = cdb_datalen(c);
  if (dlen > sizeof val) { errno = EPROTO; return -1; }
  if (cdb_read(c, val, dlen, cdb_datapos(c)) < 0) return -1;
  return assign_unpack(val, dlen, u);
}

/* Exact entry, then the longest wildcard. lc is the lowercased local part (len bytes). */
static int cdb_lookup(struct cdb *c, char const *lc, size_t len, struct assign_user *u)
{
  char key[ASSIGN_KEY_MAX];
  size_t i, plen;
  int r;

  key[0] = '=';
  memcpy(key + 1, lc, len);
  r = cdb_find(c, key, (unsigned)(len + 1));
  if (r < 0) return -1;
  if (r) return cdb_getuser(c, u) < 0 ? -1 : 1;

  key[0] = '+';
  for (i = len + 1; i-- > 0;) {
    r = cdb_find(c, key, (unsigned)(i + 1));
    if (r < 0) return -1;
    if (!r) continue;
    if (cdb_getuser(c, u) < 0) return -1;
    /* qmail-users(5): ext is the entry's prepend followed by what the prefix left over. */
    plen = strlen(u->ext);
    if (plen + (len - i) >= sizeof u->ext) { errno = ENAMETOOLONG; return -1; }
    memcpy(u->ext + plen, lc + i, len - i);
    u->ext[plen + len - i] = 0;
    return 1;
  }
  return 0;
}

static int cdb_try(char const *path, char const *lc, size_t len, struct assign_user *u)
{
  struct cdb c;
  int fd, r, e;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  if (cdb_init(&c, fd) < 0) {
    e = errno;
    close(fd);
    errno = e ? e : EPROTO;
    return -1;
  }
  r = cdb_lookup(&c, lc, len, u);
  e = errno;
  cdb_free(&c);
  close(fd);
  errno = e;
  return r;
}

/* getpwnam() says "not found" with NULL and errno 0, ENOENT, ESRCH, EBADF or EPERM
   depending on the NSS module: only resource errors are temporary. */
static int pw_temporary(int e)
{
  return e == EIO || e == EINTR || e == EMFILE || e == ENFILE || e == ENOMEM || e == EAGAIN || e == ERANGE;
}

/* The system user name (NUL-terminated); ext is what follows (ext 0: no extension). */
static int pw_one(char const *name, char const *ext, struct assign_user *u)
{
  struct passwd *pw;
  struct stat st;
  size_t nl, hl, el = ext ? strlen(ext) : 0;

  errno = 0;
  pw = getpwnam(name);
  if (!pw) return pw_temporary(errno) ? -1 : 0;
  if (!pw->pw_uid || pw->pw_uid > ASSIGN_ID_MAX || pw->pw_gid > ASSIGN_ID_MAX) return 0;
  if (!pw->pw_dir || pw->pw_dir[0] != '/') return 0;
  nl = strlen(pw->pw_name);
  hl = strlen(pw->pw_dir);
  if (nl >= sizeof u->user || hl >= sizeof u->home || el >= sizeof u->ext) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(u->user, pw->pw_name, nl + 1);
  memcpy(u->home, pw->pw_dir, hl + 1);
  u->uid = pw->pw_uid;
  u->gid = pw->pw_gid;
  /* As qmail-getpw: an account whose home is not its own (daemon, bin, a role user with
     home /) is not a mailbox. */
  if (stat(u->home, &st) < 0) return (errno == ENOENT || errno == ENOTDIR) ? 0 : -1;
  if (st.st_uid != (uid_t)u->uid) return 0;
  u->dash[0] = ext ? '-' : 0;
  u->dash[1] = 0;
  memcpy(u->ext, ext ? ext : "", el + 1);
  return 1;
}

static int pw_lookup(char const *lc, size_t len, struct assign_user *u)
{
  char name[ASSIGN_USER_MAX];
  char const *dash;
  size_t nl;
  int r;

  if (len && len < sizeof name) {
    r = pw_one(lc, 0, u);
    if (r) return r;
  }
  dash = memchr(lc, '-', len);
  if (!dash || dash == lc) return 0;
  nl = (size_t)(dash - lc);
  if (nl >= sizeof name) return 0;
  memcpy(name, lc, nl);
  name[nl] = 0;
  return pw_one(name, dash + 1, u);
}

int assign_lookup(char const *cdbpath, char const *local, struct assign_user *u)
{
  char lc[ASSIGN_FIELD_MAX];
  size_t len = strnlen(local, sizeof lc), i;
  int r;

  if (len >= sizeof lc) return 0; /* no entry can be this long */
  for (i = 0; i < len; i++) lc[i] = lower(local[i]);
  lc[len] = 0;
  r = cdb_try(cdbpath ? cdbpath : "users/assign.cdb", lc, len, u);
  if (r) return r;
  return pw_lookup(lc, len, u);
}
