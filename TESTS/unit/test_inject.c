/* Unit test of mailroom-inject's modules (queue/inject_*.c): sendmail's options, the input
   normalization, the header block, address checks, -t extraction, Bcc stripping and the
   headers added. Hostile input throughout: overlong, NUL bytes, binary, header injection. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>

#include "../../queue/inject.h"
#include "qqerr.h"

typedef struct counts_s {
  unsigned int pass, fail;
} counts;

static void check(counts *c, int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (ok) c->pass++;
  else c->fail++;
}

static int memeq(stralloc const *sa, char const *s, size_t n)
{
  int ok = sa->len == n && !memcmp(sa->s, s, n);
  if (!ok) printf("  got [%.*s]\n  want [%s]\n", (int)sa->len, sa->s ? sa->s : "", s);
  return ok;
}

static int streq(stralloc const *sa, char const *s)
{
  return memeq(sa, s, strlen(s));
}

static void opts(counts *c)
{
  inject_opts o;
  char const *err = 0, *arg = 0;
  char const *a1[] = { "sendmail", "-t", "-i", "-f", "a@b", "-F", "Full Name", "x", "y", 0 };
  char const *a2[] = { "sendmail", "-fsender", "-oi", "-odi", "-oem", "x", 0 };
  char const *a3[] = { "sendmail", "-ti", "-v", "-B", "8BITMIME", "-N", "never", "-R", "hdrs", "-V",
                       "id", "-X", "log", "-Am", "-r", "s@x", "-em", "-d0.1", "-C", "cf", "-h",
                       "5", "-L", "t", "-O", "x=y", "-p", "smtp", "-U", "-G", "-n", "-m", "a", 0 };
  char const *a4[] = { "sendmail", "--", "-x", 0 };
  char const *a5[] = { "sendmail", "-", "-t", 0 };
  int r = inject_opts_parse(&o, 9, a1, &err, &arg);
  check(c, r == 7 && o.flagt && o.flagi && !strcmp(o.sender, "a@b") && !strcmp(o.fullname, "Full Name") && o.mode == 'm', "opts: -t -i -f x -F x");
  r = inject_opts_parse(&o, 6, a2, &err, &arg);
  check(c, r == 5 && !strcmp(o.sender, "sender") && o.flagi && !o.flagt, "opts: -fsender -oi -odi -oem");
  r = inject_opts_parse(&o, 33, a3, &err, &arg);
  check(c, r == 32 && o.flagt && o.flagi && !strcmp(o.sender, "s@x") && !o.flagq, "opts: the ignored flags are accepted");
  r = inject_opts_parse(&o, 3, a4, &err, &arg);
  check(c, r == 2, "opts: -- ends the flags");
  r = inject_opts_parse(&o, 3, a5, &err, &arg);
  check(c, r == 1 && !o.flagt, "opts: \"-\" is a recipient and ends the flags");
  r = inject_opts_parse(&o, 1, a5, &err, &arg);
  check(c, r == 1 && !o.sender && !o.fullname, "opts: none");
  {
    char const *b1[] = { "sendmail", "-bp", 0 }, *b2[] = { "sendmail", "-b", "s", 0 };
    char const *b3[] = { "sendmail", "-bxy", 0 }, *b4[] = { "sendmail", "-q30m", 0 };
    char const *b5[] = { "sendmail", "-Z", 0 }, *b6[] = { "sendmail", "-t", "-f", 0 };
    char const *b7[] = { "sendmail", "-f", "", "-F", "", "a", 0 };
    check(c, inject_opts_parse(&o, 2, b1, &err, &arg) == 2 && o.mode == 'p', "opts: -bp");
    check(c, inject_opts_parse(&o, 3, b2, &err, &arg) == 3 && o.mode == 's', "opts: -b s");
    check(c, inject_opts_parse(&o, 2, b3, &err, &arg) < 0 && !strcmp(arg, "xy"), "opts: -bxy is refused");
    check(c, inject_opts_parse(&o, 2, b4, &err, &arg) == 2 && o.flagq, "opts: -q30m");
    check(c, inject_opts_parse(&o, 2, b5, &err, &arg) < 0 && !strcmp(arg, "-Z"), "opts: unknown -Z");
    check(c, inject_opts_parse(&o, 3, b6, &err, &arg) < 0 && !strcmp(arg, "-f"), "opts: -f without a value");
    check(c, inject_opts_parse(&o, 6, b7, &err, &arg) == 5 && o.sender && !*o.sender && o.fullname && !*o.fullname, "opts: empty -f and -F values");
  }
}

/* Reference for inject_norm: CR before LF dropped, then (without -i) the first line "."
   ends the input; a last line "." or ".\r" without LF too. */
