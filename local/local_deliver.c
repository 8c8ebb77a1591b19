/* The deliveries of one dot file, line by line, as qmail-local makes them: Maildir, mbox
   and |program lines in order, then every forward in one injection. The first failure
   stops everything and is the answer; when it is temporary the whole dot file is tried
   again later, so deliveries made before it are made again (duplicates, as in qmail,
   rather than a lost message). A program's exit 99 stops the lines after it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <skalibs/stralloc.h>
#include "auto_home.h"
#include "local.h"
#include "qqerr.h"

#define QUEUE_PROG "/bin/mailroom-queue"

void local_textcat(char *t, size_t *len, size_t max, char const *s)
{
  /* Printable ASCII only: the text goes into a log line and into a bounce. */
  for (; *s && *len < max; s++) {
    unsigned char c = (unsigned char)*s;
    t[(*len)++] = c < 32 || c > 126 ? '?' : (char)c;
  }
  t[*len] = 0;
}

void local_say(local *l, char const *s)
{
  if (l->textlen) local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, "; ");
  local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, s);
}

/* qmail-command(8): 100 and sendmail's 64 65 70 76 77 78 112 are hard errors. */
int local_progperm(int code)
{
  switch (code) {
    case 64: case 65: case 70: case 76: case 77: case 78: case 100: case 112: return 1;
    default: return 0;
  }
}

int local_fwdperm(int code)
{
  int perm;
  qq_describe(code, &perm);
  return perm;
}

static void setobj(local *l, char const *s)
{
  size_t n = strlen(s);
  if (n > sizeof l->obj - 1) n = sizeof l->obj - 1;
  memcpy(l->obj, s, n);
  l->obj[n] = 0;
}

static int maildir_failed(local *l, char const *dir, int stage, int err)
{
  l->why = stage == MAILDIR_SREAD && err == EPROTO ? LW_SHORTMSG : LW_MAILDIR;
  l->err = err;
  l->stage = stage;
  setobj(l, dir);
  return -1;
}

static void maildir_said(local *l, char const *dir, char const *name)
{
  local_say(l, "delivered to ");
  local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, dir);
  local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, " as ");
  local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, name);
}

static int do_maildir(local *l, char const *dir)
{
  char name[4 + MAILDIR_NAME_MAX];
  int stage;
  if (maildir_deliver(&l->md, dir, l->hdr.s, l->hdr.len, l->msgfd, 0, l->msglen, name,
                      sizeof name, &stage) < 0)
    return maildir_failed(l, dir, stage, errno);
  maildir_said(l, dir, name);
  return 0;
}

static int do_mbox(local *l, char const *fn)
{
  if (local_mbox(l, fn) < 0) {
    setobj(l, fn);
    return -1;
  }
  local_say(l, "appended to ");
  local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, fn);
  return 0;
}

/* Turns how a child ended into l->why; 0 for success. */
static int verdict(local *l, local_run_t const *r, int isprog)
{
  memcpy(l->out, r->out, sizeof l->out);
  if (r->timedout) return (l->why = isprog ? LW_PROGTIMEOUT : LW_FWDTIMEOUT, -1);
  if (WIFSIGNALED(r->wstat)) {
    l->status = WTERMSIG(r->wstat);
    return (l->why = isprog ? LW_PROGSIG : LW_FWDSIG, -1);
  }
  l->status = WIFEXITED(r->wstat) ? WEXITSTATUS(r->wstat) : 111;
  if (isprog) {
    if (l->status == 0 || l->status == 99) return 0;
    l->why = local_progperm(l->status) ? LW_PROGPERM : LW_PROGTEMP;
  } else {
    if (!l->status) return 0;
    l->why = local_fwdperm(l->status) ? LW_FWDPERM : LW_FWDTEMP;
  }
  return -1;
}

static int do_program(local *l, char const *cmd)
{
  char const *argv[4] = { "/bin/sh", "-c", cmd, 0 };
  local_run_t r;
  memset(&r, 0, sizeof r);
  r.argv = argv;
  r.head = "";
  r.timeout = LOCAL_PROG_TIMEOUT;
  if (local_run(l, &r) < 0) return -1;
  if (verdict(l, &r, 1) < 0) return -1;
  if (l->status == 99) l->stop = 1;
  local_say(l, l->status == 99 ? "program exited 99 (stop)" : "program exited 0");
  if (r.out[0]) {
    local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, ": ");
    local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, r.out);
  }
  return 0;
}

/* One injection for all forwards, with the Delivered-To line on top, so that a loop
   through another of our addresses, or back here, is seen. */
static int do_forward(local *l)
{
  stralloc prog = STRALLOC_ZERO;
  char const *argv[2];
  char const *q = getenv("MAILROOM_QUEUE");
  local_run_t r;
  int e;

  if (!stralloc_catb(&l->fwd, "", 1)) return (l->why = LW_NOMEM, -1);
  if (!q || !*q) {
    if (!stralloc_copys(&prog, auto_home) || !stralloc_cats(&prog, QUEUE_PROG)
        || !stralloc_0(&prog))
      return (l->why = LW_NOMEM, -1);
    q = prog.s;
  }
  argv[0] = q;
  argv[1] = 0;
  memset(&r, 0, sizeof r);
  r.argv = argv;
  r.head = l->dtline.s;
  r.headlen = l->dtline.len;
  r.fd1 = l->fwd.s;
  r.fd1len = l->fwd.len;
  r.timeout = LOCAL_FWD_TIMEOUT;
  e = local_run(l, &r);
  stralloc_free(&prog);
  if (e < 0 || verdict(l, &r, 0) < 0) return -1;
  local_say(l, "forwarded to");
  /* The envelope is F sender \0 (T address \0)+ \0: list the addresses. */
  for (size_t i = 2 + strlen(l->newsender.s); i + 1 < l->fwd.len; i += strlen(l->fwd.s + i) + 1) {
    local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, " ");
    local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, l->fwd.s + i + 1);
  }
  return 0;
}

