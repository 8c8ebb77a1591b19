/* The message on fd 0: its size, and the Delivered-To loop check. Everything reads with
   pread between offset 0 and msglen, so no step depends on another's file offset and the
   envelope after msglen is never read. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "local.h"

/* A header line longer than this cannot be our Delivered-To line, and is skipped. */
#define LOOP_LINE_MAX (sizeof "Delivered-To: " + 2 * (size_t)DOTQMAIL_LINE_MAX + 64)

int local_checkmsg(local *l)
{
  struct stat st;
  if (fstat(l->msgfd, &st) < 0) return (l->why = LW_READMSG, l->err = errno, -1);
  if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size < l->msglen)
    return (l->why = LW_SHORTMSG, -1);
  return 0;
}

static int lower(int c)
{
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int eqcase(char const *a, char const *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
  return 1;
}

/* 1 if the header line hdr[0..len) (no LF) is "Delivered-To: recip", names and addresses
   compared without case, blanks around the address ignored. */
int local_hasdtline(char const *hdr, size_t len, char const *recip, size_t rlen)
{
  static char const name[] = "delivered-to:";
  size_t n = sizeof name - 1;
  if (len < n || !eqcase(hdr, name, n)) return 0;
  hdr += n;
  len -= n;
  while (len && (*hdr == ' ' || *hdr == '\t')) hdr++, len--;
  while (len && (hdr[len - 1] == ' ' || hdr[len - 1] == '\t' || hdr[len - 1] == '\r')) len--;
  return len == rlen && eqcase(hdr, recip, rlen);
}

int local_loopcheck(local *l)
{
  char buf[LOCAL_COPY_BUF];
  char line[LOOP_LINE_MAX];
  size_t llen = 0;
  int toolong = 0;
  unsigned long long off = 0;

  while (off < l->msglen) {
    size_t want = sizeof buf;
    ssize_t r;
    if (want > l->msglen - off) want = (size_t)(l->msglen - off);
    r = pread(l->msgfd, buf, want, (off_t)off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return (l->why = LW_READMSG, l->err = errno, -1);
    }
    if (!r) return (l->why = LW_SHORTMSG, -1);
    off += (unsigned long long)r;
    for (size_t i = 0; i < (size_t)r; i++) {
      if (buf[i] != '\n') {
        if (llen < sizeof line) line[llen++] = buf[i];
        else toolong = 1;
        continue;
      }
      if (!llen || (llen == 1 && line[0] == '\r')) return 0; /* the end of the header */
      if (!toolong && local_hasdtline(line, llen, l->recip.s, l->recip.len))
        return (l->why = LW_LOOP, -1);
      llen = 0;
      toolong = 0;
    }
  }
  if (llen && !toolong && local_hasdtline(line, llen, l->recip.s, l->recip.len))
    return (l->why = LW_LOOP, -1);
  return 0;
}