static size_t norm_ref(char const *s, size_t n, int flagi, char *out)
{
  size_t i = 0, w = 0;
  while (i < n) {
    size_t j = i, len;
    char line[64];
    while (j < n && s[j] != '\n') j++;
    len = j - i;
    memcpy(line, s + i, len);
    if (j < n) {
      if (len && line[len - 1] == '\r') len--;
      line[len++] = '\n';
    }
    if (!flagi && ((len == 2 && !memcmp(line, ".\n", 2)) || (j >= n && ((len == 1 && line[0] == '.') || (len == 2 && !memcmp(line, ".\r", 2))))))
      break;
    memcpy(out + w, line, len);
    w += len;
    i = j < n ? j + 1 : n;
  }
  return w;
}

static size_t norm_run(char const *s, size_t n, int flagi, size_t step, char *out)
{
  inject_norm z = INJECT_NORM_ZERO(flagi);
  size_t i, w = 0;
  for (i = 0; i < n; i += step) w += inject_norm_feed(&z, s + i, n - i < step ? n - i : step, out + w);
  return w + inject_norm_feed(&z, 0, 0, out + w);
}

static void norm(counts *c)
{
  static char const alpha[4] = { '.', '\r', '\n', 'a' };
  char s[8], a[40], b[40], r[40];
  unsigned int len, k, bad = 0, total = 0;
  int flagi;
  inject_norm z = INJECT_NORM_ZERO(0);
  size_t n = inject_norm_feed(&z, "a\r\nb\rc\n.\r\nrest\n", 15, a);
  check(c, n == 6 && !memcmp(a, "a\nb\rc\n", 6) && z.done, "norm: CRLF to LF, bare CR kept, .CRLF ends");
  check(c, !inject_norm_feed(&z, "more", 4, a), "norm: nothing after the end");
  for (flagi = 0; flagi < 2; flagi++)
    for (len = 0; len <= 7; len++) {
      unsigned int count = 1, i;
      for (i = 0; i < len; i++) count *= 4;
      for (k = 0; k < count; k++) {
        unsigned int v = k;
        size_t nr, na, nb;
        for (i = 0; i < len; i++, v /= 4) s[i] = alpha[v % 4];
        nr = norm_ref(s, len, flagi, r);
        na = norm_run(s, len, flagi, 8, a);
        nb = norm_run(s, len, flagi, 1, b);
        total++;
        if (na != nr || nb != nr || memcmp(a, r, nr) != 0 || memcmp(b, r, nr) != 0) {
          if (bad++ < 3) printf("  mismatch on [%.*s] flagi=%d\n", (int)len, s, flagi);
        }
      }
    }
  printf("  %u inputs compared\n", total);
  check(c, !bad, "norm: every string of . CR LF a up to 7 bytes, whole and byte by byte, as the reference");
}

static void split(counts *c, char const *label, char const *s, size_t n, int eof, int want,
                  size_t skip, size_t hlen, size_t body, int lastnl)
{
  inject_split sp;
  int r = inject_hdr_split(s, n, eof, &sp);
  int ok = r == want && (!r || (sp.skip == skip && sp.hlen == hlen && sp.body == body && sp.lastnl == lastnl));
  if (!ok) printf("  r=%d skip=%zu hlen=%zu body=%zu lastnl=%d\n", r, sp.skip, sp.hlen, sp.body, sp.lastnl);
  check(c, ok, label);
}
#define S(label, s, eof, want, skip, hlen, body, nl) split(c, label, s, sizeof(s) - 1, eof, want, skip, hlen, body, nl)

