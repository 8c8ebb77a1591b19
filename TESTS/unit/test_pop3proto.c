/* Unit tests of the POP3 side's pure modules: the command parser (pop3d_cmd.c), the
   message transform (pop3d_xform.c: dot-stuffing, CRLF, TOP), names and paths, UIDLs
   (pop3d_name.c), and the line reader (pop3d_io.c) over pipes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../pop3d/pop3d.h"

struct tally { int pass, fail; };

static void check(struct tally *t, int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (ok) t->pass++; else t->fail++;
}

#define S(x) x, sizeof(x) - 1

/* --- parser ---------------------------------------------------------------------------- */
static void parse_ok(struct tally *t, char const *label, char const *s, size_t len, int verb,
                     unsigned nargs, unsigned long a, unsigned long b)
{
  struct pop3_cmd c;
  int r = pop3_parse(s, len, &c);
  int ok = r == verb && c.verb == verb && c.nargs == nargs && (nargs < 1 || c.num[0] == a) && (nargs < 2 || c.num[1] == b);
  if (!ok) fprintf(stderr, "  %s: r=%d nargs=%u\n", label, r, c.nargs);
  check(t, ok, label);
}

static void parse_err(struct tally *t, char const *label, char const *s, size_t len, int want)
{
  struct pop3_cmd c;
  int r = pop3_parse(s, len, &c);
  if (r != want) fprintf(stderr, "  %s: r=%d\n", label, r);
  check(t, r == want, label);
}

static void rest(struct tally *t, char const *label, char const *s, size_t len, int verb, char const *want, size_t wantlen)
{
  struct pop3_cmd c;
  int r = pop3_parse(s, len, &c);
  check(t, r == verb && c.arglen == wantlen && !memcmp(c.arg, want, wantlen), label);
}

