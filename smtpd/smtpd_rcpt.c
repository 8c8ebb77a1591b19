/* Recipient policy, decided at RCPT time so that nothing is accepted that would only
   bounce (mailroom-smtpd(8), "Recipients"):
   - a local domain (control/locals, control/me): the address must be in
     control/recipients, or its local part must be found as mailroom-lspawn will find it
     (users/assign.cdb exact or wildcard entry, or a system user); an extension of a
     system user (joe-list) must be listed in control/recipients, since the dot files
     that would say whether it exists are in a home we may not read;
   - a virtual domain (control/virtualdomains, lib/vdomain.h): the address must be in
     control/recipients, or prefix-local must pass the local rule above, as
     mailroom-send will deliver it; the catch-all rule ":prefix" only takes what would be
     accepted anyway (a domain of rcpthosts, or any for a relay client);
   - a domain of control/rcpthosts (a line "example.com", or ".example.com" for every
     subdomain) that is not local: accepted for whoever delivers it next;
   - any other domain: only when RELAYCLIENT is set. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cdb.h>

#include "assign.h"
#include "control.h"
#include "ctlmap.h"
#include "smtpd.h"
#include "vdomain_db.h"

#define LOCALS_MAX (1UL << 20) /* as mailroom-send reads control/locals */
#define ASSIGN_ID_MAX 4294967294UL /* as lib/assign.c: (uid_t)-1 is never a user */

int smtpd_rcpt_init(smtpd_policy *pol, char const *me, int relayclient)
{
  char *l;
  size_t n, ml = strlen(me);
  pol->locals = 0;
  pol->localslen = 0;
  pol->relayclient = relayclient;
  if (control_readlines("control/locals", &l, &n, LOCALS_MAX) < 0) return -1;
  /* me is local too: append it as one more line */
  {
    char *nl = realloc(l, n + ml + 1);
    if (!nl) {
      free(l);
      return (errno = ENOMEM, -1);
    }
    l = nl;
  }
  memcpy(l + n, me, ml + 1);
  pol->locals = l;
  pol->localslen = n + ml + 1;
  return 0;
}

void smtpd_rcpt_free(smtpd_policy *pol)
{
  free(pol->locals);
  pol->locals = 0;
  pol->localslen = 0;
}

int smtpd_rcpt_islocal(smtpd_policy const *pol, char const *d, size_t len)
{
  return control_haslinecase(pol->locals, pol->localslen, d, len);
}

/* 1 if the domain, or a parent of it written ".parent", is in control/rcpthosts. */
static int hosted(char const *d, size_t len)
{
  size_t i;
  int r = ctlmap_has("rcpthosts", d, len);
  for (i = 1; !r && i < len; i++)
    if (d[i] == '.') r = ctlmap_has("rcpthosts", d + i, len - i);
  return r;
}

/* 1 if users/assign.cdb has an entry for the lowercase local part (exact, or a wildcard
   that covers it), 0 if not or there is no cdb, -1 on error. */
