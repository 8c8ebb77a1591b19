/* Bounces and delay warnings: RFC 3464 reports (send_dsn.c) to the sender, queued through
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
#include "fdspawn.h"
#include "send.h"
#include "send_dsn.h"

#define DOUBLEBOUNCE_SENDER "#@[]"
#define ENV_TO_MAX 1100

/* Reads the first bytes of the original message (its header, for the report). */
static int readhead(struct msg const *m, char *buf, size_t *len)
{
  char path[320];
  size_t want = m->msglen > DSN_HEADERS_MAX ? DSN_HEADERS_MAX : (size_t)m->msglen, got = 0;
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

static int build(stralloc *sa, struct send *s, struct msg const *m, char const *to, int delayed)
{
  static char head[DSN_HEADERS_MAX];
  struct dsn_rcpt *r = calloc(m->nrcpt, sizeof *r);
  char *texts = malloc((size_t)m->nrcpt * (INFO_TEXT + 1));
  struct dsn d = { .me = s->cf.me, .to = to, .id = m->id, .sender = m->env + 1, .arrival = m->arrival,
                   .now = time(0), .delayed = delayed, .rcpt = r, .msg = head };
  int ret = -1;
  if (!r || !texts || readhead(m, head, &d.msglen) < 0) goto end;
  for (unsigned i = 0; i < m->nrcpt; i++) {
    if (delayed ? !(m->state[i] == 'T' && m->attempts[i]) : m->state[i] != 'F') continue;
    info_text(m, i, texts + (size_t)d.n * (INFO_TEXT + 1));
    r[d.n].addr = m->rcpt[i];
    r[d.n].text = texts + (size_t)d.n * (INFO_TEXT + 1);
    d.n++;
  }
  ret = dsn_build(sa, &d);
end:
  free(r);
  free(texts);
  return ret;
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

int bounce_send(struct send *s, struct msg *m, int delayed)
{
  char const *what = delayed ? "delaywarn" : "bounce";
  char const *sender = m->env + 1;
  char to[ENV_TO_MAX];
  stralloc msg = STRALLOC_ZERO, env = STRALLOC_ZERO;
  char const *bsender;
  int r = -1;
  if (!strcmp(sender, DOUBLEBOUNCE_SENDER) || (delayed && !*sender)) {
    if (!delayed) log_line("bounce", m, "result=dropped reason=\"double bounce\"");
    return 0;
  }
  if (!*sender) {
    snprintf(to, sizeof to, "postmaster@%s", s->cf.me);
    bsender = DOUBLEBOUNCE_SENDER;
  } else {
    snprintf(to, sizeof to, "%s", sender);
    bsender = "";
  }
  if (build(&msg, s, m, to, delayed) < 0) goto end;
  if (!stralloc_catb(&env, "F", 1) || !stralloc_catb(&env, bsender, strlen(bsender) + 1) ||
      !stralloc_catb(&env, "T", 1) || !stralloc_catb(&env, to, strlen(to) + 1) || !stralloc_catb(&env, "", 1))
    goto end;
  if (inject(msg.s, msg.len, env.s, env.len) < 0) goto end;
  {
    char q[ENV_TO_MAX * 2];
    log_quote(q, sizeof q, to);
    log_line(what, m, "to=<%s> from=<%s> size=%zu", q, bsender, msg.len);
  }
  r = 0;
end:
  stralloc_free(&msg);
  stralloc_free(&env);
  return r;
}
