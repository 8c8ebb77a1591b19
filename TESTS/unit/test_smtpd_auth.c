/* Unit tests of the pure parts of STARTTLS and AUTH: the verbs, strict base64, the PLAIN
   message, the user name and TLS text checks of lib/tlsctl.c. */
#include <stdio.h>
#include <string.h>

#include "../../smtpd/smtpd.h"

static int npass, nfail;

static void check(int ok, char const *label)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", label);
  if (ok) npass++;
  else nfail++;
}

#define S(x) x, sizeof(x) - 1

static int dec(char const *in, char const *want, size_t wantlen)
{
  char out[SMTPD_SASL_MAX];
  long n = smtpd_b64_decode(in, strlen(in), out, sizeof out);
  if (!want) return n < 0;
  return n == (long)wantlen && !memcmp(out, want, wantlen);
}

int main(void)
{
  char big[SMTPD_SASL_MAX * 2], out[16], info[TLSD_INFO_MAX + 1];
  smtpd_cred c;
  size_t ap;

  check(smtpd_cmd_verb(S("STARTTLS"), &ap) == V_STARTTLS, "verb STARTTLS");
  check(smtpd_cmd_verb(S("starttls"), &ap) == V_STARTTLS, "verb starttls, any case");
  check(smtpd_cmd_verb(S("AUTH PLAIN x"), &ap) == V_AUTH && ap == 5, "verb AUTH and its argument");
  check(smtpd_cmd_verb(S("STARTTLSX"), &ap) == V_UNKNOWN, "STARTTLSX unknown");

  check(dec("AGRlbW8AZGVtbw==", "\0demo\0demo", 10), "base64 PLAIN");
  check(dec("ZGVtbw==", "demo", 4), "base64 two pads");
  check(dec("ZGVtbzE=", "demo1", 5), "base64 one pad");
  check(dec("ZGVtbzEy", "demo12", 6), "base64 no pad");
  check(dec("", "", 0), "base64 empty");
  check(dec("ZGVtbw", 0, 0), "base64 missing padding refused");
  check(dec("ZGVtbw=", 0, 0), "base64 length not a multiple of 4 refused");
  check(dec("ZG=tbw==", 0, 0), "base64 '=' inside refused");
  check(dec("ZGVtbx==", 0, 0), "base64 non-canonical last bits refused");
  check(dec("ZGVt bw==", 0, 0), "base64 space refused");
  check(dec("ZGVt\nbw==", 0, 0), "base64 line break refused");
  check(dec("Z===", 0, 0), "base64 three pads refused");
  check(dec("ZGVtbw==ZGVt", 0, 0), "base64 data after padding refused");
  memset(big, 'A', sizeof big);
  check(smtpd_b64_decode(big, sizeof big, big, SMTPD_SASL_MAX) < 0, "base64 longer than the bound refused");
  memset(out, 0x5a, sizeof out);
  check(smtpd_b64_decode(S("ZGVtbzEy"), out, 5) < 0 && out[5] == 0x5a, "base64 never writes past max");

  check(!smtpd_sasl_plain(S("\0demo\0pw"), &c) && c.ulen == 4 && !memcmp(c.user, "demo", 4) && c.plen == 2,
        "PLAIN without authzid");
  check(!smtpd_sasl_plain(S("demo\0demo\0pw"), &c) && c.ulen == 4, "PLAIN authzid = user");
  check(smtpd_sasl_plain(S("root\0demo\0pw"), &c) == -2, "PLAIN authzid of another user refused");
  check(smtpd_sasl_plain(S("\0demo"), &c) == -1, "PLAIN one NUL refused");
  check(smtpd_sasl_plain(S("\0demo\0p\0w"), &c) == -1, "PLAIN NUL in the password refused");
  check(!smtpd_sasl_plain(S("\0\0"), &c) && !c.ulen && !c.plen, "PLAIN empty fields parse (the user check refuses)");

  check(tlsctl_user_ok(S("demo")), "user demo ok");
  check(!tlsctl_user_ok(S("")) && !tlsctl_user_ok(S("..")) && !tlsctl_user_ok(S("a/b")) &&
          !tlsctl_user_ok(S("a b")) && !tlsctl_user_ok(S("a\x7f")),
        "user: empty, .., /, space, DEL refused");
  memset(big, 'a', 129);
  check(!tlsctl_user_ok(big, 129) && tlsctl_user_ok(big, 128), "user: 128 bytes at most");
  check(tlsctl_info_ok("TLSv1.3 TLS_AES_256_GCM_SHA384", info) && !strcmp(info, "TLSv1.3 TLS_AES_256_GCM_SHA384"),
        "TLS text ok");
  check(!tlsctl_info_ok("TLSv1.3 (x)", info) && !tlsctl_info_ok("a\nb", info) && !tlsctl_info_ok("", info) &&
          !tlsctl_info_ok(0, info),
        "TLS text: parentheses, newline, empty, null refused");
  printf("# test_smtpd_auth: %d passed, %d failed\n", npass, nfail);
  return nfail ? 1 : 0;
}
