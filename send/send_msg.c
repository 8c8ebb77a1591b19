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
#include "vdomain_db.h"

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

/* A recipient of a virtual domain (control/virtualdomains, not in locals): 1 with
   *vaddr the malloc'd prefix-local@domain that mailroom-lspawn looks up as any local
   address, as qmail-send rewrites it; 0 not virtual; -1 error (the lookup or memory). */
int msg_virtual(char const *addr, char **vaddr)
{
  char prefix[VDOMAIN_PREFIX_MAX + 1], out[VDOMAIN_ADDR_MAX + 1];
  size_t len = strlen(addr), n;
  int r = vdomain_lookup(addr, len, prefix, 0);
  *vaddr = 0;
  if (r <= 0) return r;
  n = vdomain_rewrite(prefix, addr, len, out, sizeof out);
  if (!n) return 0; /* cannot happen: envelope addresses are under 1000 bytes */
  *vaddr = strdup(out);
  return *vaddr ? 1 : -1;
}

void msg_free(struct msg *m)
{
  if (m->vaddr)
    for (unsigned i = 0; i < m->nrcpt; i++) free(m->vaddr[i]);
  free(m->vaddr);
  free(m->env);
  free(m->rcpt);
  free(m->state);
  free(m->chan);
  free(m->attempts);
  free(m->nexttry);
  free(m->flight);
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
  /* never 0 bytes: malloc(0) and calloc(0, n) may return NULL, which reads as out of memory */
  size_t a = k ? k : 1;
  m->rcpt = malloc(a * sizeof *m->rcpt);
  m->state = malloc(a);
  m->chan = malloc(a);
  m->attempts = calloc(a, sizeof *m->attempts);
  m->nexttry = calloc(a, sizeof *m->nexttry);
  m->flight = calloc(a, 1);
  m->vaddr = calloc(a, sizeof *m->vaddr);
  if (!m->rcpt || !m->state || !m->chan || !m->attempts || !m->nexttry || !m->flight || !m->vaddr) goto err;
  k = 0;
  for (char const *p = envelope_next(m->env, 0); p; p = envelope_next(m->env, p)) {
    m->rcpt[k] = p;
    m->state[k] = 'T';
    m->chan[k] = 'L';
    if (!msg_islocal(&s->cf, p)) {
      /* a failed lookup must not send a virtual domain's mail out: the message waits */
      int v = msg_virtual(p, &m->vaddr[k]);
      if (v < 0) {
        if (errno == EPROTO) errno = EIO; /* a corrupt cdb, not a bad message: no quarantine */
        goto err;
      }
      if (!v) m->chan[k] = 'R';
    }
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

int msg_unref(struct msg *m)
{
  m->refs--;
  if (!m->gone) return 0;
  if (!m->refs) msg_free(m);
  return 1;
}

/* 1 if a recipient still to do is due now: it is about to be tried, so a bounce waits. */
static int due(struct msg const *m, time_t now)
{
  for (unsigned i = 0; i < m->nrcpt; i++)
    if (m->state[i] == 'T' && m->nexttry[i] <= now) return 1;
  return 0;
}

/* Bounces what failed, once nothing of the message runs or is due (so one bounce covers
   every failure of a round), and removes the message when every recipient is done (mess
   before info: INTERNALS.md, S4). A bounce that cannot be queued now is tried again later,
   and the message stays until it is. */
void msg_progress(struct send *s, struct msg *m, time_t now)
{
  if (m->gone || m->inflight) return;
  if (m->failed && (!m->todo || !due(m, now))) {
    if (bounce_send(s, m, 0) < 0) {
      strerr_warnwu3sys("queue the bounce of ", m->id, ", will try again");
      if (!m->bounceretry) {
        if (sched_later(s, m, BOUNCE_RETRY, sched_backoff(&s->cf, 1, now)) < 0)
          strerr_diefu1sys(111, "schedule a retry");
        m->bounceretry = 1;
      }
      return;
    }
    for (unsigned i = 0; i < m->nrcpt; i++)
      if (m->state[i] == 'F') {
        m->state[i] = 'B';
        info_update(m, i, "bounced");
      }
    m->failed = 0;
  }
  if (m->todo || m->failed) return;
  unlink_warn("queue/mess", m->id);
  unlink_warn("queue/info", m->id);
  log_line("end", m, "nrcpt=%u", m->nrcpt);
  if (m->prev) m->prev->next = m->next;
  else s->msgs = m->next;
  if (m->next) m->next->prev = m->prev;
  s->nmsgs--;
  m->gone = 1;
  if (!m->refs) msg_free(m);
}
