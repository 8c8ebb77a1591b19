/* Unit tests of lib/vdomain.c (the control/virtualdomains parser, the rule ranking, the
   rewrite) and lib/vdomain_db.c (the compiler, lookups in the cdb and in the text, which
   must agree; a real tinycdb lookup, so a wrong link order fails here). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "vdomain.h"
#include "vdomain_db.h"

static void good(char const *label, char const *line, enum vdomain_kind kind, char const *key, char const *prefix)
{
  struct vdomain_rule r;
  char const *why = "-";
  int k = vdomain_parseline(line, strlen(line), &r, &why);
  int ok = k == 1 && r.kind == kind && !strcmp(r.key, key) && r.keylen == strlen(key) && !strcmp(r.prefix, prefix) &&
           r.prefixlen == strlen(prefix);
  check(ok, label, why);
}

static void bad(char const *label, char const *line, size_t len, char const *want)
{
  struct vdomain_rule r;
  char const *why = "";
  int k;
  errno = 0;
  k = vdomain_parseline(line, len, &r, &why);
  check(k == -1 && errno == EINVAL && strstr(why, want), label, why);
}

static void parser(void)
{
  char big[VDOMAIN_LINE_MAX + 10];
  good("domain:prefix", "a.example:a", VD_DOMAIN, "a.example", "a");
  good("keys lowercase, prefix as written", "A.Example:Pre", VD_DOMAIN, "a.example", "Pre");
  good(".sub.domain", ".c.example:c", VD_SUB, ".c.example", "c");
  good("user@domain", "Boss@D.example:vip", VD_ADDR, "boss@d.example", "vip");
  good(":prefix catch-all", ":catch", VD_ALL, "", "catch");
  good("domain: (the exception)", "e.example:", VD_DOMAIN, "e.example", "");
  good("blanks and CR around", "  a.example:a \t\r", VD_DOMAIN, "a.example", "a");
  good("prefix with - _ . + =", "a.example:my-pre_fix.x+y=z", VD_DOMAIN, "a.example", "my-pre_fix.x+y=z");
  {
    struct vdomain_rule r;
    char const *why;
    check(vdomain_parseline("", 0, &r, &why) == 0, "blank line: 0", "");
    check(vdomain_parseline("  # a comment", 13, &r, &why) == 0, "comment: 0", "");
  }
  bad("missing colon", "a.example", 9, "missing ':'");
  bad("blank inside", "a.example :a", 12, "blank inside");
  bad("NUL inside", "a.ex\0mple:a", 11, "binary byte");
  bad("byte above 126", "a.ex\xe4mple:a", 11, "binary byte");
  bad("empty domain after @", "info@:a", 7, "empty domain");
  bad("'.' alone", ".:a", 3, "empty domain");
  bad("two dots", "a..example:a", 12, "empty label");
  bad("trailing dot", "a.example.:a", 12, "empty label");
  bad("underscore in domain", "a_b.example:a", 13, "bad character in the domain");
  bad("two @", "a@b@c.example:a", 15, "two '@'");
  bad("empty local part", "@c.example:a", 12, "empty local part");
  bad("slash in prefix", "a.example:a/b", 13, "bad character in the prefix");
  bad("colon in prefix", "a.example:a:b", 13, "bad character in the prefix");
  bad("prefix starting with '.'", "a.example:.a", 12, "starts or ends with '.'");
  memset(big, 'x', sizeof big);
  memcpy(big, "a.example:", 10);
  bad("prefix over 255", big, 10 + 256, "prefix longer than 255");
  bad("line over 1024", big, VDOMAIN_LINE_MAX + 1, "line longer than 1024");
  memset(big, 'a', 64);
  memcpy(big + 64, ".example:a", 10);
  bad("label over 63", big, 74, "label of the domain longer than 63");
  {
    char d[300];
    size_t n = 0;
    while (n < 254) {
      memcpy(d + n, "abcdefghi.", 10);
      n += 10;
    }
    memcpy(d + n, "ex:a", 4);
    bad("domain over 253", d, n + 4, "domain longer than 253");
  }
}

static size_t rank(char const *line, char const *addr)
{
  struct vdomain_rule r;
  char const *why;
  if (vdomain_parseline(line, strlen(line), &r, &why) != 1) return 12345;
  return vdomain_rank(&r, addr, strlen(addr));
}

static void ranking(void)
{
  check(rank("boss@d.example:v", "BOSS@d.EXAMPLE") == 0, "rank: the address, any case", "");
  check(rank("d.example:d", "x@D.example") == 1, "rank: the domain", "");
  check(rank(".c.example:c", "x@mx.c.example") == 4, "rank: a .suffix, 2 + offset", "");
  check(rank(".c.example:c", "x@a.b.c.example") < rank(".example:c", "x@a.b.c.example"), "rank: longer suffix first",
        "");
  check(rank(".c.example:c", "x@c.example") == (size_t)-1, "rank: .c.example is not c.example itself", "");
  check(rank(".c.example:c", "x@bc.example") == (size_t)-1, "rank: .c.example is not bc.example", "");
  check(rank(":all", "x@y.example") > rank(".example:e", "x@y.example"), "rank: the catch-all last", "");
  check(rank(":all", "bare") == (size_t)-1, "rank: a bare local part fits no rule", "");
  check(rank(":all", "x@") == (size_t)-1, "rank: an empty domain fits no rule", "");
  check(rank("d.example:d", "x@d.example.org") == (size_t)-1, "rank: no partial domain", "");
  check(rank("a@d.example:d", "ba@d.example") == (size_t)-1, "rank: no partial address", "");
  {
    char out[64];
    size_t n = vdomain_rewrite("pre", "info@a.example", 14, out, sizeof out);
    check(n == 18 && !strcmp(out, "pre-info@a.example"), "rewrite: prefix-local@domain", out);
    check(vdomain_rewrite("pre", "info@a.example", 14, out, 18) == 0, "rewrite: too small a buffer: 0", "");
  }
}

/* Lookups in a temporary instance folder: through the text, then the cdb; the same answers. */
static char const *const TEXT = "# rules\n"
                                "a.example:a\n"
                                "B.EXAMPLE:b\n"
                                ".c.example:c\n"
                                ".x.c.example:xc\n"
                                "boss@d.example:vip\n"
                                "d.example:d\n"
                                "e.example:\n"
                                ":catch\n";

