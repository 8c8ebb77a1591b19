/* mailroom-local's replies: every text it can give and the exit code that goes with it, on
   one screen, from the l->why a module left (local.h). Shared by the one-shot main and the
   worker, which sends the same (code, text) per job instead of exiting with it. */
#include <errno.h>
#include <string.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "dotqmail.h"
#include "exitcodes.h"
#include "qqerr.h"
#include "local.h"
#include "maildir.h"

/* The one line of text, cut to LOCAL_TEXT_MAX and printable, into t (LOCAL_TEXT_MAX + 1
   bytes); returns the exit code. strerr cannot bound a line, and this one goes into a log
   record and a bounce. */
#define say(t, e, ...) \
  say_v(t, e, strerr_array(__VA_ARGS__), sizeof(strerr_array(__VA_ARGS__)) / sizeof(char const *))
static int say_v(char *t, int e, char const *const *v, unsigned int n)
{
  size_t len = 0;
  t[0] = 0;
  for (unsigned int i = 0; i < n; i++) local_textcat(t, &len, LOCAL_TEXT_MAX, v[i]);
  return e;
}

static char const *num(char *buf, unsigned int n)
{
  buf[uint_fmt(buf, n)] = 0;
  return buf;
}

/* Where a program's or the injector's own first line can stand as our text. */
static int hascode(char const *s, char c)
{
  return s[0] == c && s[1] == '.' && s[2] >= '0' && s[2] <= '9';
}

static char const *dotlabel(local const *l)
{
  return l->usedefault ? "the default delivery" : l->dotname;
}

static char const *qqtext(int code)
{
  int perm;
  return qq_describe(code, &perm);
}

static int die_nomem(char *t) { return say(t, EX_TEMP, "4.3.0 out of memory"); }
static int die_homemissing(char *t, local const *l) { return say(t, EX_TEMP, "4.2.1 home directory missing: ", l->home); }
static int die_home(char *t, local const *l) { return say(t, EX_TEMP, "4.3.0 unable to enter home directory ", l->home, ": ", strerror(l->err)); }
static int die_homewritable(char *t, local const *l) { return say(t, EX_TEMP, "4.7.0 home directory ", l->home, " is world-writable"); }
static int die_homesticky(char *t) { return say(t, EX_TEMP, "4.2.1 home directory is sticky: user is editing a dot file"); }
static int die_readmsg(char *t, local const *l) { return say(t, EX_TEMP, "4.3.0 unable to read message: ", strerror(l->err)); }
static int die_shortmsg(char *t) { return say(t, EX_TEMP, "4.3.0 unable to read message: file shorter than msglen"); }
static int die_loop(char *t) { return say(t, EX_PERM, "5.4.6 this message is looping: it already has my Delivered-To line"); }
static int die_nomailbox(char *t, local const *l) { return say(t, EX_PERM, "5.1.1 sorry, no mailbox here by that name", l->textlen ? "; " : "", l->text); }
static int die_dotopen(char *t, local const *l) { return say(t, EX_TEMP, "4.3.0 unable to read ", l->obj, ": ", strerror(l->err)); }
static int die_dotbig(char *t, local const *l) { return say(t, EX_TEMP, "4.7.0 ", dotlabel(l), " is bigger than 65536 bytes"); }
static int die_dotsyntax(char *t, local const *l, char *b) { return say(t, EX_TEMP, "4.7.0 ", dotlabel(l), " line ", num(b, l->lineno), ": ", dotqmail_strerror(l->err)); }
static int die_fwdonly(char *t, local const *l) { return say(t, EX_TEMP, "4.7.0 ", l->dotname, " has its x bit set (forwards only) but a file or program line"); }
static int die_quota(char *t, local const *l) { return say(t, EX_TEMP, "4.2.2 mailbox ", l->obj, " is over quota"); }
static int die_diskfull(char *t, local const *l) { return say(t, EX_TEMP, "4.3.1 no space left on device for ", l->obj); }
static int die_mdmissing(char *t, local const *l, char const *what) { return say(t, EX_TEMP, "4.2.1 maildir ", l->obj, what); }
static int die_maildir(char *t, local const *l, char const *what) { return say(t, EX_TEMP, "4.3.0 unable to ", what, " maildir ", l->obj, ": ", strerror(l->err)); }
static int die_mboxopen(char *t, local const *l) { return say(t, EX_TEMP, "4.2.1 unable to open mbox ", l->obj, ": ", strerror(l->err)); }
static int die_mboxlock(char *t, local const *l) { return say(t, EX_TEMP, "4.3.0 mbox ", l->obj, " has been locked for 30 seconds straight"); }
static int die_mboxwrite(char *t, local const *l) { return say(t, EX_TEMP, "4.3.0 unable to write mbox ", l->obj, ": ", strerror(l->err)); }
static int die_spawn(char *t, local const *l) { return say(t, EX_TEMP, "4.3.0 unable to start a child: ", strerror(l->err)); }
static int die_prog(char *t, local const *l, int e, char const *code, char *b) { return say(t, e, code, " program exited ", num(b, (unsigned int)l->status), l->out[0] ? ": " : "", l->out); }
static int die_progsig(char *t, local const *l, char *b) { return say(t, EX_TEMP, "4.3.0 program killed by signal ", num(b, (unsigned int)l->status), l->out[0] ? ": " : "", l->out); }
static int die_progtimeout(char *t) { return say(t, EX_TEMP, "4.3.0 program timed out after 86400 seconds"); }
static int die_fwd(char *t, local const *l, int e, char const *code, char *b) { return say(t, e, code, " unable to forward message: ", qqtext(l->status), " (exit ", num(b, (unsigned int)l->status), ")", l->out[0] ? ": " : "", l->out); }
static int die_fwdsig(char *t, local const *l, char *b) { return say(t, EX_TEMP, "4.3.0 unable to forward message: injector killed by signal ", num(b, (unsigned int)l->status)); }
static int die_fwdtimeout(char *t) { return say(t, EX_TEMP, "4.3.0 unable to forward message: injector timed out"); }

