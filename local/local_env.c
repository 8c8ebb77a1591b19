/* The lines mailroom-local adds to a message (Delivered-To, Return-Path, the mbox From_
   line) and the environment of |program deliveries, as qmail-command(8) lists it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <skalibs/stralloc.h>
#include "local.h"

void local_init(local *l)
{
  memset(l, 0, sizeof *l);
  l->recip = stralloc_zero;
  l->dtline = stralloc_zero;
  l->rpline = stralloc_zero;
  l->ufline = stralloc_zero;
  l->hdr = stralloc_zero;
  l->newsender = stralloc_zero;
  l->dot = stralloc_zero;
  l->fwd = stralloc_zero;
  l->md.count = 0;
  l->md.host[0] = 0;
  l->defaultdelivery = LOCAL_DEFAULT_DELIVERY;
}

/* Every variable local_setup(), local_finddot() and local_newsender() may set. */
static char const *const jobenv[] = { "SENDER", "NEWSENDER", "USER", "HOME", "LOCAL", "HOST",
                                      "EXT", "RECIPIENT", "DTLINE", "RPLINE", "UFLINE",
                                      "HOST2", "HOST3", "HOST4", "EXT2", "EXT3", "EXT4",
                                      "DEFAULT" };

void local_clearenv(void)
{
  for (size_t i = 0; i < sizeof jobenv / sizeof *jobenv; i++) unsetenv(jobenv[i]);
}

void local_reset(local *l)
{
  for (unsigned int k = 0; k < l->npend; k++) maildir_abort(&l->pend[k]);
  l->npend = 0;
  l->user = l->home = l->local = l->dash = l->ext = l->domain = l->sender = 0;
  l->defaultdelivery = LOCAL_DEFAULT_DELIVERY;
  l->msglen = 0;
  l->msgfd = -1;
  l->recip.len = l->dtline.len = l->rpline.len = l->ufline.len = l->hdr.len = 0;
  l->newsender.len = l->dot.len = l->fwd.len = 0;
  l->dotname[0] = 0;
  l->usedefault = l->forwardonly = 0;
  l->nfile = l->nprog = l->nfwd = 0;
  l->stop = 0;
  l->text[0] = 0;
  l->textlen = 0;
  l->why = l->err = l->stage = l->status = 0;
  l->lineno = 0;
  l->obj[0] = 0;
  l->out[0] = 0;
  local_clearenv();
}

/* Characters a local part may hold unquoted (RFC 5321 atext); '.' is checked apart. Bytes
   over 127 pass: SMTPUTF8 local parts are atext too (RFC 6531). */
static int atext(unsigned char c)
{
  if (c >= 128) return 1;
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
  return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0;
}

static int quote_need(char const *s, size_t n)
{
  if (!n) return 0;
  if (s[0] == '.' || s[n - 1] == '.') return 1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '.') {
      if (i + 1 < n && s[i + 1] == '.') return 1;
    } else if (!atext((unsigned char)s[i])) return 1;
  }
  return 0;
}

/* Appends addr to sa with its local part quoted where RFC 5321 wants it (qmail's quote2). */
int local_quote(stralloc *sa, char const *addr)
{
  char const *at = strrchr(addr, '@');
  size_t n = at ? (size_t)(at - addr) : strlen(addr);
  if (!quote_need(addr, n)) return stralloc_cats(sa, addr);
  if (!stralloc_catb(sa, "\"", 1)) return 0;
  for (size_t i = 0; i < n; i++) {
    if ((addr[i] == '"' || addr[i] == '\\') && !stralloc_catb(sa, "\\", 1)) return 0;
    if (!stralloc_catb(sa, addr + i, 1)) return 0;
  }
  if (!stralloc_catb(sa, "\"", 1)) return 0;
  return stralloc_cats(sa, addr + n);
}

size_t local_ctime(char *s, unsigned long long t)
{
  static char const days[] = "SunMonTueWedThuFriSat";
  static char const months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  struct tm tm;
  time_t tt = (time_t)t;
  int r;
  /* UTC, as qmail's myctime(): a From_ line's date is for humans and mbox parsers only. */
  if (!gmtime_r(&tt, &tm)) memset(&tm, 0, sizeof tm);
  r = snprintf(s, 32, "%.3s %.3s %2d %02d:%02d:%02d %d\n", days + 3L * (tm.tm_wday % 7),
               months + 3L * (tm.tm_mon % 12), tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               tm.tm_year + 1900);
  return r < 0 ? 0 : r >= 32 ? 31 : (size_t)r;
}

