#ifndef MAILROOM_CONNBOUND_H
#define MAILROOM_CONNBOUND_H
/* The bounds on a session's time, beside the per-wait timeout its I/O already has: the
   whole session's length (sessiontime), the rate of each turn (minrate after rategrace:
   a client that drips bytes is cut off after rategrace + bytes / minrate seconds), and
   overload mode's idle timeout (a wait longer than overloadtimeout asks whether the
   service is overloaded, and ends the session if so). A server's I/O code asks
   connbound_deadline() before each wait and connbound_expired() when a wait times out.
   Pure but for the clock (skalibs tain, the caller's tain_now_g()). */
#include <stdint.h>

#include <skalibs/tai.h>

#include "connlimit.h"

#define CB_IN 0  /* bytes from the client */
#define CB_OUT 1 /* bytes to the client */

enum cb_kind { CB_WAIT, CB_END, CB_RATE, CB_IDLE };

struct cb_window {
  int on;         /* counting: the turn's first byte has moved */
  int armed;      /* a turn has begun: its first byte starts the window */
  tain start;
  uint64_t bytes;
};

struct connbound {
  int hasend;
  tain end;                   /* the session's end (sessiontime) */
  unsigned int minrate, grace, idle; /* 0: no rate bound, no idle check */
  struct cb_window w[2];
  int (*overloaded)(void *ctx); /* 1 when the service is in overload mode */
  void *ctx;
  char const *cut;            /* why a bound ended the session: "sessiontime", "slowdata", "overload" */
};

/* Starts the bounds of a session that begins now with limits c. */
extern void connbound_init(struct connbound *b, struct connlimit const *c, int (*overloaded)(void *), void *ctx);
/* A new turn in direction dir: its window starts at its first byte. */
extern void connbound_turn(struct connbound *b, int dir);
/* n bytes moved in direction dir, now. */
extern void connbound_bytes(struct connbound *b, int dir, uint64_t n);
/* The deadline of a wait in direction dir: the earliest of wait (the per-wait timeout),
   the session's end, the turn's rate deadline, and *idleat (when an idle check is due;
   the caller sets it to the wait's start + b->idle with connbound_idlestart). Writes it
   into d and returns which one it is. b may be 0: then d is wait. */
extern enum cb_kind connbound_deadline(struct connbound *b, int dir, tain const *wait, tain const *idleat, tain *d);
extern void connbound_idlestart(struct connbound const *b, tain *idleat);
/* A wait reached a deadline of kind k: 1 the session ends (b->cut names the bound, 0 for
   the ordinary timeout), 0 wait on (an idle check found no overload; *idleat moved on). */
extern int connbound_expired(struct connbound *b, enum cb_kind k, tain *idleat);
#endif
