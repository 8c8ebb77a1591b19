/* mailroom-inject, also installed as sendmail: the sendmail-compatible front end. Runs as
   its caller. Reads a message on stdin, adds the headers it lacks (Date, Message-ID,
   From), takes the recipients from the arguments and, with -t, the headers, checks every
   address before anything is queued, and hands the message and the envelope to
   mailroom-queue ($MAILROOM_QUEUE if set: the caller's own choice, like qmail's
   QMAILQUEUE). The header block is read whole (bounded); the body is streamed. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/random.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>

#include "auto_home.h"
#include "control.h"
#include "envelope.h"
#include "exitcodes.h"
#include "qqerr.h"
#include "inject.h"
#include "qwclient.h"

#define USAGE "sendmail [ -t ] [ -i ] [ -f sender ] [ -F fullname ] [ -- ] [ recipient ... ]"
#define RAW_CHUNK 4096                    /* bytes read from stdin at a time */
#define NORM_CHUNK INJECT_NORM_OUT(RAW_CHUNK) /* what inject_norm makes of them, at most */
/* The header block is at most INJECT_HDR_MAX; one more chunk may sit behind it. */
#define HDRBUF (INJECT_HDR_MAX + NORM_CHUNK)
#define PATH_MAX_LEN 4096
#define QW_VERDICT_WAIT 3600 /* seconds for the writer's commit after the envelope */
#define BAD_SHOW 200 /* bytes of a bad address shown in a diagnostic */

typedef struct inject_s {
  inject_opts o;
  inject_norm z;
  char defhost[CONTROL_LINE_MAX];
  stralloc sender; /* envelope sender, NUL-terminated ("" for <>) */
  stralloc user;   /* the caller's address, for From: */
  stralloc rcpts;  /* NUL-terminated recipients */
  size_t nrcpt;
  stralloc add; /* the headers we add */
  stralloc env; /* the envelope */
  char hdr[HDRBUF];
  size_t hn;
  int eof;
  inject_split sp;
} inject;

static _Noreturn void die_nomem(void) { strerr_dief(EX_TEMP, "out of memory"); }
static _Noreturn void die_opt(char const *e, char const *a) { strerr_dief(EX_PERM, e, ": ", a, "\n", PROG, ": usage: ", USAGE); }
static _Noreturn void die_mailq(void) { strerr_dief(EX_PERM, "-bp is not supported: use mailq / mailroom-qread to list the queue"); }
static _Noreturn void die_smtp(void) { strerr_dief(EX_PERM, "-bs is not supported: SMTP on stdin is mailroom-smtpd's job"); }
static _Noreturn void die_mode(char m) { char s[2] = { m, 0 }; strerr_dief(EX_PERM, "mode -b", s, " is not supported"); }
static _Noreturn void die_runq(void) { strerr_dief(EX_PERM, "-q is not supported: mailroom-send runs the queue by itself"); }
static _Noreturn void die_bad(char const *a, char const *why) { strerr_dief(EX_PERM, "bad address: ", a, " (", why, ")"); }
static _Noreturn void die_badhdr(char const *a, char const *why) { strerr_dief(EX_PERM, "bad address in a recipient header: ", a, " (", why, ")"); }
static _Noreturn void die_norcpt(void) { strerr_dief(EX_PERM, "no recipients: give them as arguments, or use -t with To:, Cc: or Bcc: headers"); }
static _Noreturn void die_toomany(void) { strerr_dief(EX_PERM, "too many recipients (at most 100000)"); }
static _Noreturn void die_name(void) { strerr_dief(EX_PERM, "full name is longer than 256 bytes"); }
static _Noreturn void die_nouser(void) { strerr_dief(EX_PERM, "unable to find a sender address for this user: use -f"); }
static _Noreturn void die_hdrsize(void) { strerr_dief(EX_PERM, "the header block is larger than 65536 bytes"); }
static _Noreturn void die_control(char const *f) { strerr_diefusys(EX_TEMP, "read ", f); }
static _Noreturn void die_path(void) { strerr_dief(EX_TEMP, "the mailroom home path is too long"); }
static _Noreturn void die_read(void) { strerr_diefusys(EX_TEMP, "read the message from stdin"); }
static _Noreturn void die_fork(char const *p) { strerr_diefusys(EX_TEMP, "run ", p); }
static _Noreturn void die_write(void) { strerr_diefusys(EX_TEMP, "write the message to the injector"); }
static _Noreturn void die_writer(void) { strerr_diefusys(EX_TEMP, "get the verdict of the queue writer"); }
static _Noreturn void die_wait(void) { strerr_diefusys(EX_TEMP, "wait for the injector"); }
static _Noreturn void die_crash(char const *sig) { strerr_dief(EX_TEMP, "the injector crashed (signal ", sig, ")"); }
static _Noreturn void die_bug(void) { strerr_dief(EX_BUG, "internal error: the envelope made does not check"); }
static _Noreturn void die_qq(int code, char const *what, int perm)
{
  char fmt[UINT_FMT];
  fmt[uint_fmt(fmt, code)] = 0;
  if (perm) strerr_dief(EX_PERM, "message refused by the queue (code ", fmt, ": ", what, ")");
  strerr_dief(EX_TEMP, "queue temporarily unavailable (code ", fmt, ": ", what, ")");
}

