/* Names from the client, from the password database and from the Maildir: what may be a
   user name, a home or a Maildir path, and the UIDL of a Maildir file. Pure (SHA-256 from
   skalibs for the UIDL of a name that cannot be one itself). */
#include <string.h>
#include <skalibs/sha256.h>
#include "pop3d.h"

int pop3_user_ok(char const *s, size_t len)
{
  if (!len || len > POP3_USER_MAX) return 0;
  if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x21 || c > 0x7e || c == '/') return 0;
  }
  return 1;
}

/* 1 if a component of s (NUL-terminated) is "..", or "." too when dot is set. */
static int hasdots(char const *s, int dot)
{
  size_t i = 0;
  while (s[i]) {
    size_t start;
    while (s[i] == '/') i++;
    start = i;
    while (s[i] && s[i] != '/') i++;
    if (i - start == 2 && s[start] == '.' && s[start + 1] == '.') return 1;
    if (dot && i - start == 1 && s[start] == '.') return 1;
  }
  return 0;
}

int pop3_relpath_ok(char const *s)
{
  size_t len = strlen(s);
  return len && len < POP3_PATH_MAX && s[0] != '/' && !hasdots(s, 0);
}

int pop3_abspath_ok(char const *s)
{
  size_t len = strlen(s);
  return len && len < POP3_PATH_MAX && s[0] == '/' && !hasdots(s, 1);
}

static size_t basepart(char const *name, size_t len)
{
  char const *colon = memchr(name, ':', len);
  return colon ? (size_t)(colon - name) : len;
}

/* The unique part without a last ",W=digits": pop3d adds one to names that lack it
   (pop3_box_tocur), and a message's UIDL must not change when it does. */
static size_t uidlpart(char const *name, size_t len)
{
  size_t blen = basepart(name, len), i = blen;
  while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9') i--;
  if (i < blen && i >= 3 && name[i - 1] == '=' && name[i - 2] == 'W' && name[i - 3] == ',') return i - 3;
  return blen;
}

size_t pop3_uidl(char const *name, size_t len, char *out)
{
  static char const hex[] = "0123456789abcdef";
  size_t blen = uidlpart(name, len), i;
  int plain = blen >= 1 && blen <= POP3_UIDL_MAX;
  SHA256Schedule ctx;
  char digest[32];

  for (i = 0; plain && i < blen; i++)
    if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e) plain = 0;
  if (plain) {
    memcpy(out, name, blen);
    out[blen] = 0;
    return blen;
  }
  sha256_init(&ctx);
  sha256_update(&ctx, name, blen);
  sha256_final(&ctx, digest);
  out[0] = 'H';
  for (i = 0; i < 32; i++) {
    out[1 + 2 * i] = hex[(unsigned char)digest[i] >> 4];
    out[2 + 2 * i] = hex[(unsigned char)digest[i] & 15];
  }
  out[65] = 0;
  return 65;
}

static int sizefield(char const *name, size_t len, char key, uint64_t *size)
{
  size_t blen = basepart(name, len);
  for (size_t i = 0; i + 3 < blen; i++) {
    uint64_t v = 0;
    size_t j;
    if (name[i] != ',' || name[i + 1] != key || name[i + 2] != '=') continue;
    for (j = i + 3; j < blen && j < i + 3 + 15 && name[j] >= '0' && name[j] <= '9'; j++)
      v = v * 10 + (uint64_t)(name[j] - '0');
    /* The field ends the part or is followed by another ",X=" field. */
    if (j > i + 3 && (j == blen || name[j] == ',')) {
      *size = v;
      return 1;
    }
  }
  return 0;
}

int pop3_name_vsize(char const *name, size_t len, uint64_t *size)
{
  return sizefield(name, len, 'W', size);
}

int pop3_name_ssize(char const *name, size_t len, uint64_t *size)
{
  return sizefield(name, len, 'S', size);
}