static void splits(counts *c)
{
  char big[1100];
  S("split: headers, empty line, body", "Subject: x\nTo: y\n\nbody\n", 0, 1, 0, 17, 18, 1);
  S("split: no header block", "hello world\nA: b\n", 0, 1, 0, 0, 0, 1);
  S("split: continuation lines", "A: 1\n  2\n\t3\nB: 4\n\nx", 0, 1, 0, 17, 18, 1);
  S("split: a first line starting with a space is body", " x: y\n\n", 1, 1, 0, 0, 0, 1);
  S("split: a non-header line ends the block", "A: 1\nnot a header\nB: 2\n", 0, 1, 0, 5, 5, 1);
  S("split: header without LF at the end of input", "A: 1", 1, 1, 0, 4, 4, 0);
  S("split: header without LF, more may come", "A: 1", 0, 0, 0, 0, 0, 0);
  S("split: headers to the end of input", "A: 1\nB: 2\n", 1, 1, 0, 10, 10, 1);
  S("split: headers, more may come", "A: 1\nB: 2\n", 0, 0, 0, 0, 0, 0);
  S("split: empty input", "", 1, 1, 0, 0, 0, 1);
  S("split: empty input, more may come", "", 0, 0, 0, 0, 0, 0);
  S("split: only an empty line", "\nbody", 0, 1, 0, 0, 1, 1);
  S("split: mbox From line dropped", "From x@y Mon Jan 1\nA: 1\n\nb", 0, 1, 19, 24, 25, 1);
  S("split: From: is a header", "From: a@b\n\n", 0, 1, 0, 10, 11, 1);
  S("split: From : (obsolete space) is a header", "From : a@b\n\n", 0, 1, 0, 11, 12, 1);
  S("split: \"From\" may still become an mbox line", "From", 0, 0, 0, 0, 0, 0);
  S("split: a name without colon at the end is body", "Fro", 1, 1, 0, 0, 0, 1);
  S("split: colon first is body", ":x\n\n", 0, 1, 0, 0, 0, 1);
  S("split: NUL in a value", "A: \0\n\nb", 0, 1, 0, 5, 6, 1);
  S("split: NUL in a name is body", "A\0: x\n\n", 0, 1, 0, 0, 0, 1);
  S("split: binary first line is body", "\377\376\375:\n", 0, 1, 0, 0, 0, 1);
  S("split: a lone dot line is body", "A: 1\n.\n", 0, 1, 0, 5, 5, 1);
  memset(big, 'x', 999);
  split(c, "split: 999 name characters are no field name", big, 999, 0, 1, 0, 0, 0, 1);
  split(c, "split: 998 name characters may still be one", big, 998, 0, 0, 0, 0, 0, 0);
}

static void fields(counts *c)
{
  static char const h[] = "To: a\nCC: b,\n c\nbcc: d\nResent-To: e\nDate: x\nMESSAGE-ID: y\nfrom: z\nX-Last: \0";
  size_t n = sizeof h - 1, pos = 0, k = 0, rc0 = 0, rc1 = 0, drop = 0;
  inject_field f, second = { 0, 0, 0, 0 };
  inject_hdrinfo hi;
  while (inject_hdr_next(h, n, &pos, &f)) {
    if (++k == 2) second = f;
    rc0 += inject_hdr_isrcpt(h, &f, 0);
    rc1 += inject_hdr_isrcpt(h, &f, 1);
    drop += inject_hdr_drop(h, &f);
  }
  check(c, k == 8 && pos == n, "fields: eight fields");
  check(c, second.off == 6 && second.len == 10 && second.namelen == 2 && second.val == 9, "fields: a continuation belongs to its field");
  check(c, rc0 == 3 && rc1 == 1 && drop == 1, "fields: To/Cc/Bcc, Resent-To, Bcc dropped (any case)");
  inject_hdr_info(h, n, &hi);
  check(c, hi.date && hi.msgid && hi.from && hi.resent, "fields: Date, Message-ID, From, Resent- found");
  inject_hdr_info("Subject: x\nDated: y\nFrom-X: z\n", 29, &hi);
  check(c, !hi.date && !hi.msgid && !hi.from && !hi.resent, "fields: look-alike names do not count");
}

