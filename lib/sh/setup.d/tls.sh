# TLS for an instance: sourced by lib/sh/setup.sh, in the instance folder, with $home,
# $root and the functions say, warn and write_service.
# Writes, only when missing (an admin's own certificate is kept): a self-signed certificate
# control/servercert.pem (0644) and its key control/serverkey.pem (root 0600, lib/sh/modes:
# only mailroom-tlsd reads it, as root, before it switches to mrtlsd); and every time two
# services under mailroom-tlsd:
#   service/submission  SMTP submission (RFC 6409) on 127.0.0.1:${SUBMISSION_PORT:-2587}:
#                       STARTTLS, then AUTH PLAIN/LOGIN against users/password.cdb
#                       (mailroom-checkpassword, verify-only, run by mailroom-tlsd's
#                       verifier as mrauth), then relay;
#   service/pop3s       POP3 over TLS on 127.0.0.1:${POP3S_PORT:-2995} (implicit TLS, RFC 8314).
# tcpserver runs them as root: mailroom-tlsd reads the key and switches to mrtlsd, the
# server program runs as mrsmtpd (smtpd) or stays root for the few lines mailroom-popup reads.

tls_port_ok() {
  [[ $1 =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

tls_setup() {
  local me sub=${SUBMISSION_PORT:-2587} pops=${POP3S_PORT:-2995} tu= su= au= p
  for p in mailroom-tlsd mailroom-smtpd mailroom-popup mailroom-checkpassword mailroom-pop3d; do
    if [ ! -x "bin/$p" ]; then warn "no bin/$p: no submission or POP3S service"; return 0; fi
  done
  command -v tcpserver >/dev/null || { warn "tcpserver is not installed: no submission or POP3S service"; return 0; }
  me=$(head -n 1 control/me 2>/dev/null || true)
  [[ $me =~ ^[A-Za-z0-9._-]+$ ]] || me=localhost
  if [ ! -s control/servercert.pem ] || [ ! -s control/serverkey.pem ]; then
    command -v openssl >/dev/null || { warn "openssl is not installed (Debian package openssl): no certificate, no TLS services"; return 0; }
    rm -f control/serverkey.pem.tmp control/servercert.pem.tmp
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
      -subj "/CN=$me" -addext "subjectAltName=DNS:$me,DNS:localhost,IP:127.0.0.1" \
      -keyout control/serverkey.pem.tmp -out control/servercert.pem.tmp) >/dev/null 2>&1 \
      || { warn "openssl could not make a certificate: no TLS services"; return 0; }
    chmod 600 control/serverkey.pem.tmp && chmod 644 control/servercert.pem.tmp
    mv -f control/serverkey.pem.tmp control/serverkey.pem && mv -f control/servercert.pem.tmp control/servercert.pem
    say "control/servercert.pem: a self-signed certificate for $me (replace it and control/serverkey.pem with your own)"
  fi
  if [ "$root" = 1 ]; then
    tu="-u $(id -u mrtlsd) -g $(id -g mrtlsd)"
    su="-U $(id -u mrsmtpd) -G $(id -g mrsmtpd)"
    # the AUTH verifier: group mrauth reads users/password.cdb (lib/sh/modes), never root
    au="-v $(id -u mrauth) -V $(id -g mrauth)"
  fi
  if tls_port_ok "$sub"; then
    write_service submission "env MAILROOM_SUBMISSION=1 tcpserver -v -H -R -l $me -c 40 -b 64 127.0.0.1 $sub $home/bin/mailroom-tlsd $tu $su -a $home/bin/mailroom-checkpassword $au $home/bin/mailroom-smtpd"
    echo "Submission: 127.0.0.1:$sub (STARTTLS, then AUTH as demo/demo)" >service/submission/banner.tmp
    mv -f service/submission/banner.tmp service/submission/banner
  else
    warn "SUBMISSION_PORT=$sub is not a port number: no submission service"
  fi
  if tls_port_ok "$pops"; then
    write_service pop3s "tcpserver -v -R -H -l0 -c 40 127.0.0.1 $pops $home/bin/mailroom-tlsd -i $tu $home/bin/mailroom-popup $me $home/bin/mailroom-checkpassword $home/bin/mailroom-pop3d Maildir"
    echo "POP3S: 127.0.0.1:$pops (TLS, user demo, password demo)" >service/pop3s/banner.tmp
    mv -f service/pop3s/banner.tmp service/pop3s/banner
  else
    warn "POP3S_PORT=$pops is not a port number: no POP3S service"
  fi
}
tls_setup
