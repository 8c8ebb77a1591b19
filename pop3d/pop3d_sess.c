/* mailroom-pop3d's TRANSACTION and UPDATE states (RFC 1939 sections 5 and 6). Every reply
   the session can give is in this file. Responses go into one buffer that is flushed when
   no further pipelined command is waiting, so a response (a whole RETR included) leaves in
   as few writes as it fits in, and Nagle never holds back the tail of one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "pop3d.h"

/* The replies. */
#define R_NOSUCH "-ERR no such message\r\n"
#define R_DELETED "-ERR message is deleted\r\n"
#define R_UNKNOWN "-ERR unknown command\r\n"
#define R_SYNTAX "-ERR syntax error in arguments\r\n"
#define R_LOGGEDIN "-ERR already authenticated\r\n"
#define R_NOTLS "-ERR STLS is not supported\r\n"
#define R_TOOMANY "-ERR too many errors: closing the connection\r\n"
#define R_TOOLONG "-ERR command line too long: closing the connection\r\n"
#define R_TIMEOUT "-ERR [SYS/TEMP] autologout: no command for too long\r\n"
#define R_NOMEM "-ERR [SYS/TEMP] out of memory\r\n"
#define R_VANISHED "-ERR [SYS/TEMP] the message has vanished from the mailbox\r\n"
#define R_OPEN "-ERR [SYS/TEMP] unable to open the message\r\n"
#define R_NOOP "+OK\r\n"
#define R_DELE "+OK message deleted\r\n"
#define R_TOP "+OK top of message follows\r\n"
#define R_QUIT "+OK bye\r\n"

static int say(struct pop3d *s, char const *t)
{
  return pop3_puts(&s->out, t);
}

/* The message a number names: its index, or -1 after the -ERR is said. */
static long pick(struct pop3d *s, unsigned long num)
{
  if (!num || num > s->box.n) return say(s, R_NOSUCH) < 0 ? -2 : -1;
  if (pop3_box_msg(&s->box, num - 1)->deleted) return say(s, R_DELETED) < 0 ? -2 : -1;
  return (long)(num - 1);
}

static int do_stat(struct pop3d *s)
{
  char t[80];
  snprintf(t, sizeof t, "+OK %zu %llu\r\n", s->box.n - s->box.ndel, (unsigned long long)s->box.total);
  return say(s, t);
}

/* LIST and UIDL: one message, or all that are not deleted. */
static int listing(struct pop3d *s, struct pop3_cmd const *c, int uidl)
{
  char t[40 + POP3_UIDL_MAX];
  if (uidl && pop3_box_uidls(&s->box) < 0) return say(s, R_NOMEM);
  if (c->nargs) {
    long i = pick(s, c->num[0]);
    if (i < 0) return i == -1 ? 0 : -1;
    if (uidl) snprintf(t, sizeof t, "+OK %lu %s\r\n", c->num[0], pop3_box_uidl(&s->box, (size_t)i));
    else snprintf(t, sizeof t, "+OK %lu %llu\r\n", c->num[0], (unsigned long long)pop3_box_msg(&s->box, (size_t)i)->size);
    return say(s, t);
  }
  if (uidl) snprintf(t, sizeof t, "+OK unique-id listing follows\r\n");
  else snprintf(t, sizeof t, "+OK %zu messages (%llu octets)\r\n", s->box.n - s->box.ndel, (unsigned long long)s->box.total);
  if (say(s, t) < 0) return -1;
  for (size_t i = 0; i < s->box.n; i++) {
    struct pop3_msg const *m = pop3_box_msg(&s->box, i);
    if (m->deleted) continue;
    if (uidl) snprintf(t, sizeof t, "%zu %s\r\n", i + 1, pop3_box_uidl(&s->box, i));
    else snprintf(t, sizeof t, "%zu %llu\r\n", i + 1, (unsigned long long)m->size);
    if (say(s, t) < 0) return -1;
  }
  return say(s, ".\r\n");
}

/* RETR and TOP. Once "+OK" is out, a read error cannot be told to the client: the
   connection is dropped (nothing is deleted), and the return is -1 with *fatal set. */
static int send_msg(struct pop3d *s, struct pop3_cmd const *c, int top, int *fatal)
{
  struct pop3_xform x;
  char in[POP3_CHUNK];
  char t[64];
  long i = pick(s, c->num[0]);
  int fd;
  if (i < 0) return i == -1 ? 0 : -1;
  fd = pop3_box_open(&s->box, (size_t)i);
  if (fd < 0) {
    strerr_warnwu("open message ", pop3_box_name(&s->box, (size_t)i));
    return say(s, errno == ENOENT ? R_VANISHED : R_OPEN);
  }
  if (top) snprintf(t, sizeof t, R_TOP);
  else snprintf(t, sizeof t, "+OK %llu octets\r\n", (unsigned long long)pop3_box_msg(&s->box, (size_t)i)->size);
  pop3_xform_init(&x, top, top ? c->num[1] : 0);
  if (say(s, t) < 0) goto werr;
  while (!x.done) {
    size_t used, w;
    ssize_t r = read(fd, in, sizeof in);
    char *o;
    if (r < 0) {
      if (errno == EINTR) continue;
      strerr_warnwu("read message ", pop3_box_name(&s->box, (size_t)i));
      *fatal = 1;
      close(fd);
      return -1;
    }
    if (!r) break;
    o = pop3_room(&s->out, 2 * (size_t)r);
    if (!o) goto werr;
    w = pop3_xform(&x, in, (size_t)r, o, &used);
    pop3_commit(&s->out, w);
  }
  close(fd);
  {
    char *o = pop3_room(&s->out, POP3_XFORM_END);
    if (!o) return -1;
    pop3_commit(&s->out, pop3_xform_end(&x, o));
  }
  return 0;
werr:
  close(fd);
  return -1;
}

