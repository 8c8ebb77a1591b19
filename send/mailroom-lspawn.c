/* mailroom-lspawn: starts local deliveries for mailroom-send. The one long-running root
   process, as qmail-lspawn: it reads requests from mailroom-send on fd 0, finds each
   recipient's user (users/assign.cdb, then the system's users), and runs mailroom-local
   under that user's uid and gid, never root; it replies on fd 1 (INTERNALS.md). It trusts
   mailroom-send, and the instance's users/ and control/ files; nothing from the network. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "assign.h"
#include "auto_home.h"
#include "control.h"
#include "msgfile.h"
#include "lspawn.h"
#include "lwproto.h"
#include "qid.h"
#include "vdomain.h"

#define SLOTS LW_SLOTS   /* mailroom-send's CONCURRENCY_MAX: slot numbers are below it */
#define TEXT_MAX LW_TEXT_MAX /* a reply's text (INTERNALS.md) */
/* slot, id, sender, recipient (a virtual domain's may have its prefix: vdomain.h) */
#define REQUEST_MAX (11 + QID_MAX + 1 + 1001 + VDOMAIN_ADDR_MAX + 1 + 8)

struct lspawn {
  struct lspool pool;
  char job[LW_JOB_MAX];
  char me[256];
  char dd[CONTROL_LINE_MAX]; /* control/defaultdelivery */
  char req[REQUEST_MAX];
  size_t reqlen;
};

static _Noreturn void die_read(void) { strerr_diefu1sys(111, "read requests from mailroom-send"); }
static _Noreturn void die_proto(void) { strerr_dief1x(111, "protocol error in a request from mailroom-send"); }

static void reply(unsigned slot, char result, char const *text);

/* One line of printable text for the reply. */
static size_t clean(char *out, char const *in, size_t len)
{
  size_t w = 0;
  for (size_t i = 0; i < len && w < TEXT_MAX; i++) {
    unsigned char c = (unsigned char)in[i]; /* NOLINT(clang-analyzer-core.uninitialized.Assign): the first len bytes of a slot's out were read into it (drain) */
    if (c == '\n') {
      if (w) break;
      continue;
    }
    out[w++] = (c >= 32 && c < 127) ? (char)c : ' ';
  }
  while (w && out[w - 1] == ' ') w--;
  out[w] = 0;
  return w;
}

void lspawn_reply(unsigned slot, char result, char const *text)
{
  char buf[16 + TEXT_MAX + 4];
  int n = snprintf(buf, sizeof buf, "%u", slot);
  size_t tl = clean(buf + n + 2, text, strlen(text));
  buf[n] = 0;
  buf[n + 1] = result;
  /* send may be gone (killed): the reply is lost and the delivery will be repeated. */
  allwrite(1, buf, (size_t)n + 2 + tl + 1);
}

static void reply(unsigned slot, char result, char const *text)
{
  lspawn_reply(slot, result, text);
}

static void start(struct lspawn *l, unsigned slot, char const *id, char const *sender, char const *rcpt)
{
  struct assign_user u;
  char local[1024], path[QID_MAX + 16];
  char const *at = strrchr(rcpt, '@'), *domain = at ? at + 1 : l->me;
  size_t ll = at ? (size_t)(at - rcpt) : strlen(rcpt), n;
  unsigned long long msglen;
  char *env;
  size_t envlen;
  int msgfd, r;
  lwjob j;
  if (lspool_slotbusy(&l->pool, slot)) die_proto();
  if (!ll || ll >= sizeof local) {
    reply(slot, 'D', "5.1.3 bad recipient address: empty or overlong local part");
    return;
  }
  memcpy(local, rcpt, ll);
  local[ll] = 0;
  r = assign_lookup(0, local, &u);
  if (r < 0) {
    reply(slot, 'Z', "4.3.0 unable to look up the user: temporary failure reading users/assign.cdb");
    return;
  }
  if (!r) {
    char t[TEXT_MAX + 1100];
    snprintf(t, sizeof t, "5.1.1 no such user here: %s", local);
    reply(slot, 'D', t);
    return;
  }
  if (!getuid() && !u.uid) {
    char t[TEXT_MAX + 300];
    snprintf(t, sizeof t, "4.3.0 refusing to deliver as root for %s", u.user);
    reply(slot, 'Z', t);
    return;
  }
  snprintf(path, sizeof path, "queue/mess/%s", id);
  msgfd = msgfile_open(path, &msglen, &env, &envlen);
  if (msgfd < 0) {
    reply(slot, 'Z', "4.3.0 unable to open the message file in the queue");
    return;
  }
  free(env);
  j = (lwjob){ .slot = slot, .user = u.user, .home = u.home, .local = local, .dash = u.dash, .ext = u.ext,
               .domain = domain, .sender = sender, .msglen = msglen, .defaultdelivery = l->dd };
  n = u.home[0] == '/' ? lwproto_job_fmt(l->job, &j) : 0;
  if (!n) {
    close(msgfd);
    reply(slot, 'Z', "4.3.0 the user's home or the address is too long or not absolute");
    return;
  }
  lspool_job(&l->pool, slot, &u, l->job, n, msgfd);
}