static void head(counts *c, char const *label, char const *s, size_t n, char const *want,
                 size_t wn)
{
  stralloc out = STRALLOC_ZERO;
  inject_split sp;
  int ok = inject_hdr_split(s, n, 1, &sp) && inject_head(&out, s, n, &sp, "Added: 1\n", 9) && memeq(&out, want, wn);
  check(c, ok, label);
  stralloc_free(&out);
}
#define H(label, s, want) head(c, label, s, sizeof(s) - 1, want, sizeof(want) - 1)

static void heads(counts *c)
{
  H("head: Bcc and its continuation stripped", "To: a\nBcc: b,\n c\nSubject: s\n\nbody\n", "To: a\nSubject: s\nAdded: 1\n\nbody\n");
  H("head: Resent-Bcc stripped, BCC in any case", "Resent-Bcc: x\nbCC: y\nA: 1\n\nb", "A: 1\nAdded: 1\n\nb");
  H("head: no header block gets the empty line", "hello\n", "Added: 1\n\nhello\n");
  H("head: last header without LF", "Subject: s", "Subject: s\nAdded: 1\n");
  H("head: headers only", "Subject: s\n", "Subject: s\nAdded: 1\n");
  H("head: body after a non-header line", "A: 1\nbody\n", "A: 1\nAdded: 1\n\nbody\n");
  H("head: mbox line dropped", "From u Mon\nA: 1\n\nb", "A: 1\nAdded: 1\n\nb");
  H("head: empty message", "", "Added: 1\n");
  H("head: NUL and binary body kept", "A: 1\n\n\0\377", "A: 1\nAdded: 1\n\n\0\377");
}

static void addrs(counts *c)
{
  static char const *const good[] = { "a@b.c", "\"john doe\"@x.org", "a.b+c@d-e.f", "u@[1.2.3.4]", "j\xc3\xb6rg@b\xc3\xbc.de", "\"a@b\"@c.d", "x@localhost", 0 };
  static char const *const bad[] = { "", "a", "a@", "@b", "a@b@c", "a b@c", "a\tb@c", "a\n@b", "a@b..c", "a@.b", "a@b.", "a@b_c", "\"a@b", "a<b@c", "a@[1.2", "a@[1 2]", "a@b\177", "a,b@c", "\"a\\\n\"@b", 0 };
  char buf[1100], badbuf[16];
  char const *why;
  stralloc sa = STRALLOC_ZERO;
  size_t i, n = 0;
  unsigned int ok = 1;
  for (i = 0; good[i]; i++)
    if (inject_addr_bad(good[i], strlen(good[i]))) ok = 0 * printf("  refused: %s\n", good[i]);
  check(c, ok, "addr: good addresses pass");
  for (ok = 1, i = 0; bad[i]; i++)
    if (!inject_addr_bad(bad[i], strlen(bad[i]))) ok = 0 * printf("  accepted: [%s]\n", bad[i]);
  check(c, ok, "addr: bad addresses are refused");
  check(c, inject_addr_bad("a\0b@c", 5) != 0, "addr: a NUL byte is refused");
  memset(buf, 'x', 998);
  memcpy(buf + 998, "@y", 2);
  check(c, !inject_addr_bad(buf, 1000), "addr: 1000 bytes pass");
  memcpy(buf + 998, "x@y", 3);
  check(c, inject_addr_bad(buf, 1001) != 0, "addr: 1001 bytes are refused");
  check(c, inject_addr_qualify(&sa, "joe", 3, "h.org") && streq(&sa, "joe@h.org"), "addr: a bare name gets the default host");
  sa.len = 0;
  check(c, inject_addr_qualify(&sa, "\"a@b\"", 5, "h") && streq(&sa, "\"a@b\"@h"), "addr: a quoted @ is no domain");
  sa.len = 0;
  check(c, !inject_addr_arg(&sa, "<a@b.c>", "h", &why) && sa.len == 6 && !strcmp(sa.s, "a@b.c"), "addr: argument in <>");
  check(c, inject_addr_arg(&sa, "<>", "h", &why) == 1 && sa.len == 6, "addr: <> is no recipient, sa unchanged");
  check(c, inject_addr_arg(&sa, "bad addr", "h", &why) == 1 && !strcmp(why, "space in address"), "addr: reason given");
  sa.len = 0;
  check(c, !inject_addr_header(&sa, &n, "Joe <joe>,\n ann@y.org (Ann)", 27, "h.org", badbuf, sizeof badbuf, &why) && n == 2 && sa.len == 20 && !memcmp(sa.s, "joe@h.org\0ann@y.org\0", 20), "addr: header list, qualified");
  check(c, inject_addr_header(&sa, &n, " a@b c\n", 7, "h", badbuf, sizeof badbuf, &why) == 1 && !strcmp(badbuf, "a@b c") && n == 2, "addr: bad syntax in a header, shown trimmed");
  check(c, inject_addr_header(&sa, &n, "x@y.z, <>", 9, "h", badbuf, sizeof badbuf, &why) == 1 && !strcmp(why, "empty address") && n == 3 && sa.len == 26, "addr: <> in a header is refused, good ones before are kept");
  check(c, inject_addr_header(&sa, &n, "a\0@b", 4, "h", badbuf, sizeof badbuf, &why) == 1 && !strcmp(badbuf, "a?@b"), "addr: NUL in a header shown as ?");
  memset(buf, 'q', 1050);
  check(c, inject_addr_header(&sa, &n, buf, 1050, "h", badbuf, sizeof badbuf, &why) == 1 && !strcmp(why, "address longer than 1000 bytes") && !strcmp(badbuf, "qqqqqqqqqqqq..."), "addr: overlong address in a header, cut in the message");
  {
    static char const hb[] = "To: a@b.c\nCc: C <c@d.e>\nBcc: hidden@x.y\nSubject: s\n";
    static char const hr[] = "To: a@b.c\nResent-To: r@s.t\nResent-Bcc: rb\n";
    sa.len = 0;
    n = 0;
    check(c, !inject_addr_fromheaders(&sa, &n, hb, sizeof hb - 1, "h", badbuf, sizeof badbuf, &why) && n == 3 && sa.len == 23 && !memcmp(sa.s, "a@b.c\0c@d.e\0hidden@x.y\0", 23), "addr: -t takes To, Cc and Bcc");
    sa.len = 0;
    n = 0;
    check(c, !inject_addr_fromheaders(&sa, &n, hr, sizeof hr - 1, "h", badbuf, sizeof badbuf, &why) && n == 2 && sa.len == 11 && !memcmp(sa.s, "r@s.t\0rb@h\0", 11), "addr: -t takes Resent- fields when there are any");
  }
  inject_addr_printable(badbuf, sizeof badbuf, "a\001b\nc", 5);
  check(c, !strcmp(badbuf, "a?b?c"), "addr: printable copy");
  stralloc_free(&sa);
}

