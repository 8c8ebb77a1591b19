# TLS services of an instance: sourced by lib/sh/setup.sh, in the instance folder, with
# $home, $root, the array svc (control/services, lib/sh/services.sh), the certificate's
# $tls_ok and $tls_args (lib/sh/tlscert.sh) and the functions say, warn and write_service.
# Writes every time three services under mailroom-tlsd, each where control/services says:
#   service/submission   SMTP submission (RFC 6409), SUBMISSION_IP:SUBMISSION_PORT
#                        (default 127.0.0.1:2587): STARTTLS, then AUTH PLAIN/LOGIN against
#                        users/password.cdb (mailroom-checkpassword, verify-only, run by
#                        mailroom-tlsd's verifier as mrauth), then relay;
#   service/submissions  the same over implicit TLS (RFC 8314 section 3.3),
#                        SUBMISSIONS_IP:SUBMISSIONS_PORT (default 127.0.0.1:2465);
#   service/pop3s        POP3 over TLS, POP3S_IP:POP3S_PORT (default 127.0.0.1:2995).
# tcpserver runs them as root: mailroom-tlsd reads the key and switches to mrtlsd, the
# server program runs as mrsmtpd (smtpd) or stays root for the few lines mailroom-popup reads.
# shellcheck shell=bash

# One TLS service: tls_service NAME IP PORT BANNER COMMAND; PORT off marks it down. The @ of
# BANNER becomes the address.
tls_service() {
  local name=$1 ip=$2 port=$3 banner=$4
  if [ "$port" = off ]; then
    svc_down "$name"
    say "service/$name: off (control/services)"
    return 0
  fi
  write_service "$name" "${*:5}"
  svc_up "$name"
  printf '%s\n' "${banner/@/$(svc_where "$ip" "$port")}" >"service/$name/banner.tmp"
  mv -f "service/$name/banner.tmp" "service/$name/banner"
}

tls_setup() {
  local me tlsd p sub
  for p in mailroom-tlsd mailroom-smtpd mailroom-popup mailroom-checkpassword mailroom-pop3d; do
    if [ ! -x "bin/$p" ]; then warn "no bin/$p: no submission or POP3S service"; return 0; fi
  done
  command -v tcpserver >/dev/null || { warn "tcpserver is not installed: no submission or POP3S service"; return 0; }
  [ "$tls_ok" = 1 ] || { warn "no usable certificate: no submission, submissions or POP3S service"; return 0; }
  me=$(head -n 1 control/me 2>/dev/null || true)
  [[ $me =~ ^[A-Za-z0-9._-]+$ ]] || me=localhost
  tlsd_ids
  tlsd="$home/bin/mailroom-tlsd${tls_args:+ $tls_args}${tlsd_u:+ $tlsd_u}"
  # submission: AUTH through the verifier; MAILROOM_SUBMISSION makes mailroom-smtpd refuse
  # MAIL before AUTH (RFC 6409 section 4.3) whatever the client's address
  sub="$home/bin/mailroom-smtpd"
  sub="${tlsd_s:+$tlsd_s }-a $home/bin/mailroom-checkpassword${tlsd_a:+ $tlsd_a} $sub"
  tls_service submission "${svc[SUBMISSION_IP]}" "${svc[SUBMISSION_PORT]}" \
    "Submission: @ (STARTTLS, then AUTH as demo/demo)" \
    "env MAILROOM_SUBMISSION=1 tcpserver -v -H -R -l $me -c 40 -b 64 ${svc[SUBMISSION_IP]} ${svc[SUBMISSION_PORT]} $tlsd $sub"
  tls_service submissions "${svc[SUBMISSIONS_IP]}" "${svc[SUBMISSIONS_PORT]}" \
    "Submissions: @ (implicit TLS, then AUTH as demo/demo)" \
    "env MAILROOM_SUBMISSION=1 tcpserver -v -H -R -l $me -c 40 -b 64 ${svc[SUBMISSIONS_IP]} ${svc[SUBMISSIONS_PORT]} $tlsd -i $sub"
  tls_service pop3s "${svc[POP3S_IP]}" "${svc[POP3S_PORT]}" \
    "POP3S: @ (TLS, user demo, password demo)" \
    "tcpserver -v -R -H -l0 -c 40 ${svc[POP3S_IP]} ${svc[POP3S_PORT]} $tlsd -i $home/bin/mailroom-popup $me $home/bin/mailroom-checkpassword $home/bin/mailroom-pop3d Maildir"
}
tls_setup