static void parser_cases(struct tally *t)
{
  char big[600];
  parse_ok(t, "parse STAT", S("STAT"), POP3_STAT, 0, 0, 0);
  parse_ok(t, "parse stat lowercase", S("stat"), POP3_STAT, 0, 0, 0);
  parse_ok(t, "parse StAt trailing space", S("StAt "), POP3_STAT, 0, 0, 0);
  parse_ok(t, "parse LIST", S("LIST"), POP3_LIST, 0, 0, 0);
  parse_ok(t, "parse LIST 7", S("LIST 7"), POP3_LIST, 1, 7, 0);
  parse_ok(t, "parse RETR 4294967295", S("RETR 4294967295"), POP3_RETR, 1, 4294967295UL, 0);
  parse_ok(t, "parse RETR leading zeros", S("RETR 0001"), POP3_RETR, 1, 1, 0);
  parse_ok(t, "parse TOP 3 0", S("TOP 3 0"), POP3_TOP, 2, 3, 0);
  parse_ok(t, "parse top two spaces", S("top  3  10"), POP3_TOP, 2, 3, 10);
  parse_ok(t, "parse DELE 2", S("DELE 2"), POP3_DELE, 1, 2, 0);
  parse_ok(t, "parse UIDL", S("UIDL"), POP3_UIDL, 0, 0, 0);
  parse_ok(t, "parse UIDL 9", S("UIDL 9"), POP3_UIDL, 1, 9, 0);
  parse_ok(t, "parse NOOP", S("NOOP"), POP3_NOOP, 0, 0, 0);
  parse_ok(t, "parse RSET", S("RSET"), POP3_RSET, 0, 0, 0);
  parse_ok(t, "parse QUIT", S("QUIT"), POP3_QUIT, 0, 0, 0);
  parse_ok(t, "parse CAPA", S("CAPA"), POP3_CAPA, 0, 0, 0);
  parse_ok(t, "parse AUTH PLAIN (args ignored)", S("AUTH PLAIN"), POP3_AUTH, 0, 0, 0);
  parse_ok(t, "parse APOP", S("APOP u d41d8cd98f00b204e9800998ecf8427e"), POP3_APOP, 0, 0, 0);
  parse_ok(t, "parse STLS", S("STLS"), POP3_STLS, 0, 0, 0);
  parse_err(t, "parse RETR 4294967296 too big", S("RETR 4294967296"), POP3_ESYNTAX);
  parse_err(t, "parse RETR 11 digits", S("RETR 00000000001"), POP3_ESYNTAX);
  parse_err(t, "parse RETR without number", S("RETR"), POP3_ESYNTAX);
  parse_err(t, "parse RETR -1", S("RETR -1"), POP3_ESYNTAX);
  parse_err(t, "parse RETR +1", S("RETR +1"), POP3_ESYNTAX);
  parse_err(t, "parse RETR 1x", S("RETR 1x"), POP3_ESYNTAX);
  parse_err(t, "parse RETR 1 2 extra", S("RETR 1 2"), POP3_ESYNTAX);
  parse_err(t, "parse TOP one argument", S("TOP 1"), POP3_ESYNTAX);
  parse_err(t, "parse TOP three arguments", S("TOP 1 2 3"), POP3_ESYNTAX);
  parse_err(t, "parse STAT with argument", S("STAT 1"), POP3_ESYNTAX);
  parse_err(t, "parse QUIT with junk", S("QUIT now"), POP3_ESYNTAX);
  parse_err(t, "parse LIST tab", S("LIST\t1"), POP3_EUNKNOWN);
  parse_err(t, "parse RETR NUL in number", S("RETR 1\0"), POP3_ESYNTAX);
  parse_err(t, "parse unknown XYZZY", S("XYZZY"), POP3_EUNKNOWN);
  parse_err(t, "parse unknown LAST", S("LAST"), POP3_EUNKNOWN);
  parse_err(t, "parse empty line", S(""), POP3_EUNKNOWN);
  parse_err(t, "parse leading space", S(" STAT"), POP3_EUNKNOWN);
  parse_err(t, "parse STATS", S("STATS"), POP3_EUNKNOWN);
  parse_err(t, "parse NUL in keyword", S("ST\0T"), POP3_EUNKNOWN);
  parse_err(t, "parse USER without name", S("USER"), POP3_ESYNTAX);
  parse_err(t, "parse USER with space only", S("USER "), POP3_ESYNTAX);
  memset(big, '9', sizeof big);
  memcpy(big, "RETR ", 5);
  parse_err(t, "parse RETR 595 digits", big, sizeof big, POP3_ESYNTAX);
  rest(t, "parse USER name", S("USER demo"), POP3_USER, "demo", 4);
  rest(t, "parse user keeps case", S("user DeMo"), POP3_USER, "DeMo", 4);
  rest(t, "parse PASS with spaces", S("PASS a b  c "), POP3_PASS, "a b  c ", 7);
  rest(t, "parse PASS empty", S("PASS"), POP3_PASS, "", 0);
  rest(t, "parse PASS NUL kept for the caller", S("PASS a\0b"), POP3_PASS, "a\0b", 3);
  check(t, !strcmp(pop3_verbname(POP3_TOP), "TOP") && !strcmp(pop3_verbname(999), "?"), "parse verb names");
  {
    char const *capa = pop3_capa();
    check(t, !strncmp(capa, "+OK", 3) && strstr(capa, "\r\nTOP\r\n") && strstr(capa, "\r\nUIDL\r\n") && strstr(capa, "\r\nUSER\r\n")
             && strstr(capa, "\r\nRESP-CODES\r\n") && strstr(capa, "\r\nPIPELINING\r\n")
             && !strcmp(capa + strlen(capa) - 5, "\r\n.\r\n"), "capa list");
  }
}

/* --- transform --------------------------------------------------------------------------- */
/* The whole response body for in, fed `step` bytes at a time (0: all at once). */
static size_t xform_all(char const *in, size_t len, int top, unsigned long lines, size_t step, char *out)
{
  struct pop3_xform x;
  size_t w = 0, pos = 0;
  pop3_xform_init(&x, top, lines);
  while (pos < len && !x.done) {
    size_t n = step && len - pos > step ? step : len - pos, used;
    size_t k = pop3_xform(&x, in + pos, n, out + w, &used);
    if (k > 2 * n) return (size_t)-1;
    w += k;
    pos += used;
  }
  return w + pop3_xform_end(&x, out + w);
}

static void xf(struct tally *t, char const *label, char const *in, size_t len, int top, unsigned long lines, char const *want, size_t wantlen)
{
  char out[4096];
  int ok = 1;
  size_t steps[] = { 0, 1, 2, 3, 7 };
  for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
    size_t w = xform_all(in, len, top, lines, steps[k], out);
    if (w != wantlen || memcmp(out, want, wantlen) != 0) {
      fprintf(stderr, "  %s (step %zu): got %zu bytes: %.*s\n", label, steps[k], w, (int)(w == (size_t)-1 ? 0 : w), out);
      ok = 0;
    }
  }
  check(t, ok, label);
}