/* Takes every complete request (four NUL-terminated fields) out of the buffer. */
static void requests(struct lspawn *l)
{
  for (;;) {
    char const *f[4];
    size_t i = 0;
    unsigned long slot;
    char *end;
    for (int k = 0; k < 4; k++) {
      char *z = memchr(l->req + i, 0, l->reqlen - i);
      if (!z) {
        if (l->reqlen == sizeof l->req) die_proto();
        return;
      }
      f[k] = l->req + i;
      i = (size_t)(z - l->req) + 1;
    }
    slot = strtoul(f[0], &end, 10);
    if (!*f[0] || *end || slot >= SLOTS || !qid_parse(f[1], 0, 0)) die_proto();
    start(l, (unsigned)slot, f[1], f[2], f[3]);
    l->reqlen -= i;
    memmove(l->req, l->req + i, l->reqlen);
  }
}

static unsigned long bound(char const *file, unsigned long def, unsigned long min, unsigned long max)
{
  unsigned long u;
  if (control_readulong(file, &u, def) < 0) strerr_diefu2sys(111, "read ", file);
  return u < min ? min : u > max ? max : u;
}

int main(void)
{
  static struct lspawn l;
  struct lsconf cf;
  int spfd, eof = 0;
  PROG = "mailroom-lspawn";
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  if (control_readline("control/me", l.me, sizeof l.me, "localhost") < 0) strerr_diefu1sys(111, "read control/me");
  if (control_readline("control/defaultdelivery", l.dd, sizeof l.dd, "./Maildir/") < 0)
    strerr_diefu1sys(111, "read control/defaultdelivery");
  cf.msgs = bound("control/localworkermessages", 500, 1, 1000000);
  cf.idle = bound("control/localworkeridle", 10, 1, 86400);
  cf.life = bound("control/localworkerlife", 300, 1, 7 * 86400UL);
  lspool_init(&l.pool, &cf);
  spfd = selfpipe_init();
  if (spfd < 0 || selfpipe_trap(SIGCHLD) < 0) strerr_diefu1sys(111, "set up signals");
  sig_ignore(SIGPIPE);
  sig_ignore(SIGTERM); /* mailroom-send ends us by closing our stdin, after its last request */
  tain_now_set_stopwatch_g();
  while (!eof || l.pool.live) {
    iopause_fd x[2 + LSPAWN_WORKERS_MAX];
    unsigned map[LSPAWN_WORKERS_MAX], n = 1, base, nw;
    tain deadline;
    x[0] = (iopause_fd){ .fd = spfd, .events = IOPAUSE_READ };
    if (!eof) x[n++] = (iopause_fd){ .fd = 0, .events = IOPAUSE_READ };
    base = n;
    nw = lspool_fds(&l.pool, x + base, map, &deadline);
    if (iopause_g(x, n + nw, &deadline) < 0) strerr_diefu1sys(111, "iopause");
    for (unsigned k = 0; k < nw; k++)
      if (x[base + k].revents) lspool_io(&l.pool, map[k], x[base + k].revents);
    if (!eof && (x[1].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))) { /* NOLINT(misc-redundant-expression): skalibs' IOPAUSE_READ and IOPAUSE_EXCEPT both hold POLLHUP */
      ssize_t r = read(0, l.req + l.reqlen, sizeof l.req - l.reqlen);
      if (r < 0 && errno != EINTR && errno != EAGAIN) die_read();
      if (!r) eof = 1;
      if (r > 0) {
        l.reqlen += (size_t)r;
        requests(&l);
      }
    }
    if (x[0].revents & IOPAUSE_READ) {
      while (selfpipe_read() > 0) ;
      lspool_reap(&l.pool);
    }
    lspool_timers(&l.pool, eof);
  }
  return 0;
}
