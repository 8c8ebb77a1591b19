/* Unit tests of mailroom-local's modules (local/local_*.c): mbox From_ quoting, the
   Delivered-To match, address quoting, the From_ date, the report text, and the child
   runner (input through a pipe, a child that stops reading, output capture, the timeout,
   a grandchild that keeps the output open). One PASS/FAIL line per case. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/stralloc.h>
#include "../../local/local.h"

struct tally { int pass, fail; };

static void check(struct tally *t, int ok, char const *label)
{
  printf("%s local: %s\n", ok ? "PASS" : "FAIL", label);
  if (ok) t->pass++;
  else t->fail++;
}

/* Quotes in, fed in pieces of step bytes, and compares with want. */
static void quoted(struct tally *t, char const *label, char const *in, char const *want,
                   size_t step)
{
  char out[4096];
  size_t o = 0, used, len = strlen(in);
  mboxq q = { 0 };
  for (size_t i = 0; i < len; i += step) {
    size_t n = len - i < step ? len - i : step;
    o += mboxq_put(&q, in + i, n, out + o, &used);
  }
  o += mboxq_end(&q, out + o);
  out[o] = 0;
  int ok = !strcmp(out, want);
  if (!ok) fprintf(stderr, "  %s (step %zu): got [%s] want [%s]\n", label, step, out, want);
  check(t, ok, label);
}

static void mbox_cases(struct tally *t)
{
  static char const in[] = "From x\nFrom: header\n>From y\n>>From z\nFro\n From a\nxFrom b\n"
                           "From\n>\n>>\nFrom ";
  static char const want[] = ">From x\nFrom: header\n>>From y\n>>>From z\nFro\n From a\nxFrom b\n"
                             "From\n>\n>>\n>From ";
  quoted(t, "mbox quoting, whole", in, want, 4096);
  quoted(t, "mbox quoting, byte by byte", in, want, 1);
  quoted(t, "mbox quoting, 3 bytes at a time", in, want, 3);
  quoted(t, "mbox: held partial line at the end", "a\nFro", "a\nFro", 1);
  quoted(t, "mbox: empty", "", "", 1);
}

static void dt_cases(struct tally *t)
{
  static char const r[] = "u-ext@example.org";
  size_t rl = sizeof r - 1;
#define DT(s) local_hasdtline(s, sizeof(s) - 1, r, rl)
  check(t, DT("Delivered-To: u-ext@example.org"), "Delivered-To: exact");
  check(t, DT("delivered-to:U-Ext@Example.ORG  \r"), "Delivered-To: case and blanks");
  check(t, DT("DELIVERED-TO:\tu-ext@example.org"), "Delivered-To: tab");
  check(t, !DT("Delivered-To: u@example.org"), "Delivered-To: someone else");
  check(t, !DT("Delivered-To: u-ext@example.org.evil"), "Delivered-To: longer");
  check(t, !DT("X-Delivered-To: u-ext@example.org"), "X-Delivered-To is not it");
  check(t, !DT("Delivered-To"), "Delivered-To: no colon");
#undef DT
}

static void text_cases(struct tally *t)
{
  stralloc sa = STRALLOC_ZERO;
  char d[64];
  char buf[16];
  size_t len = 0;

#define Q(in, want) \
  (sa.len = 0, local_quote(&sa, in) && sa.len == strlen(want) && !memcmp(sa.s, want, sa.len))
  check(t, Q("joe@example.com", "joe@example.com"), "quote: plain");
  check(t, Q("", ""), "quote: empty sender");
  check(t, Q("#@[]", "#@[]"), "quote: double bounce");
  check(t, Q("a b@x", "\"a b\"@x"), "quote: space");
  check(t, Q("a.@x", "\"a.\"@x"), "quote: trailing dot");
  check(t, Q("a..b@x", "\"a..b\"@x"), "quote: two dots");
  check(t, Q("a\"b\\c@x", "\"a\\\"b\\\\c\"@x"), "quote: quote and backslash escaped");
  check(t, Q("we@ird@x", "\"we@ird\"@x"), "quote: last @ splits");
#undef Q
  stralloc_free(&sa);

  check(t, local_ctime(d, 0) == 25 && !strcmp(d, "Thu Jan  1 00:00:00 1970\n"), "ctime epoch");
  check(t, local_ctime(d, 1763893836ULL) == 25 && !strcmp(d, "Sun Nov 23 10:30:36 2025\n"),
        "ctime 2025");

  local_textcat(buf, &len, 10, "ab\ncd\377e");
  check(t, !strcmp(buf, "ab?cd?e"), "text: unprintable bytes replaced");
  local_textcat(buf, &len, 10, "123456");
  check(t, len == 10 && !strcmp(buf, "ab?cd?e123"), "text: cut at the bound");
}

