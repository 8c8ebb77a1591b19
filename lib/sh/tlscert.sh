# The certificate of an instance's TLS services: sourced by lib/sh/setup.sh after
# lib/sh/services.sh, before the setup.d parts (setup.d/smtpd.sh puts port 25 behind
# mailroom-tlsd, setup.d/tls.sh writes submission, submissions and POP3S).
#
# The chain and key are TLS_CERT and TLS_KEY of control/services when the admin names
# them (a certificate kept elsewhere, e.g. by an ACME client), else control/servercert.pem
# and control/serverkey.pem: those are made, self-signed, only when missing, so an admin's
# own pair put there is kept. mailroom-tlsd loads them anew for each connection: a renewed
# certificate needs no restart. Setup checks that the pair loads and matches before it puts
# a service behind it; port 25 falls back to plain SMTP rather than refuse every connection.
# shellcheck shell=bash

# Sets tls_cert, tls_key (paths as mailroom-tlsd takes them: relative ones to the instance),
# tls_args (the -c/-k options, none for the defaults), and tls_ok=1 when they can be used.
tls_cert_setup() {
  local me
  tls_cert=${svc[TLS_CERT]:-control/servercert.pem}
  tls_key=${svc[TLS_KEY]:-control/serverkey.pem}
  tls_args=
  tls_ok=0
  if [ -n "${svc[TLS_CERT]}" ] || [ -n "${svc[TLS_KEY]}" ]; then
    if [ -z "${svc[TLS_CERT]}" ] || [ -z "${svc[TLS_KEY]}" ]; then
      warn "control/services names only one of TLS_CERT and TLS_KEY: no TLS services"
      return 0
    fi
    tls_args="-c $tls_cert -k $tls_key"
  fi
  if ! command -v openssl >/dev/null; then
    warn "openssl is not installed (Debian package openssl): no certificate, no TLS services"
    return 0
  fi
  if [ -z "$tls_args" ] && { [ ! -s control/servercert.pem ] || [ ! -s control/serverkey.pem ]; }; then
    me=$(head -n 1 control/me 2>/dev/null || true)
    [[ $me =~ ^[A-Za-z0-9._-]+$ ]] || me=localhost
    rm -f control/serverkey.pem.tmp control/servercert.pem.tmp
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
      -subj "/CN=$me" -addext "subjectAltName=DNS:$me,DNS:localhost,IP:127.0.0.1,IP:::1" \
      -keyout control/serverkey.pem.tmp -out control/servercert.pem.tmp) >/dev/null 2>&1 \
      || { warn "openssl could not make a certificate: no TLS services"; return 0; }
    chmod 600 control/serverkey.pem.tmp && chmod 644 control/servercert.pem.tmp
    mv -f control/serverkey.pem.tmp control/serverkey.pem && mv -f control/servercert.pem.tmp control/servercert.pem
    say "control/servercert.pem: a self-signed certificate for $me (replace it and control/serverkey.pem with your own)"
  fi
  tls_check "$tls_cert" "$tls_key" && tls_ok=1
  return 0
}

# 0 if the certificate and the key load and the key is the certificate's; else a warning.
tls_check() {
  local c k
  if ! c=$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null); then
    warn "$1 is not a readable PEM certificate: no TLS services"
    return 1
  fi
  if ! k=$(openssl pkey -in "$2" -pubout 2>/dev/null); then
    warn "$2 is not a readable PEM private key: no TLS services"
    return 1
  fi
  if [ "$c" != "$k" ]; then
    warn "$2 is not the key of $1: no TLS services"
    return 1
  fi
  if ! openssl x509 -in "$1" -noout -checkend 0 >/dev/null 2>&1; then
    warn "$1 has expired: clients that check it will refuse TLS"
  fi
}

# The options of mailroom-tlsd that say who runs what, as root: itself mrtlsd after it read
# the key (tlsd_u), the server program mrsmtpd (tlsd_s), the AUTH verifier mrauth (tlsd_a).
tlsd_ids() {
  tlsd_u='' tlsd_s='' tlsd_a=''
  if [ "$root" = 1 ]; then
    tlsd_u="-u $(id -u mrtlsd) -g $(id -g mrtlsd)"
    tlsd_s="-U $(id -u mrsmtpd) -G $(id -g mrsmtpd)"
    tlsd_a="-v $(id -u mrauth) -V $(id -g mrauth)"
  fi
}
