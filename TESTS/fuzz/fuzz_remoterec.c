/* libFuzzer target: mailroom-rspawn's reading of mailroom-remote's records (the one input
   of rspawn that a network peer can shape), and the packets of the remote channel. The
   first byte picks the recipient count and the exit status. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "../../send/rspawn_proto.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static struct rres res[RSPAWN_RCPT_MAX];
  static char out[RSPAWN_PACKET_MAX];
  struct rreq q;
  char note[200];
  unsigned n, good, slot;
  int status;
  if (!size) return 0;
  n = 1 + data[0] % RSPAWN_RCPT_MAX;
  status = (data[0] & 0x80) ? (data[0] & 0x7f) : ((data[0] % 3 == 0 ? 0 : data[0] % 3 == 1 ? 111 : 100) << 8);
  data++, size--;
  if (size > RSPAWN_RECORDS_MAX) size = RSPAWN_RECORDS_MAX;
  good = rrec_results((char const *)data, size, 0, status, n, res, note, sizeof note);
  if (good > n) __builtin_trap();
  for (unsigned k = 0; k < n; k++) {
    size_t l = strlen(res[k].text);
    if (l > RSPAWN_TEXT_MAX || !strchr("KZD", res[k].r) || !res[k].r) __builtin_trap();
    for (size_t i = 0; i < l; i++)
      if ((unsigned char)res[k].text[i] < 32 || (unsigned char)res[k].text[i] > 126) __builtin_trap();
  }
  /* Whatever came out must make a reply that parses back to the same results. */
  {
    size_t len = rrep_pack(out, sizeof out, 5, res, n);
    static struct rres back[RSPAWN_RCPT_MAX];
    if (!len || rrep_parse(out, len, &slot, back, n) < 0 || slot != 5) __builtin_trap();
    for (unsigned k = 0; k < n; k++)
      if (back[k].r != res[k].r || strcmp(back[k].text, res[k].text) != 0) __builtin_trap();
  }
  if (rreq_parse((char const *)data, size, &q) == 0) {
    if (!q.n || q.n > RSPAWN_RCPT_MAX || q.slot >= RSPAWN_SLOTS) __builtin_trap();
    if (!rreq_pack(out, sizeof out, q.slot, q.id, q.len, q.sender, q.rcpt, q.n)) __builtin_trap();
  }
  (void)rrep_parse((char const *)data, size, &slot, res, n);
  return 0;
}
