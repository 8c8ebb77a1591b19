#ifndef MAILROOM_SYNCDIR_H
#define MAILROOM_SYNCDIR_H
/* fsync of a folder, so that the names made or renamed in it are durable: what the
   queue writer, mailroom-queue, mailroom-newu and the control cdbs all need. libc only. */

/* 0, or -1 with errno (of the open or the fsync: close does not clobber it). */
extern int syncdir(char const *dir);
#endif
