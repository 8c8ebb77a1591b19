/* mailroom-qcheck's checks. Each problem is one report line: what, where, and what was done
   about it (or would be, with -n). Owners and modes are those of lib/sh/modes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include "envelope.h"
#include "msgfile.h"
#include "qcheck.h"
#include "qtool.h"

#define TMP_DEAD_AGE 10    /* as send/send_scan.c: an injector whose pid is gone left it */
#define TMP_MAX_AGE 129600 /* 36 hours: older than mailroom-queue's 24-hour deadline */

enum { O_QUEUE, O_SEND };
struct want {
  char const *path;
  int owner;
  mode_t mode;
  char type; /* 'd' folder, 'p' FIFO, 'f' file */
};
/* lib/sh/modes, the queue's part: keep the two in step (test_qtools.py runs qcheck on a
   fresh instance, which must come out clean). */
static struct want const dirs[] = {
  { "tmp", O_QUEUE, 02770, 'd' },  { "new", O_QUEUE, 02770, 'd' },  { "mess", O_SEND, 02750, 'd' },
  { "info", O_SEND, 0700, 'd' },   { "lock", O_SEND, 0755, 'd' },    { "bad", O_SEND, 0700, 'd' },
};
static struct want const locks[] = {
  { "lock/trigger", O_SEND, 0622, 'p' },
  { "lock/ctl", O_SEND, 0600, 'p' },
  { "lock/sendlock", O_SEND, 0600, 'f' },
};

static void item(struct qc_state *s, char const *what, char const *path, char const *detail, int fixed)
{
  char const *done = fixed < 0 ? "FAILED to repair" : s->dry ? "not repaired (-n)" : "repaired";
  s->found++;
  if (fixed > 0 && !s->dry) s->fixed++;
  if (fixed < 0) s->errors++;
  if (s->json) {
    qt_put(buffer_1, s->first ? ",\n{\"problem\":" : "\n{\"problem\":");
    s->first = 1;
    qt_json_str(buffer_1, what);
    qt_put(buffer_1, ",\"path\":");
    qt_json_str(buffer_1, path);
    qt_put(buffer_1, ",\"detail\":");
    qt_json_str(buffer_1, detail);
    qt_putf(buffer_1, ",\"result\":\"%s\"}", fixed < 0 ? "failed" : s->dry ? "found" : "repaired");
  } else
    qt_putf(buffer_1, "queue/%s: %s (%s): %s\n", path, what, detail, done);
}

/* Owner and mode of an existing file; reports and fixes what differs. */
static void owner_mode(struct qc_state *s, char const *path, struct stat const *st, int owner, mode_t mode)
{
  char d[80];
  uid_t u = owner == O_QUEUE ? s->uqueue : s->usend;
  if (s->owners && (st->st_uid != u || st->st_gid != s->gsend)) {
    snprintf(d, sizeof d, "uid %u gid %u, want %u %u", (unsigned)st->st_uid, (unsigned)st->st_gid, (unsigned)u,
             (unsigned)s->gsend);
    item(s, "wrong owner", path, d, s->dry ? 1 : lchown(path, u, s->gsend) < 0 ? -1 : 1);
  }
  if ((st->st_mode & 07777) != mode && !S_ISLNK(st->st_mode)) {
    snprintf(d, sizeof d, "mode %04o, want %04o", (unsigned)(st->st_mode & 07777), (unsigned)mode);
    item(s, "wrong mode", path, d, s->dry ? 1 : chmod(path, mode) < 0 ? -1 : 1);
  }
}

void qc_dirs(struct qc_state *s)
{
  for (size_t k = 0; k < sizeof dirs / sizeof *dirs; k++) {
    struct stat st;
    if (stat(dirs[k].path, &st) < 0) {
      int r = 1;
      if (!s->dry) r = mkdir(dirs[k].path, dirs[k].mode) < 0 || chmod(dirs[k].path, dirs[k].mode) < 0 ? -1 : 1;
      if (r > 0 && !s->dry && s->owners && chown(dirs[k].path, dirs[k].owner == O_QUEUE ? s->uqueue : s->usend, s->gsend) < 0) r = -1;
      item(s, "missing folder", dirs[k].path, "made it", r);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      item(s, "not a folder", dirs[k].path, "move it away by hand", -1);
      continue;
    }
    owner_mode(s, dirs[k].path, &st, dirs[k].owner, dirs[k].mode);
  }
}

void qc_locks(struct qc_state *s)
{
  for (size_t k = 0; k < sizeof locks / sizeof *locks; k++) {
    struct stat st;
    int missing = lstat(locks[k].path, &st) < 0, bad, r = 1;
    if (missing && errno != ENOENT) {
      item(s, "unreadable", locks[k].path, strerror(errno), -1);
      continue;
    }
    if (locks[k].type == 'f') {
      if (missing) continue; /* mailroom-send makes it */
      if (!S_ISREG(st.st_mode)) item(s, "not a regular file", locks[k].path, "move it away by hand", -1);
      else owner_mode(s, locks[k].path, &st, locks[k].owner, locks[k].mode);
      continue;
    }
    bad = missing || !S_ISFIFO(st.st_mode);
    if (bad) {
      if (!s->dry) {
        if (!missing) unlink(locks[k].path);
        r = mkfifo(locks[k].path, locks[k].mode) < 0 || chmod(locks[k].path, locks[k].mode) < 0 ? -1 : 1;
        if (r > 0 && s->owners && chown(locks[k].path, s->usend, s->gsend) < 0) r = -1;
      }
      item(s, missing ? "missing FIFO" : "not a FIFO", locks[k].path, "made a new FIFO", r);
      continue;
    }
    owner_mode(s, locks[k].path, &st, locks[k].owner, locks[k].mode);
  }
}

