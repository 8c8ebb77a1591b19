/* Unit tests of the POP3 side's mailbox and database modules: the Maildir listing, UIDLs
   and UPDATE (pop3d_box.c) in a temporary Maildir; a whole TRANSACTION session
   (pop3d_sess.c) from a file of commands, exact bytes out; the password entry format and a
   real lookup through a cdb written with tinycdb (pop3d_pw.c: a link order that binds
   skalibs' cdb_* fails here). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cdb.h>
#include <skalibs/strerr.h>
#include "../../pop3d/pop3d.h"

struct tally { int pass, fail; };

static void check(struct tally *t, int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (ok) t->pass++; else t->fail++;
}

#define S(x) x, sizeof(x) - 1

static int put(char const *path, char const *s, size_t len, time_t mtime)
{
  struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, s, len) != (ssize_t)len || close(fd) < 0) return -1;
  return utimensat(AT_FDCWD, path, ts, 0);
}

static int exists(char const *p)
{
  struct stat st;
  return stat(p, &st) == 0;
}

static char *slurp(char const *path, size_t *len)
{
  static char buf[65536];
  int fd = open(path, O_RDONLY);
  ssize_t r;
  if (fd < 0) return 0;
  r = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (r < 0) return 0;
  buf[r] = 0;
  *len = (size_t)r;
  return buf;
}

/* Runs a session with cmds on input; the output into *out (NUL-terminated). */
static int session(struct pop3_box *b, char const *cmds, char **out, int *code)
{
  static struct pop3d s;
  size_t len;
  int in = open("in.txt", O_RDWR | O_CREAT | O_TRUNC, 0600), o = open("out.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
  *out = 0; /* a failed set-up fails the case, not reads garbage */
  *code = -1;
  if (in < 0 || o < 0 || write(in, cmds, strlen(cmds)) < 0 || lseek(in, 0, SEEK_SET) < 0) return -1;
  s.box = *b;
  s.errors = 0;
  s.lockfd = -1;
  pop3_in_init(&s.in, in, 5, 0);
  pop3_out_init(&s.out, o, 5);
  *code = pop3d_session(&s);
  *b = s.box;
  close(in);
  close(o);
  *out = slurp("out.txt", &len);
  return *out ? 0 : -1;
}

static void box_cases(struct tally *t)
{
  struct pop3_box b;
  char *out;
  int code;
  if (mkdir("Maildir", 0700) < 0 || chdir("Maildir") < 0 || mkdir("new", 0700) < 0 || mkdir("cur", 0700) < 0
      || mkdir("tmp", 0700) < 0) {
    check(t, 0, "box make a Maildir");
    return;
  }
  /* An empty Maildir first: nothing to sort, nothing to list. */
  check(t, pop3_box_scan(&b) == 0 && b.n == 0 && b.total == 0 && pop3_box_uidls(&b) == 0, "box empty Maildir");
  session(&b, "STAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n", &out, &code);
  check(t, code == POP3_EXIT_OK && out && !strcmp(out, "+OK 0 0\r\n+OK 0 messages (0 octets)\r\n.\r\n"
           "+OK unique-id listing follows\r\n.\r\n-ERR no such message\r\n+OK bye\r\n"), "session on an empty Maildir");
  pop3_box_free(&b);

  /* Three messages: delivery order is mtime order, whatever the folder. */
  put("new/1000.M1P1Q1.host", S("Subject: two\n\n.dot\nbody\n"), 2000);
  put("cur/999.M1P1Q1.host:2,S", S("Subject: one\n\nfirst\n"), 1000);
  put("new/1001.M1P1Q1.host,S=9,W=12", S("no newline"), 3000);
  put("new/.hidden", S("x\n"), 500);
  put("tmp/1002.M1P1Q1.host", S("in tmp\n"), 500);
  check(t, pop3_box_scan(&b) == 0 && b.n == 3, "box lists new/ and cur/, not dot files or tmp/");
  check(t, !strcmp(pop3_box_name(&b, 0), "999.M1P1Q1.host:2,S") && !strcmp(pop3_box_name(&b, 1), "1000.M1P1Q1.host")
           && !strcmp(pop3_box_name(&b, 2), "1001.M1P1Q1.host,S=9,W=12"), "box in mtime order");
  /* RFC 1939 11: CR LF counted, the stuffed dot not; W= trusted unless S= is not the file's
     size (9 is not 10 here: counted, the same 12) */
  check(t, pop3_box_msg(&b, 0)->size == 23 && pop3_box_msg(&b, 1)->size == 28 && pop3_box_msg(&b, 2)->size == 12 &&
           b.total == 23 + 28 + 12, "box sizes: counted with CR LF, or W=");
  check(t, pop3_box_msg(&b, 0)->addw && pop3_box_msg(&b, 1)->addw && !pop3_box_msg(&b, 2)->addw,
        "box sizes counted for names without W= are to be added");
  check(t, pop3_box_uidls(&b) == 0 && !strcmp(pop3_box_uidl(&b, 0), "999.M1P1Q1.host")
           && !strcmp(pop3_box_uidl(&b, 2), "1001.M1P1Q1.host,S=9"), "box UIDLs (a last ,W= left out)");

  session(&b, "STAT\r\nLIST\r\nLIST 2\r\nLIST 4\r\nUIDL 1\r\nRETR 2\r\nTOP 1 0\r\nRETR 3\r\nDELE 2\r\nDELE 2\r\nRETR 2\r\n"
              "STAT\r\nRSET\r\nDELE 1\r\nNOOP\r\nUSER x\r\nBOGUS\r\nRETR x\r\n", &out, &code);
  check(t, code == POP3_EXIT_OK, "session end of input is no QUIT");
  check(t, out && !strcmp(out,
    "+OK 3 63\r\n"
    "+OK 3 messages (63 octets)\r\n1 23\r\n2 28\r\n3 12\r\n.\r\n"
    "+OK 2 28\r\n"
    "-ERR no such message\r\n"
    "+OK 1 999.M1P1Q1.host\r\n"
    "+OK 28 octets\r\nSubject: two\r\n\r\n..dot\r\nbody\r\n.\r\n"
    "+OK top of message follows\r\nSubject: one\r\n\r\n.\r\n"
    "+OK 12 octets\r\nno newline\r\n.\r\n"
    "+OK message deleted\r\n"
    "-ERR message is deleted\r\n"
    "-ERR message is deleted\r\n"
    "+OK 2 35\r\n"
    "+OK maildrop has 3 messages (63 octets)\r\n"
    "+OK message deleted\r\n"
    "+OK\r\n"
    "-ERR already authenticated\r\n"
    "-ERR unknown command\r\n"
    "-ERR syntax error in arguments\r\n"), "session exact bytes");
  check(t, exists("cur/999.M1P1Q1.host:2,S") && exists("new/1000.M1P1Q1.host"), "session without QUIT changes nothing");

  /* Now with QUIT: message 1 deleted, the rest moved to cur/ with :2, */
  session(&b, "RSET\r\nDELE 1\r\nQUIT\r\nSTAT\r\n", &out, &code);
  check(t, code == POP3_EXIT_OK && out && !strcmp(out, "+OK maildrop has 3 messages (63 octets)\r\n+OK message deleted\r\n+OK bye\r\n"),
        "session QUIT answers and stops");
  check(t, !exists("cur/999.M1P1Q1.host:2,S"), "update removed the deleted message");
  check(t, exists("cur/1000.M1P1Q1.host,W=28:2,") && exists("cur/1001.M1P1Q1.host,S=9,W=12:2,") && !exists("new/1000.M1P1Q1.host"),
        "update moved new/ to cur/ with :2, (and the counted size)");
  pop3_box_free(&b);

  /* UIDLs stay the same after the move; duplicates get unique ones. */
  put("new/1000.M1P1Q1.host,W=28", S("a copy\n"), 4000);
  check(t, pop3_box_scan(&b) == 0 && b.n == 3 && pop3_box_uidls(&b) == 0, "box rescan");
  check(t, !strcmp(pop3_box_uidl(&b, 0), "1000.M1P1Q1.host") && !strcmp(pop3_box_uidl(&b, 1), "1001.M1P1Q1.host,S=9"),
        "box UIDLs stable across the move to cur/ and the added W=");
  check(t, pop3_box_uidl(&b, 2)[0] == 'H' && strlen(pop3_box_uidl(&b, 2)) == 65, "box duplicate unique part gets its own UIDL");
  {
    /* the move never replaces a file: cur/1000...:2, exists */
    session(&b, "QUIT\r\n", &out, &code);
    check(t, exists("new/1000.M1P1Q1.host,W=28") && exists("cur/1000.M1P1Q1.host,W=28:2,"), "update never replaces a file in cur/");
  }
  pop3_box_free(&b);

  unlink("new/1000.M1P1Q1.host,W=28");
  if (rename("cur", "cur.x") == 0) {
    check(t, pop3_box_scan(&b) < 0 && errno == ENOENT, "box without cur/ is an error");
    pop3_box_free(&b);
    check(t, rename("cur.x", "cur") == 0, "cur/ back in place");
  }
  {
    static char cmds[POP3_ERRORS_MAX * 6 + 1];
    for (int i = 0; i < POP3_ERRORS_MAX; i++) memcpy(cmds + 6 * (size_t)i, "XXXX\r\n", 6);
    pop3_box_scan(&b);
    session(&b, cmds, &out, &code);
    check(t, code == POP3_EXIT_TOLD && out && strstr(out, "-ERR too many errors"), "session too many errors ends it");
    pop3_box_free(&b);
  }
  if (chdir("..") < 0) check(t, 0, "chdir ..");
}

static void pw_cases(struct tally *t)
{
  struct pop3_pw p, q;
  char val[POP3_PW_VAL_MAX];
  size_t len;
  char const *why = 0;
  struct cdb_make cm;
  int fd;

  memset(&p, 0, sizeof p);
  strcpy(p.hash, "$6$salt$abc");
  p.uid = 1001;
  p.gid = 0;
  strcpy(p.home, "/srv/mail/demo");
  check(t, pop3_pw_pack(&p, val, sizeof val, &len, &why) == 0 && len == sizeof "$6$salt$abc\0" "1001\0" "0\0" "/srv/mail/demo"
           && !memcmp(val, "$6$salt$abc\0" "1001\0" "0\0" "/srv/mail/demo\0", len), "pw pack");
  check(t, pop3_pw_unpack(val, len, &q) == 0 && !strcmp(q.hash, p.hash) && q.uid == 1001 && q.gid == 0 && !strcmp(q.home, p.home),
        "pw unpack");
  check(t, pop3_pw_unpack(val, len - 1, &q) < 0 && errno == EPROTO, "pw unpack missing NUL");
  memcpy(val + len, "x", 1);
  check(t, pop3_pw_unpack(val, len + 1, &q) < 0, "pw unpack trailing bytes");
  check(t, pop3_pw_unpack(S("h\0" "0\0" "1\0" "/x\0"), &q) < 0, "pw unpack uid 0 refused");
  check(t, pop3_pw_unpack(S("h\0" "1\0" "1\0" "x\0"), &q) < 0, "pw unpack relative home refused");
  check(t, pop3_pw_unpack(S("h\0" "1\0" "1\0" "/a/../b\0"), &q) < 0, "pw unpack home with .. refused");
  check(t, pop3_pw_unpack(S("h\0" "4294967295\0" "1\0" "/x\0"), &q) < 0, "pw unpack uid -1 refused");
  check(t, pop3_pw_unpack(S("h h\0" "1\0" "1\0" "/x\0"), &q) < 0, "pw unpack hash with space refused");
  check(t, pop3_pw_unpack(S("\0" "1\0" "1\0" "/x\0"), &q) < 0, "pw unpack empty hash refused");
  p.uid = 0;
  check(t, pop3_pw_pack(&p, val, sizeof val, &len, &why) < 0 && errno == EINVAL && strstr(why, "root"), "pw pack uid 0 refused");
  p.uid = 5;
  strcpy(p.home, "rel");
  check(t, pop3_pw_pack(&p, val, sizeof val, &len, &why) < 0 && strstr(why, "absolute"), "pw pack relative home refused");
  check(t, pop3_streq_ct("abc", "abc") && !pop3_streq_ct("abc", "abd") && !pop3_streq_ct("abc", "ab") && !pop3_streq_ct("", "a")
           && pop3_streq_ct("", ""), "constant-time string compare");

  /* A real cdb, as mailroom-passwd writes it. */
  fd = open("password.cdb", O_RDWR | O_CREAT | O_TRUNC, 0600);
  strcpy(p.home, "/home/joe");
  p.uid = 1234;
  p.gid = 99;
  if (fd < 0 || cdb_make_start(&cm, fd) < 0 || pop3_pw_pack(&p, val, sizeof val, &len, &why) < 0
      || cdb_make_add(&cm, "joe", 3, val, (unsigned)len) < 0 || cdb_make_add(&cm, "bad", 3, "x\0" "0\0" "0\0" "/\0", 8) < 0
      || cdb_make_finish(&cm) < 0 || close(fd) < 0) {
    check(t, 0, "pw write a cdb");
    return;
  }
  check(t, pop3_pw_lookup("password.cdb", "joe", 3, &q) == 1 && q.uid == 1234 && q.gid == 99 && !strcmp(q.home, "/home/joe")
           && !strcmp(q.hash, "$6$salt$abc"), "pw lookup through tinycdb");
  check(t, pop3_pw_lookup("password.cdb", "jo", 2, &q) == 0, "pw lookup unknown user");
  check(t, pop3_pw_lookup("password.cdb", "bad", 3, &q) < 0 && errno == EPROTO, "pw lookup corrupt entry is an error");
  check(t, pop3_pw_lookup("missing.cdb", "joe", 3, &q) == 0, "pw lookup without a cdb finds no one");
}

int main(void)
{
  struct tally t = { 0, 0 };
  char dir[] = "/tmp/test_pop3box.XXXXXX";
  PROG = "test_pop3box";
  if (!mkdtemp(dir) || chdir(dir) < 0) {
    printf("FAIL tempdir: %s\n", strerror(errno));
    return 1;
  }
  box_cases(&t);
  pw_cases(&t);
  if (chdir("/") == 0) {
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  printf("# test_pop3box: %d passed, %d failed\n", t.pass, t.fail);
  return t.fail ? 1 : 0;
}
