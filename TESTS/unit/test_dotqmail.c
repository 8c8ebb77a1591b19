/* Unit tests of lib/dotqmail.c: the dot-file line parser and the dot-file names of the
   search. One PASS/FAIL line per case; exit 1 if any failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dotqmail.h"

struct tally { int pass, fail; };

static void check(struct tally *t, int ok, char const *label)
{
  printf("%s dotqmail: %s\n", ok ? "PASS" : "FAIL", label);
  if (ok) t->pass++;
  else t->fail++;
}

#define S(x) x, sizeof(x) - 1

/* Parses s and compares the kinds and values of the lines with want, a string of
   "K:value\n" per line (K = C P F D M); end is the expected last return (0 or DQ_E*). */
static void lines(struct tally *t, char const *label, char const *s, size_t len,
                  char const *want, int end)
{
  static char const kinds[] = "CPFDM";
  char got[4096];
  size_t g = 0;
  dotqmail d;
  dotqmail_line l;
  int r = dotqmail_init(&d, s, len);
  while (r >= 0 && (r = dotqmail_next(&d, &l)) == 1) {
    int n = snprintf(got + g, sizeof got - g, "%c:%.*s\n", kinds[l.kind], (int)l.len, l.value);
    if (n < 0 || (size_t)n >= sizeof got - g) break;
    g += (size_t)n;
  }
  got[g] = 0;
  int ok = r == end && !strcmp(got, want);
  if (!ok) fprintf(stderr, "  %s: r=%d got:\n%s  want (end %d):\n%s", label, r, got, end, want);
  check(t, ok, label);
}

static void parse_cases(struct tally *t)
{
  lines(t, "comment and maildir", S("# my mail\n./Maildir/\n"), "C:# my mail\nD:./Maildir/\n", 0);
  lines(t, "mbox relative and absolute", S("./mbox\n/var/mail/u\n"), "M:./mbox\nM:/var/mail/u\n", 0);
  lines(t, "maildir absolute", S("/home/u/Maildir/\n"), "D:/home/u/Maildir/\n", 0);
  lines(t, "program", S("|preline /usr/bin/procmail -p\n"), "P:preline /usr/bin/procmail -p\n", 0);
  lines(t, "forward with &", S("&joe@example.com\n"), "F:joe@example.com\n", 0);
  lines(t, "forward bare", S("joe@example.com\n7up@example.org\n"),
        "F:joe@example.com\nF:7up@example.org\n", 0);
  lines(t, "forward & blank", S("& joe@example.com\n"), "F:joe@example.com\n", 0);
  lines(t, "last line without LF", S("./Maildir/"), "D:./Maildir/\n", 0);
  lines(t, "trailing blanks cut", S("./Maildir/ \t \n|cmd  \n"), "D:./Maildir/\nP:cmd\n", 0);
  lines(t, "CRLF lines", S("# c\r\n./Maildir/\r\n&a@b\r\n"), "C:# c\nD:./Maildir/\nF:a@b\n", 0);
  lines(t, "blank lines after the first", S("./Maildir/\n\n  \n|x\n"),
        "D:./Maildir/\nC:\nC:\nP:x\n", 0);
  lines(t, "tab inside a program", S("|a\tb\n"), "P:a\tb\n", 0);
  lines(t, "empty file", "", 0, "", 0);
  lines(t, "first line blank", S("\n./Maildir/\n"), "", DQ_EBLANK);
  lines(t, "first line spaces only", S("   \n./Maildir/\n"), "", DQ_EBLANK);
  lines(t, "bare |", S("|\n"), "", DQ_EEMPTY);
  lines(t, "bare & with blanks", S("&  \n"), "", DQ_EEMPTY);
  lines(t, "unknown kind", S("./Maildir/\n-oops\n"), "D:./Maildir/\n", DQ_EKIND);
  lines(t, "NUL byte", S("./Maildir/\n|a\0b\n"), "D:./Maildir/\n", DQ_ENUL);
  lines(t, "CR inside a line", S("|a\rb\n"), "", DQ_ECTRL);
  lines(t, "ESC inside a line", S("&a\033b@c\n"), "", DQ_ECTRL);
  lines(t, "DEL inside a line", S("./mbox\177\n"), "", DQ_ECTRL);
}

