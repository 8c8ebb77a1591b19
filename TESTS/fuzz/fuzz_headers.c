/* libFuzzer target: message headers. The input is a message as sendmail (mailroom-inject)
   reads it on stdin; the first byte picks the read size and -i. It goes through the line-end
   normalizer in chunks, the header/body split as more bytes arrive (as read_headers does),
   the field walker, the -t recipient extraction (To/Cc/Bcc/Resent-*, groups, comments,
   folded lines) and the head that goes to the queue. The same bytes are then the original
   message of a bounce: dsn_header_len cuts its header, dsn_build quotes it, and the text of a
   recipient's result (a remote server's words) comes from the message's first line. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../queue/inject.h"
#include "../../send/send_dsn.h"
#include "envelope.h"

#include "fuzz.h"

#define STEP_MIN 512

/* The normalizer, fed as mailroom-inject feeds it; returns the bytes in out. */
static size_t normalize(char const *s, size_t n, size_t chunk, int flagi, char *out)
{
  inject_norm z = INJECT_NORM_ZERO(flagi);
  size_t pos = 0, on = 0;
  while (pos < n && !z.done) {
    size_t k = n - pos < chunk ? n - pos : chunk, w = inject_norm_feed(&z, s + pos, k, out + on);
    FAIL_IF(w > INJECT_NORM_OUT(k));
    on += w;
    pos += k;
  }
  on += inject_norm_feed(&z, 0, 0, out + on);
  FAIL_IF(on > INJECT_NORM_OUT(n));
  return on;
}

static void recipients(char const *h, size_t hn)
{
  stralloc r = STRALLOC_ZERO;
  size_t n = 0, pos = 0, k;
  char bad[80];
  char const *why = 0;
  int e = inject_addr_fromheaders(&r, &n, h, hn, "example.org", bad, sizeof bad, &why);
  FAIL_IF(e < 0);
  if (e) FAIL_IF(!why || strlen(bad) >= sizeof bad);
  /* every recipient taken is one NUL-terminated, checked, qualified address */
  for (k = 0; k < n; k++) {
    size_t l;
    FAIL_IF(pos >= r.len);
    l = strlen(r.s + pos);
    FAIL_IF(pos + l >= r.len || l > ENV_ADDR_MAX || inject_addr_bad(r.s + pos, l));
    pos += l + 1;
  }
  FAIL_IF(pos != r.len);
  stralloc_free(&r);
}

static void inject_side(char const *s, size_t n, size_t chunk, int flagi)
{
  char *buf = malloc(INJECT_NORM_OUT(n));
  size_t bn, have, pos, last = 0;
  inject_split sp, whole;
  inject_hdrinfo hi;
  inject_field f;
  stralloc out = STRALLOC_ZERO;
  if (!buf) return;
  bn = normalize(s, n, chunk, flagi, buf);
  /* the split as the bytes arrive: once decided, more bytes must not change it. The split
     starts over at every call, so steps of at least STEP_MIN keep this run linear (a
     sender trickling single bytes into sendmail makes its own reads quadratic, at most
     INJECT_HDR_MAX^2 / 2 byte looks: seconds of its own CPU, nothing for others). */
  if (chunk < STEP_MIN) chunk = STEP_MIN;
  for (have = chunk < bn ? chunk : bn;; have = have + chunk < bn ? have + chunk : bn) {
    if (inject_hdr_split(buf, have, have == bn, &sp)) break;
    FAIL_IF(have == bn);
  }
  FAIL_IF(sp.skip > sp.hlen || sp.hlen > sp.body || sp.body > have || sp.body > sp.hlen + 1);
  FAIL_IF(!inject_hdr_split(buf, bn, 1, &whole));
  if (have < bn) FAIL_IF(whole.skip != sp.skip || whole.hlen != sp.hlen || whole.body != sp.body);
  /* the fields tile the header block exactly */
  for (pos = 0; inject_hdr_next(buf + sp.skip, sp.hlen - sp.skip, &pos, &f);) {
    FAIL_IF(f.off != last || !f.len || f.namelen > f.len || f.val < f.off + f.namelen || f.val > f.off + f.len);
    last = f.off + f.len;
    (void)inject_hdr_drop(buf + sp.skip, &f);
  }
  FAIL_IF(last != sp.hlen - sp.skip);
  inject_hdr_info(buf + sp.skip, sp.hlen - sp.skip, &hi);
  recipients(buf + sp.skip, sp.hlen - sp.skip);
  FAIL_IF(!inject_head(&out, buf, have, &sp, "X-Added: 1\n", 11));
  FAIL_IF(out.len > have + 11 + 64);
  stralloc_free(&out);
  free(buf);
}

static void dsn_side(char const *s, size_t n)
{
  size_t hl = dsn_header_len(s, n), tl;
  char status[16], *text;
  struct dsn_rcpt rc[2];
  struct dsn d = { .me = "mx.example.org", .to = "sender@example.net", .id = "1234567.89",
                   .sender = "sender@example.net", .arrival = 1700000000ULL, .now = 1700086400,
                   .rcpt = rc, .n = 2, .msg = s, .msglen = n };
  stralloc sa = STRALLOC_ZERO;
  FAIL_IF(hl > n || hl > DSN_HEADERS_MAX);
  for (tl = 0; tl < n && tl < 2000 && s[tl] != '\n'; tl++) ;
  text = malloc(tl + 1);
  if (!text) return;
  memcpy(text, s, tl);
  text[tl] = 0;
  /* a NUL inside: dsn_status sees the text up to it, as a C string */
  dsn_status(text, 0, status);
  FAIL_IF(strnlen(status, sizeof status) >= sizeof status || status[0] != '5');
  dsn_status(text, 1, status);
  FAIL_IF(strnlen(status, sizeof status) >= sizeof status || status[0] != '4');
  rc[0].addr = "rcpt@example.com";
  rc[0].text = text;
  rc[1].addr = text; /* an address is outside words too: it came in over SMTP */
  rc[1].text = "";
  d.delayed = n & 1;
  FAIL_IF(dsn_build(&sa, &d) < 0);
  /* the outside words stay on their lines: no bare CR or LF of theirs starts a field */
  FAIL_IF(sa.len < hl);
  stralloc_free(&sa);
  free(text);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *s = (char const *)data + 1;
  if (!size || size > (size_t)3 * INJECT_HDR_MAX) return 0;
  inject_side(s, size - 1, (size_t)(data[0] & 0x7f) * 37 + 1, data[0] >> 7);
  dsn_side(s, size - 1);
  return 0;
}
