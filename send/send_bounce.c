/* Bounces: a plain-text failure notice to the sender, queued through mailroom-queue like any
   other message (the one code path that writes into the queue). A bounce of a bounce goes
   to the postmaster with the sender #@[]; a bounce of that is dropped, so bounces never loop. */
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
#include "send.h"

#define BOUNCE_COPY_MAX 100000 /* bytes of the original message quoted in a bounce */
#define DOUBLEBOUNCE_SENDER "#@[]"
#define ENV_TO_MAX 1100

static int cat(stralloc *sa, char const *s)
{
  return stralloc_cats(sa, s);
}

static int build(stralloc *sa, struct send *s, struct msg const *m, char const *to)
{
  char date[64], line[2400];
  time_t now = time(0);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  snprintf(line, sizeof line,
           "From: Mail Delivery System <MAILER-DAEMON@%s>\nTo: %s\nSubject: failure notice\nDate: %s\n"
           "Message-ID: <%s.bounce@%s>\nAuto-Submitted: auto-replied\n\n",
           s->cf.me, to, date, m->id, s->cf.me);
  if (!cat(sa, line)) return -1;
  snprintf(line, sizeof line,
           "Hi. This is the mailroom-send program at %s.\n"
           "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
           "This is a permanent error; I've given up. Sorry it didn't work out.\n\n",
           s->cf.me);
  if (!cat(sa, line)) return -1;
  for (unsigned i = 0; i < m->nrcpt; i++) {
    char path[320], text[INFO_TEXT + 1];
    int fd;
    ssize_t r = 0;
    if (m->state[i] != 'F') continue;
    /* The failure text is in the info record (bytes 24..254). */
    snprintf(path, sizeof path, "queue/info/%s", m->id);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      r = pread(fd, text, INFO_TEXT, INFO_HEADER + (off_t)i * INFO_RECORD + 24);
      close(fd);
    }
    if (r < 0) r = 0;
    while (r && text[r - 1] == ' ') r--;
    text[r] = 0;
    if (!cat(sa, "<") || !cat(sa, m->rcpt[i]) || !cat(sa, ">:\n") || !cat(sa, text) || !cat(sa, "\n\n")) return -1;
  }
  if (!cat(sa, "--- Below this line is a copy of the message.\n\n")) return -1;
  {
    char path[320];
    size_t want = m->msglen > BOUNCE_COPY_MAX ? BOUNCE_COPY_MAX : (size_t)m->msglen, got = 0;
    int fd;
    snprintf(path, sizeof path, "queue/mess/%s", m->id);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (!stralloc_readyplus(sa, want)) {
      close(fd);
      return -1;
    }
    while (got < want) {
      ssize_t r = pread(fd, sa->s + sa->len + got, want - got, (off_t)got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += (size_t)r;
    }
    close(fd);
    if (got != want) return (errno = EIO, -1);
    sa->len += got;
    if (want < m->msglen && !cat(sa, "\n[... the rest of the message was cut here ...]\n")) return -1;
  }
  return 0;
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
  pid = fork();
  if (pid < 0) {
    close(mp[0]), close(mp[1]), close(ep[0]), close(ep[1]);
    return -1;
  }
  if (!pid) {
    char *argv[] = { prog, 0 };
    if (dup2(mp[0], 0) < 0 || dup2(ep[0], 1) < 0) _exit(111);
    close(mp[0]), close(mp[1]), close(ep[0]), close(ep[1]);
    /* fds 3-6 are the pipes to the spawners: the injector has no business holding them. */
    for (int fd = 3; fd <= 6; fd++) close(fd);
    execv(prog, argv);
    _exit(111);
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

int bounce_send(struct send *s, struct msg *m)
{
  char const *sender = m->env + 1;
  char to[ENV_TO_MAX];
  stralloc msg = STRALLOC_ZERO, env = STRALLOC_ZERO;
  char const *bsender;
  int r = -1;
  if (!strcmp(sender, DOUBLEBOUNCE_SENDER)) {
    log_line("bounce", m, "result=dropped reason=\"double bounce\"");
    return 0;
  }
  if (!*sender) {
    snprintf(to, sizeof to, "postmaster@%s", s->cf.me);
    bsender = DOUBLEBOUNCE_SENDER;
  } else {
    snprintf(to, sizeof to, "%s", sender);
    bsender = "";
  }
  if (build(&msg, s, m, to) < 0) goto end;
  if (!stralloc_catb(&env, "F", 1) || !stralloc_catb(&env, bsender, strlen(bsender) + 1) ||
      !stralloc_catb(&env, "T", 1) || !stralloc_catb(&env, to, strlen(to) + 1) || !stralloc_catb(&env, "", 1))
    goto end;
  if (inject(msg.s, msg.len, env.s, env.len) < 0) goto end;
  log_line("bounce", m, "to=<%s> from=<%s> size=%zu", to, bsender, msg.len);
  r = 0;
end:
  stralloc_free(&msg);
  stralloc_free(&env);
  return r;
}
