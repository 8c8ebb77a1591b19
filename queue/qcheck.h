#ifndef MAILROOM_QCHECK_H
#define MAILROOM_QCHECK_H
/* mailroom-qcheck's checks (qcheck_*.c), run inside queue/. */
#include <sys/types.h>

struct qc_state {
  int dry, json, sendruns, owners;
  uid_t uqueue, usend;
  gid_t gsend;
  unsigned long found, fixed, errors;
  int first; /* JSON: no item printed yet */
};

extern void qc_dirs(struct qc_state *s);
extern void qc_locks(struct qc_state *s);
extern void qc_tmp(struct qc_state *s);
extern void qc_messages(struct qc_state *s, char const *dir);
extern void qc_infos(struct qc_state *s);
extern void qc_report(struct qc_state *s);
#endif
