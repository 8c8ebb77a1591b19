/* mailroom-send: the queue manager. Runs as mrsend, started by mailroom-start with the pipes
   to mailroom-lspawn on fds 3 (requests) and 4 (replies), and to mailroom-rspawn on 5 and 6
   when there is one. It trusts the queue and its spawners; nothing it reads comes from the
   network. It logs one line per event on stdout. Signals: TERM stops after the deliveries
   under way, ALRM retries everything now, HUP rereads the control files. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "auto_home.h"
#include "send.h"

#define PICKUP_SLICE 20 /* new messages taken between two rounds of deliveries: a burst of
                           injections cannot starve the deliveries already due */
#define RESCAN_EVERY 60 /* seconds between looks at queue/new without a trigger */
#define TMPSCAN_EVERY 10 /* seconds between looks at queue/tmp: as often as send_scan.c's
                            TMP_DEAD_AGE, so a dead injector's file goes within 20 s */

static _Noreturn void die_root(void) { strerr_dief1x(111, "refusing to run as root"); }
static _Noreturn void die_fds(void) { strerr_dief1x(111, "fds 3 and 4 must be the pipes to mailroom-lspawn (run mailroom-start)"); }
static _Noreturn void die_trigger(void) { strerr_diefu1sys(111, "open queue/lock/trigger"); }
static _Noreturn void die_spawner(char const *c) { strerr_dief3x(111, "the ", c, " spawner went away"); }

#define LOST_GRACE 30 /* seconds the other channel's deliveries get to report when one spawner
                         has gone, before send exits for its restart anyway */

static int isopen(int fd)
{
  return fcntl(fd, F_GETFD) >= 0;
}

