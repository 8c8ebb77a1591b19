/* The queue control commands on the files themselves, for when no mailroom-send runs (it
   holds queue/lock/sendlock while it does; the caller holds it now), and the checks that a
   running mailroom-send applied a command (INTERNALS.md, "Queue control"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "qctl.h"

#define EXPIRE_TEXT "5.4.7 delivery time expired by the administrator (mailroom-qctl)"

char const *const qc_name[QC_N] = { "hold", "release", "requeue", "delete", "expire" };

static int exists(char const *dir, char const *id)
{
  char path[QID_MAX + 20];
  snprintf(path, sizeof path, "queue/%s/%s", dir, id);
  return access(path, F_OK) == 0;
}

/* The whole info file, or 0 (missing, unreadable or malformed). */
static char *readinfo(char const *id, size_t *len)
{
  char path[QID_MAX + 20];
  char *buf = 0;
  size_t cap = 0, got = 0;
  int fd;
  snprintf(path, sizeof path, "queue/info/%s", id);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  for (;;) {
    ssize_t r;
    if (got == cap) {
      char *n;
      cap = cap ? cap * 2 : 4096;
      if (cap > (size_t)QT_INFO_HEADER + 100001UL * QT_INFO_RECORD || !(n = realloc(buf, cap))) {
        free(buf);
        close(fd);
        return 0;
      }
      buf = n;
    }
    r = read(fd, buf + got, cap - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got < QT_INFO_HEADER || memcmp(buf, "MRI1 ", 5) != 0 || (got - QT_INFO_HEADER) % QT_INFO_RECORD) {
    free(buf);
    return 0;
  }
  *len = got;
  return buf;
}

static int writeat(char const *id, char const *s, size_t n, off_t off)
{
  char path[QID_MAX + 20];
  int fd, r = 0;
  snprintf(path, sizeof path, "queue/info/%s", id);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (pwrite(fd, s, n, off) != (ssize_t)n) r = -1;
  if (close(fd) < 0) r = -1;
  return r;
}

static unsigned long flags_of(char const *buf)
{
  char f[9];
  memcpy(f, buf + 16, 8);
  f[8] = 0;
  return strtoul(f, 0, 16);
}

static int unlink_ok(char const *dir, char const *id)
{
  char path[QID_MAX + 20];
  snprintf(path, sizeof path, "queue/%s/%s", dir, id);
  return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int qc_apply(int cmd, char const *id, time_t now, char const **why)
{
  size_t len;
  char *buf;
  int r = 0;
  if (cmd == QC_DELETE) {
    /* mess before info (INTERNALS.md, S4); new/ holds it if it was never picked up. */
    if (unlink_ok("new", id) < 0 || unlink_ok("mess", id) < 0 || unlink_ok("info", id) < 0) {
      *why = "unable to remove its files";
      return -1;
    }
    return 0;
  }
  if (!exists("mess", id)) {
    *why = exists("new", id) ? "not picked up yet: start mailroom-send first" : "no such message";
    return -1;
  }
  buf = readinfo(id, &len);
  if (!buf) {
    *why = "queue/info has no valid record of it (mailroom-send rebuilds it at start)";
    return -1;
  }
  if (cmd == QC_HOLD || cmd == QC_RELEASE) {
    char f[9];
    unsigned long fl = flags_of(buf);
    fl = cmd == QC_HOLD ? fl | QT_FLAG_HELD : fl & ~QT_FLAG_HELD;
    snprintf(f, sizeof f, "%08lx", fl & 0xffffffffUL);
    r = writeat(id, f, 8, 16);
  } else {
    for (size_t off = QT_INFO_HEADER; off < len && r == 0; off += QT_INFO_RECORD) {
      char rec[QT_INFO_RECORD + 1];
      if (buf[off] != 'T') continue;
      memcpy(rec, buf + off, QT_INFO_RECORD);
      if (cmd == QC_REQUEUE) {
        char t[11];
        snprintf(t, sizeof t, "%010llu", (unsigned long long)now % 10000000000ULL);
        memcpy(rec + 13, t, 10);
      } else {
        /* 'F': failed, bounce not yet written; mailroom-send bounces it when it starts. */
        rec[0] = 'F';
        memset(rec + 24, ' ', QT_INFO_TEXT);
        memcpy(rec + 24, EXPIRE_TEXT, sizeof EXPIRE_TEXT - 1);
      }
      r = writeat(id, rec, QT_INFO_RECORD, (off_t)off);
    }
  }
  free(buf);
  if (r < 0) *why = "unable to write queue/info";
  return r;
}

void qc_snapshot(char const *id, struct qc_before *b)
{
  size_t len;
  char *buf = readinfo(id, &len);
  b->tries = 0;
  if (!buf) return;
  for (size_t off = QT_INFO_HEADER; off < len; off += QT_INFO_RECORD) b->tries += strtoull(buf + off + 4, 0, 10);
  free(buf);
}

int qc_done(int cmd, char const *id, struct qc_before const *b, time_t sent)
{
  size_t len;
  char *buf;
  int gone = !exists("mess", id) && !exists("new", id), r = 1;
  unsigned long long tries = 0;
  if (cmd == QC_DELETE) return gone && !exists("info", id);
  if (gone) return 2;
  /* Not picked up yet: a new message is due at once anyway. */
  if (cmd == QC_REQUEUE && !exists("mess", id)) return 1;
  buf = readinfo(id, &len);
  if (!buf) return 0;
  if (cmd == QC_HOLD) r = (flags_of(buf) & QT_FLAG_HELD) != 0;
  else if (cmd == QC_RELEASE) r = !(flags_of(buf) & QT_FLAG_HELD);
  else {
    for (size_t off = QT_INFO_HEADER; off < len; off += QT_INFO_RECORD) {
      tries += strtoull(buf + off + 4, 0, 10);
      if (buf[off] != 'T') continue;
      if (cmd == QC_EXPIRE) r = 0; /* NOLINT(bugprone-branch-clone): two reasons for the same answer, kept apart */
      else if (strtoull(buf + off + 13, 0, 10) > (unsigned long long)time(0)) r = 0;
    }
    /* A requeued delivery may have run and been deferred again already: that counts. */
    if (cmd == QC_REQUEUE && !r && tries > b->tries) r = 1;
    (void)sent;
  }
  free(buf);
  return r;
}
