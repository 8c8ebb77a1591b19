#ifndef MAILROOM_QCTL_H
#define MAILROOM_QCTL_H
/* mailroom-qctl's commands, applied on disk when no mailroom-send runs (qctl_files.c) and
   checked on disk when one does. */
#include "qtool.h"

enum { QC_HOLD, QC_RELEASE, QC_REQUEUE, QC_DELETE, QC_EXPIRE, QC_N };
extern char const *const qc_name[QC_N];

struct qc_before {
  unsigned long long tries; /* sum of the recipients' attempts when the command was sent */
};

/* Applies cmd to message id itself (the caller holds queue/lock/sendlock). 0 done, -1 with
   a reason in why. */
extern int qc_apply(int cmd, char const *id, time_t now, char const **why);
/* The command's effect on disk: 1 seen (or the message is gone where that is the effect),
   0 not yet, 2 the message left the queue otherwise (delivered or bounced meanwhile). */
extern int qc_done(int cmd, char const *id, struct qc_before const *b, time_t sent);
extern void qc_snapshot(char const *id, struct qc_before *b);
#endif
