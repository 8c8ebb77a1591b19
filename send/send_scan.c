/* The queue's folders: what is there at start, new messages to pick up, and temporary files
   left by injectors that died (INTERNALS.md, S1-S4). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/strerr.h>
#include "send.h"

#define TMP_DEAD_AGE 10       /* seconds: an injector whose pid is gone left this file */
#define TMP_MAX_AGE 129600    /* 36 hours: older than mailroom-queue's 24-hour deadline */

static int exists(char const *dir, char const *id)
{
  char path[320];
  snprintf(path, sizeof path, "%s/%s", dir, id);
  return access(path, F_OK) == 0;
}

static void quarantine(char const *dir, char const *id)
{
  char from[320], to[330];
  snprintf(from, sizeof from, "%s/%s", dir, id);
  snprintf(to, sizeof to, "%s/bad.%s", dir, id);
  if (rename(from, to) < 0) strerr_warnwu4sys("set aside malformed ", from, " as ", to);
  else strerr_warnw4x("malformed message file ", from, " set aside as ", to);
}

static void start_one(struct send *s, char const *id, time_t now)
{
  struct msg *m = msg_load(s, "queue/mess", id, 0);
  if (!m) {
    if (errno == EPROTO) quarantine("queue/mess", id);
    else strerr_warnwu3sys("load queue/mess/", id, ", skipping it");
    return;
  }
  if (sched_queue_msg(s, m, now) < 0) strerr_diefu1sys(111, "schedule deliveries");
  msg_progress(s, m, now);
}

void scan_start(struct send *s, time_t now)
{
  DIR *d = opendir("queue/info");
  struct dirent *e;
  if (!d) strerr_diefu1sys(111, "open queue/info");
  while ((e = readdir(d))) {
    char path[320];
    if (!qid_parse(e->d_name, 0, 0)) continue;
    if (exists("queue/mess", e->d_name) || exists("queue/new", e->d_name)) continue;
    snprintf(path, sizeof path, "queue/info/%s", e->d_name);
    if (unlink(path) < 0) strerr_warnwu2sys("remove ", path);
  }
  closedir(d);
  d = opendir("queue/mess");
  if (!d) strerr_diefu1sys(111, "open queue/mess");
  while ((e = readdir(d)))
    if (qid_parse(e->d_name, 0, 0)) start_one(s, e->d_name, now);
  closedir(d);
  scan_tmp(now);
}

/* Picks up one new message: info file, then the rename into mess/ that makes it S3. */
static void pickup(struct send *s, char const *id, time_t now)
{
  char from[320], to[320], q[2100];
  struct msg *m = msg_load(s, "queue/new", id, 1);
  if (!m) {
    if (errno == EPROTO) quarantine("queue/new", id);
    else if (errno != ENOENT) strerr_warnwu3sys("pick up queue/new/", id, ", will try again");
    return;
  }
  snprintf(from, sizeof from, "queue/new/%s", id);
  snprintf(to, sizeof to, "queue/mess/%s", id);
  if (rename(from, to) < 0) strerr_diefu4sys(111, "rename ", from, " to ", to);
  log_quote(q, sizeof q, m->env + 1);
  log_line("new", m, "size=%llu from=<%s> nrcpt=%u", m->msglen, q, m->nrcpt);
  if (sched_queue_msg(s, m, now) < 0) strerr_diefu1sys(111, "schedule deliveries");
}

/* Reads at most max entries of queue/new; 1 if there may be more, 0 when the folder has
   been read to its end. dirp keeps the place between calls, so a large backlog is taken a
   slice at a time between deliveries. */
int scan_new(struct send *s, unsigned max, time_t now)
{
  DIR **dp = (DIR **)&s->newdir;
  struct dirent *e;
  if (!*dp && !(*dp = opendir("queue/new"))) strerr_diefu1sys(111, "open queue/new");
  while (max) {
    errno = 0;
    e = readdir(*dp);
    if (!e) {
      if (errno) strerr_diefu1sys(111, "read queue/new");
      closedir(*dp);
      *dp = 0;
      if (s->rescan) { /* a trigger during this scan: read the folder again from its start */
        s->rescan = 0;
        return 1;
      }
      return 0;
    }
    if (!qid_parse(e->d_name, 0, 0)) continue;
    pickup(s, e->d_name, now);
    max--;
  }
  return 1;
}

void scan_tmp(time_t now)
{
  DIR *d = opendir("queue/tmp");
  struct dirent *e;
  if (!d) {
    strerr_warnwu1sys("open queue/tmp");
    return;
  }
  while ((e = readdir(d))) {
    char path[300];
    struct stat st;
    unsigned long pid = 0;
    int dead;
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "queue/tmp/%s", e->d_name);
    if (lstat(path, &st) < 0) continue;
    dead = qid_parse(e->d_name, 0, &pid) && pid && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
    if (!((dead && now - st.st_mtime > TMP_DEAD_AGE) || now - st.st_mtime > TMP_MAX_AGE)) continue;
    if (unlink(path) < 0) strerr_warnwu2sys("remove ", path);
    else log_line("cleanup", 0, "file=%s reason=\"%s\"", path, dead ? "injector died" : "older than 36 hours");
  }
  closedir(d);
}
