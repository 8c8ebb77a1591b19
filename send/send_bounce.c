/* Bounces, delay warnings and success notices: RFC 3464 reports (send_dsn.c) to the sender,
   each for the recipients whose NOTIFY asks for it (RFC 3461 4.1), with RET, ENVID and
   ORCPT from the envelope, queued through
   mailroom-queue like any other message (the one code path that writes into the queue). A
   bounce of a bounce (sender <>) goes to the postmaster with the sender #@[]; a bounce of
   that is dropped and logged, so bounces never loop and <> is never bounced to <>. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/stralloc.h>
#include "auto_home.h"
#include "dsnparam.h"
#include "envelope.h"
#include "fdspawn.h"
#include "send.h"
#include "send_dsn.h"

#define DOUBLEBOUNCE_SENDER "#@[]"
#define ENV_TO_MAX 1100

/* Reads the first want bytes of the original message (its header, or all of it). */
static int readhead(struct msg const *m, char *buf, size_t want, size_t *len)
{
  char path[320];
  size_t got = 0;
  int fd;
  snprintf(path, sizeof path, "queue/mess/%s", m->id);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  while (got < want) {
    ssize_t r = pread(fd, buf + got, want - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got != want) return (errno = EIO, -1);
  *len = got;
  return 0;
}

/* 1 if recipient i asked for (or, without NOTIFY, gets by default) a report of kind:
   failures and delays unless NOTIFY left them out (RFC 3461 4.1: without NOTIFY, FAILURE
   and DELAY as the MTA does them), success only when asked. */
static int wanted(struct msg const *m, unsigned i, int kind)
{
  char const *n = envelope_rparam(m->rcpt[i], 'N');
  unsigned bits = n ? dsn_notify_parse(n, strlen(n)) : 0;
  if (kind == DSN_FAILED) return !n || (bits & DSN_NOTIFY_FAILURE);
  if (kind == DSN_DELAYED) return !n || (bits & DSN_NOTIFY_DELAY);
  return !!(bits & DSN_NOTIFY_SUCCESS);
}

/* The report of kind: for DSN_FAILED every 'F' recipient, for DSN_DELAYED every deferred
   'T' one, else recipient only; each only if it wants it. 1 when none does (nothing to
   send), 0 built, -1 error. */
static int build(stralloc *sa, struct send *s, struct msg const *m, char const *to, int kind, unsigned only)
{
  static char head[DSN_HEADERS_MAX];
  struct dsn_rcpt *r = calloc(m->nrcpt, sizeof *r);
  char *texts = malloc((size_t)m->nrcpt * (INFO_TEXT + 1)), *whole = 0;
  char const *ret = envelope_mparam(m->env, 'R');
  struct dsn d = { .me = s->cf.me, .to = to, .id = m->id, .sender = m->env + 1, .arrival = m->arrival,
                   .now = time(0), .delayed = kind, .rcpt = r, .msg = head,
                   .envid = envelope_mparam(m->env, 'E') };
  int ret_ = -1;
  if (!r || !texts) goto end;
  for (unsigned i = 0; i < m->nrcpt; i++) {
    if (kind == DSN_FAILED ? m->state[i] != 'F'
        : kind == DSN_DELAYED ? !(m->state[i] == 'T' && m->attempts[i]) : i != only)
      continue;
    if (!wanted(m, i, kind)) continue;
    info_text(m, i, texts + (size_t)d.n * (INFO_TEXT + 1));
    r[d.n].addr = m->rcpt[i];
    r[d.n].text = texts + (size_t)d.n * (INFO_TEXT + 1);
    r[d.n].orcpt = envelope_rparam(m->rcpt[i], 'O');
    d.n++;
  }
  if (!d.n) {
    ret_ = 1;
    goto end;
  }
  /* RET=FULL: the whole message, in failure reports only (RFC 3461 4.3) */
  if (kind == DSN_FAILED && ret && !strcmp(ret, "FULL")) {
    if (m->msglen <= DSN_FULL_MAX) {
      whole = malloc(m->msglen ? (size_t)m->msglen : 1);
      if (!whole || readhead(m, whole, (size_t)m->msglen, &d.msglen) < 0) goto end;
      d.msg = whole;
      d.full = 1;
    } else d.cut = 1;
  }
  if (!d.full && readhead(m, head, m->msglen > DSN_HEADERS_MAX ? DSN_HEADERS_MAX : (size_t)m->msglen, &d.msglen) < 0)
    goto end;
  ret_ = dsn_build(sa, &d) < 0 ? -1 : 0;
end:
  free(r);
  free(texts);
  free(whole);
  return ret_;
}

/* Runs mailroom-queue with the message and envelope on pipes. 0 if it exited 0. */
static int inject(char const *msg, size_t msglen, char const *env, size_t envlen)
{
  char prog[1024];
  int mp[2], ep[2], status;
  pid_t pid;
  snprintf(prog, sizeof prog, "%s/bin/mailroom-queue", auto_home);
  if (pipe(mp) < 0) return -1;
  if (pipe(ep) < 0) {
    close(mp[0]), close(mp[1]);
    return -1;
  }
  {
    char const *argv[] = { prog, 0 };
    /* fds 3-6 are the pipes to the spawners: the injector has no business holding them.
       They are closed after the pipes' read ends are on 0 and 1 (closing an fd that is not
       open is no error). */
    int const moves[][2] = { { mp[0], 0 }, { ep[0], 1 }, { mp[0], -1 }, { mp[1], -1 }, { ep[0], -1 },
                             { ep[1], -1 }, { 3, -1 }, { 4, -1 }, { 5, -1 }, { 6, -1 } };
    pid = fdspawn(prog, argv, moves, sizeof moves / sizeof moves[0]);
  }
  if (pid < 0) {
    close(mp[0]), close(mp[1]), close(ep[0]), close(ep[1]);
    return -1;
  }
  close(mp[0]);
  close(ep[0]);
  allwrite(mp[1], msg, msglen);
  close(mp[1]);
  allwrite(ep[1], env, envlen);
  close(ep[1]);
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  if (WIFEXITED(status) && !WEXITSTATUS(status)) return 0;
  return (errno = EAGAIN, -1);
}

/* The report of kind (send.h) for the message's sender. */
static int report_send(struct send *s, struct msg *m, int kind, unsigned only)
{
  char const *sender = m->env + 1;
  char to[ENV_TO_MAX];
  stralloc msg = STRALLOC_ZERO, env = STRALLOC_ZERO;
  char const *bsender;
  int r = -1, b;
  if (!strcmp(sender, DOUBLEBOUNCE_SENDER) || (kind != DSN_FAILED && !*sender)) {
    if (kind == DSN_FAILED) log_line("bounce", m, "result=dropped reason=\"double bounce\"");
    return 0;
  }
  if (!*sender) {
    snprintf(to, sizeof to, "postmaster@%s", s->cf.me);
    bsender = DOUBLEBOUNCE_SENDER;
  } else {
    snprintf(to, sizeof to, "%s", sender);
    bsender = "";
  }
  b = build(&msg, s, m, to, kind, only);
  if (b < 0) goto end;
  if (b > 0) {
    /* every recipient concerned said NOTIFY without this kind (NEVER among them) */
    if (kind == DSN_FAILED) log_line("notify", m, "kind=failed result=suppressed reason=\"NOTIFY\"");
    r = 0;
    goto end;
  }
  if (!stralloc_catb(&env, "F", 1) || !stralloc_catb(&env, bsender, strlen(bsender) + 1) ||
      !stralloc_catb(&env, "T", 1) || !stralloc_catb(&env, to, strlen(to) + 1) || !stralloc_catb(&env, "", 1))
    goto end;
  if (inject(msg.s, msg.len, env.s, env.len) < 0) goto end;
  {
    char q[ENV_TO_MAX * 2];
    log_quote(q, sizeof q, to);
    if (kind == DSN_DELIVERED || kind == DSN_RELAYED)
      log_line("notify", m, "kind=%s to=<%s> from=<%s> size=%zu", kind == DSN_RELAYED ? "relayed" : "delivered", q,
               bsender, msg.len);
    else
      log_line(kind == DSN_DELAYED ? "delaywarn" : "bounce", m, "to=<%s> from=<%s> size=%zu", q, bsender, msg.len);
  }
  r = 0;
end:
  stralloc_free(&msg);
  stralloc_free(&env);
  return r;
}

int bounce_send(struct send *s, struct msg *m, int delayed)
{
  return report_send(s, m, delayed ? DSN_DELAYED : DSN_FAILED, 0);
}

int notice_send(struct send *s, struct msg *m, unsigned i, int relayed)
{
  if (!wanted(m, i, DSN_DELIVERED)) return 0;
  return report_send(s, m, relayed ? DSN_RELAYED : DSN_DELIVERED, i);
}
