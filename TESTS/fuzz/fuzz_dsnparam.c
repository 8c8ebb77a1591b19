/* libFuzzer target: the DSN (RFC 3461) and AUTH= (RFC 4954 5) parameters on their way
   through mailroom. The first byte picks the stage, the rest is its input:
   0/1  a MAIL / RCPT argument through smtpd's parser: whatever it accepts, the values it
        keeps must pass lib/dsnparam's checks, and the envelope smtpd would write from them
        must pass envelope_check (what smtpd accepts, the queue never refuses);
   2    a raw envelope: envelope_check, then every accessor stays inside it;
   3    xtext: decode, encode, decode again gives the same bytes; encode is always xtext;
   4    a field of the remote channel: rspawn's word check, mailroom-remote's split and
        words, which never let a control byte through. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "../../lib/dsnparam.h"
#include "../../lib/envelope.h"
#include "../../remote/remote_smtp.h"
#include "../../send/rspawn_proto.h"
#include "../../smtpd/smtpd.h"

static size_t put(char *e, size_t w, char letter, char const *v)
{
  size_t l = strlen(v);
  e[w++] = letter;
  memcpy(e + w, v, l + 1);
  return w + l + 1;
}

static void smtpd_stage(char const *s, size_t n, int rcpt)
{
  static char env[4 * SMTPD_LINE_MAX];
  smtpd_path p;
  size_t w = 0, len;
  char nb[DSN_NOTIFY_MAX + 1];
  if (n >= SMTPD_LINE_MAX) return;
  if ((rcpt ? smtpd_cmd_rcpt(s, n, 1, 1, &p) : smtpd_cmd_mail(s, n, 1, &p)) != P_OK) return;
  FAIL_IF(p.envid[0] && !dsn_envid_valid(p.envid, strlen(p.envid)));
  FAIL_IF(p.auth[0] && !dsn_auth_valid(p.auth, strlen(p.auth)));
  FAIL_IF(p.orcpt[0] && !dsn_orcpt_valid(p.orcpt, strlen(p.orcpt)));
  FAIL_IF(p.notify && !dsn_notify_parse(nb, dsn_notify_fmt(p.notify, nb)));
  FAIL_IF(p.ret && p.ret != DSN_RET_FULL && p.ret != DSN_RET_HDRS);
  w = put(env, w, 'F', rcpt ? "a@b" : p.addr);
  if (!rcpt) {
    if (p.envid[0]) w = put(env, w, 'E', p.envid);
    if (p.ret) w = put(env, w, 'R', p.ret == DSN_RET_FULL ? "FULL" : "HDRS");
    if (p.auth[0]) w = put(env, w, 'A', p.auth);
  }
  w = put(env, w, 'T', rcpt && p.len ? p.addr : "c@d");
  if (rcpt) {
    if (p.notify) w = put(env, w, 'N', nb);
    if (p.orcpt[0]) w = put(env, w, 'O', p.orcpt);
  }
  env[w++] = 0;
  len = 0;
  FAIL_IF(envelope_check(env, w, &len) != ENV_OK || len != 1);
}

static void envelope_stage(char const *s, size_t n)
{
  size_t k = 0;
  char const *r;
  if (envelope_check(s, n, &k) != ENV_OK) return;
  FAIL_IF(s[n - 1]);
  for (int letter = 'A'; letter <= 'Z'; letter++) {
    char const *v = envelope_mparam(s, (char)letter);
    FAIL_IF(v && (v < s || v >= s + n));
  }
  for (r = envelope_next(s, 0); r; r = envelope_next(s, r)) {
    char const *nv = envelope_rparam(r, 'N'), *ov = envelope_rparam(r, 'O');
    FAIL_IF(r < s || r >= s + n);
    FAIL_IF(nv && !dsn_notify_parse(nv, strlen(nv)));
    FAIL_IF(ov && !dsn_orcpt_valid(ov, strlen(ov)));
    k--;
  }
  FAIL_IF(k != 0);
}

static void xtext_stage(char const *s, size_t n)
{
  static char a[4096], b[3 * 4096 + 1], c[4096];
  long la = xtext_decode(s, n, a, sizeof a), lb, lc;
  if (n > sizeof a) return;
  lb = xtext_encode(s, n, b, sizeof b);
  FAIL_IF(lb < 0 || (n && !xtext_valid(b, (size_t)lb)));
  lc = n ? xtext_decode(b, (size_t)lb, c, sizeof c) : 0;
  FAIL_IF(lc != (long)n || memcmp(c, s, n) != 0);
  if (la >= 0) FAIL_IF(la > (long)n);
}

static void channel_stage(char const *s, size_t n)
{
  static char const *const keys[] = { "RET", "ENVID", "AUTH", "NOTIFY", "ORCPT", 0 };
  static char const *const m[] = { "RET", "ENVID", 0 };
  static char f[2048], out[4096];
  char const *p;
  int bad = 0;
  if (n >= sizeof f) return;
  memcpy(f, s, n);
  f[n] = 0;
  (void)rspawn_params_ok(f, keys);
  p = dsn_split(f, &bad);
  if (!p || bad) return;
  out[0] = 0;
  dsn_words(p, m, out, sizeof out);
  for (char const *c = out; *c; c++) FAIL_IF((unsigned char)*c < 32 || (unsigned char)*c >= 127);
  (void)dsn_wants_success(p);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *s = (char const *)data + 1;
  if (!size) return 0;
  switch (data[0] % 5) {
    case 0: smtpd_stage(s, size - 1, 0); break;
    case 1: smtpd_stage(s, size - 1, 1); break;
    case 2: envelope_stage(s, size - 1); break;
    case 3: xtext_stage(s, size - 1); break;
    default: channel_stage(s, size - 1); break;
  }
  return 0;
}
