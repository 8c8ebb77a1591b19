/* Unit tests for the queue's formats: envelope, queue ids, message-file trailers, control
   files. Hostile input included: truncation, bytes after the end, overlong, CR/LF, binary. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "control.h"
#include "envelope.h"
#include "msgfile.h"
#include "qid.h"

static int failed;

static void check(int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (!ok) failed = 1;
}

#define ENV(lit) lit, sizeof(lit) - 1

static void envelope_tests(void)
{
  size_t n = 0;
  char *big;
  check(envelope_check(ENV("Fa@b\0Tc@d\0\0"), &n) == ENV_OK && n == 1, "envelope: one recipient");
  check(envelope_check(ENV("F\0Tc@d\0Te@f\0\0"), &n) == ENV_OK && n == 2, "envelope: null sender, two recipients");
  check(envelope_check(ENV("Fa@b\0Tc@d\0"), &n) == ENV_ETRUNC, "envelope: missing final NUL");
  check(envelope_check(ENV("Fa@b\0Tc@d"), &n) == ENV_ETRUNC, "envelope: recipient without its NUL");
  check(envelope_check(ENV("Fa@b"), &n) == ENV_ETRUNC, "envelope: sender without its NUL");
  check(envelope_check(ENV("Fa@b\0\0"), &n) == ENV_EFORMAT, "envelope: no recipient");
  check(envelope_check(ENV("Fa@b\0Tc@d\0\0junk"), &n) == ENV_EFORMAT, "envelope: bytes after the end");
  check(envelope_check(ENV("Xa@b\0Tc@d\0\0"), &n) == ENV_EFORMAT, "envelope: does not start with F");
  check(envelope_check(ENV("Fa@b\0Qc@d\0\0"), &n) == ENV_EFORMAT, "envelope: record that is not T");
  check(envelope_check(ENV("Fa@b\0Tc\r\n@d\0\0"), &n) == ENV_EBADCHAR, "envelope: CRLF in an address");
  check(envelope_check("", 0, &n) == ENV_ETRUNC, "envelope: empty");
  big = malloc(3000);
  memset(big, 'x', 3000);
  big[0] = 'F';
  big[1] = 0;
  big[2] = 'T';
  big[2000] = 0;
  big[2001] = 0;
  check(envelope_check(big, 2002, &n) == ENV_ETOOLONG, "envelope: address over 1000 bytes");
  big[1003] = 0; /* exactly 1000 bytes: T + 1000 x + NUL at 1003 */
  big[1004] = 0;
  check(envelope_check(big, 1005, &n) == ENV_OK, "envelope: address of exactly 1000 bytes");
  for (int i = 0; i < 3000; i++) big[i] = (char)(i * 131 + 7);
  check(envelope_check(big, 3000, &n) != ENV_OK, "envelope: binary junk refused");
  free(big);
  {
    char const e[] = "Fs@x\0Ta@x\0Tb@x\0\0";
    char const *p = envelope_next(e, 0);
    check(!strcmp(envelope_sender(e), "s@x") && p && !strcmp(p, "a@x") && !strcmp(envelope_next(e, p), "b@x") &&
            !envelope_next(e, envelope_next(e, p)),
          "envelope: walking the recipients");
  }
}

static void qid_tests(void)
{
  char s[QID_MAX + 1];
  unsigned long long sec;
  unsigned long pid;
  qid_make(s, 1763893836ULL, 42117, 4711);
  check(!strcmp(s, "1763893836.042117.4711"), "qid: format");
  check(qid_parse(s, &sec, &pid) && sec == 1763893836ULL && pid == 4711, "qid: round trip");
  check(!qid_parse("1763893836.04211.4711", 0, 0), "qid: short microseconds refused");
  check(!qid_parse("../etc/passwd", 0, 0), "qid: path refused");
  check(!qid_parse("1.000000.", 0, 0), "qid: missing pid refused");
  check(!qid_parse("1.000000.5x", 0, 0), "qid: trailing junk refused");
  check(!qid_parse("bad.1.000000.5", 0, 0), "qid: set-aside name refused");
  check(!qid_parse("", 0, 0), "qid: empty refused");
}

