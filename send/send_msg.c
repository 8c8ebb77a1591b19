/* Messages in memory: loaded from a message file and its info file, finished when every
   recipient is done. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/strerr.h>
#include "control.h"
#include "envelope.h"
#include "msgfile.h"
#include "send.h"

int msg_islocal(struct config const *cf, char const *addr)
{
  char const *at = strrchr(addr, '@');
  size_t dl;
  if (!at) return 1; /* a bare name is this host's */
  at++;
  dl = strlen(at);
  if (!dl) return 1;
  if (strlen(cf->me) == dl && !strncasecmp(cf->me, at, dl)) return 1;
  return control_haslinecase(cf->locals, cf->localslen, at, dl);
}

void msg_free(struct msg *m)
{
  free(m->env);
  free(m->rcpt);
  free(m->state);
  free(m->chan);
  free(m->attempts);
  free(m->nexttry);
  free(m);
}

/* Loads dir/ID (dir is "queue/new" or "queue/mess"). fresh: a new message, whose info file
   is (re)written from scratch. Returns the message, linked into s->msgs, or 0 with errno
   (EPROTO: the file is malformed). */
struct msg *msg_load(struct send *s, char const *dir, char const *id, int fresh)
{
  char path[320];
  unsigned long long sec;
  struct msg *m;
  unsigned k = 0;
  int fd, r;
  if (!qid_parse(id, &sec, 0)) return (errno = EPROTO, (struct msg *)0);
  m = calloc(1, sizeof *m);
  if (!m) return 0;
  memcpy(m->id, id, strlen(id) + 1);
  m->arrival = sec;
  snprintf(path, sizeof path, "%s/%s", dir, id);
  fd = msgfile_open(path, &m->msglen, &m->env, &m->envlen);
  if (fd < 0) goto err;
  close(fd);
  envelope_check(m->env, m->envlen, &(size_t){ 0 });
  for (char const *p = envelope_next(m->env, 0); p; p = envelope_next(m->env, p)) k++;
  m->nrcpt = k;
  m->rcpt = malloc(k * sizeof *m->rcpt);
  m->state = malloc(k);
  m->chan = malloc(k);
  m->attempts = calloc(k, sizeof *m->attempts);
  m->nexttry = calloc(k, sizeof *m->nexttry);
  if (!m->rcpt || !m->state || !m->chan || !m->attempts || !m->nexttry) goto err;
  k = 0;
  for (char const *p = envelope_next(m->env, 0); p; p = envelope_next(m->env, p)) {
    m->rcpt[k] = p;
    m->state[k] = 'T';
    m->chan[k] = msg_islocal(&s->cf, p) ? 'L' : 'R';
    k++;
  }
  r = fresh ? 0 : info_load(m);
  if (r < 0) goto err;
  if (!r) {
    for (k = 0; k < m->nrcpt; k++) m->state[k] = 'T', m->attempts[k] = 0, m->nexttry[k] = 0;
    if (info_create(m) < 0) goto err;
  }
  for (k = 0; k < m->nrcpt; k++) {
    if (m->state[k] == 'T') m->todo++;
    if (m->state[k] == 'F') m->failed++;
  }
  m->next = s->msgs;
  if (s->msgs) s->msgs->prev = m;
  s->msgs = m;
  s->nmsgs++;
  return m;
err : {
  int e = errno;
  msg_free(m);
  errno = e;
  return 0;
}
}

static void unlink_warn(char const *dir, char const *id)
{
  char path[320];
  snprintf(path, sizeof path, "%s/%s", dir, id);
  if (unlink(path) < 0 && errno != ENOENT) strerr_warnwu2sys("remove ", path);
}

/* Every recipient is done: bounce what failed, then remove the message (mess before info:
   INTERNALS.md, S4). A bounce that cannot be queued now keeps the message for a later try. */
void msg_finish(struct send *s, struct msg *m)
{
  if (m->failed) {
    if (bounce_send(s, m) < 0) {
      time_t t = sched_backoff(&s->cf, 1, time(0));
      strerr_warnwu3sys("queue the bounce of ", m->id, ", will try again");
      if (sched_later(s, m, BOUNCE_RETRY, t) < 0) strerr_diefu1sys(111, "schedule a retry");
      return;
    }
    for (unsigned i = 0; i < m->nrcpt; i++)
      if (m->state[i] == 'F') {
        m->state[i] = 'B';
        info_update(m, i, "bounced");
      }
    m->failed = 0;
  }
  unlink_warn("queue/mess", m->id);
  unlink_warn("queue/info", m->id);
  log_line("end", m, "nrcpt=%u", m->nrcpt);
  if (m->prev) m->prev->next = m->next;
  else s->msgs = m->next;
  if (m->next) m->next->prev = m->prev;
  s->nmsgs--;
  msg_free(m);
}