/* fds 0-2 exist from here on: a missing stdin reads as an empty message, and the pipes
   made later cannot land on 0-2. */
static void fds_ensure(void)
{
  for (;;) {
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0) _exit(EX_TEMP);
    if (fd > 2) {
      close(fd);
      return;
    }
  }
}

static void home_path(char *buf, char const *rel)
{
  size_t h = strlen(auto_home), r = strlen(rel);
  if (h + 1 + r + 1 > PATH_MAX_LEN) die_path();
  memcpy(buf, auto_home, h);
  buf[h] = '/';
  memcpy(buf + h + 1, rel, r + 1);
}

/* control/defaulthost, else control/me, else "localhost" (qmail-inject's order). */
static void read_defhost(inject *in)
{
  char fn[PATH_MAX_LEN];
  int r;
  home_path(fn, "control/defaulthost");
  r = control_readline(fn, in->defhost, sizeof in->defhost, 0);
  if (r < 0) die_control(fn);
  if (r && in->defhost[0]) return;
  home_path(fn, "control/me");
  r = control_readline(fn, in->defhost, sizeof in->defhost, "localhost");
  if (r < 0) die_control(fn);
  if (!in->defhost[0]) memcpy(in->defhost, "localhost", 10);
}

/* The caller's address: $MAILUSER, $USER, $LOGNAME, then the passwd name of the real uid;
   the first that makes a good address wins. None leaves in->user empty: that is fatal
   only where it is needed (no -f, or no From: with a null sender). */
static void find_user(inject *in)
{
  static char const *const vars[3] = { "MAILUSER", "USER", "LOGNAME" };
  char const *why;
  struct passwd *pw;
  unsigned int i;
  for (i = 0; i < 3; i++) {
    char const *v = getenv(vars[i]);
    if (v && *v) {
      int r = inject_addr_arg(&in->user, v, in->defhost, &why);
      if (r < 0) die_nomem();
      if (!r) return;
    }
  }
  pw = getpwuid(getuid());
  if (pw && pw->pw_name && *pw->pw_name) {
    int r = inject_addr_arg(&in->user, pw->pw_name, in->defhost, &why);
    if (r < 0) die_nomem();
    if (!r) return;
  }
}

static void add_arg(stralloc *sa, char const *a, char const *defhost)
{
  char const *why;
  int r = inject_addr_arg(sa, a, defhost, &why);
  if (r < 0) die_nomem();
  if (r) {
    char show[BAD_SHOW];
    inject_addr_printable(show, sizeof show, a, strlen(a));
    die_bad(show, why);
  }
}

/* Reads and normalizes one chunk of stdin onto the header buffer. */
static void read_more(inject *in)
{
  char raw[RAW_CHUNK];
  ssize_t r = 0;
  if (!in->z.done) {
    r = fd_read(0, raw, sizeof raw);
    if (r < 0) die_read();
  }
  if (r > 0) in->hn += inject_norm_feed(&in->z, raw, (size_t)r, in->hdr + in->hn);
  if (!r || in->z.done) {
    in->hn += inject_norm_feed(&in->z, 0, 0, in->hdr + in->hn);
    in->eof = 1;
  }
}

