#ifndef MAILROOM_VFCHILD_H
#define MAILROOM_VFCHILD_H

/* The child of a vfork shares its parent's memory until it execs or exits: it may make system
   calls and use its own stack, nothing that touches the parent's state (stdio's list of open
   streams, malloc, skalibs' buffer_2). This is how such a child says why it failed. */
_Noreturn void vfchild_fail(int fd, int code, char const *fmt, ...)
  __attribute__((format(printf, 3, 4)));

#endif
