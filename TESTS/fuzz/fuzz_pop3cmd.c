/* libFuzzer target: what a POP3 client sends. The bytes go through the bounded line reader
   (pop3d_io.c, from a memory file as from a socket), each line through the command parser
   (pop3d_cmd.c) and the name checks (pop3d_name.c), with the parser's promises checked. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "../../pop3d/pop3d.h"

static void one(char const *line, size_t len)
{
  struct pop3_cmd c;
  char u[POP3_UIDL_MAX + 1];
  uint64_t v;
  int r = pop3_parse(line, len, &c);
  if (r > 0) {
    if (r != c.verb || r > POP3_UIDL || c.nargs > 2) __builtin_trap();
    for (unsigned i = 0; i < c.nargs; i++)
      if (c.num[i] > 4294967295UL) __builtin_trap();
    if (c.arglen && (c.arg < line || c.arg + c.arglen > line + len)) __builtin_trap();
    if ((r == POP3_USER || r == POP3_PASS) && pop3_user_ok(c.arg, c.arglen)) {
      for (size_t i = 0; i < c.arglen; i++)
        if (c.arg[i] == '/' || c.arg[i] <= ' ' || c.arg[i] == 0x7f) __builtin_trap();
    }
  } else if (r != POP3_EUNKNOWN && r != POP3_ESYNTAX) {
    __builtin_trap();
  }
  size_t n = pop3_uidl(line, len, u);
  if (!n || n > POP3_UIDL_MAX || strlen(u) != n) __builtin_trap();
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)u[i] < 0x21 || (unsigned char)u[i] > 0x7e) __builtin_trap();
  (void)pop3_name_vsize(line, len, &v);
  (void)pop3_name_ssize(line, len, &v);
  if (len < POP3_LINE_MAX && !memchr(line, 0, len)) {
    char z[POP3_LINE_MAX];
    memcpy(z, line, len);
    z[len] = 0;
    if (pop3_relpath_ok(z) && (z[0] == '/' || strstr(z, "/../") || !strncmp(z, "../", 3))) __builtin_trap();
    (void)pop3_abspath_ok(z);
  }
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static struct pop3_in in;
  char line[POP3_LINE_MAX];
  size_t len;
  int fd = memfd_create("pop3cmd", 0);
  if (fd < 0) return 0;
  if (size && write(fd, data, size) != (ssize_t)size) {
    close(fd);
    return 0;
  }
  lseek(fd, 0, SEEK_SET);
  pop3_in_init(&in, fd, 5, size && (data[0] & 1));
  for (;;) {
    int r = pop3_getline(&in, line, &len);
    if (r <= 0) {
      if (r < 0 && errno != E2BIG) __builtin_trap();
      break;
    }
    if (len >= POP3_LINE_MAX || line[len] != 0) __builtin_trap();
    one(line, len);
  }
  close(fd);
  /* The parser on the raw input too: any bytes, any length. */
  one((char const *)data, size);
  return 0;
}
