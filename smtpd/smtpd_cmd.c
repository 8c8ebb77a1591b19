/* Commands: the verb of a line, and the arguments of HELO/EHLO, MAIL and RCPT (RFC 5321
   4.1.1, 4.1.2; SIZE RFC 1870, BODY RFC 6152, SMTPUTF8 RFC 6531; RET, ENVID, NOTIFY, ORCPT
   RFC 3461; AUTH= RFC 4954 5). Pure. */
#include <string.h>
#include <strings.h>

#include "smtpd.h"

static struct {
  char const *name;
  enum smtpd_verb v;
} const verbs[] = {
  { "HELO", V_HELO }, { "EHLO", V_EHLO }, { "MAIL", V_MAIL }, { "RCPT", V_RCPT },
  { "DATA", V_DATA }, { "RSET", V_RSET }, { "NOOP", V_NOOP }, { "QUIT", V_QUIT },
  { "VRFY", V_VRFY }, { "EXPN", V_EXPN }, { "HELP", V_HELP }, { "STARTTLS", V_STARTTLS }, { "AUTH", V_AUTH },
  { "BDAT", V_BDAT },
  /* known, not offered: 502 rather than 500 */
  { "ETRN", V_NOTIMPL },
  { "TURN", V_NOTIMPL }, { "ATRN", V_NOTIMPL }, { "SEND", V_NOTIMPL }, { "SOML", V_NOTIMPL },
  { "SAML", V_NOTIMPL }, { "VERB", V_NOTIMPL }
};

enum smtpd_verb smtpd_cmd_verb(char const *s, size_t len, size_t *argpos)
{
  size_t i = 0, k;
  while (i < len && s[i] != ' ') i++;
  *argpos = i;
  while (*argpos < len && s[*argpos] == ' ') (*argpos)++;
  if (!len) return V_EMPTY;
  for (k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
    if (strlen(verbs[k].name) == i && !strncasecmp(s, verbs[k].name, i)) return verbs[k].v;
  return V_UNKNOWN;
}

int smtpd_cmd_helo(char const *s, size_t len, char *name)
{
  size_t i, n = 0;
  while (n < len && s[n] != ' ') n++;
  if (!n) return -1;
  if (n > SMTPD_HELO_MAX) return -2;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 32 || c == 127) return -2;
  }
  memcpy(name, s, n);
  name[n] = 0;
  return 0;
}

/* "FROM:" or "TO:" (any case), the spaces some clients put after it, and the path's
   angle brackets (a '>' inside a quoted local part does not end it). On success the
   inside of <...> is s[*a0..*a1) and the parameters start at *pp. */
static int split_path(char const *s, size_t len, char const *key, size_t *a0, size_t *a1, size_t *pp)
{
  size_t kl = strlen(key), i;
  int inq = 0;
  if (len < kl || strncasecmp(s, key, kl) != 0) return -1;
  i = kl;
  while (i < len && s[i] == ' ') i++;
  if (i >= len || s[i] != '<') return -1;
  *a0 = ++i;
  for (; i < len; i++) {
    if (inq && s[i] == '\\' && i + 1 < len) i++;
    else if (s[i] == '"') inq = !inq;
    else if (!inq && s[i] == '>') break;
  }
  if (i >= len) return -1;
  *a1 = i++;
  if (i < len && s[i] != ' ') return -1;
  *pp = i;
  return 0;
}

/* The next parameter after *pos: keyword s[*k0..*k1), value s[*v0..*v1) (empty if none,
   *hasval says whether there was a '='). 1 found, 0 none left, -1 malformed. */
static int next_param(char const *s, size_t len, size_t *pos, size_t *k0, size_t *k1, size_t *v0,
                      size_t *v1, int *hasval)
{
  size_t i = *pos;
  while (i < len && s[i] == ' ') i++;
  if (i >= len) return 0;
  *k0 = i;
  while (i < len && s[i] != ' ' && s[i] != '=') {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          (c == '-' && i > *k0)))
      return -1;
    i++;
  }
  *k1 = i;
  if (*k1 == *k0) return -1;
  *hasval = 0;
  *v0 = *v1 = i;
  if (i < len && s[i] == '=') {
    *hasval = 1;
    *v0 = ++i;
    while (i < len && s[i] != ' ') {
      unsigned char c = (unsigned char)s[i];
      if (c < 33 || c == '=' || c == 127) return -1;
      i++;
    }
    *v1 = i;
    if (*v1 == *v0) return -1;
  }
  *pos = i;
  return 1;
}

static int is_kw(char const *s, size_t k0, size_t k1, char const *kw)
{
  return k1 - k0 == strlen(kw) && !strncasecmp(s + k0, kw, k1 - k0);
}

static int is_val(char const *s, size_t v0, size_t v1, char const *val)
{
  return is_kw(s, v0, v1, val);
}

