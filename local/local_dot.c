/* The home folder checks and the choice of the dot file, as qmail-local makes them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/stralloc.h>
#include "dotqmail.h"
#include "local.h"

#define HOME_PATRN 002 /* qmail's conf-patrn: a world-writable home is refused */
#define DOT_PATRN 022  /* a dot file others could write would run their programs as us */

static int fail(local *l, int why, char const *obj)
{
  l->why = why;
  l->err = errno;
  if (obj) {
    size_t n = strlen(obj);
    if (n > sizeof l->obj - 1) n = sizeof l->obj - 1;
    memcpy(l->obj, obj, n);
    l->obj[n] = 0;
  }
  return -1;
}

int local_checkhome(local *l)
{
  struct stat st;
  if (chdir(l->home) < 0) return fail(l, errno == ENOENT ? LW_HOMEMISSING : LW_HOME, l->home);
  if (stat(".", &st) < 0) return fail(l, LW_HOME, l->home);
  if (st.st_mode & HOME_PATRN) return fail(l, LW_HOMEWRITABLE, l->home);
  /* qmail: the sticky bit on home says "I am editing my dot files, wait". */
  if (st.st_mode & 01000) return fail(l, LW_HOMESTICKY, l->home);
  return 0;
}

/* Reads fd into l->dot, at most DOTQMAIL_FILE_MAX bytes. 0, -1 (errno; EFBIG if bigger). */
static int readdot(local *l, int fd)
{
  l->dot.len = 0;
  if (!stralloc_ready(&l->dot, DOTQMAIL_FILE_MAX + 1)) return -1;
  for (;;) {
    ssize_t r = read(fd, l->dot.s + l->dot.len, DOTQMAIL_FILE_MAX + 1 - l->dot.len);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (!r) return 0;
    l->dot.len += (size_t)r;
    if (l->dot.len > DOTQMAIL_FILE_MAX) return (errno = EFBIG, -1);
  }
}

/* 1 and the file read if it is a regular file, 0 if there is no such file, -1 failed. */
static int trydot(local *l, char const *name)
{
  struct stat st;
  int fd = open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    return fail(l, LW_DOTOPEN, name);
  }
  if (fstat(fd, &st) < 0) {
    fail(l, LW_DOTOPEN, name);
    close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) { /* qmail-local too ignores anything but a file */
    close(fd);
    return 0;
  }
  /* A dot file someone else could write, or one someone else owns (root aside: the admin's),
     would let them choose where our mail goes and what runs as us. It is ignored, as if it
     were absent (issue 7: the default delivery, not a queue that fills with deferrals),
     and the report, which mailroom-send logs, says so. */
  if ((st.st_mode & DOT_PATRN) || (st.st_uid != getuid() && st.st_uid != 0)) {
    close(fd);
    local_say(l, "ignored ");
    local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX, name);
    local_textcat(l->text, &l->textlen, LOCAL_TEXT_MAX,
                  st.st_mode & DOT_PATRN ? " (group- or world-writable)" : " (owned by another user)");
    return 0;
  }
  l->forwardonly = !!(st.st_mode & 0100);
  if (readdot(l, fd) < 0) {
    fail(l, errno == EFBIG ? LW_DOTBIG : errno == ENOMEM ? LW_NOMEM : LW_DOTOPEN, name);
    close(fd);
    return -1;
  }
  close(fd);
  return 1;
}

int local_finddot(local *l)
{
  size_t defpos;
  for (unsigned int k = 0;; k++) {
    int r = dotqmail_name(l->dotname, sizeof l->dotname, l->dash, l->ext, k, &defpos);
    if (!r) break;
    if (r < 0) return (errno = ENAMETOOLONG, fail(l, LW_DOTOPEN, l->ext));
    r = trydot(l, l->dotname);
    if (r < 0) return -1;
    if (!r) continue;
    if (defpos != (size_t)-1 && defpos <= strlen(l->ext)
        && setenv("DEFAULT", l->ext + defpos, 1) < 0)
      return fail(l, LW_NOMEM, 0);
    if (l->dot.len) return 0;
    /* An empty dot file means the default delivery, and its x bit means nothing. */
    l->forwardonly = 0;
    goto usedefault;
  }
  /* No dot file: the bare user gets the default delivery, an extension does not exist. */
  if (*l->dash) {
    l->dotname[0] = 0;
    errno = 0;
    return fail(l, LW_NOMAILBOX, 0);
  }
  memcpy(l->dotname, DOTQMAIL_PREFIX, sizeof DOTQMAIL_PREFIX);

usedefault:
  l->usedefault = 1;
  if (!stralloc_copys(&l->dot, l->defaultdelivery)) return fail(l, LW_NOMEM, 0);
  return 0;
}

/* NEWSENDER (the sender of forwards): LOCAL-owner@HOST when the dot file has an -owner
   companion, so that bounces of a forwarded list go to its owner (qmail-local). qmail's
   VERP form for -owner-default is not made: the injector has no VERP. */
int local_newsender(local *l)
{
  char name[DOTQMAIL_NAME_MAX + 6];
  struct stat st;
  size_t defpos;
  size_t n;

  if (!*l->sender || !strcmp(l->sender, "#@[]")) return 0;
  if (dotqmail_name(name, sizeof name - 6, l->dash, l->ext, 0, &defpos) < 0) return 0;
  n = strlen(name);
  memcpy(name + n, "-owner", 7);
  if (stat(name, &st) < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    return fail(l, LW_DOTOPEN, name);
  }
  if (!stralloc_copys(&l->newsender, l->local) || !stralloc_cats(&l->newsender, "-owner@")
      || !stralloc_cats(&l->newsender, l->domain) || !stralloc_0(&l->newsender)
      || setenv("NEWSENDER", l->newsender.s, 1) < 0)
    return fail(l, LW_NOMEM, 0);
  return 0;
}