static void bound_cases(struct tally *t)
{
  static char buf[DOTQMAIL_FILE_MAX + 2];
  unsigned int n = 0;
  size_t len;
  int r;

  /* A line of exactly DOTQMAIL_LINE_MAX bytes passes, one more does not. */
  memset(buf, 'a', DOTQMAIL_LINE_MAX);
  buf[0] = '|';
  buf[DOTQMAIL_LINE_MAX] = '\n';
  check(t, dotqmail_check(buf, DOTQMAIL_LINE_MAX + 1, &n) == 0 && n == 1, "line at the limit");
  memset(buf, 'a', DOTQMAIL_LINE_MAX + 1);
  buf[0] = '|';
  buf[DOTQMAIL_LINE_MAX + 1] = '\n';
  check(t, dotqmail_check(buf, DOTQMAIL_LINE_MAX + 2, 0) == DQ_ELONG, "overlong line");
  /* Trailing blanks do not count toward the limit. */
  memset(buf, ' ', DOTQMAIL_LINE_MAX + 10);
  memcpy(buf, "./Maildir/", 10);
  check(t, dotqmail_check(buf, DOTQMAIL_LINE_MAX + 10, &n) == 0 && n == 1,
        "blanks past the limit cut first");

  /* DOTQMAIL_ACTS_MAX delivery lines pass, one more does not; comments do not count. */
  len = 0;
  for (unsigned int i = 0; i < DOTQMAIL_ACTS_MAX; i++) len += (size_t)sprintf(buf + len, "&u%u@x\n#c\n", i);
  check(t, dotqmail_check(buf, len, &n) == 0 && n == DOTQMAIL_ACTS_MAX, "100 delivery lines");
  len += (size_t)sprintf(buf + len, "./one-more\n");
  check(t, dotqmail_check(buf, len, 0) == DQ_EMANY, "101 delivery lines");

  /* The file size bound. */
  memset(buf, '#', sizeof buf);
  for (size_t i = 500; i < sizeof buf; i += 501) buf[i] = '\n';
  check(t, dotqmail_check(buf, DOTQMAIL_FILE_MAX, 0) == 0, "file at the size limit");
  check(t, dotqmail_check(buf, DOTQMAIL_FILE_MAX + 1, 0) == DQ_EBIG, "file over the size limit");

  /* Binary junk: never a crash or a read past len, always a result or an error. */
  srand(42);
  r = 0;
  for (unsigned int k = 0; k < 2000; k++) {
    size_t jl = (size_t)(rand() % 3000);
    char *j = malloc(jl ? jl : 1);
    dotqmail d;
    dotqmail_line l;
    int e;
    if (!j) break;
    for (size_t i = 0; i < jl; i++) j[i] = (char)(rand() % 4 ? rand() % 256 : '\n');
    dotqmail_init(&d, j, jl);
    while ((e = dotqmail_next(&d, &l)) == 1)
      if (l.value < j || l.value + l.len > j + jl || l.len > DOTQMAIL_LINE_MAX) r = 1;
    if (e > 0) r = 1;
    free(j);
  }
  check(t, !r, "binary junk stays in bounds");
  check(t, !strcmp(dotqmail_strerror(DQ_ENUL), "NUL byte in line"), "strerror");
}

/* Compares the names of the search for (dash, ext) with want, "name=DEFAULT\n" per name. */
static void names(struct tally *t, char const *label, char const *dash, char const *ext,
                  char const *want)
{
  char got[2048];
  size_t g = 0;
  char name[DOTQMAIL_NAME_MAX];
  size_t defpos;
  int r;
  for (unsigned int k = 0; (r = dotqmail_name(name, sizeof name, dash, ext, k, &defpos)) == 1; k++)
    g += (size_t)snprintf(got + g, sizeof got - g, "%s=%s\n", name,
                          defpos == (size_t)-1 ? "-" : ext + defpos);
  got[g] = 0;
  int ok = !r && !strcmp(got, want);
  if (!ok) fprintf(stderr, "  %s: r=%d got:\n%s  want:\n%s", label, r, got, want);
  check(t, ok, label);
}

static void name_cases(struct tally *t)
{
  char small[10];
  size_t defpos;
  names(t, "names: no extension", "", "", ".qmail=-\n");
  names(t, "names: dash, empty extension", "-", "", ".qmail-=-\n.qmail-default=\n");
  names(t, "names: one part", "-", "a", ".qmail-a=-\n.qmail-default=a\n");
  names(t, "names: a-b-c", "-", "a-b-c",
        ".qmail-a-b-c=-\n.qmail-a-b-default=c\n.qmail-a-default=b-c\n.qmail-default=a-b-c\n");
  names(t, "names: trailing dash", "-", "a-",
        ".qmail-a-=-\n.qmail-a-default=\n.qmail-default=a-\n");
  names(t, "names: case and dots", "-", "Foo.Bar-X",
        ".qmail-foo:bar-x=-\n.qmail-foo:bar-default=X\n.qmail-default=Foo.Bar-X\n");
  names(t, "names: literal default", "-", "list-default",
        ".qmail-list-default=default\n.qmail-list-default=default\n.qmail-default=list-default\n");
  check(t, dotqmail_name(small, sizeof small, "-", "toolongext", 0, &defpos) == -1,
        "names: buffer too small");
}

int main(void)
{
  struct tally t = { 0, 0 };
  parse_cases(&t);
  bound_cases(&t);
  name_cases(&t);
  printf("# dotqmail: %d passed, %d failed\n", t.pass, t.fail);
  return t.fail ? 1 : 0;
}