static void xform_cases(struct tally *t)
{
  char in[1000], out[2100];
  size_t w;
  xf(t, "xform LF to CRLF", S("a\nb\n"), 0, 0, S("a\r\nb\r\n.\r\n"));
  xf(t, "xform CRLF kept", S("a\r\nb\r\n"), 0, 0, S("a\r\nb\r\n.\r\n"));
  xf(t, "xform mixed line ends", S("a\r\nb\nc\r\n"), 0, 0, S("a\r\nb\r\nc\r\n.\r\n"));
  xf(t, "xform dot-stuffing", S(".\n..x\n.a\nb.\n"), 0, 0, S("..\r\n...x\r\n..a\r\nb.\r\n.\r\n"));
  xf(t, "xform dot-stuffing after CRLF", S("x\r\n.\r\n"), 0, 0, S("x\r\n..\r\n.\r\n"));
  xf(t, "xform dot on the first line", S(".hidden\n"), 0, 0, S("..hidden\r\n.\r\n"));
  xf(t, "xform bare CR is data", S("a\rb\n"), 0, 0, S("a\rb\r\n.\r\n"));
  xf(t, "xform CR CR LF", S("a\r\r\n"), 0, 0, S("a\r\r\n.\r\n"));
  xf(t, "xform bare CR then dot is no end", S("a\r.\r\n"), 0, 0, S("a\r.\r\n.\r\n"));
  xf(t, "xform last line without LF", S("a\nb"), 0, 0, S("a\r\nb\r\n.\r\n"));
  xf(t, "xform last line ends in CR", S("a\nb\r"), 0, 0, S("a\r\nb\r\n.\r\n"));
  xf(t, "xform last line is a dot", S("a\n."), 0, 0, S("a\r\n..\r\n.\r\n"));
  xf(t, "xform empty message", S(""), 0, 0, S(".\r\n"));
  xf(t, "xform only a LF", S("\n"), 0, 0, S("\r\n.\r\n"));
  xf(t, "xform NUL bytes pass", S("a\0b\n"), 0, 0, S("a\0b\r\n.\r\n"));
  xf(t, "xform TOP 0", S("H: 1\nH: 2\n\nb1\nb2\n"), 1, 0, S("H: 1\r\nH: 2\r\n\r\n.\r\n"));
  xf(t, "xform TOP 1", S("H: 1\n\nb1\nb2\n"), 1, 1, S("H: 1\r\n\r\nb1\r\n.\r\n"));
  xf(t, "xform TOP 5 of 2", S("H: 1\n\nb1\nb2"), 1, 5, S("H: 1\r\n\r\nb1\r\nb2\r\n.\r\n"));
  xf(t, "xform TOP CRLF header end", S("H: 1\r\n\r\n.b1\r\nb2\r\n"), 1, 1, S("H: 1\r\n\r\n..b1\r\n.\r\n"));
  xf(t, "xform TOP no body", S("H: 1\nH: 2\n"), 1, 3, S("H: 1\r\nH: 2\r\n.\r\n"));
  xf(t, "xform TOP header CR line is not empty", S("H\n\r\r\nb\n\nc\n"), 1, 0, S("H\r\n\r\r\nb\r\n\r\n.\r\n"));
  xf(t, "xform TOP empty body lines count", S("H\n\n\n\nx\n"), 1, 2, S("H\r\n\r\n\r\n\r\n.\r\n"));
  /* The worst case for the 2x bound: every byte a LF or a leading dot. */
  for (size_t i = 0; i < sizeof in; i++) in[i] = i % 2 ? '\n' : '.';
  w = xform_all(in, sizeof in, 0, 0, 0, out);
  check(t, w == 2 * sizeof in + 3, "xform output within 2x the input");
}