static void read_headers(inject *in)
{
  while (!inject_hdr_split(in->hdr, in->hn, in->eof, &in->sp)) {
    if (in->hn >= INJECT_HDR_MAX) die_hdrsize();
    read_more(in);
  }
  if (in->sp.hlen - in->sp.skip > INJECT_HDR_MAX) die_hdrsize();
}

static void rcpts_from_headers(inject *in)
{
  char bad[BAD_SHOW];
  char const *why;
  int r = inject_addr_fromheaders(&in->rcpts, &in->nrcpt, in->hdr + in->sp.skip,
                                  in->sp.hlen - in->sp.skip, in->defhost, bad, sizeof bad, &why);
  if (r < 0) die_nomem();
  if (r) die_badhdr(bad, why);
}

static void make_headers(inject *in)
{
  inject_made m = { .host = in->defhost, .fullname = in->o.fullname };
  inject_hdrinfo hi;
  struct timeval tv;
  struct tm tm;
  time_t t;
  inject_hdr_info(in->hdr + in->sp.skip, in->sp.hlen - in->sp.skip, &hi);
  gettimeofday(&tv, 0);
  t = tv.tv_sec;
  m.now = (long long)t;
  m.off = localtime_r(&t, &tm) ? tm.tm_gmtoff : 0;
  m.sec = (unsigned long long)tv.tv_sec;
  m.usec = (unsigned long)tv.tv_usec;
  m.pid = (unsigned long)getpid();
  random_buf((char *)m.rnd, sizeof m.rnd);
  m.fromaddr = in->sender.s[0] ? in->sender.s : in->user.len ? in->user.s : 0;
  if (!hi.from && !m.fromaddr) die_nouser();
  if (!inject_make_missing(&in->add, &hi, &m)) die_nomem();
}

static void make_envelope(inject *in)
{
  size_t i, pos = 0, nrcpt;
  if (!stralloc_catb(&in->env, "F", 1) || !stralloc_catb(&in->env, in->sender.s, in->sender.len))
    die_nomem();
  /* -V and -R: the envelope's parameter records (lib/envelope.h) */
  if (in->o.envid[0] && !(stralloc_catb(&in->env, "E", 1) && stralloc_catb(&in->env, in->o.envid, strlen(in->o.envid) + 1)))
    die_nomem();
  if (in->o.ret && !(stralloc_catb(&in->env, "R", 1) && stralloc_catb(&in->env, in->o.ret, 5))) die_nomem();
  for (i = 0; i < in->nrcpt; i++) {
    size_t len = strlen(in->rcpts.s + pos) + 1;
    if (!stralloc_catb(&in->env, "T", 1) || !stralloc_catb(&in->env, in->rcpts.s + pos, len))
      die_nomem();
    /* -N applies to every recipient */
    if (in->o.notify[0] &&
        !(stralloc_catb(&in->env, "N", 1) && stralloc_catb(&in->env, in->o.notify, strlen(in->o.notify) + 1)))
      die_nomem();
    pos += len;
  }
  if (!stralloc_0(&in->env)) die_nomem();
  if (envelope_check(in->env.s, in->env.len, &nrcpt) != ENV_OK || nrcpt != in->nrcpt) die_bug();
}

/* buffer_putall() resumes at *w: every call starts from 0. */
static int put(buffer *b, char const *s, size_t n)
{
  size_t w = 0;
  return buffer_putall(b, s, n, &w);
}

/* Writes the message to the injector: the head built whole (it is bounded), then the
   rest of stdin streamed through the buffer. 0, or -1 if a write failed (errno). */
static int write_message(inject *in, int fd)
{
  char space[BUFFER_OUTSIZE];
  buffer b = BUFFER_INIT(&buffer_write, fd, space, sizeof space);
  stralloc head = STRALLOC_ZERO;
  int r;
  if (!inject_head(&head, in->hdr, in->hn, &in->sp, in->add.s, in->add.len)) die_nomem();
  r = put(&b, head.s, head.len);
  stralloc_free(&head);
  if (!r) return -1;
  while (!in->eof) {
    in->hn = 0;
    read_more(in);
    if (!put(&b, in->hdr, in->hn)) return -1;
  }
  return buffer_flush(&b) ? 0 : -1;
}

