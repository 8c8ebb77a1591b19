/* The group commit (doc/INTERNALS.md, "The queue writer"): every message complete in tmp/
   becomes durable together. In order: writeback of every file started at once, each file
   fsynced, linked into new/ and unlinked from tmp/, then new/ fsynced ONCE, and only then
   each client told its id; then one trigger for the group. A failure of one file fails
   that message alone; a failure of new/'s fsync fails the whole group, whose names are
   removed again, as mailroom-queue removes its own. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <skalibs/strerr.h>

#include "exitcodes.h"
#include "qw.h"
#include "syncdir.h"

/* fsync, close, link, unlink of one READY client: 0, or the client has been failed. */
static int make_name(qw *w, qw_client *c)
{
  if (fsync(c->tmpfd) < 0) {
    strerr_warnwusys("fsync queue/", c->n.tmpfn);
    qw_client_fail(w, c, QQ_WRITE, "unable to fsync the tmp/ file");
    return -1;
  }
  if (close(c->tmpfd) < 0) {
    c->tmpfd = -1;
    strerr_warnwusys("close queue/", c->n.tmpfn);
    qw_client_fail(w, c, QQ_WRITE, "unable to close the tmp/ file");
    return -1;
  }
  c->tmpfd = -1;
  if (link(c->n.tmpfn, c->n.newfn) < 0) {
    strerr_warnwusys("link queue/", c->n.tmpfn, " to queue/", c->n.newfn);
    qw_client_fail(w, c, QQ_QUEUEDIR, errno == EEXIST ? "the new/ name exists" : "unable to link into new/");
    return -1;
  }
  c->newmade = 1;
  if (unlink(c->n.tmpfn) < 0) {
    strerr_warnwusys("unlink queue/", c->n.tmpfn);
    qw_client_fail(w, c, QQ_QUEUEDIR, "unable to unlink the tmp/ file");
    return -1;
  }
  c->tmpmade = 0;
  return 0;
}

unsigned int qw_commit(qw *w)
{
  unsigned int i, named = 0;
  if (!w->nready) return 0;
  if (w->nready > 1)
    /* Writeback of every file of the group starts before the first fsync waits: that fsync's
       journal commit then carries them all, and the later fsyncs find little left to do.
       A lone message skips it, and pays mailroom-queue's two fsyncs. */
    for (i = 0; i < w->max; i++)
      if (w->c[i].state == QW_READY) sync_file_range(w->c[i].tmpfd, 0, 0, SYNC_FILE_RANGE_WRITE);
  for (i = 0; i < w->max; i++)
    if (w->c[i].state == QW_READY && !make_name(w, &w->c[i])) named++;
  if (!named) return 0;
  if (syncdir("new") < 0) {
    strerr_warnwusys("fsync queue/new");
    for (i = 0; i < w->max; i++)
      if (w->c[i].state == QW_READY) qw_client_fail(w, &w->c[i], QQ_WRITE, "unable to fsync queue/new");
    return 0;
  }
  /* accepted: from here on nothing is undone */
  for (i = 0; i < w->max; i++) {
    qw_client *c = &w->c[i];
    if (c->state != QW_READY) continue;
    c->newmade = 0;
    qw_client_verdict(c, QQ_OK);
    qw_client_close(w, c);
  }
  w->ncommits++;
  w->nmsgs += named;
  qwrite_trigger();
  return named;
}