static int do_dele(struct pop3d *s, struct pop3_cmd const *c)
{
  long i = pick(s, c->num[0]);
  struct pop3_msg *m;
  if (i < 0) return i == -1 ? 0 : -1;
  m = pop3_box_msg(&s->box, (size_t)i);
  m->deleted = 1;
  s->box.ndel++;
  s->box.total -= m->size;
  return say(s, R_DELE);
}

static int do_rset(struct pop3d *s)
{
  char t[80];
  s->box.ndel = 0;
  s->box.total = 0;
  for (size_t i = 0; i < s->box.n; i++) {
    struct pop3_msg *m = pop3_box_msg(&s->box, i);
    m->deleted = 0;
    s->box.total += m->size;
  }
  snprintf(t, sizeof t, "+OK maildrop has %zu messages (%llu octets)\r\n", s->box.n, (unsigned long long)s->box.total);
  return say(s, t);
}

/* UPDATE: remove what was deleted, answer, and only then (the client waits for nothing
   more) move what is left in new/ to cur/. */
static int do_quit(struct pop3d *s)
{
  size_t ndel = s->box.ndel, failed = pop3_box_expunge(&s->box);
  char t[120], a[SIZE_FMT], b[SIZE_FMT];
  a[size_fmt(a, failed)] = 0;
  if (failed) {
    snprintf(t, sizeof t, "-ERR [SYS/TEMP] %zu of the deleted messages could not be removed\r\n", failed);
    strerr_warnw("QUIT: ", a, " of the deleted messages could not be removed");
  } else {
    snprintf(t, sizeof t, R_QUIT);
  }
  if (say(s, t) < 0 || pop3_flush(&s->out) < 0) return -1;
  pop3_box_tocur(&s->box);
  a[size_fmt(a, ndel - failed)] = 0;
  b[size_fmt(b, s->box.n)] = 0;
  strerr_warni("QUIT: removed ", a, " of ", b, " messages");
  return 0;
}

/* One command; returns 1 to go on, 0 after QUIT, -1 on a write error, -2 on a fatal one. */
static int dispatch(struct pop3d *s, char const *line, size_t len)
{
  struct pop3_cmd c;
  int v = pop3_parse(line, len, &c), r = 0, fatal = 0;
  if (v < 0) {
    if (++s->errors >= POP3_ERRORS_MAX) return say(s, R_TOOMANY) < 0 ? -1 : -3;
    return say(s, v == POP3_ESYNTAX ? R_SYNTAX : R_UNKNOWN) < 0 ? -1 : 1;
  }
  switch (v) {
    case POP3_STAT: r = do_stat(s); break;
    case POP3_LIST: r = listing(s, &c, 0); break;
    case POP3_UIDL: r = listing(s, &c, 1); break;
    case POP3_RETR: r = send_msg(s, &c, 0, &fatal); break;
    case POP3_TOP: r = send_msg(s, &c, 1, &fatal); break;
    case POP3_DELE: r = do_dele(s, &c); break;
    case POP3_NOOP: r = say(s, R_NOOP); break;
    case POP3_RSET: r = do_rset(s); break;
    case POP3_CAPA: r = say(s, pop3_capa()); break;
    case POP3_STLS: r = say(s, R_NOTLS); break;
    case POP3_QUIT: return do_quit(s) < 0 ? -1 : 0;
    default: r = say(s, R_LOGGEDIN); break; /* USER, PASS, APOP, AUTH */
  }
  if (fatal) return -2;
  return r < 0 ? -1 : 1;
}

/* No UPDATE will happen: the next session need not wait for this one's linger. */
static void letgo(struct pop3d *s)
{
  if (s->lockfd >= 0) close(s->lockfd);
  s->lockfd = -1;
}

int pop3d_session(struct pop3d *s)
{
  char line[POP3_LINE_MAX];
  for (;;) {
    size_t len;
    int r;
    if (!pop3_in_hasline(&s->in) && pop3_flush(&s->out) < 0) return POP3_EXIT_TEMP;
    r = pop3_getline(&s->in, line, &len);
    if (!r) return POP3_EXIT_OK; /* the client went away: no UPDATE, nothing deleted */
    if (r < 0) {
      char const *t = errno == E2BIG ? R_TOOLONG : errno == ETIMEDOUT ? R_TIMEOUT : 0;
      if (!t) return POP3_EXIT_TEMP;
      if (say(s, t) < 0) return POP3_EXIT_TEMP;
      letgo(s);
      pop3_linger(&s->in, &s->out);
      return POP3_EXIT_TOLD;
    }
    r = dispatch(s, line, len);
    if (!r) return POP3_EXIT_OK;
    if (r == -3) {
      letgo(s);
      pop3_linger(&s->in, &s->out);
      return POP3_EXIT_TOLD;
    }
    if (r < 0) return POP3_EXIT_TEMP;
  }
}