/* Replaces every CR and LF of sa from start on: a header line must stay one line. */
static void oneline(stralloc *sa, size_t start, char with)
{
  for (size_t i = start; i < sa->len; i++)
    if (sa->s[i] == '\n' || sa->s[i] == '\r') sa->s[i] = with;
}

static int setenvb(stralloc *tmp, char const *name, char const *s, size_t n)
{
  if (!stralloc_copyb(tmp, s, n) || !stralloc_0(tmp)) return -1;
  return setenv(name, tmp->s, 1);
}

/* HOST2..HOST4: the domain without its last 1..3 dot-separated parts; EXT2..EXT4: the
   extension after its first 1..3 dashes (qmail-command(8)). */
static int setparts(local *l, stralloc *tmp)
{
  static char const *const hosts[3] = { "HOST2", "HOST3", "HOST4" };
  static char const *const exts[3] = { "EXT2", "EXT3", "EXT4" };
  size_t i = strlen(l->domain);
  char const *x = l->ext;
  for (unsigned int k = 0; k < 3; k++) {
    size_t j = i;
    while (j && l->domain[j - 1] != '.') j--;
    if (j) i = j - 1; /* no dot left: the same as the one before */
    if (setenvb(tmp, hosts[k], l->domain, i) < 0) return -1;
  }
  for (unsigned int k = 0; k < 3; k++) {
    x += strcspn(x, "-");
    if (*x) x++;
    if (setenv(exts[k], x, 1) < 0) return -1;
  }
  return 0;
}

int local_setup(local *l, unsigned long long now)
{
  stralloc tmp = STRALLOC_ZERO;
  char date[32];
  size_t n;

  if (!stralloc_copys(&l->recip, l->local) || !stralloc_catb(&l->recip, "@", 1)
      || !stralloc_cats(&l->recip, l->domain))
    goto nomem;
  oneline(&l->recip, 0, '_');
  if (!stralloc_copys(&l->dtline, "Delivered-To: ") || !stralloc_cat(&l->dtline, &l->recip)
      || !stralloc_catb(&l->dtline, "\n", 1) || !stralloc_0(&l->recip))
    goto nomem;
  l->recip.len--;

  if (!stralloc_copys(&l->rpline, "Return-Path: <") || !local_quote(&l->rpline, l->sender))
    goto nomem;
  oneline(&l->rpline, 0, '_');
  if (!stralloc_cats(&l->rpline, ">\n")) goto nomem;

  if (!stralloc_copy(&l->hdr, &l->rpline) || !stralloc_cat(&l->hdr, &l->dtline)) goto nomem;

  if (!stralloc_copys(&l->ufline, "From ")) goto nomem;
  n = l->ufline.len;
  if (!stralloc_cats(&l->ufline, *l->sender ? l->sender : "MAILER-DAEMON")) goto nomem;
  for (size_t i = n; i < l->ufline.len; i++)
    if (l->ufline.s[i] == ' ' || l->ufline.s[i] == '\t' || l->ufline.s[i] == '\n'
        || l->ufline.s[i] == '\r')
      l->ufline.s[i] = '-';
  if (!stralloc_catb(&l->ufline, " ", 1)
      || !stralloc_catb(&l->ufline, date, local_ctime(date, now)))
    goto nomem;

  /* A DEFAULT inherited from lspawn's environment would lie to programs. */
  unsetenv("DEFAULT");
  if (setenv("SENDER", l->sender, 1) < 0 || setenv("NEWSENDER", l->sender, 1) < 0
      || setenv("USER", l->user, 1) < 0 || setenv("HOME", l->home, 1) < 0
      || setenv("LOCAL", l->local, 1) < 0 || setenv("HOST", l->domain, 1) < 0
      || setenv("EXT", l->ext, 1) < 0 || setenv("RECIPIENT", l->recip.s, 1) < 0
      || setenvb(&tmp, "DTLINE", l->dtline.s, l->dtline.len) < 0
      || setenvb(&tmp, "RPLINE", l->rpline.s, l->rpline.len) < 0
      || setenvb(&tmp, "UFLINE", l->ufline.s, l->ufline.len) < 0 || setparts(l, &tmp) < 0)
    goto nomem;
  if (!stralloc_copys(&l->newsender, l->sender) || !stralloc_0(&l->newsender)) goto nomem;
  stralloc_free(&tmp);
  return 0;

nomem:
  stralloc_free(&tmp);
  l->why = LW_NOMEM;
  return -1;
}
