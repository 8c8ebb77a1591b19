/* libFuzzer target: the queue writer's socket protocol (lib/qwproto.c). The first byte is
   what recvmsg would say beside the packet (bits 0-1: how many descriptors came, bit 2:
   MSG_TRUNC or MSG_CTRUNC); the rest is one packet, read as a request by mailroom-queued and
   as a reply by a client (lib/qwclient.c). Only "MRQW1 Q" with 2 descriptors is a request;
   what parses as a reply is the go or a verdict that formats back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fuzz.h"
#include "qid.h"
#include "qwproto.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char out[QW_PACKET_MAX + 1], id[QID_MAX + 1];
  char const *s;
  unsigned nfds;
  int trunc, r, k, code;
  size_t n;
  if (!size) return 0;
  nfds = data[0] & 3;
  trunc = !!(data[0] & 4);
  s = (char const *)data + 1;
  size--;

  r = qwproto_request(s, size, nfds, trunc);
  FAIL_IF(r != QWR_OK && r != QWR_EMPTY && r != QWR_TRUNC && r != QWR_HEADER && r != QWR_NFDS);
  FAIL_IF((r == QWR_OK) != (size == QW_REQUEST_LEN && !memcmp(s, QW_REQUEST, QW_REQUEST_LEN) && nfds == QW_NFDS && !trunc));
  FAIL_IF((r == QWR_EMPTY) != (!size && !nfds));
  FAIL_IF(r == QWR_TRUNC && !trunc);
  FAIL_IF(!qwproto_strerror(r) || !qwproto_strerror(r)[0]);

  code = -1;
  memset(id, 'x', sizeof id);
  k = qwproto_reply(s, size, &code, id);
  FAIL_IF(k != 0 && k != 'G' && k != 'V');
  FAIL_IF((k == 'G') != (size == QW_GO_LEN && !memcmp(s, QW_GO, QW_GO_LEN)));
  if (k == 'V') {
    FAIL_IF(size > QW_PACKET_MAX);
    FAIL_IF(code < 0 || code > 255);
    FAIL_IF(memchr(id, 0, sizeof id) == 0); /* NUL-terminated within QID_MAX + 1 */
    FAIL_IF(!code && (!id[0] || !qid_parse(id, 0, 0)));
    FAIL_IF(code && id[0]);
    n = qwproto_verdict(out, code, code ? 0 : id);
    FAIL_IF(n != size || memcmp(out, s, n) != 0); /* canonical: one way to write each verdict */
  }

  /* any code and any id text make a verdict of at most QW_PACKET_MAX bytes; every code in
     range but 0 parses back, and 0 does when the id is a valid one. The code is the packet's
     first byte moved by bits 3-4 of the first (-128 to 639), or 0 with bit 5; the text is
     the rest of the packet. */
  {
    char text[QID_MAX + 8];
    int c = (size ? (int)(unsigned char)s[0] : 0) + (int)((data[0] >> 3) & 3) * 128 - 128, c2 = -1;
    size_t m = size > 1 ? size - 1 : 0;
    if (m > sizeof text - 1) m = sizeof text - 1;
    memcpy(text, s + (size > 1), m);
    text[m] = 0;
    if (data[0] & 32) c = 0;
    n = qwproto_verdict(out, c, text);
    FAIL_IF(n < QW_MAGIC_LEN + 5 || n > QW_PACKET_MAX);
    memset(id, 'x', sizeof id);
    k = qwproto_reply(out, n, &c2, id);
    if (c < 0 || c > 255) FAIL_IF(k != 'V' || c2 != 81 || id[0]);
    else if (c) FAIL_IF(k != 'V' || c2 != c || id[0]);
    else if (qid_parse(text, 0, 0)) FAIL_IF(k != 'V' || c2 != 0 || strcmp(id, text) != 0);
    else FAIL_IF(k != 0);
  }
  return 0;
}
