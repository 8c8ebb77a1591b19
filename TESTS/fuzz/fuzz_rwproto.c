/* libFuzzer target: the worker protocol between mailroom-rspawn and mailroom-remote -w
   (remote/remote_wproto.c). The first byte picks the direction: a job packet as the worker
   parses it (whatever parses must pack back to the same bytes), or a worker's reply as
   rspawn splits it and reads its records (what a network peer can shape through a worker). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "../../remote/remote_wproto.h"
#include "../../send/rspawn_proto.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static char buf[RWJOB_PACKET_MAX + 1];
  static char out[RWJOB_PACKET_MAX + 1];
  static struct rres res[RSPAWN_RCPT_MAX];
  char kept[RWJOB_DOMAIN_MAX + 1], note[200];
  struct rwjob j;
  size_t off;
  unsigned n;
  if (!size) return 0;
  n = 1 + data[0] % RSPAWN_RCPT_MAX;
  data++, size--;
  if (size > RWJOB_PACKET_MAX) size = RWJOB_PACKET_MAX;
  memcpy(buf, data, size);
  if (rwjob_parse(buf, size, &j) == 0) {
    size_t len;
    if (!j.n || j.n > RWJOB_RCPT_MAX || strlen(j.domain) > RWJOB_DOMAIN_MAX) __builtin_trap();
    len = rwjob_pack(out, sizeof out, j.domain, j.sender, j.msglen, (char const *const *)j.rcpt, j.n);
    if (len != size || memcmp(out, data, size) != 0) __builtin_trap();
  }
  if (rwrep_split((char const *)data, size, kept, sizeof kept, &off) == 0) {
    unsigned good;
    if (off > size || strlen(kept) > RWJOB_DOMAIN_MAX || strchr(kept, ' ')) __builtin_trap();
    good = rrec_results((char const *)data + off, size - off, 0, 0, n, res, note, sizeof note);
    if (good > n) __builtin_trap();
    for (unsigned k = 0; k < n; k++)
      if (!res[k].r || !strchr("KZD", res[k].r) || strlen(res[k].text) > RSPAWN_TEXT_MAX) __builtin_trap();
    if (!rwrep_pack(out, sizeof out, kept, (char const *)data + off, size - off)) __builtin_trap();
  }
  return 0;
}