static void lookups(char const *how)
{
  static struct {
    char const *addr;
    int r;
    char const *prefix;
    enum vdomain_kind kind;
  } const t[] = {
    { "info@a.example", 1, "a", VD_DOMAIN },  { "Info@A.EXAMPLE", 1, "a", VD_DOMAIN },
    { "x@b.example", 1, "b", VD_DOMAIN },     { "x@mx.c.example", 1, "c", VD_SUB },
    { "x@y.x.c.example", 1, "xc", VD_SUB },   { "x@c.example", 1, "catch", VD_ALL },
    { "boss@d.example", 1, "vip", VD_ADDR },  { "other@d.example", 1, "d", VD_DOMAIN },
    { "x@e.example", 0, "", VD_NONE },        { "x@elsewhere.example", 1, "catch", VD_ALL },
    { "bare", 0, "", VD_NONE },               { "x@", 0, "", VD_NONE },
  };
  char label[200];
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    char prefix[VDOMAIN_PREFIX_MAX + 1] = "";
    enum vdomain_kind kind = VD_NONE;
    int r = vdomain_lookup(t[i].addr, strlen(t[i].addr), prefix, &kind);
    snprintf(label, sizeof label, "lookup (%s) %s: %d %s", how, t[i].addr, t[i].r, t[i].prefix);
    check(r == t[i].r && (!r || (!strcmp(prefix, t[i].prefix) && kind == t[i].kind)), label, prefix);
  }
  {
    /* an address longer than a line: its domain's rule still applies */
    char addr[VDOMAIN_LINE_MAX + 40], prefix[VDOMAIN_PREFIX_MAX + 1];
    memset(addr, 'l', VDOMAIN_LINE_MAX + 20);
    memcpy(addr + VDOMAIN_LINE_MAX + 20, "@a.example", 10);
    snprintf(label, sizeof label, "lookup (%s): an overlong local part, the domain's rule", how);
    check(vdomain_lookup(addr, VDOMAIN_LINE_MAX + 30, prefix, 0) == 1 && !strcmp(prefix, "a"), label, "");
  }
}

static int writefile(char const *p, char const *s, size_t n)
{
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  if (write(fd, s, n) != (ssize_t)n) {
    close(fd);
    return -1;
  }
  return close(fd);
}

static void db(void)
{
  char dir[] = "/tmp/test_vdomain.XXXXXX";
  int cwd = open(".", O_RDONLY | O_DIRECTORY);
  unsigned long bad;
  char const *why;
  char prefix[VDOMAIN_PREFIX_MAX + 1];
  long n;
  if (!mkdtemp(dir) || chdir(dir) < 0 || mkdir("control", 0755) < 0) {
    check(0, "temporary folder", strerror(errno));
    return;
  }
  check(vdomain_lookup("x@a.example", 11, prefix, 0) == 0, "lookup: neither file: not virtual", "");
  writefile(VDOMAIN_FILE, TEXT, strlen(TEXT));
  lookups("text");
  n = vdomain_make(&bad, &why);
  check(n == 8, "make: 8 rules", why ? why : "");
  lookups("cdb");
  writefile(VDOMAIN_FILE, "a.example:a\nb.example:b\nA.example:c\n", 36);
  n = vdomain_make(&bad, &why);
  check(n == -1 && errno == EINVAL && bad == 3 && why && strstr(why, "duplicate"), "make: a duplicate: line 3",
        why ? why : "");
  check(vdomain_lookup("x@b.example", 11, prefix, 0) == 1 && !strcmp(prefix, "b"),
        "make refused: the old cdb still answers", prefix);
  writefile(VDOMAIN_FILE, "a.example:a\nbad line\n", 21);
  n = vdomain_make(&bad, &why);
  check(n == -1 && bad == 2, "make: a malformed line: line 2", why ? why : "");
  check(access("control/virtualdomains.cdb.tmp", F_OK) < 0, "make refused: no .tmp left", "");
  writefile(VDOMAIN_CDB, "garbage", 7);
  errno = 0;
  check(vdomain_lookup("x@a.example", 11, prefix, 0) == -1 && errno == EPROTO, "lookup: a corrupt cdb: -1 EPROTO",
        strerror(errno));
  unlink(VDOMAIN_CDB);
  unlink(VDOMAIN_FILE);
  n = vdomain_make(&bad, &why);
  check(n == -1 && errno == ENOENT, "make: no text: ENOENT", "");
  rmdir("control");
  if (fchdir(cwd) == 0) rmdir(dir);
  close(cwd);
}

int main(void)
{
  parser();
  ranking();
  db();
  printf("# test_vdomain: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