static int assign_cdb_has(char const *lc, size_t len)
{
  char key[ASSIGN_KEY_MAX];
  struct cdb c;
  size_t i;
  int fd, r, e;
  if (len + 1 > sizeof key) return 0;
  fd = open("users/assign.cdb", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  if (cdb_init(&c, fd) < 0) {
    e = errno;
    close(fd);
    return (errno = e ? e : EPROTO, -1);
  }
  key[0] = '=';
  memcpy(key + 1, lc, len);
  r = cdb_find(&c, key, (unsigned)(len + 1));
  key[0] = '+';
  for (i = len + 1; !r && i-- > 0;) r = cdb_find(&c, key, (unsigned)(i + 1));
  e = errno;
  cdb_free(&c);
  close(fd);
  if (r < 0) return (errno = e ? e : EPROTO, -1);
  return r > 0;
}

/* A system user, by lib/assign.c's rules (qmail-getpw's): in the passwd file, not uid 0,
   an absolute home that exists and is its own. The passwd file is read here with
   fgetpwent, not through getpwnam: mailroom-smtpd is linked statically to stay small, and
   static glibc cannot load the NSS modules (it crashes on a name it does not find). So
   users that only NSS knows (LDAP, ...) are found by mailroom-lspawn but not here: list
   them in users/assign or control/recipients (mailroom-smtpd(8), "Recipients").
   1 found, 0 not, -1 error. */
#define PASSWD_FILE "/etc/passwd"

static int passwd_user(char const *name)
{
  struct passwd *pw;
  struct stat st;
  int found = 0, e;
  FILE *f = fopen(PASSWD_FILE, "re");
  if (!f) return -1;
  errno = 0;
  while ((pw = fgetpwent(f))) {
    if (strcmp(pw->pw_name, name) != 0) continue;
    found = pw->pw_uid && pw->pw_uid <= ASSIGN_ID_MAX && pw->pw_gid <= ASSIGN_ID_MAX && pw->pw_dir &&
            pw->pw_dir[0] == '/';
    if (!found) break;
    if (stat(pw->pw_dir, &st) < 0) found = (errno == ENOENT || errno == ENOTDIR) ? 0 : -1;
    else found = st.st_uid == pw->pw_uid;
    break;
  }
  e = errno;
  (void)fclose(f); /* read only: nothing to lose */
  errno = e;
  return found;
}

static enum smtpd_rv system_user(char const *lc, size_t len)
{
  char name[ASSIGN_USER_MAX];
  char const *dash;
  int r;
  if (len < sizeof name) {
    r = passwd_user(lc);
    if (r) return r < 0 ? RV_TEMP : RV_OK;
  }
  dash = memchr(lc, '-', len);
  if (!dash || dash == lc || (size_t)(dash - lc) >= sizeof name) return RV_NOUSER;
  memcpy(name, lc, (size_t)(dash - lc));
  name[dash - lc] = 0;
  r = passwd_user(name);
  if (r < 0) return RV_TEMP;
  /* an extension of a system user: its dot files are in a home we may not read */
  return r ? RV_EXTNOTLISTED : RV_NOUSER;
}

static enum smtpd_rv user(char const *local, size_t len)
{
  char lc[ASSIGN_FIELD_MAX];
  size_t i;
  int r;
  /* a local part that needs quotes names no account (user names have no such bytes) */
  if (!len || local[0] == '"' || len >= sizeof lc) return RV_NOUSER;
  for (i = 0; i < len; i++) lc[i] = (local[i] >= 'A' && local[i] <= 'Z') ? (char)(local[i] + 32) : local[i];
  lc[len] = 0;
  /* users/assign.cdb first, as mailroom-lspawn: an exact or wildcard entry takes it */
  r = assign_cdb_has(lc, len);
  if (r < 0) return RV_TEMP;
  if (r) return RV_OK;
  return system_user(lc, len);
}

/* 1 if the address is in a virtual domain, with the verdict in *v; 0 if not. */
static int virtual_user(smtpd_policy const *pol, smtpd_path const *p, char const *d, size_t dl, enum smtpd_rv *v)
{
  char prefix[VDOMAIN_PREFIX_MAX + 1], local[VDOMAIN_ADDR_MAX + 1];
  enum vdomain_kind kind = VD_NONE;
  size_t n;
  int r = vdomain_lookup(p->addr, p->len, prefix, &kind);
  if (r <= 0) {
    *v = RV_TEMP;
    return r < 0;
  }
  if (kind == VD_ALL && !pol->relayclient) {
    r = hosted(d, dl);
    if (r <= 0) {
      *v = RV_TEMP;
      return r < 0;
    }
  }
  r = ctlmap_has("recipients", p->addr, p->len);
  *v = r < 0 ? RV_TEMP : RV_LISTED;
  if (r) return 1;
  n = vdomain_rewrite(prefix, p->addr, p->at, local, sizeof local);
  *v = n ? user(local, n) : RV_NOUSER;
  return 1;
}

enum smtpd_rv smtpd_rcpt_check(smtpd_policy const *pol, smtpd_path const *p)
{
  char const *d = p->addr + p->at + 1;
  size_t dl = p->at < p->len ? p->len - p->at - 1 : 0;
  int r;
  if (p->at >= p->len) return user(p->addr, p->len); /* <postmaster> */
  if (smtpd_rcpt_islocal(pol, d, dl)) {
    r = ctlmap_has("recipients", p->addr, p->len);
    if (r < 0) return RV_TEMP;
    if (r) return RV_LISTED;
    return user(p->addr, p->at);
  }
  {
    enum smtpd_rv v;
    if (virtual_user(pol, p, d, dl, &v)) return v;
  }
  r = hosted(d, dl);
  if (r < 0) return RV_TEMP;
  if (r) return RV_HOSTED;
  return pol->relayclient ? RV_RELAY : RV_NORELAY;
}

char const *smtpd_rcpt_reason(enum smtpd_rv v)
{
  switch (v) {
    case RV_OK: return "local user";
    case RV_RELAY: return "relay client";
    case RV_HOSTED: return "rcpthosts";
    case RV_LISTED: return "control/recipients";
    case RV_NOUSER: return "no such user";
    case RV_EXTNOTLISTED: return "extension of a system user, not in control/recipients";
    case RV_NORELAY: return "relaying denied";
    case RV_TEMP: return "lookup failed";
  }
  return "?";
}