/* The remote channel is one SOCK_SEQPACKET socket on fds 5 and 6 (INTERNALS.md). */
static int remote_channel(void)
{
  int type;
  socklen_t l = sizeof type;
  if (!isopen(5) || !isopen(6)) return 0;
  if (getsockopt(5, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_SEQPACKET)
    strerr_dief1x(111, "fds 5 and 6 must be the SOCK_SEQPACKET socket to mailroom-rspawn (run mailroom-start)");
  return 1;
}

/* Everything waiting for a retry is due now (SIGALRM, as qmail-send does). */
static void retry_all(struct send *s)
{
  for (size_t k = 0; k < s->heaplen; k++) {
    s->heap[k].when = 0;
    if (s->heap[k].i != BOUNCE_RETRY) s->heap[k].m->nexttry[s->heap[k].i] = 0; /* due: send_chan.c */
  }
}

/* One spawner has gone (killed, crashed). Its deliveries under way have unknown outcomes:
   their records stay 'T', so they are made again after the restart. The other channel's
   deliveries have known ones coming: wait for those (stop as on SIGTERM, at most
   LOST_GRACE s), so that their records are written and a crash of one spawner does not
   repeat the other's deliveries as well; then exit 111 (main). */
static void spawner_gone(struct send *s, struct chan *c, time_t now)
{
  if (s->lostby) die_spawner(c->name); /* both gone: nothing left to wait for */
  strerr_warnw3x("the ", c->name, " spawner went away: waiting for the other's deliveries, then exiting");
  close(c->rfd);
  if (c->wfd >= 0 && c->wfd != c->rfd) close(c->wfd);
  c->rfd = c->wfd = -1;
  c->busy = 0;
  if (!s->stopping) log_line("stop", 0, "inflight=%u reason=spawner", s->ch[0].busy + s->ch[1].busy);
  s->stopping = 1;
  s->lostby = now + LOST_GRACE;
  s->lostname = c->name;
}

static void handle_signals(struct send *s)
{
  int sig;
  while ((sig = selfpipe_read()) > 0) {
    if (sig == SIGTERM && !s->stopping) {
      s->stopping = 1;
      log_line("stop", 0, "inflight=%u", s->ch[0].busy + s->ch[1].busy);
    } else if (sig == SIGALRM)
      retry_all(s);
    else if (sig == SIGHUP) {
      unsigned long cl = s->cf.conclocal, cr = s->cf.concremote;
      config_read(&s->cf);
      s->cf.conclocal = cl, s->cf.concremote = cr; /* the slot tables keep their size */
      log_line("reload", 0, "control=reread");
    }
  }
  if (sig < 0) strerr_diefu1sys(111, "read the selfpipe");
}

int main(int argc, char const *const *argv)
{
  static struct send s;
  int trig, trigw, spfd, rc, newpending = 1;
  time_t lastscan, lasttmp;
  PROG = "mailroom-send";
  if (!getuid()) die_root();
  if (!isopen(3) || !isopen(4)) die_fds();
  if (chdir(auto_home) < 0) strerr_diefu2sys(111, "chdir to ", auto_home);
  config_read(&s.cf);
  rc = remote_channel();
  if (chan_init(&s.ch[CHAN_LOCAL], "local", 3, 4, (unsigned)s.cf.conclocal) < 0 ||
      chan_init(&s.ch[CHAN_REMOTE], "remote", rc ? 5 : -1, rc ? 6 : -1, (unsigned)s.cf.concremote) < 0 ||
      (rc && chan_packets(&s.ch[CHAN_REMOTE]) < 0))
    strerr_diefu1sys(111, "allocate the channels");
  trig = open("queue/lock/trigger", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (trig < 0) die_trigger();
  trigw = open("queue/lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC); /* so reads never see EOF */
  if (trigw < 0) die_trigger();
  if (ctl_init(&s.ctl) < 0) strerr_diefu1sys(111, "set up queue control (queue/lock/ctl, queue/lock/sendlock)");
  spfd = selfpipe_init();
  if (spfd < 0 || selfpipe_trap(SIGTERM) < 0 || selfpipe_trap(SIGALRM) < 0 || selfpipe_trap(SIGHUP) < 0)
    strerr_diefu1sys(111, "set up signals");
  sig_ignore(SIGPIPE);
  tain_now_set_stopwatch_g();
  tain_now_g();
  lastscan = lasttmp = time(0);
  log_line("start", 0, "home=%s local=%lu remote=%lu perdomain=%lu%s", auto_home, s.cf.conclocal, s.cf.concremote,
           s.cf.concdomain,
           s.ch[CHAN_REMOTE].wfd < 0 ? " remote_channel=none" : "");
  scan_start(&s, lastscan);

  for (;;) {
    iopause_fd x[5];
    tain deadline;
    time_t now = time(0), next;
    unsigned n = 2;
    sched_due(&s, now);
    for (int c = 0; c < NCHAN; c++) chan_dispatch(&s, &s.ch[c]);
    log_flush();
    if (s.stopping && !s.ch[0].busy && !s.ch[1].busy) break;
    if (s.lostby && now >= s.lostby) break;
    if (s.stopping) newpending = 0;
    next = sched_next(&s);
    if (newpending) next = now;
    else if (!next || next > lastscan + RESCAN_EVERY) next = lastscan + RESCAN_EVERY;
    if (s.lostby && next > s.lostby) next = s.lostby;
    if (next > lasttmp + TMPSCAN_EVERY) next = lasttmp + TMPSCAN_EVERY;
    tain_now_g();
    tain_addsec_g(&deadline, next > now ? (int)(next - now) : 0);
    x[0] = (iopause_fd){ .fd = spfd, .events = IOPAUSE_READ };
    x[1] = (iopause_fd){ .fd = trig, .events = IOPAUSE_READ };
    for (int c = 0; c < NCHAN; c++)
      if (s.ch[c].rfd >= 0) x[n++] = (iopause_fd){ .fd = s.ch[c].rfd, .events = IOPAUSE_READ };
    x[n] = (iopause_fd){ .fd = s.ctl.fd, .events = IOPAUSE_READ }; /* queue control: last */
    if (iopause_g(x, n + 1, &deadline) < 0) strerr_diefu1sys(111, "iopause");
    now = time(0);
    if (x[0].revents & IOPAUSE_READ) handle_signals(&s);
    if (x[1].revents & IOPAUSE_READ) {
      char buf[256];
      while (read(trig, buf, sizeof buf) > 0) ;
      newpending = 1;
      if (s.newdir) s.rescan = 1; /* the open scan may have read past the new file's place */
    }
    for (unsigned k = 2; k < n; k++) {
      struct chan *c = x[k].fd == s.ch[CHAN_LOCAL].rfd ? &s.ch[CHAN_LOCAL] : &s.ch[CHAN_REMOTE];
      if ((x[k].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) && chan_read(&s, c, now) < 0) spawner_gone(&s, c, now); /* NOLINT(misc-redundant-expression): skalibs' IOPAUSE_READ and IOPAUSE_EXCEPT both hold POLLHUP */
    }
    if (x[n].revents & IOPAUSE_READ) ctl_read(&s, now);
    if (s.ctl.npending) ctl_poll(&s);
    if (now >= lastscan + RESCAN_EVERY) {
      lastscan = now;
      newpending = 1;
    }
    if (now >= lasttmp + TMPSCAN_EVERY) {
      lasttmp = now;
      scan_tmp(now);
    }
    if (newpending && !s.stopping) newpending = scan_new(&s, PICKUP_SLICE, now);
  }
  log_line("exit", 0, "queued=%lu", s.nmsgs);
  log_flush();
  if (s.lostby) die_spawner(s.lostname);
  (void)argc;
  (void)argv;
  (void)trigw;
  return 0;
}