static void make(counts *c)
{
  stralloc sa = STRALLOC_ZERO;
  inject_hdrinfo none = { 0, 0, 0, 0 }, all = { 1, 1, 1, 0 };
  inject_made m = { .now = 0, .off = 0, .sec = 1763893836, .usec = 42117, .pid = 4711, .rnd = { 1, 2, 3, 4, 5, 6, 7, 0xff }, .host = "example.org", .fromaddr = "a@b", .fullname = 0 };
  char name[200];
  size_t i, words = 0, maxline = 0, line = 0;
  check(c, inject_make_from(&sa, 0, "a@b") && streq(&sa, "From: a@b\n"), "make: From without a name");
  sa.len = 0;
  check(c, inject_make_from(&sa, "Alice Q. Smith", "a@b") && streq(&sa, "From: \"Alice Q. Smith\" <a@b>\n"), "make: From with a quoted name");
  sa.len = 0;
  check(c, inject_make_from(&sa, "A \"B\" \\C", "a@b") && streq(&sa, "From: \"A \\\"B\\\" \\\\C\" <a@b>\n"), "make: quotes and backslashes escaped");
  sa.len = 0;
  check(c, inject_make_from(&sa, "Eve\r\nBcc: x@y\n", "a@b") && streq(&sa, "From: \"Eve Bcc: x@y\" <a@b>\n"), "make: no header injection through -F");
  sa.len = 0;
  check(c, inject_make_from(&sa, "  \t ", "a@b") && streq(&sa, "From: a@b\n"), "make: a blank name is no name");
  sa.len = 0;
  check(c, inject_make_from(&sa, "J\xc3\xb6rg", "a@b") && streq(&sa, "From: =?UTF-8?B?SsO2cmc=?= <a@b>\n"), "make: 8-bit name encoded (RFC 2047)");
  for (i = 0; i < 100; i += 2) memcpy(name + i, "\xc3\xa9", 2);
  name[100] = 0;
  sa.len = 0;
  inject_make_from(&sa, name, "a@b");
  for (i = 0; i < sa.len; i++) {
    if (sa.s[i] == '\n') {
      if (line > maxline) maxline = line;
      line = 0;
    } else line++;
    if (i + 10 <= sa.len && !memcmp(sa.s + i, "=?UTF-8?B?", 10)) words++;
  }
  check(c, words == 3 && maxline <= 78, "make: a long 8-bit name in short words, lines folded");
  for (words = 0, i = 0; i + 12 <= sa.len; i++) {
    static char const b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char const *p0, *p1;
    if (memcmp(sa.s + i, "=?UTF-8?B?", 10) != 0) continue;
    p0 = strchr(b64, sa.s[i + 10]);
    p1 = strchr(b64, sa.s[i + 11]);
    /* the first byte of the word: 6 bits of the first character, 2 of the second */
    if (!p0 || !p1 || ((((p0 - b64) << 2) | ((p1 - b64) >> 4)) & 0xc0) == 0x80) words++;
  }
  check(c, !words, "make: no word starts inside a character");
  sa.len = 0;
  check(c, inject_make_date(&sa, 0, 0) && streq(&sa, "Date: Thu, 1 Jan 1970 00:00:00 +0000\n"), "make: Date");
  sa.len = 0;
  check(c, inject_make_msgid(&sa, m.sec, m.usec, m.pid, m.rnd, m.host) && streq(&sa, "Message-ID: <1763893836.042117.4711.01020304050607ff@example.org>\n"), "make: Message-ID");
  sa.len = 0;
  check(c, inject_make_missing(&sa, &all, &m) && !sa.len, "make: nothing added when present");
  check(c, inject_make_missing(&sa, &none, &m) && streq(&sa, "Date: Thu, 1 Jan 1970 00:00:00 +0000\nMessage-ID: <1763893836.042117.4711.01020304050607ff@example.org>\nFrom: a@b\n"), "make: Date, Message-ID, From added");
  stralloc_free(&sa);
}