static int msgfile(char const *dir, size_t len, size_t envlen)
{
  char fn[256];
  char chunk[4096];
  int fd;
  snprintf(fn, sizeof fn, "%s/msg", dir);
  fd = open(fn, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (char)('a' + i % 26);
  for (size_t done = 0; done < len;) {
    size_t n = len - done < sizeof chunk ? len - done : sizeof chunk;
    if (write(fd, chunk, n) != (ssize_t)n) return -1;
    done += n;
  }
  memset(chunk, 'E', sizeof chunk);
  if (write(fd, chunk, envlen) != (ssize_t)envlen) return -1;
  return fd;
}

static int run(local *l, local_run_t *r, char const *cmd, unsigned int timeout)
{
  char const *argv[4] = { "/bin/sh", "-c", cmd, 0 };
  memset(r, 0, sizeof *r);
  r->argv = argv;
  r->head = "HEAD\n";
  r->headlen = 5;
  r->timeout = timeout;
  return local_run(l, r);
}

static void run_cases(struct tally *t, char const *dir)
{
  local l;
  local_run_t r;
  char cmd[512];
  time_t t0;
  int e;

  local_init(&l);
  l.msglen = 1000000;
  l.msgfd = msgfile(dir, l.msglen, 100);
  if (l.msgfd < 0) {
    check(t, 0, "message file");
    return;
  }
  /* The child sees head + exactly msglen bytes: count them, check the envelope is not there. */
  snprintf(cmd, sizeof cmd, "n=$(wc -c); echo \"got $n\"; exit 7");
  e = run(&l, &r, cmd, 30);
  check(t, !e && WIFEXITED(r.wstat) && WEXITSTATUS(r.wstat) == 7 && !strcmp(r.out, "got 1000005"),
        "run: head + msglen bytes on stdin, exit code, first line");
  snprintf(cmd, sizeof cmd, "grep -c EE; true");
  e = run(&l, &r, cmd, 30);
  check(t, !e && !strcmp(r.out, "0"), "run: no envelope byte on stdin");
  e = run(&l, &r, "head -c 10 >/dev/null; echo early; exit 0", 30);
  check(t, !e && WIFEXITED(r.wstat) && !WEXITSTATUS(r.wstat) && !strcmp(r.out, "early"),
        "run: child that stops reading early (EPIPE is no error)");
  e = run(&l, &r, "exec 0<&-; echo closed >&2; exit 0", 30);
  check(t, !e && !strcmp(r.out, "closed"), "run: stderr captured, stdin closed at once");
  e = run(&l, &r, "printf 'one\\ntwo\\n'; kill -9 $$", 30);
  check(t, !e && WIFSIGNALED(r.wstat) && WTERMSIG(r.wstat) == 9 && !strcmp(r.out, "one"),
        "run: killed child, first line kept");
  t0 = time(0);
  e = run(&l, &r, "exec 0<&-; sleep 30", 1);
  check(t, !e && r.timedout && time(0) - t0 < 10, "run: timeout kills the child");
  t0 = time(0);
  e = run(&l, &r, "cat >/dev/null; (sleep 20 &) ; echo done", 30);
  check(t, !e && !r.timedout && !strcmp(r.out, "done") && time(0) - t0 < 10,
        "run: a grandchild holding the output does not hold us");
  e = run(&l, &r, "yes x | head -c 3000000; exit 0", 30);
  check(t, !e && !strcmp(r.out, "x"), "run: much output, drained and cut");
  {
    char const *argv[2] = { "/nonexistent/prog", 0 };
    memset(&r, 0, sizeof r);
    r.argv = argv;
    r.head = "";
    r.timeout = 30;
    e = local_run(&l, &r);
    check(t, !e && WIFEXITED(r.wstat) && WEXITSTATUS(r.wstat) == 111
             && strstr(r.out, "unable to run /nonexistent/prog"),
          "run: exec failure is 111 with a text");
  }
  {
    /* The injector's shape: message on fd 0, envelope on fd 1. */
    static char const env[] = "Fa@b\0Tc@d\0";
    char const *argv[4] = { "/bin/sh", "-c", "exec 3<&1; a=$(wc -c); b=$(wc -c <&3); echo \"$a $b\" >&2", 0 };
    memset(&r, 0, sizeof r);
    r.argv = argv;
    r.head = "";
    r.fd1 = env;
    r.fd1len = sizeof env; /* with the final NUL */
    r.timeout = 30;
    e = local_run(&l, &r);
    check(t, !e && !strcmp(r.out, "1000000 11"), "run: a second input on fd 1");
  }
  close(l.msgfd);
}

int main(void)
{
  struct tally t = { 0, 0 };
  char dir[] = "/tmp/mailroom-test-local.XXXXXX";
  char cmd[128];
  (void)signal(SIGPIPE, SIG_IGN); /* as mailroom-local's main does */
  if (!mkdtemp(dir)) {
    printf("FAIL local: mkdtemp\n");
    return 1;
  }
  mbox_cases(&t);
  dt_cases(&t);
  text_cases(&t);
  run_cases(&t, dir);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  printf("# local: %d passed, %d failed\n", t.pass, t.fail);
  return t.fail ? 1 : 0;
}
