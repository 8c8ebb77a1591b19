/* libFuzzer target: the packets between mailroom-lspawn and a warm mailroom-local
   (lib/lwproto.c). The reply parser is the one root reads from a process that runs as the
   user; the job parser is what the worker reads. Whatever parses must hold its promises and
   format back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fuzz.h"
#include "lwproto.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static char out[LW_JOB_MAX + LW_REPLY_MAX];
  char const *s = (char const *)data;
  lwreply r;
  lwjob j;
  if (lwproto_reply_parse(s, size, &r) == 0) {
    size_t n;
    FAIL_IF(r.slot >= LW_SLOTS);
    FAIL_IF(r.code != 0 && r.code != 99 && r.code != 100 && r.code != 111);
    FAIL_IF(r.textlen > LW_TEXT_MAX || strlen(r.text) != r.textlen);
    for (size_t i = 0; i < r.textlen; i++) FAIL_IF((unsigned char)r.text[i] < 32 || (unsigned char)r.text[i] > 126);
    n = lwproto_reply_fmt(out, r.slot, r.code, r.text);
    FAIL_IF(n != size || memcmp(out, s, n) != 0); /* canonical: one way to write each reply */
  }
  if (lwproto_job_parse(s, size, &j) == 0) {
    size_t n;
    lwjob k;
    FAIL_IF(j.slot >= LW_SLOTS || j.home[0] != '/');
    FAIL_IF(strlen(j.dash) > 1 || (j.dash[0] && j.dash[0] != '-'));
    n = lwproto_job_fmt(out, &j);
    FAIL_IF(!n || n > LW_JOB_MAX);
    FAIL_IF(lwproto_job_parse(out, n, &k) != 0 || k.slot != j.slot || k.msglen != j.msglen);
    FAIL_IF(strcmp(k.user, j.user) != 0 || strcmp(k.home, j.home) != 0 || strcmp(k.local, j.local) != 0 || strcmp(k.ext, j.ext) != 0
            || strcmp(k.domain, j.domain) != 0 || strcmp(k.sender, j.sender) != 0 || strcmp(k.defaultdelivery, j.defaultdelivery) != 0);
    FAIL_IF(n != size || memcmp(out, s, n) != 0);
  }
  /* any text makes a reply that parses back */
  {
    char text[LW_TEXT_MAX + 2];
    size_t n = size > LW_TEXT_MAX + 1 ? LW_TEXT_MAX + 1 : size;
    memcpy(text, s, n);
    text[n] = 0;
    n = lwproto_reply_fmt(out, size % LW_SLOTS, 111, text);
    FAIL_IF(!n || lwproto_reply_parse(out, n, &r) != 0 || r.code != 111 || r.slot != size % LW_SLOTS);
  }
  return 0;
}
