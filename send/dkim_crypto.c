/* DKIM's cryptography on libcrypto (dkim_crypto.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dkim_crypto.h"
#include "dkim_sign.h"

struct dkim_sha_s {
  EVP_MD_CTX *c;
};

dkim_key *dkim_key_load(char const *fn)
{
  EVP_PKEY *k;
  FILE *f = fopen(fn, "r");
  if (!f) return 0;
  k = PEM_read_PrivateKey(f, 0, 0, 0);
  (void)fclose(f); /* opened for reading: nothing to flush */
  if (!k) return (errno = EINVAL, (dkim_key *)0);
  if (!(EVP_PKEY_is_a(k, "ED25519") || (EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) >= 1024))) {
    EVP_PKEY_free(k);
    return (errno = EINVAL, (dkim_key *)0);
  }
  return k;
}

void dkim_key_free(dkim_key *k) { EVP_PKEY_free(k); }

char const *dkim_key_alg(dkim_key const *k) { return EVP_PKEY_is_a(k, "ED25519") ? "ed25519-sha256" : "rsa-sha256"; }

size_t dkim_key_sign(dkim_key *k, unsigned char const h[32], unsigned char *sig)
{
  size_t len = DKIM_SIG_MAX;
  int ok = 0;
  if (EVP_PKEY_is_a(k, "ED25519")) {
    /* RFC 8463 3: the Ed25519 signature of the SHA-256 hash, as PureEdDSA (no pre-hash mode) */
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    ok = c && EVP_DigestSignInit(c, 0, 0, 0, k) == 1 && EVP_DigestSign(c, sig, &len, h, 32) == 1;
    EVP_MD_CTX_free(c);
  } else {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, 0);
    ok = c && EVP_PKEY_sign_init(c) == 1 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
         EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 && EVP_PKEY_sign(c, 0, &len, h, 32) == 1 &&
         len <= DKIM_SIG_MAX && EVP_PKEY_sign(c, sig, &len, h, 32) == 1;
    EVP_PKEY_CTX_free(c);
  }
  return ok ? len : 0;
}

dkim_sha *dkim_sha_new(void)
{
  dkim_sha *s = malloc(sizeof *s);
  if (!s) return 0;
  s->c = EVP_MD_CTX_new();
  if (!s->c || EVP_DigestInit_ex(s->c, EVP_sha256(), 0) != 1) {
    EVP_MD_CTX_free(s->c);
    free(s);
    return 0;
  }
  return s;
}

void dkim_sha_update(void *sha, char const *s, size_t n)
{
  dkim_sha *h = sha;
  EVP_DigestUpdate(h->c, s, n);
}

int dkim_sha_final(dkim_sha *sha, unsigned char h[32])
{
  unsigned int n = 0;
  int ok = EVP_DigestFinal_ex(sha->c, h, &n) == 1 && n == 32;
  EVP_MD_CTX_free(sha->c);
  free(sha);
  return ok ? 0 : -1;
}

dkim_key *dkim_key_generate(char const *type)
{
  if (!strcmp(type, "rsa")) return EVP_PKEY_Q_keygen(0, 0, "RSA", (size_t)2048);
  if (!strcmp(type, "ed25519")) return EVP_PKEY_Q_keygen(0, 0, "ED25519");
  return 0;
}

int dkim_key_write(dkim_key *k, int fd)
{
  BIO *b = BIO_new(BIO_s_mem());
  char *p;
  long n;
  int ok;
  if (!b) return -1;
  ok = PEM_write_bio_PKCS8PrivateKey(b, k, 0, 0, 0, 0, 0) == 1;
  n = BIO_get_mem_data(b, &p);
  for (long off = 0; ok && off < n;) {
    ssize_t w = write(fd, p + off, (size_t)(n - off));
    if (w <= 0) ok = 0;
    else off += w;
  }
  BIO_free(b);
  return ok ? 0 : -1;
}

size_t dkim_key_public(dkim_key *k, char *out, size_t max)
{
  unsigned char raw[1024], *der = 0;
  size_t n = sizeof raw;
  int dn;
  if (EVP_PKEY_is_a(k, "ED25519")) {
    if (EVP_PKEY_get_raw_public_key(k, raw, &n) != 1) return 0;
    if (4 * ((n + 2) / 3) + 1 > max) return 0;
    return dkim_base64(raw, n, out);
  }
  dn = i2d_PUBKEY(k, &der);
  if (dn <= 0) return 0;
  if (4 * (((size_t)dn + 2) / 3) + 1 > max) {
    OPENSSL_free(der);
    return 0;
  }
  n = dkim_base64(der, (size_t)dn, out);
  OPENSSL_free(der);
  return n;
}
