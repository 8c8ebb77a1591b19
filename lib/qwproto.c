/* The queue writer's packets (lib/qwproto.h). Every reader is strict: exact lengths, no
   trailing bytes. */
#include <string.h>

#include "qwproto.h"

int qwproto_request(char const *s, size_t len, unsigned nfds, int trunc)
{
  if (!len && !nfds) return QWR_EMPTY;
  if (trunc) return QWR_TRUNC;
  if (len != QW_REQUEST_LEN || memcmp(s, QW_REQUEST, QW_REQUEST_LEN) != 0) return QWR_HEADER;
  if (nfds != QW_NFDS) return QWR_NFDS;
  return QWR_OK;
}

char const *qwproto_strerror(int e)
{
  switch (e) {
    case QWR_OK: return "request is well-formed";
    case QWR_EMPTY: return "the client hung up before its request";
    case QWR_TRUNC: return "request or its descriptors truncated";
    case QWR_HEADER: return "request is not MRQW1 Q";
    case QWR_NFDS: return "request does not carry exactly 2 descriptors";
  }
  return "unknown request error";
}

size_t qwproto_verdict(char *out, int code, char const *id)
{
  size_t n = QW_MAGIC_LEN;
  unsigned c = code < 0 || code > 255 ? 81 : (unsigned)code; /* QQ_BUG: cannot happen */
  memcpy(out, QW_MAGIC "V ", QW_MAGIC_LEN + 2);
  n += 2;
  out[n++] = (char)('0' + c / 100);
  out[n++] = (char)('0' + c / 10 % 10);
  out[n++] = (char)('0' + c % 10);
  if (!c && id) {
    size_t k = strlen(id);
    if (k > QID_MAX) k = QID_MAX;
    out[n++] = ' ';
    memcpy(out + n, id, k);
    n += k;
  }
  return n;
}

int qwproto_reply(char const *s, size_t len, int *code, char *id)
{
  size_t k;
  int c;
  if (len < QW_MAGIC_LEN + 1 || memcmp(s, QW_MAGIC, QW_MAGIC_LEN) != 0) return 0;
  if (len == QW_GO_LEN && s[QW_MAGIC_LEN] == 'G') return 'G';
  if (len < QW_MAGIC_LEN + 5 || s[QW_MAGIC_LEN] != 'V' || s[QW_MAGIC_LEN + 1] != ' ') return 0;
  s += QW_MAGIC_LEN + 2;
  len -= QW_MAGIC_LEN + 2;
  for (k = 0, c = 0; k < 3; k++) {
    if (s[k] < '0' || s[k] > '9') return 0;
    c = c * 10 + (s[k] - '0');
  }
  if (c > 255) return 0;
  id[0] = 0;
  if (len == 3) {
    if (!c) return 0; /* success says which id it gave */
    *code = c;
    return 'V';
  }
  if (c || s[3] != ' ' || len - 4 > QID_MAX) return 0;
  memcpy(id, s + 4, len - 4);
  id[len - 4] = 0;
  if (memchr(id, 0, len - 4) || !qid_parse(id, 0, 0)) {
    id[0] = 0;
    return 0;
  }
  *code = 0;
  return 'V';
}
