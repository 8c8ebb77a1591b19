/* Writing a message file into the queue (queue/qwrite.h): the naming, the tail of the file,
   the folder's fsync and the trigger, shared by mailroom-queue and mailroom-queued so the
   two write the same bytes in the same order (INTERNALS.md, "A message file", S1-S2). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
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

int qwrite_open_tmp(qwrite_name const *n)
{
  return open(n->tmpfn, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0640);
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

int qwrite_syncdir(char const *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;
  if (fd < 0) return -1;
  if (fsync(fd) < 0) {
    e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  close(fd);
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