static void qq(counts *c)
{
  int perm, wstat;
  inject_qq q;
  static int const perms[] = { 11, 31, 91, 20 }, temps[] = { 51, 52, 53, 54, 61, 62, 71, 81, 99, 120 };
  unsigned int i, ok = 1;
  qq_describe(0, &perm);
  check(c, !perm, "qq: 0 is fine");
  for (i = 0; i < 4; i++) ok &= (qq_describe(perms[i], &perm), perm);
  check(c, ok, "qq: 11 31 91 20 are permanent");
  for (ok = 1, i = 0; i < 10; i++) ok &= (qq_describe(temps[i], &perm), !perm);
  check(c, ok, "qq: 51-81, 99, 120 are temporary");
  ok = !inject_qq_start(&q, "/bin/true");
  if (ok) {
    fd_close(q.msgfd);
    fd_close(q.envfd);
    ok = wait_pid(q.pid, &wstat) == q.pid && WIFEXITED(wstat) && !WEXITSTATUS(wstat);
  }
  check(c, ok, "qq: runs a program");
  {
    /* posix_spawn reports a failed exec itself: the start fails, and the pipes it made are
       closed again (the lowest free fd is the same before and after) */
    int before = fcntl(0, F_DUPFD, 0), after;
    fd_close(before);
    errno = 0;
    ok = inject_qq_start(&q, "/nonexistent/mailroom-queue") < 0 && errno == ENOENT;
    after = fcntl(0, F_DUPFD, 0);
    fd_close(after);
    ok = ok && before >= 0 && before == after;
  }
  check(c, ok, "qq: a missing program fails the start (ENOENT), no pipe left open");
}

int main(void)
{
  counts c = { 0, 0 };
  PROG = "test_inject";
  opts(&c);
  norm(&c);
  splits(&c);
  fields(&c);
  heads(&c);
  addrs(&c);
  make(&c);
  qq(&c);
  printf("test_inject: %u passed, %u failed\n", c.pass, c.fail);
  return c.fail ? 1 : 0;
}