static void msgfile_tests(void)
{
  char t[MSGFILE_TRAILER], dir[] = "/tmp/mr-unit-XXXXXX", path[64];
  unsigned long long m;
  unsigned long e;
  char *env;
  size_t envlen;
  int fd;
  msgfile_trailer(t, 123456789ULL, 42);
  check(!memcmp(t, "MRQ1 00000000075bcd15000000002a\n", 32), "msgfile: trailer format");
  check(!msgfile_parse_trailer(t, &m, &e) && m == 123456789ULL && e == 42, "msgfile: trailer round trip");
  t[7] = 'G';
  check(msgfile_parse_trailer(t, &m, &e) < 0, "msgfile: bad hex refused");
  if (!mkdtemp(dir)) {
    check(0, "msgfile: mkdtemp");
    return;
  }
  snprintf(path, sizeof path, "%s/m", dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  msgfile_trailer(t, 6, 11);
  check(write(fd, "hello\n", 6) == 6 && write(fd, "Fa@b\0Tc@d\0\0", 11) == 11 && write(fd, t, 32) == 32, "msgfile: write");
  close(fd);
  fd = msgfile_open(path, &m, &env, &envlen);
  check(fd >= 0 && m == 6 && envlen == 11 && !memcmp(env, "Fa@b\0Tc@d\0\0", 11), "msgfile: open a good file");
  if (fd >= 0) close(fd), free(env);
  truncate(path, 40);
  fd = msgfile_open(path, &m, &env, &envlen);
  check(fd < 0 && errno == EPROTO, "msgfile: truncated file refused");
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  msgfile_trailer(t, 6, 10);
  check(write(fd, "hello\n", 6) == 6 && write(fd, "Fa@b\0Tc@d\0", 10) == 10 && write(fd, t, 32) == 32, "msgfile: write bad env");
  close(fd);
  fd = msgfile_open(path, &m, &env, &envlen);
  check(fd < 0 && errno == EPROTO, "msgfile: envelope without final NUL refused");
  unlink(path);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  msgfile_trailer(t, 0, 11);
  check(write(fd, "Fa@b\0Tc@d\0\0", 11) == 11 && write(fd, t, 32) == 32, "msgfile: write empty message");
  close(fd);
  fd = msgfile_open(path, &m, &env, &envlen);
  check(fd >= 0 && m == 0, "msgfile: a message of 0 bytes is valid");
  if (fd >= 0) close(fd), free(env);
  unlink(path);
  rmdir(dir);
}

static void control_tests(void)
{
  char dir[] = "/tmp/mr-unit-XXXXXX", path[64], s[16], *lines;
  unsigned long u;
  size_t n;
  int fd;
  if (!mkdtemp(dir)) return;
  snprintf(path, sizeof path, "%s/c", dir);
  check(control_readline(path, s, sizeof s, "dflt") == 0 && !strcmp(s, "dflt"), "control: missing file gives default");
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  check(write(fd, "  42 \r\nignored\n", 15) == 15, "control: write");
  close(fd);
  check(control_readulong(path, &u, 7) < 0 && errno == EINVAL, "control: leading space is not a number");
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  check(write(fd, "42 \r\n", 5) == 5, "control: write 2");
  close(fd);
  check(control_readulong(path, &u, 7) == 1 && u == 42, "control: number with trailing white space");
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  check(write(fd, "99999999999999999999999\n", 24) == 24, "control: write 3");
  close(fd);
  check(control_readulong(path, &u, 7) < 0, "control: overflowing number refused");
  check(control_readline(path, s, sizeof s, 0) < 0 && errno == EOVERFLOW, "control: overlong line refused");
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  check(write(fd, "# c\nExample.ORG\n\n  b.net  \nx\0y\n", 31) == 31, "control: write 4");
  close(fd);
  check(control_readlines(path, &lines, &n, 4096) == 1 && control_haslinecase(lines, n, "example.org", 11) &&
          control_haslinecase(lines, n, "b.net", 5) && !control_haslinecase(lines, n, "# c", 3) &&
          !control_haslinecase(lines, n, "x", 1),
        "control: lines, comments, case, NUL lines dropped");
  free(lines);
  /* found by TESTS/fuzz/fuzz_control: a NUL cut the line, and "\0junk" read as 0 */
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  check(write(fd, "\0" "12a\n", 5) == 5, "control: write 5");
  close(fd);
  check(control_readulong(path, &u, 7) < 0 && errno == EINVAL, "control: a NUL in a number's line is an error");
  check(control_readline(path, s, sizeof s, 0) < 0 && errno == EINVAL, "control: a NUL in a line is an error");
  unlink(path);
  rmdir(dir);
}

int main(void)
{
  envelope_tests();
  qid_tests();
  msgfile_tests();
  control_tests();
  return failed;
}