static void run_queue(inject *in)
{
  char fn[PATH_MAX_LEN];
  char const *prog = getenv("MAILROOM_QUEUE");
  inject_qq qq;
  int wstat, werr = 0, perm;
  char const *what;
  int viawriter = 0;
  if (!prog || !*prog) {
    char sock[PATH_MAX_LEN];
    home_path(sock, QW_SOCKET);
    /* the queue writer first; the setuid injector when it cannot be reached */
    viawriter = inject_qq_writer(&qq, sock) == 0;
    home_path(fn, "bin/mailroom-queue");
    prog = fn;
  }
  if (!viawriter && inject_qq_start(&qq, prog) < 0) die_fork(prog);
  /* A failed write means the injector stopped reading: its exit code says why. The
     envelope is then never sent, so it cannot accept a cut message. */
  if (write_message(in, qq.msgfd) < 0) werr = errno;
  fd_close(qq.msgfd);
  if (!werr && allwrite(qq.envfd, in->env.s, in->env.len) < in->env.len) werr = errno;
  fd_close(qq.envfd);
  if (viawriter) {
    int code = inject_qq_verdict(&qq, QW_VERDICT_WAIT);
    if (code < 0) die_writer();
    wstat = code << 8; /* as an exit status, for what follows */
  } else if (wait_pid(qq.pid, &wstat) < 0) die_wait();
  if (WIFSIGNALED(wstat)) {
    char fmt[UINT_FMT];
    fmt[uint_fmt(fmt, WTERMSIG(wstat))] = 0;
    die_crash(fmt);
  }
  what = qq_describe(WEXITSTATUS(wstat), &perm);
  if (WEXITSTATUS(wstat)) die_qq(WEXITSTATUS(wstat), what, perm);
  if (werr) {
    errno = werr;
    die_write();
  }
}

int main(int argc, char const *const *argv)
{
  inject in = { .sender = STRALLOC_ZERO, .user = STRALLOC_ZERO, .rcpts = STRALLOC_ZERO,
                .add = STRALLOC_ZERO, .env = STRALLOC_ZERO, .nrcpt = 0, .hn = 0, .eof = 0 };
  char const *err, *errarg, *base;
  int i;
  base = argc && argv[0] ? strrchr(argv[0], '/') : 0;
  base = base ? base + 1 : argc && argv[0] ? argv[0] : "";
  PROG = strcmp(base, "sendmail") ? "mailroom-inject" : "sendmail";
  fds_ensure();
  if (sig_ignore(SIGPIPE) < 0) strerr_diefusys(EX_TEMP, "ignore SIGPIPE");

  i = inject_opts_parse(&in.o, argc, argv, &err, &errarg);
  if (i < 0) die_opt(err, errarg);
  if (in.o.mode == 'p') die_mailq();
  if (in.o.mode == 's') die_smtp();
  if (in.o.mode != 'm') die_mode(in.o.mode);
  if (in.o.flagq) die_runq();
  if (in.o.fullname && strlen(in.o.fullname) > INJECT_NAME_MAX) die_name();
  in.z = (inject_norm)INJECT_NORM_ZERO(in.o.flagi);

  read_defhost(&in);
  find_user(&in);
  if (!in.o.sender) {
    if (!in.user.len) die_nouser();
    if (!stralloc_catb(&in.sender, in.user.s, in.user.len)) die_nomem();
  } else if (!*in.o.sender || !strcmp(in.o.sender, "<>")) {
    if (!stralloc_0(&in.sender)) die_nomem();
  } else add_arg(&in.sender, in.o.sender, in.defhost);
  for (; i < argc; i++, in.nrcpt++) add_arg(&in.rcpts, argv[i], in.defhost);

  read_headers(&in);
  if (in.o.flagt) rcpts_from_headers(&in);
  if (!in.nrcpt) die_norcpt();
  if (in.nrcpt > ENV_RCPT_MAX) die_toomany();
  make_headers(&in);
  make_envelope(&in);
  run_queue(&in);
  stralloc_free(&in.env);
  stralloc_free(&in.add);
  stralloc_free(&in.rcpts);
  stralloc_free(&in.user);
  stralloc_free(&in.sender);
  return 0;
}
