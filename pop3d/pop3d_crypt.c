/* Password hashes through libcrypt (libxcrypt): yescrypt by default, sha512-crypt on
   request; checking accepts whatever crypt(3) knows ($y$, $6$, $5$, $2b$, ...). Every
   buffer that held a password or a hash is cleared before it goes out of scope. */
#include <crypt.h>
#include <errno.h>
#include <string.h>
#include "pop3d.h"

/* A yescrypt hash with the default cost, of a password nobody has: an unknown user costs
   the same time as a known one, so timing does not tell which names exist. */
#define DUMMY_HASH "$y$j9T$7RwRQITNKVg7G2.xTTL4j0$yrWk91k36BmDfqOlLM/2o7SbC5LLdUqWtIxdiGNpmn6"

static void wipe(void *p, size_t n)
{
  volatile unsigned char *v = p;
  while (n--) *v++ = 0;
}

int pop3_hash(char const *pass, int method, char *out, size_t max)
{
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  struct crypt_data data;
  char const *prefix = method == POP3_HASH_SHA512 ? "$6$" : "$y$";
  char const *h;
  size_t len;
  int r = -1;

  if (!crypt_gensalt_rn(prefix, 0, 0, 0, setting, sizeof setting)) return -1;
  memset(&data, 0, sizeof data);
  h = crypt_rn(pass, setting, &data, sizeof data);
  if (!h || h[0] == '*') {
    if (!errno) errno = EINVAL;
  } else if ((len = strlen(h)) >= max || len > POP3_HASH_MAX) {
    errno = ENAMETOOLONG;
  } else {
    memcpy(out, h, len + 1);
    r = 0;
  }
  wipe(&data, sizeof data);
  return r;
}

int pop3_verify(char const *pass, char const *hash)
{
  struct crypt_data data;
  char const *h = 0;
  int ok = 0;
  memset(&data, 0, sizeof data);
  if (hash) h = crypt_rn(pass, hash, &data, sizeof data);
  if (h && h[0] != '*') {
    ok = pop3_streq_ct(h, hash);
  } else {
    /* An unknown user, or a hash crypt(3) refuses (locked "!...", "*"): spend the time a
       real check takes, so that timing tells nothing. */
    memset(&data, 0, sizeof data);
    h = crypt_rn(pass, DUMMY_HASH, &data, sizeof data);
    if (h) (void)pop3_streq_ct(h, DUMMY_HASH);
  }
  wipe(&data, sizeof data);
  return ok;
}