static int one(local *l, dotqmail_line const *ln)
{
  char val[DOTQMAIL_LINE_MAX + 1];
  memcpy(val, ln->value, ln->len);
  val[ln->len] = 0;
  if (l->forwardonly && (ln->kind == DQ_MAILDIR || ln->kind == DQ_MBOX || ln->kind == DQ_PROGRAM))
    return (l->why = LW_FWDONLY, -1);
  switch (ln->kind) {
    case DQ_MAILDIR: l->nfile++; return do_maildir(l, val);
    case DQ_MBOX: l->nfile++; return do_mbox(l, val);
    case DQ_PROGRAM: l->nprog++; return do_program(l, val);
    case DQ_FORWARD:
      l->nfwd++;
      if (!stralloc_catb(&l->fwd, "T", 1) || !stralloc_catb(&l->fwd, val, ln->len + 1))
        return (l->why = LW_NOMEM, -1);
      return 0;
    default: return 0;
  }
}

int local_deliver(local *l)
{
  dotqmail d;
  dotqmail_line ln;
  int r;

  /* The whole file first: a mistake on line 5 must not deliver lines 1 to 4 at every try. */
  r = dotqmail_check(l->dot.s, l->dot.len, 0);
  if (r < 0) {
    dotqmail_init(&d, l->dot.s, l->dot.len);
    while (dotqmail_next(&d, &ln) == 1)
      ;
    l->lineno = d.lineno;
    l->err = r;
    return (l->why = r == DQ_EBIG ? LW_DOTBIG : LW_DOTSYNTAX, -1);
  }
  l->fwd.len = 0;
  if (!stralloc_catb(&l->fwd, "F", 1)
      || !stralloc_catb(&l->fwd, l->newsender.s, strlen(l->newsender.s) + 1))
    return (l->why = LW_NOMEM, -1);
  dotqmail_init(&d, l->dot.s, l->dot.len);
  while (!l->stop && dotqmail_next(&d, &ln) == 1) /* dotqmail_check found no error */
    if (one(l, &ln) < 0) return -1;
  if (l->nfwd && do_forward(l) < 0) return -1;
  if (!l->nfile && !l->nprog && !l->nfwd) {
    local_say(l, "no delivery: ");
    local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX,
                  l->usedefault ? "the default delivery" : l->dotname);
    local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, " has only comments");
  }
  return 0;
}

int local_maildironly(local const *l)
{
  dotqmail d;
  dotqmail_line ln;
  unsigned int n = 0;
  if (l->forwardonly || dotqmail_check(l->dot.s, l->dot.len, 0) < 0) return 0;
  dotqmail_init(&d, l->dot.s, l->dot.len);
  while (dotqmail_next(&d, &ln) == 1) {
    if (ln.kind == DQ_COMMENT) continue;
    if (ln.kind != DQ_MAILDIR || ++n > LOCAL_PEND_MAX) return 0;
  }
  return n > 0;
}

/* Each Maildir line of the job into its tmp/, in order; the first failure removes what the
   job wrote and is its answer, as in local_deliver(). */
int local_deliver_tmp(local *l)
{
  dotqmail d;
  dotqmail_line ln;
  dotqmail_init(&d, l->dot.s, l->dot.len);
  while (dotqmail_next(&d, &ln) == 1) { /* local_maildironly() checked the file */
    char *dir = l->penddir[l->npend];
    if (ln.kind != DQ_MAILDIR) continue;
    memcpy(dir, ln.value, ln.len);
    dir[ln.len] = 0;
    l->nfile++;
    if (maildir_write_tmp(&l->md, dir, l->hdr.s, l->hdr.len, l->msgfd, 0, l->msglen,
                          &l->pend[l->npend]) < 0) {
      maildir_tmp const *t = &l->pend[l->npend];
      maildir_failed(l, dir, t->stage, t->err);
      for (unsigned int k = 0; k < l->npend; k++) maildir_abort(&l->pend[k]);
      l->npend = 0;
      return -1;
    }
    l->npend++;
  }
  return 0;
}

/* After maildir_commit_many(): the text, or the first line that failed (lines before it are
   delivered, as when local_deliver() stops at a failure). */
int local_deliver_done(local *l)
{
  unsigned int n = l->npend;
  l->npend = 0;
  for (unsigned int k = 0; k < n; k++) {
    maildir_tmp const *t = &l->pend[k];
    if (t->stage != MAILDIR_SOK) return maildir_failed(l, l->penddir[k], t->stage, t->err);
    maildir_said(l, l->penddir[k], t->newname);
  }
  return 0;
}
