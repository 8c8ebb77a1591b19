/* mailroom-report: a summary of mailroom-send's log, like qmailanalog or pflogsumm: messages
   in and out, bytes, deliveries by result and channel, top senders, recipients and remote
   domains, deferral reasons, delivery delay percentiles. Reads the files named, or stdin;
   lines may carry multilog's TAI64N stamps (delays need them) or tai64nlocal's, or none.
   With no file and a terminal on stdin it reads the instance's log/send/current. Anyone
   may run it on a log they can read; it trusts nothing in the log. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "auto_home.h"
#include "qtool.h"
#include "report.h"

#define USAGE "mailroom-report [ --json ] [ --html file ] [ --top n ] [ file... ]"
#define TOP_DEFAULT 10
#define TOP_MAX 100000

static _Noreturn void die_usage(void) { strerr_dieusage(100, USAGE); }

static void endline(struct rpt *r, char *line, size_t len, int over)
{
  struct rpt_line l;
  r->lines++;
  line[len] = 0;
  if (over || memchr(line, 0, len) || rpt_parse(line, &l) < 0 || rpt_add(r, &l) < 0) r->skipped++;
}

/* Reads one log; lines longer than RPT_LINE_MAX are counted as skipped, a last line without
   its newline still counts. */
static void readlog(struct rpt *r, int fd, char const *name)
{
  char buf[65536], line[RPT_LINE_MAX + 1];
  size_t len = 0;
  int over = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      strerr_diefu2sys(111, "read ", name);
    }
    if (!n) break;
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] == '\n') {
        endline(r, line, len, over);
        len = 0;
        over = 0;
      } else if (len < RPT_LINE_MAX)
        line[len++] = buf[i];
      else
        over = 1;
    }
  }
  if (len || over) endline(r, line, len, over);
}

int main(int argc, char const *const *argv)
{
  static struct rpt r;
  char const *html = 0;
  int json = 0, nfiles = 0;
  unsigned top = TOP_DEFAULT;
  PROG = "mailroom-report";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--html") && i + 1 < argc) html = argv[++i];
    else if (!strcmp(argv[i], "--top") && i + 1 < argc) {
      if (!uint0_scan(argv[++i], &top) || !top || top > TOP_MAX) die_usage();
    } else if (!strcmp(argv[i], "-")) nfiles++; /* NOLINT(bugprone-branch-clone): "-" (stdin) is a file like any non-option, and is said before the option test */
    else if (argv[i][0] == '-') die_usage();
    else nfiles++;
  }
  if (!nfiles && isatty(0)) {
    /* Nothing named and nothing piped in: the instance's own send log. */
    char path[1024];
    int fd;
    snprintf(path, sizeof path, "%s/log/send/current", auto_home);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) strerr_diefu2sys(111, "open ", path);
    readlog(&r, fd, path);
    close(fd);
  } else if (!nfiles)
    readlog(&r, 0, "stdin");
  for (int i = 1; i < argc; i++) {
    int fd;
    if (!strcmp(argv[i], "--html") || !strcmp(argv[i], "--top")) {
      i++;
      continue;
    }
    if (!strcmp(argv[i], "-")) {
      readlog(&r, 0, "stdin");
      continue;
    }
    if (argv[i][0] == '-') continue;
    fd = open(argv[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0) strerr_diefu2sys(111, "open ", argv[i]);
    readlog(&r, fd, argv[i]);
    close(fd);
  }
  if (html && rpt_html(&r, top, html) < 0) strerr_diefu2sys(111, "write ", html);
  if (json) rpt_json(&r, top);
  else rpt_text(&r, top);
  return 0;
}
