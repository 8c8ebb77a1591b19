/* Queue control: the commands mailroom-qctl writes into the FIFO queue/lock/ctl, one line
   each (hold, release, requeue, delete, expire; INTERNALS.md, "Queue control"), applied
   here inside the manager's loop, so that they never race a delivery or a pick-up. Also
   the lock queue/lock/sendlock that tells qctl whether a manager runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/strerr.h>
#include "send.h"

#define CTL_FIFO "queue/lock/ctl"
#define CTL_LOCK "queue/lock/sendlock"
#define LOCK_TRIES 100 /* x 0.1 s: a qctl working on the queue without us holds it briefly */
#define HOLD_PARK 3600 /* seconds a held recipient waits before it is looked at again */
#define EXPIRE_TEXT "5.4.7 delivery time expired by the administrator (mailroom-qctl)"

int ctl_init(struct ctl *c)
{
  struct stat st;
  int k = 0;
  c->len = 0;
  c->skip = 0;
  c->npending = 0;
  c->lockfd = open(CTL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (c->lockfd < 0) return -1;
  while (flock(c->lockfd, LOCK_EX | LOCK_NB) < 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return -1;
    if (++k >= LOCK_TRIES) strerr_dief1x(111, "another mailroom-send holds " CTL_LOCK);
    usleep(100000);
  }
  /* An instance set up before queue control existed has no FIFO yet: make it. */
  if (lstat(CTL_FIFO, &st) < 0) {
    if (errno != ENOENT || mkfifo(CTL_FIFO, 0600) < 0) return -1;
  } else if (!S_ISFIFO(st.st_mode))
    return (errno = EINVAL, -1);
  c->fd = open(CTL_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (c->fd < 0) return -1;
  c->wfd = open(CTL_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC); /* so reads never see EOF */
  return c->wfd < 0 ? -1 : 0;
}

/* The held bit of a message whose info header was just read (send_info.c). */
void ctl_loadheader(struct msg *m, char const *hdr)
{
  char f[9];
  memcpy(f, hdr + 16, 8);
  f[8] = 0;
  m->ctl = (strtoul(f, 0, 16) & 1) ? CTL_HELD : 0;
}

/* A delivery of a held message came due: it waits (send_chan.c). Returns 1 if parked. */
int ctl_park(struct send *s, struct msg *m, unsigned i)
{
  if (!(m->ctl & CTL_HELD)) return 0;
  if (sched_later(s, m, i, time(0) + HOLD_PARK) < 0) strerr_diefu1sys(111, "schedule a retry");
  return 1;
}

static int pwriteall(char const *id, char const *b, size_t n, off_t off)
{
  char path[QID_MAX + 20];
  int fd, r = 0;
  snprintf(path, sizeof path, "queue/info/%s", id);
  fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  while (n && r == 0) {
    ssize_t w = pwrite(fd, b, n, off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) r = -1;
    else b += w, n -= (size_t)w, off += w;
  }
  if (close(fd) < 0) r = -1;
  return r;
}

/* Sets or clears bit 0 of the header's flags, keeping the other bits. */
static int write_held(struct msg const *m, int held)
{
  char path[QID_MAX + 20], hdr[INFO_HEADER], f[9];
  unsigned long flags;
  int fd;
  ssize_t r;
  snprintf(path, sizeof path, "queue/info/%s", m->id);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  r = pread(fd, hdr, sizeof hdr, 0);
  close(fd);
  if (r != (ssize_t)sizeof hdr) return (errno = EPROTO, -1);
  memcpy(f, hdr + 16, 8);
  f[8] = 0;
  flags = strtoul(f, 0, 16);
  flags = held ? (flags | 1UL) : (flags & ~1UL);
  snprintf(f, sizeof f, "%08lx", flags & 0xffffffffUL);
  return pwriteall(m->id, f, 8, 16);
}

static struct msg *find(struct send *s, char const *id)
{
  for (struct msg *m = s->msgs; m; m = m->next)
    if (!strcmp(m->id, id)) return m;
  return 0;
}

/* Restores the heap order after entries' times changed (Floyd's heapify). */
static void reheap(struct send *s)
{
  for (size_t k = s->heaplen / 2; k-- > 0;) {
    size_t j = k;
    for (;;) {
      size_t l = 2 * j + 1, r = l + 1, min = j;
      if (l < s->heaplen && s->heap[l].when < s->heap[min].when) min = l;
      if (r < s->heaplen && s->heap[r].when < s->heap[min].when) min = r;
      if (min == j) break;
      struct retry t = s->heap[j];
      s->heap[j] = s->heap[min];
      s->heap[min] = t;
      j = min;
    }
  }
}

static void unlink_quiet(char const *dir, char const *id)
{
  char path[QID_MAX + 20];
  snprintf(path, sizeof path, "queue/%s/%s", dir, id);
  if (unlink(path) < 0 && errno != ENOENT) strerr_warnwu2sys("remove ", path);
}

/* Removes a message that has no delivery under way: files first (mess before info, S4).
   Its entries in the ready FIFOs, the domain waiting lists and the retry heap stay: they
   see m->gone, skip it, and the last one frees it (msg_unref, send_msg.c). */
static void drop(struct send *s, struct msg *m)
{
  unlink_quiet("mess", m->id);
  unlink_quiet("info", m->id);
  log_line("delete", m, "nrcpt=%u todo=%u by=qctl", m->nrcpt, m->todo);
  if (m->prev) m->prev->next = m->next;
  else s->msgs = m->next;
  if (m->next) m->next->prev = m->prev;
  s->nmsgs--;
  m->gone = 1;
  if (!m->refs) msg_free(m);
}

/* A message still in queue/new is picked up first, as send_scan.c does, so that every
   command acts on a loaded message. */
static struct msg *load_new(struct send *s, char const *id, time_t now)
{
  char from[QID_MAX + 20], to[QID_MAX + 20], q[2100];
  struct msg *m = msg_load(s, "queue/new", id, 1);
  if (!m) return 0;
  snprintf(from, sizeof from, "queue/new/%s", id);
  snprintf(to, sizeof to, "queue/mess/%s", id);
  if (rename(from, to) < 0) strerr_diefu4sys(111, "rename ", from, " to ", to);
  log_quote(q, sizeof q, m->env + 1);
  log_line("new", m, "size=%llu from=<%s> nrcpt=%u", m->msglen, q, m->nrcpt);
  if (sched_queue_msg(s, m, now) < 0) strerr_diefu1sys(111, "schedule deliveries");
  return m;
}

static void requeue(struct send *s, struct msg *m, time_t now)
{
  char t[11];
  snprintf(t, sizeof t, "%010llu", (unsigned long long)now % 10000000000ULL);
  for (unsigned i = 0; i < m->nrcpt; i++) {
    if (m->state[i] != 'T') continue;
    m->nexttry[i] = now;
    if (pwriteall(m->id, t, 10, INFO_HEADER + (off_t)i * INFO_RECORD + 13) < 0)
      strerr_warnwu3sys("record the requeue of ", m->id, " in queue/info");
  }
  for (size_t k = 0; k < s->heaplen; k++)
    if (s->heap[k].m == m && s->heap[k].i != BOUNCE_RETRY && !(m->ctl & CTL_HELD)) s->heap[k].when = 0;
}

static void expire(struct send *s, struct msg *m, time_t now)
{
  unsigned n = 0;
  for (unsigned i = 0; i < m->nrcpt; i++) {
    if (m->state[i] != 'T') continue;
    m->state[i] = 'F';
    m->todo--;
    m->failed++;
    n++;
    log_line("fail", m, "d=0 to=<%s> reason=expired text=\"%s\"", m->rcpt[i], EXPIRE_TEXT);
    if (info_update(m, i, EXPIRE_TEXT) < 0) strerr_warnwu3sys("record the expiry of ", m->id, " in queue/info");
  }
  log_line("expire", m, "nrcpt=%u by=qctl", n);
  /* A recipient being delivered now keeps its 'T' in memory: its result decides. The
     failed ones are bounced and the message removed as after any result. */
  msg_progress(s, m, now);
}

static void pending_add(struct ctl *c, char const *id)
{
  if (c->npending < CTL_PENDING_MAX) memcpy(c->pending[c->npending++], id, strlen(id) + 1);
  else strerr_warnw3x("too many deletes waiting; ", id, " is held instead");
}

static void command(struct send *s, char *line, time_t now)
{
  char *arg = strchr(line, ' ');
  struct msg *m;
  char q[CTL_LINE_MAX * 2 + 1];
  if (arg) *arg++ = 0;
  if (!strcmp(line, "requeue") && arg && !strcmp(arg, "*")) {
    int t = open("queue/lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    for (m = s->msgs; m; m = m->next) requeue(s, m, now);
    reheap(s);
    /* and what waits in queue/new: a poke makes the main loop look there now */
    if (t >= 0) {
      if (write(t, "", 1) < 0) { /* a full FIFO means a look is already due */ }
      close(t);
    }
    log_line("requeue", 0, "msg=* by=qctl");
    return;
  }
  if (!arg || !qid_parse(arg, 0, 0) ||
      (strcmp(line, "hold") != 0 && strcmp(line, "release") != 0 && strcmp(line, "requeue") != 0 && strcmp(line, "delete") != 0 &&
       strcmp(line, "expire") != 0)) {
    if (arg) arg[-1] = ' ';
    log_quote(q, sizeof q, line);
    log_line("ctl", 0, "error=\"unknown command\" line=\"%s\"", q);
    return;
  }
  m = find(s, arg);
  if (!m) {
    char path[QID_MAX + 20];
    snprintf(path, sizeof path, "queue/new/%s", arg);
    if (!strcmp(line, "delete") && access(path, F_OK) == 0) {
      struct msg fake;
      unlink_quiet("new", arg);
      unlink_quiet("info", arg);
      memcpy(fake.id, arg, strlen(arg) + 1);
      log_line("delete", &fake, "nrcpt=0 todo=0 by=qctl where=new");
      return;
    }
    if (access(path, F_OK) == 0) m = load_new(s, arg, now);
    if (!m) {
      log_line("ctl", 0, "cmd=%s msg=%s error=\"no such message\"", line, arg);
      return;
    }
  }
  if (!strcmp(line, "hold") || !strcmp(line, "release")) {
    int held = line[0] == 'h';
    if (write_held(m, held) < 0) {
      strerr_warnwu3sys("record the hold flag of ", m->id, " in queue/info");
      return;
    }
    /* the header's flags in memory too, so that a later rewrite of the header (the
       delay warning's bit 1, send_info.c) keeps the held bit as it is on disk */
    m->flags = held ? (m->flags | 1U) : (m->flags & ~1U);
    if (held) m->ctl |= CTL_HELD;
    else {
      m->ctl &= ~CTL_HELD;
      /* Parked deliveries go back to their own schedule: due now if they were due. */
      for (size_t k = 0; k < s->heaplen; k++)
        if (s->heap[k].m == m && s->heap[k].i != BOUNCE_RETRY) s->heap[k].when = m->nexttry[s->heap[k].i];
      reheap(s);
    }
    log_line(line, m, "by=qctl");
  } else if (!strcmp(line, "requeue")) {
    requeue(s, m, now);
    reheap(s);
    log_line("requeue", m, "by=qctl");
  } else if (!strcmp(line, "delete")) {
    if (m->inflight) {
      m->ctl |= CTL_HELD | CTL_DELETE;
      pending_add(&s->ctl, m->id);
      log_line("delete", m, "inflight=%u by=qctl result=waiting", m->inflight);
    } else
      drop(s, m);
  } else
    expire(s, m, now);
}

void ctl_read(struct send *s, time_t now)
{
  struct ctl *c = &s->ctl;
  for (;;) {
    ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    c->len += (size_t)r;
    for (;;) {
      char *nl = memchr(c->buf, '\n', c->len);
      size_t used;
      if (!nl) {
        /* A line longer than any command: throw it away up to its newline. */
        if (c->len == sizeof c->buf) c->len = 0, c->skip = 1;
        break;
      }
      *nl = 0;
      used = (size_t)(nl + 1 - c->buf);
      if (!c->skip) command(s, c->buf, now);
      else log_line("ctl", 0, "error=\"overlong command line\"");
      c->skip = 0;
      c->len -= used;
      memmove(c->buf, c->buf + used, c->len);
    }
  }
}

/* Deletes that waited for a delivery under way. */
void ctl_poll(struct send *s)
{
  struct ctl *c = &s->ctl;
  unsigned w = 0;
  for (unsigned k = 0; k < c->npending; k++) {
    struct msg *m = find(s, c->pending[k]);
    if (!m) continue; /* finished meanwhile */
    if (m->inflight) {
      memmove(c->pending[w++], c->pending[k], QID_MAX + 1);
      continue;
    }
    drop(s, m);
  }
  c->npending = w;
}