static void aside(struct qc_state *s, char const *dir, char const *name, char const *why)
{
  char from[600], to[600], d[700];
  int r = 1;
  snprintf(from, sizeof from, "%s/%s", dir, name);
  snprintf(to, sizeof to, "bad/%s.%s", dir, name);
  snprintf(d, sizeof d, "%s; moved to queue/%s", why, to);
  if (!s->dry) {
    r = rename(from, to) < 0 ? -1 : 1;
    if (r > 0) chmod(to, 0600);
    if (r > 0 && s->owners && lchown(to, s->usend, s->gsend) < 0) r = -1;
  }
  item(s, "not a valid message", from, d, r);
}

static void removefile(struct qc_state *s, char const *path, char const *what, char const *why)
{
  item(s, what, path, why, s->dry ? 1 : unlink(path) < 0 && errno != ENOENT ? -1 : 1);
}

void qc_tmp(struct qc_state *s)
{
  DIR *d = opendir("tmp");
  struct dirent *e;
  time_t now = time(0);
  if (!d) return;
  while ((e = readdir(d))) {
    char path[600];
    struct stat st;
    unsigned long pid = 0;
    int dead;
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "tmp/%s", e->d_name);
    if (lstat(path, &st) < 0) continue;
    dead = !qid_parse(e->d_name, 0, &pid) || !pid || (kill((pid_t)pid, 0) < 0 && errno == ESRCH);
    if ((dead && now - st.st_mtime > TMP_DEAD_AGE) || now - st.st_mtime > TMP_MAX_AGE)
      removefile(s, path, "stale temporary file", dead ? "its injector is gone" : "older than 36 hours");
  }
  closedir(d);
}

void qc_messages(struct qc_state *s, char const *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  if (!d) return;
  while ((e = readdir(d))) {
    char path[600];
    struct stat st;
    unsigned long long ml;
    char *env;
    size_t el;
    int fd;
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (lstat(path, &st) < 0) continue;
    if (!qid_parse(e->d_name, 0, 0) || strlen(e->d_name) > QID_MAX) {
      aside(s, dir, e->d_name, "its name is not a queue id");
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      aside(s, dir, e->d_name, "not a regular file");
      continue;
    }
    fd = msgfile_open(path, &ml, &env, &el);
    if (fd < 0) {
      if (errno == EPROTO) aside(s, dir, e->d_name, "no valid trailer or envelope");
      else if (errno != ENOENT) item(s, "unreadable", path, strerror(errno), -1);
      continue;
    }
    close(fd);
    free(env);
    owner_mode(s, path, &st, O_QUEUE, 0640);
  }
  closedir(d);
}

void qc_infos(struct qc_state *s)
{
  DIR *d = opendir("info");
  struct dirent *e;
  if (!d) return;
  while ((e = readdir(d))) {
    char path[600], mess[600], new[600];
    struct stat st;
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "info/%s", e->d_name);
    if (lstat(path, &st) < 0) continue;
    if (!qid_parse(e->d_name, 0, 0) || strlen(e->d_name) > QID_MAX || !S_ISREG(st.st_mode)) {
      removefile(s, path, "not an info file", "its name is not a queue id, or not a file");
      continue;
    }
    snprintf(mess, sizeof mess, "mess/%s", e->d_name);
    snprintf(new, sizeof new, "new/%s", e->d_name);
    if (access(mess, F_OK) < 0 && access(new, F_OK) < 0) {
      removefile(s, path, "info file without its message", "left by a crash after delivery");
      continue;
    }
    if (access(mess, F_OK) == 0) {
      unsigned long long ml;
      char *env, *buf;
      size_t el, n = 0;
      unsigned long fl;
      int fd = msgfile_open(mess, &ml, &env, &el);
      if (fd < 0) continue; /* moved aside above, or gone */
      close(fd);
      for (char const *p = envelope_next(env, 0); p; p = envelope_next(env, p)) n++;
      free(env);
      buf = malloc(QT_INFO_HEADER + n * QT_INFO_RECORD + 1);
      struct qt_rcpt *r = calloc(n ? n : 1, sizeof *r);
      if (!buf || !r) qt_die_nomem();
      fd = open(path, O_RDONLY | O_CLOEXEC);
      ssize_t got = fd < 0 ? -1 : read(fd, buf, QT_INFO_HEADER + n * QT_INFO_RECORD + 1);
      if (fd >= 0) close(fd);
      if (got < 0 || qt_parseinfo(buf, (size_t)got, (unsigned)n, r, &fl) < 0)
        removefile(s, path, "malformed info file", "mailroom-send writes it afresh: every recipient to do");
      else
        owner_mode(s, path, &st, O_SEND, 0600);
      free(buf);
      free(r);
    }
  }
  closedir(d);
}

void qc_report(struct qc_state *s)
{
  if (s->json) {
    qt_putf(buffer_1, "\n],\"found\":%lu,\"repaired\":%lu,\"failed\":%lu,\"dry_run\":%s,\"send_running\":%s}\n", s->found,
            s->fixed, s->errors, s->dry ? "true" : "false", s->sendruns ? "true" : "false");
  } else {
    if (s->sendruns) qt_put(buffer_1, "mailroom-send is running: nothing was changed; stop it to repair\n");
    if (!s->found) qt_put(buffer_1, "the queue is clean\n");
    else qt_putf(buffer_1, "%lu problems found, %lu repaired, %lu failed\n", s->found, s->fixed, s->errors);
  }
  qt_flush(buffer_1);
}
