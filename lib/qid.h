#ifndef MAILROOM_QID_H
#define MAILROOM_QID_H
/* Queue ids: "<seconds>.<usec, 6 digits>.<pid>" (INTERNALS.md). Pure code. */
#include <stddef.h>
#include <sys/types.h>

#define QID_MAX 40

/* Writes a NUL-terminated id into s (QID_MAX + 1 bytes). */
extern void qid_make(char *s, unsigned long long sec, unsigned long usec, unsigned long pid);
/* 1 if s is a well-formed id, then *sec and *pid get its fields (either may be 0). */
extern int qid_parse(char const *s, unsigned long long *sec, unsigned long *pid);
#endif