/* --- names ------------------------------------------------------------------------------- */
static void name_cases(struct tally *t)
{
  char u[POP3_UIDL_MAX + 1], long71[80], b129[130];
  size_t n;
  uint64_t v = 0;
  memset(b129, 'a', 129);
  check(t, pop3_user_ok(S("demo")) && pop3_user_ok(S("joe@example.com")) && pop3_user_ok(S("a.b-c_d")), "user ok");
  check(t, pop3_user_ok(b129, 128) && !pop3_user_ok(b129, 129), "user 128 ok, 129 refused");
  check(t, !pop3_user_ok(S("")) && !pop3_user_ok(S(".")) && !pop3_user_ok(S("..")), "user empty . .. refused");
  check(t, !pop3_user_ok(S("../demo")) && !pop3_user_ok(S("/etc")) && !pop3_user_ok(S("a/b")), "user with / refused");
  check(t, !pop3_user_ok(S("de\0mo")) && !pop3_user_ok(S("a b")) && !pop3_user_ok(S("a\tb")) && !pop3_user_ok(S("a\x7f")) && !pop3_user_ok(S("\xc3\xa9")),
        "user with NUL, space, control, 8-bit refused");
  check(t, pop3_user_ok(S("..x")) && pop3_user_ok(S("...")), "user ..x and ... allowed (no /)");
  check(t, pop3_relpath_ok("Maildir") && pop3_relpath_ok("./Maildir/") && pop3_relpath_ok("mail/box") && pop3_relpath_ok("..x"), "relpath ok");
  check(t, !pop3_relpath_ok("") && !pop3_relpath_ok("/var/mail") && !pop3_relpath_ok("..") && !pop3_relpath_ok("../x")
           && !pop3_relpath_ok("a/../b") && !pop3_relpath_ok("a/..") && !pop3_relpath_ok("a//../b"), "relpath refusals");
  check(t, pop3_abspath_ok("/home/joe") && pop3_abspath_ok("/") && pop3_abspath_ok("/a/..b/"), "abspath ok");
  check(t, !pop3_abspath_ok("home") && !pop3_abspath_ok("") && !pop3_abspath_ok("/a/../b") && !pop3_abspath_ok("/a/./b")
           && !pop3_abspath_ok("/a/.."), "abspath refusals");
  n = pop3_uidl(S("1700000000.M1P2Q3.host:2,S"), u);
  check(t, n == 22 && !strcmp(u, "1700000000.M1P2Q3.host"), "uidl is the unique part");
  n = pop3_uidl(S("1700000000.M1P2Q3.host"), u);
  check(t, n == 22 && !strcmp(u, "1700000000.M1P2Q3.host"), "uidl same in new/ and cur/");
  memset(long71, 'x', 71);
  n = pop3_uidl(long71, 70, u);
  check(t, n == 70 && u[69] == 'x', "uidl 70 bytes kept");
  n = pop3_uidl(long71, 71, u);
  check(t, n == 65 && u[0] == 'H', "uidl 71 bytes hashed to 65");
  {
    char u2[POP3_UIDL_MAX + 1];
    pop3_uidl(S("a b:2,"), u);
    pop3_uidl(S("a b:2,S"), u2);
    int printable = 1;
    for (size_t i = 0; u[i]; i++) printable &= u[i] > 0x20 && u[i] < 0x7f;
    check(t, u[0] == 'H' && strlen(u) == 65 && printable && !strcmp(u, u2), "uidl of a name with a space: hashed, stable");
    pop3_uidl(S("a c"), u2);
    check(t, strcmp(u, u2) != 0, "uidl hashes differ for different names");
  }
  n = pop3_uidl(S(":2,"), u);
  check(t, n == 65 && u[0] == 'H', "uidl of an empty unique part is hashed");
  check(t, pop3_name_vsize(S("123.M4P5.host,S=100,W=104:2,S"), &v) && v == 104, "vsize W= found");
  check(t, pop3_name_vsize(S("123.M4P5.host,W=7"), &v) && v == 7, "vsize W= at end");
  check(t, !pop3_name_vsize(S("123.M4P5.host,S=100"), &v), "vsize S= only: none");
  check(t, !pop3_name_vsize(S("123.host:2,W=5"), &v), "vsize W= in the info part ignored");
  check(t, !pop3_name_vsize(S("123,W=12x"), &v) && !pop3_name_vsize(S("123,W="), &v), "vsize malformed ignored");
  check(t, pop3_name_ssize(S("123.M4P5.host,S=100,W=104:2,S"), &v) && v == 100, "ssize S= found");
  check(t, !pop3_name_ssize(S("123.M4P5.host,W=104"), &v), "ssize W= only: none");
  {
    /* the UIDL leaves out a last ",W=" (pop3d adds one at UPDATE), nothing else */
    static struct {
      char const *name, *uidl;
    } const u[] = {
      { "1.M2P3.host,W=12:2,S", "1.M2P3.host" }, { "1.M2P3.host,S=10,W=12", "1.M2P3.host,S=10" },
      { "1.M2P3.host,W=12", "1.M2P3.host" },     { "1.M2P3.host,W=:2,", "1.M2P3.host,W=" },
      { "1.M2P3.host,W=1x", "1.M2P3.host,W=1x" }, { "1.M2P3.host,W=5,S=3", "1.M2P3.host,W=5,S=3" },
      { "1.M2P3.hostW=5", "1.M2P3.hostW=5" },
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
      char out[POP3_UIDL_MAX + 1];
      size_t n = pop3_uidl(u[i].name, strlen(u[i].name), out);
      char lab[120];
      snprintf(lab, sizeof lab, "uidl of %s is %s", u[i].name, u[i].uidl);
      check(t, n == strlen(u[i].uidl) && !strcmp(out, u[i].uidl), lab);
    }
  }
}

