/* mbox deliveries: a From_ line, Return-Path, Delivered-To, the message with ">From "
   quoting, a blank line; appended under an fcntl lock, fsynced, and cut back to the old
   size when a write fails, so that a full disk never leaves half a message behind. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "local.h"

#define MBOX_IN 1024          /* bytes of message quoted at a time */
#define MBOX_OUT (6 * MBOX_IN) /* mboxq_put writes at most 6 bytes per byte read */
#define LOCK_STEP_MS 100

static char const from[] = "From ";

/* Quotes in[0..len) into out (room for 6 * len bytes): a line that is "From " after any
   number of '>' gets one more '>' (mboxrd). The state carries over calls, so a line may
   be split anywhere. Returns the bytes written; *used gets len. */
size_t mboxq_put(mboxq *q, char const *in, size_t len, char *out, size_t *used)
{
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    unsigned int s = q->state;
    if (s == 6) {
      out[o++] = c;
      if (c == '\n') q->state = 0;
    } else if (s == 0 && c == '>') {
      out[o++] = c; /* inserting the '>' here or before the run gives the same bytes */
    } else if (c == from[s]) {
      if (++q->state == 5) {
        out[o++] = '>';
        memcpy(out + o, from, 5);
        o += 5;
        q->state = 6;
      }
    } else {
      memcpy(out + o, from, s);
      o += s;
      out[o++] = c;
      q->state = c == '\n' ? 0 : 6;
    }
  }
  *used = len;
  return o;
}

/* At the end of the message: what is still held (a last line "Fro"). At most 4 bytes. */
size_t mboxq_end(mboxq const *q, char *out)
{
  size_t s = q->state >= 1 && q->state <= 4 ? q->state : 0;
  memcpy(out, from, s);
  return s;
}

static int allwrite_fd(int fd, char const *s, size_t n)
{
  while (n) {
    ssize_t r = write(fd, s, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    s += r;
    n -= (size_t)r;
  }
  return 0;
}

/* 1 locked, 0 the file system has no locks (qmail-local then goes on unlocked), -1 still
   locked by someone else after LOCAL_MBOX_LOCKWAIT seconds, -2 error. */
static int lock_mbox(int fd)
{
  struct flock fl;
  struct timespec ts = { 0, LOCK_STEP_MS * 1000000L };
  for (unsigned int t = 0; t < LOCAL_MBOX_LOCKWAIT * (1000 / LOCK_STEP_MS); t++) {
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (!fcntl(fd, F_SETLK, &fl)) return 1;
    if (errno == ENOLCK || errno == EINVAL || errno == EOPNOTSUPP) return 0;
    if (errno != EAGAIN && errno != EACCES && errno != EINTR) return -2;
    nanosleep(&ts, 0);
  }
  return -1;
}

static int copy_quoted(local *l, int fd)
{
  char in[MBOX_IN];
  char out[MBOX_OUT];
  mboxq q = { 0 };
  unsigned long long off = 0;
  char last = '\n';
  size_t n;

  while (off < l->msglen) {
    size_t want = sizeof in;
    size_t used;
    ssize_t r;
    if (want > l->msglen - off) want = (size_t)(l->msglen - off);
    r = pread(l->msgfd, in, want, (off_t)off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return (l->why = LW_READMSG, l->err = errno, -1);
    }
    if (!r) return (l->why = LW_SHORTMSG, -1);
    off += (unsigned long long)r;
    last = in[r - 1];
    n = mboxq_put(&q, in, (size_t)r, out, &used);
    if (allwrite_fd(fd, out, n) < 0) return (l->why = LW_MBOXWRITE, l->err = errno, -1);
  }
  n = mboxq_end(&q, out);
  if (last != '\n') out[n++] = '\n';
  out[n++] = '\n'; /* the blank line before the next From_ line */
  if (allwrite_fd(fd, out, n) < 0) return (l->why = LW_MBOXWRITE, l->err = errno, -1);
  return 0;
}

int local_mbox(local *l, char const *fn)
{
  off_t pos;
  int locked;
  int fd = open(fn, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0) return (l->why = LW_MBOXOPEN, l->err = errno, -1);
  locked = lock_mbox(fd);
  if (locked < 0) {
    l->why = locked == -1 ? LW_MBOXLOCK : LW_MBOXOPEN;
    l->err = errno;
    close(fd);
    return -1;
  }
  pos = lseek(fd, 0, SEEK_END);
  if (pos < 0) {
    l->why = LW_MBOXWRITE;
    l->err = errno;
    close(fd);
    return -1;
  }
  if (allwrite_fd(fd, l->ufline.s, l->ufline.len) < 0
      || allwrite_fd(fd, l->rpline.s, l->rpline.len) < 0
      || allwrite_fd(fd, l->dtline.s, l->dtline.len) < 0) {
    l->why = LW_MBOXWRITE;
    l->err = errno;
    goto fail;
  }
  if (copy_quoted(l, fd) < 0) goto fail;
  if (fsync(fd) < 0) {
    l->why = LW_MBOXWRITE;
    l->err = errno;
    goto fail;
  }
  if (close(fd) < 0) return (l->why = LW_MBOXWRITE, l->err = errno, -1);
  return 0;

fail:
  /* Unlocked, someone else may have appended after us: cutting would lose their bytes. */
  if (locked && ftruncate(fd, pos) == 0) fsync(fd);
  close(fd);
  return -1;
}
