/* libFuzzer target: mailroom-fetch's POP3 reply parser (fetch/fetch_reply.c) and what reads
   the fetched bytes (fetch/fetch_msg.c, the state file's parser). The input is what a server
   sends, cut at LF into lines as the client reads them: each line is tried as a status line,
   a line of a multi-line answer, a LIST and a UIDL line; whatever each takes must lie inside
   the line and satisfy its rules. The whole input is then read as a message and as a state
   file. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "../../fetch/fetch.h"

static void line(char const *s, size_t n)
{
  size_t t, off, len, uoff, ulen;
  uint32_t num;
  uint64_t size;
  char out[64];
  int r = pop3_status(s, n, &t);
  FAIL_IF(t > n);
  if (r == 1) FAIL_IF(n < 3 || memcmp(s, "+OK", 3) != 0);
  if (r == 0) FAIL_IF(n < 4 || memcmp(s, "-ERR", 4) != 0);
  if (pop3_mline(s, n, &off, &len)) {
    FAIL_IF(off + len > n || off > 1);
  } else FAIL_IF(!(n == 1 || (n == 2 && s[1] == '\r')) || s[0] != '.');
  if (pop3_scan_list(s, n, &num, &size)) FAIL_IF(!num || s[0] < '0' || s[0] > '9');
  if (pop3_scan_uidl(s, n, &num, &uoff, &ulen)) {
    FAIL_IF(!num || !ulen || ulen > FETCH_UIDL_MAX || uoff + ulen > n);
    for (size_t i = uoff; i < uoff + ulen; i++) FAIL_IF(s[i] < 0x21 || s[i] > 0x7e);
  }
  pop3_printable(out, sizeof out, s, n);
  FAIL_IF(strlen(out) >= sizeof out);
  for (size_t i = 0; out[i]; i++) FAIL_IF((unsigned char)out[i] < 0x20 || out[i] == '"' || out[i] == '\\');
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *s = (char const *)data;
  size_t pos = 0;
  while (pos < size) {
    char const *nl = memchr(s + pos, '\n', size - pos);
    size_t n = nl ? (size_t)(nl - (s + pos)) : size - pos;
    line(s + pos, n);
    pos += n + 1;
  }
  {
    char rp[128], key[66];
    size_t hl = fetch_msg_hdrlen(s, size);
    FAIL_IF(hl > size);
    if (fetch_msg_returnpath(s, size, rp, sizeof rp)) FAIL_IF(strlen(rp) >= sizeof rp || strchr(rp, ' '));
    (void)fetch_msg_loop(s, size, "someone@example.org");
    fetch_msg_hashkey(s, size, key);
    FAIL_IF(key[0] != 'h' || strlen(key) != 65);
  }
  {
    fetch_state st = FETCH_STATE_ZERO;
    if (!fetch_state_parse(&st, s, size)) {
      /* every entry parsed is found again, and a copy parses to the same */
      fetch_state st2 = FETCH_STATE_ZERO;
      stralloc sa = STRALLOC_ZERO;
      FAIL_IF(!stralloc_cats(&sa, "mailroom-fetch state 1\n") || !stralloc_catb(&sa, st.keys.s, st.keys.len));
      FAIL_IF(fetch_state_parse(&st2, sa.s, sa.len) < 0 || st2.n != st.n);
      stralloc_free(&sa);
      fetch_state_free(&st2);
    }
    fetch_state_free(&st);
  }
  {
    fetch_acct a;
    char const *why;
    char buf[2048];
    size_t n = size < sizeof buf - 1 ? size : sizeof buf - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (!fetch_acct_parse(&a, buf, &why)) {
      FAIL_IF(!a.name[0] || !a.server[0] || !a.user[0] || !a.rcpt[0] || !a.port);
      FAIL_IF(a.tls == FETCH_TLS_PLAIN && !fetch_acct_loopback(a.server));
    }
  }
  return 0;
}