/* --- line reader --------------------------------------------------------------------------- */
static int pipe_with(int p[2], char const *s, size_t len)
{
  if (pipe(p) < 0) return -1;
  if (write(p[1], s, len) != (ssize_t)len) return -1;
  close(p[1]);
  return 0;
}

static void io_cases(struct tally *t)
{
  static struct pop3_in in;
  char line[POP3_LINE_MAX];
  size_t len = 0;
  int p[2], r;
  char big[POP3_LINE_MAX + 10];

  if (pipe_with(p, S("USER a\r\nPASS b c\nQUIT\r\npartial")) < 0) { check(t, 0, "io pipe"); return; }
  pop3_in_init(&in, p[0], 5, 0);
  r = pop3_getline(&in, line, &len);
  check(t, r == 1 && len == 6 && !strcmp(line, "USER a"), "io line CRLF stripped");
  check(t, pop3_in_hasline(&in), "io pipelined line is buffered");
  r = pop3_getline(&in, line, &len);
  check(t, r == 1 && len == 8 && !strcmp(line, "PASS b c"), "io line bare LF");
  r = pop3_getline(&in, line, &len);
  check(t, r == 1 && !strcmp(line, "QUIT") && !pop3_in_hasline(&in), "io third line, nothing left");
  r = pop3_getline(&in, line, &len);
  check(t, r == 0, "io partial last line is end of input");
  close(p[0]);

  /* 511 bytes and LF is the longest line; 512 without a LF is refused. */
  memset(big, 'x', sizeof big);
  big[POP3_LINE_MAX - 1] = '\n';
  pipe_with(p, big, POP3_LINE_MAX);
  pop3_in_init(&in, p[0], 5, 0);
  r = pop3_getline(&in, line, &len);
  check(t, r == 1 && len == POP3_LINE_MAX - 1, "io longest line accepted");
  close(p[0]);
  big[POP3_LINE_MAX - 1] = 'x';
  big[POP3_LINE_MAX] = '\n';
  pipe_with(p, big, POP3_LINE_MAX + 1);
  pop3_in_init(&in, p[0], 5, 0);
  r = pop3_getline(&in, line, &len);
  check(t, r == -1 && errno == E2BIG, "io overlong line refused");
  close(p[0]);
  /* onebyte: what follows the line stays in the pipe for the next program. */
  pipe_with(p, S("PASS x\r\nSTAT\r\n"));
  pop3_in_init(&in, p[0], 5, 1);
  r = pop3_getline(&in, line, &len);
  {
    char rest[32];
    ssize_t k = read(p[0], rest, sizeof rest);
    check(t, r == 1 && !strcmp(line, "PASS x") && k == 6 && !memcmp(rest, "STAT\r\n", 6), "io onebyte leaves the rest unread");
  }
  close(p[0]);
  /* the deadline */
  if (pipe(p) == 0) {
    pop3_in_init(&in, p[0], 1, 0);
    r = pop3_getline(&in, line, &len);
    check(t, r == -1 && errno == ETIMEDOUT, "io read deadline");
    close(p[0]);
    close(p[1]);
  }
  /* output: everything put comes out in order through a small pipe read later */
  if (pipe(p) == 0) {
    static struct pop3_out out;
    char got[64];
    pop3_out_init(&out, p[1], 5);
    pop3_puts(&out, "+OK ");
    char *room = pop3_room(&out, 4);
    memcpy(room, "1 2\n", 4);
    pop3_commit(&out, 4);
    r = pop3_flush(&out);
    ssize_t k = read(p[0], got, sizeof got);
    check(t, r == 0 && k == 8 && !memcmp(got, "+OK 1 2\n", 8), "io output buffer");
    close(p[0]);
    close(p[1]);
  }
}

int main(void)
{
  struct tally t = { 0, 0 };
  parser_cases(&t);
  xform_cases(&t);
  name_cases(&t);
  io_cases(&t);
  printf("# test_pop3proto: %d passed, %d failed\n", t.pass, t.fail);
  return t.fail ? 1 : 0;
}