static int die_maildirwhy(char *t, local const *l)
{
  int noent = l->err == ENOENT || l->err == ENOTDIR;
  if (l->err == EDQUOT) return die_quota(t, l);
  if (l->err == ENOSPC) return die_diskfull(t, l);
  switch (l->stage) {
    case MAILDIR_SDIR: if (noent) return die_mdmissing(t, l, " is missing"); return die_maildir(t, l, "open");
    case MAILDIR_STMP: if (noent) return die_mdmissing(t, l, " has no tmp/ folder"); return die_maildir(t, l, "create a file in");
    case MAILDIR_SREAD: return die_readmsg(t, l);
    case MAILDIR_SNEW: if (noent) return die_mdmissing(t, l, " has no new/ folder"); return die_maildir(t, l, "link into");
    case MAILDIR_SSYNC: return die_maildir(t, l, "sync new/ of");
    default: return die_maildir(t, l, "write to");
  }
}

int local_reply(local const *l, char *t)
{
  char b[UINT_FMT];
  switch (l->why) {
    case LW_NOMEM: return die_nomem(t);
    case LW_HOMEMISSING: return die_homemissing(t, l);
    case LW_HOME: return die_home(t, l);
    case LW_HOMEWRITABLE: return die_homewritable(t, l);
    case LW_HOMESTICKY: return die_homesticky(t);
    case LW_READMSG: return die_readmsg(t, l);
    case LW_SHORTMSG: return die_shortmsg(t);
    case LW_LOOP: return die_loop(t);
    case LW_NOMAILBOX: return die_nomailbox(t, l);
    case LW_DOTOPEN: return die_dotopen(t, l);
    case LW_DOTBIG: return die_dotbig(t, l);
    case LW_DOTSYNTAX: return die_dotsyntax(t, l, b);
    case LW_FWDONLY: return die_fwdonly(t, l);
    case LW_MAILDIR: return die_maildirwhy(t, l);
    case LW_MBOXOPEN: return die_mboxopen(t, l);
    case LW_MBOXLOCK: return die_mboxlock(t, l);
    case LW_MBOXWRITE:
      if (l->err == EDQUOT) return die_quota(t, l);
      if (l->err == ENOSPC) return die_diskfull(t, l);
      return die_mboxwrite(t, l);
    case LW_SPAWN: return die_spawn(t, l);
    case LW_PROGPERM: if (hascode(l->out, '5')) return say(t, EX_PERM, l->out); return die_prog(t, l, EX_PERM, "5.0.0", b);
    case LW_PROGTEMP: if (hascode(l->out, '4')) return say(t, EX_TEMP, l->out); return die_prog(t, l, EX_TEMP, "4.0.0", b);
    case LW_PROGSIG: return die_progsig(t, l, b);
    case LW_PROGTIMEOUT: return die_progtimeout(t);
    case LW_FWDPERM: return die_fwd(t, l, EX_PERM, "5.3.0", b);
    case LW_FWDTEMP: return die_fwd(t, l, EX_TEMP, "4.3.0", b);
    case LW_FWDSIG: return die_fwdsig(t, l, b);
    case LW_FWDTIMEOUT: return die_fwdtimeout(t);
    default: return say(t, EX_TEMP, "4.3.0 internal error in mailroom-local");
  }
}