static void path_clear(smtpd_path *p)
{
  p->len = p->at = 0;
  p->addr[0] = 0;
  p->nonascii = p->smtputf8 = p->hassize = 0;
  p->body = BODY_NONE;
  p->size = 0;
  p->ret = 0;
  p->envid[0] = p->auth[0] = p->orcpt[0] = 0;
  p->notify = 0;
}

/* An xtext-valued parameter into out (max bytes with its NUL): P_OK, P_DUP when out is
   already set, or bad when valid() refuses the value. */
static enum smtpd_perr xparam(char const *s, size_t v0, size_t v1, int hasval, char *out, size_t max,
                              int (*valid)(char const *, size_t), enum smtpd_perr bad)
{
  if (*out) return P_DUP;
  if (!hasval || v1 - v0 >= max || !valid(s + v0, v1 - v0)) return bad;
  memcpy(out, s + v0, v1 - v0);
  out[v1 - v0] = 0;
  return P_OK;
}

enum smtpd_perr smtpd_cmd_mail(char const *s, size_t len, int esmtp, smtpd_path *p)
{
  size_t a0, a1, pos, k0, k1, v0, v1;
  int hasval, r;
  path_clear(p);
  while (len && s[len - 1] == ' ') len--;
  if (split_path(s, len, "FROM:", &a0, &a1, &pos) < 0) return P_SYNTAX;
  while ((r = next_param(s, len, &pos, &k0, &k1, &v0, &v1, &hasval)) > 0) {
    if (!esmtp) return P_PARAM;
    if (is_kw(s, k0, k1, "SIZE")) {
      size_t i;
      if (p->hassize || !hasval || v1 - v0 > 20) return P_PARAMSYN;
      p->hassize = 1;
      for (i = v0; i < v1; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') return P_PARAMSYN;
        d = (unsigned)(s[i] - '0');
        if (p->size > (~0ULL - d) / 10) p->size = ~0ULL;
        else p->size = p->size * 10 + d;
      }
    } else if (is_kw(s, k0, k1, "BODY")) {
      if (p->body != BODY_NONE || !hasval) return P_PARAMSYN;
      if (is_val(s, v0, v1, "7BIT")) p->body = BODY_7BIT;
      else if (is_val(s, v0, v1, "8BITMIME")) p->body = BODY_8BITMIME;
      else return P_PARAM; /* BINARYMIME needs CHUNKING, which is not offered */
    } else if (is_kw(s, k0, k1, "SMTPUTF8")) {
      if (p->smtputf8 || hasval) return P_PARAMSYN;
      p->smtputf8 = 1;
    } else if (is_kw(s, k0, k1, "RET")) {
      if (p->ret) return P_DUP;
      if (!hasval || !(p->ret = dsn_ret_parse(s + v0, v1 - v0))) return P_RET;
    } else if (is_kw(s, k0, k1, "ENVID")) {
      enum smtpd_perr e = xparam(s, v0, v1, hasval, p->envid, sizeof p->envid, dsn_envid_valid, P_ENVID);
      if (e != P_OK) return e;
    } else if (is_kw(s, k0, k1, "AUTH")) {
      enum smtpd_perr e = xparam(s, v0, v1, hasval, p->auth, sizeof p->auth, dsn_auth_valid, P_AUTHP);
      if (e != P_OK) return e;
    } else return P_PARAM;
  }
  if (r < 0) return P_PARAMSYN;
  return smtpd_addr_parse(s + a0, a1 - a0, 1, p->smtputf8, p);
}

enum smtpd_perr smtpd_cmd_rcpt(char const *s, size_t len, int esmtp, int utf8, smtpd_path *p)
{
  size_t a0, a1, pos, k0, k1, v0, v1;
  int hasval, r;
  path_clear(p);
  while (len && s[len - 1] == ' ') len--;
  if (split_path(s, len, "TO:", &a0, &a1, &pos) < 0) return P_SYNTAX;
  while ((r = next_param(s, len, &pos, &k0, &k1, &v0, &v1, &hasval)) > 0) {
    if (!esmtp) return P_PARAM;
    if (is_kw(s, k0, k1, "NOTIFY")) {
      if (p->notify) return P_DUP;
      if (!hasval || !(p->notify = dsn_notify_parse(s + v0, v1 - v0))) return P_NOTIFY;
    } else if (is_kw(s, k0, k1, "ORCPT")) {
      enum smtpd_perr e = xparam(s, v0, v1, hasval, p->orcpt, sizeof p->orcpt, dsn_orcpt_valid, P_ORCPT);
      if (e != P_OK) return e;
    } else return P_PARAM;
  }
  if (r < 0) return P_PARAMSYN;
  return smtpd_addr_parse(s + a0, a1 - a0, 0, utf8, p);
}
