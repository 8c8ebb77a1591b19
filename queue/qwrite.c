/* Writing a message file into the queue (queue/qwrite.h): the naming, the tail of the file,
   the folder's fsync and the trigger, shared by mailroom-queue and mailroom-queued so the
   two write the same bytes in the same order (INTERNALS.md, "A message file", S1-S2). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <skalibs/allreadwrite.h>
#include <skalibs/strerr.h>

#include "exitcodes.h"
#include "msgfile.h"
#include "qwrite.h"

void qwrite_name_set(qwrite_name *n, unsigned long long sec, unsigned long usec, unsigned long pid)
{
  size_t k;
  qid_make(n->id, sec, usec, pid);
  k = strlen(n->id) + 1;
  memcpy(n->tmpfn, "tmp/", 4);
  memcpy(n->newfn, "new/", 4);
  memcpy(n->tmpfn + 4, n->id, k);
  memcpy(n->newfn + 4, n->id, k);
}

#define TMP_TRIES 5

int qwrite_create(qwrite_name *n, unsigned long pid, qwrite_clock *last)
{
  unsigned int i;
  for (i = 0; i < TMP_TRIES; i++) {
    struct timeval tv;
    unsigned long long sec;
    unsigned long usec;
    int fd;
    gettimeofday(&tv, 0);
    sec = (unsigned long long)tv.tv_sec;
    usec = (unsigned long)tv.tv_usec;
    if (sec < last->sec || (sec == last->sec && usec <= last->usec)) {
      sec = last->sec;
      usec = last->usec + 1;
      if (usec >= 1000000UL) {
        sec++;
        usec = 0;
      }
    }
    last->sec = sec;
    last->usec = usec;
    qwrite_name_set(n, sec, usec, pid);
    fd = open(n->tmpfn, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

int qwrite_tmp_code(int err)
{
  return err == ENOSPC || err == EDQUOT ? QQ_WRITE : QQ_QUEUEDIR;
}

int qwrite_env_code(int e)
{
  return e == ENV_ETOOLONG ? QQ_ADDR_TOO_LONG : QQ_ENVELOPE;
}

int qwrite_tail(int fd, unsigned long long msglen, char const *env, size_t envlen)
{
  char trailer[MSGFILE_TRAILER];
  msgfile_trailer(trailer, msglen, (unsigned long)envlen);
  if (allwrite(fd, env, envlen) < envlen) return -1;
  if (allwrite(fd, trailer, sizeof trailer) < sizeof trailer) return -1;
  return 0;
}

void qwrite_trigger(void)
{
  int fd = open("lock/trigger", O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENXIO && errno != ENOENT) strerr_warnwusys("open queue/lock/trigger");
    return;
  }
  if (write(fd, "", 1) < 0 && errno != EAGAIN) strerr_warnwusys("write queue/lock/trigger");
  close(fd);
}
