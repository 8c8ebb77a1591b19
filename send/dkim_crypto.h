#ifndef MAILROOM_DKIM_CRYPTO_H
#define MAILROOM_DKIM_CRYPTO_H
/* The cryptography of DKIM signing, through OpenSSL's libcrypto (EVP): SHA-256, RSA
   (PKCS#1 v1.5, RFC 6376 3.3.1) and Ed25519 (RFC 8463: PureEdDSA over the SHA-256 hash).
   Used by mailroom-dkimsign and mailroom-dkimkey only, the two programs linked with it. */
#include <stddef.h>

typedef struct evp_pkey_st dkim_key;

#define DKIM_SIG_MAX 1024 /* RSA up to 8192 bits */

/* The private key in PEM (PKCS#8 or traditional) file fn, or 0 (errno, or EINVAL when it
   is no RSA or Ed25519 key, or an RSA key under 1024 bits: RFC 8301). */
extern dkim_key *dkim_key_load(char const *fn);
extern void dkim_key_free(dkim_key *k);
/* "rsa-sha256" or "ed25519-sha256". */
extern char const *dkim_key_alg(dkim_key const *k);
/* The signature of the SHA-256 hash h (32 bytes) into sig (DKIM_SIG_MAX); its length or 0. */
extern size_t dkim_key_sign(dkim_key *k, unsigned char const h[32], unsigned char *sig);

typedef struct dkim_sha_s dkim_sha;
extern dkim_sha *dkim_sha_new(void);
extern void dkim_sha_update(void *sha, char const *s, size_t n); /* a dkim_out_fn */
extern int dkim_sha_final(dkim_sha *sha, unsigned char h[32]);   /* 0, -1; frees it */

/* A new key pair: type "rsa" (2048 bits) or "ed25519"; 0 on failure. */
extern dkim_key *dkim_key_generate(char const *type);
/* The private key as PKCS#8 PEM to fd; 0 or -1. */
extern int dkim_key_write(dkim_key *k, int fd);
/* The DNS record's p= value (base64 of the SubjectPublicKeyInfo for RSA, of the raw 32-byte
   key for Ed25519: RFC 8463 4.2) into out (max bytes); its length or 0. */
extern size_t dkim_key_public(dkim_key *k, char *out, size_t max);
#endif
