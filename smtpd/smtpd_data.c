/* The DATA state machine (RFC 5321 4.1.1.4, 4.5.2). Byte by byte, so that where a chunk
   ends never matters. The data ends at CR LF . CR LF and nowhere else (the start of the
   data counts as just after a CR LF): a bare LF or a bare CR is never a line end, so
   "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n" and their kin stay inside the message, which is
   then refused whole (SMTP smuggling needs a receiver that ends the data elsewhere). The
   message comes out as the queue stores it: the dot of a dot-stuffed line removed, CR LF
   made LF. BDAT chunks go through the same machine without the dot (below). Pure. */
#include "smtpd.h"

enum {
  DS_BOL = 2, /* at the start of a line (after CR LF) */
  DS_DOT,     /* a '.' at the start of a line */
  DS_DOTCR,   /* ".\r" at the start of a line */
  DS_MID,     /* inside a line */
  DS_CR       /* a CR inside a line: a CR LF if a LF follows */
};

/* Header names counted as hops, lowercase, as qmail-smtpd counts them. */
static char const *const hoppat[2] = { "received:", "delivered-to:" };
#define HDR_BOL (-2)
#define HDR_NONE (-1)

void smtpd_data_init(smtpd_data *d, unsigned long long max)
{
  d->state = DS_BOL;
  d->flags = 0;
  d->size = 0;
  d->max = max;
  d->inhdr = 1;
  d->hdrpat = HDR_BOL;
  d->hdrpos = 0;
  d->hops = 0;
}

static char lower(char c)
{
  return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* Counts Received: and Delivered-To: lines of the header section, on the output. */
static void header(smtpd_data *d, char c)
{
  if (!d->inhdr) return;
  if (c == '\n') {
    if (d->hdrpat == HDR_BOL) d->inhdr = 0; /* the empty line ends the header */
    d->hdrpat = HDR_BOL;
    return;
  }
  if (d->hdrpat == HDR_BOL) {
    char l = lower(c);
    d->hdrpat = l == 'r' ? 0 : l == 'd' ? 1 : HDR_NONE;
    d->hdrpos = 0;
  }
  if (d->hdrpat < 0) return;
  if (lower(c) != hoppat[d->hdrpat][d->hdrpos]) {
    d->hdrpat = HDR_NONE;
    return;
  }
  if (!hoppat[d->hdrpat][++d->hdrpos]) {
    d->hdrpat = HDR_NONE;
    if (++d->hops > SMTPD_HOPS_MAX) d->flags |= DATA_HOPS;
  }
}

/* One byte of the message; nothing more once the message is refused. */
static void emit(smtpd_data *d, char c, char *out, size_t *w)
{
  if (d->flags & DATA_BAD) return;
  if (!c) {
    d->flags |= DATA_NUL;
    return;
  }
  if (d->size >= d->max) {
    d->flags |= DATA_BIG;
    return;
  }
  d->size++;
  header(d, c);
  out[(*w)++] = c;
}

size_t smtpd_data_feed(smtpd_data *d, char const *in, size_t n, char *out, size_t *outlen)
{
  size_t i, w = 0;
  for (i = 0; i < n && d->state != SMTPD_DATA_END; i++) {
    char c = in[i];
    switch (d->state) {
      case DS_BOL:
        if (c == '.') d->state = DS_DOT;
        else if (c == '\r') d->state = DS_CR;
        else if (c == '\n') d->flags |= DATA_BARELF, d->state = DS_MID;
        else emit(d, c, out, &w), d->state = DS_MID;
        break;
      case DS_DOT:
        if (c == '\r') d->state = DS_DOTCR;
        else if (c == '\n') d->flags |= DATA_BARELF, d->state = DS_MID;
        else emit(d, c, out, &w), d->state = DS_MID; /* the stuffed dot is dropped */
        break;
      case DS_DOTCR:
        if (c == '\n') {
          d->state = SMTPD_DATA_END;
          break;
        }
        d->flags |= DATA_BARECR;
        if (c == '\r') d->state = DS_CR;
        else emit(d, c, out, &w), d->state = DS_MID;
        break;
      case DS_MID:
        if (c == '\r') d->state = DS_CR;
        else if (c == '\n') d->flags |= DATA_BARELF;
        else emit(d, c, out, &w);
        break;
      case DS_CR:
        if (c == '\n') {
          emit(d, '\n', out, &w);
          d->state = DS_BOL;
        } else {
          d->flags |= DATA_BARECR;
          if (c != '\r') emit(d, c, out, &w), d->state = DS_MID;
        }
        break;
      default: /* cannot happen; never read past a state we do not know */
        d->flags |= DATA_BARECR;
        d->state = DS_MID;
        break;
    }
  }
  *outlen = w;
  return i;
}

/* BDAT chunks (RFC 3030). The octet count frames the data, so no byte ends it and no dot
   is stuffed: a line starting with '.' is stored as sent. The message is still stored as
   DATA stores it, with LF line ends, and refused for what DATA refuses: a bare LF (the
   queue could not tell it from a line end, so it would leave as CR LF: not as sent), a
   bare CR (cannot be stored as sent), a NUL (no BINARYMIME). Only DS_BOL, DS_MID and DS_CR
   are used. */
void smtpd_data_chunkinit(smtpd_data *d, unsigned long long max)
{
  smtpd_data_init(d, max);
}

void smtpd_data_chunk(smtpd_data *d, char const *in, size_t n, char *out, size_t *outlen)
{
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    if (d->state == DS_CR) {
      if (c == '\n') {
        emit(d, '\n', out, &w);
        d->state = DS_BOL;
        continue;
      }
      d->flags |= DATA_BARECR;
      d->state = DS_MID;
    }
    if (c == '\r') d->state = DS_CR;
    else if (c == '\n') d->flags |= DATA_BARELF, d->state = DS_MID;
    else emit(d, c, out, &w), d->state = DS_MID;
  }
  *outlen = w;
}

void smtpd_data_chunkend(smtpd_data *d, char *out, size_t *outlen)
{
  size_t w = 0;
  if (d->state == DS_CR) d->flags |= DATA_BARECR;
  else if (d->state == DS_MID) emit(d, '\n', out, &w);
  d->state = SMTPD_DATA_END;
  *outlen = w;
}

int smtpd_bdat_parse(char const *s, size_t len, unsigned long long *size, int *last)
{
  size_t i = 0, d0;
  unsigned long long v = 0;
  while (i < len && s[i] == ' ') i++;
  d0 = i;
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    if (i - d0 >= SMTPD_BDAT_DIGITS) return -1;
    v = v * 10 + (unsigned long long)(s[i] - '0');
    i++;
  }
  if (i == d0 || (i < len && s[i] != ' ')) return -1;
  while (i < len && s[i] == ' ') i++;
  *last = 0;
  if (i < len) {
    if (len - i < 4 || lower(s[i]) != 'l' || lower(s[i + 1]) != 'a' || lower(s[i + 2]) != 's' ||
        lower(s[i + 3]) != 't')
      return -1;
    i += 4;
    while (i < len && s[i] == ' ') i++;
    if (i < len) return -1;
    *last = 1;
  }
  *size = v;
  return 0;
}
