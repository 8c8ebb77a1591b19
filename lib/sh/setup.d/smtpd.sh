# mailroom-smtpd's part of an instance: sourced by lib/sh/setup.sh, in the instance folder,
# with $home, $bindir, $root (1 as root) and the functions say, warn and write_service.
# Writes, only when missing (an admin's edits are kept):
#   control/rcpthosts   the domains accepted from anyone: control/locals and control/me;
#   control/smtp.rules  tcprules source: 127.0.0.1 may relay (RELAYCLIENT, the local
#                       programs' submission port), everyone else may connect;
# and every time: control/smtp.cdb (tcprules), control/rcpthosts.cdb and recipients.cdb
# when they already exist (mailroom-newcontrol; a short list needs no cdb), the service
# service/smtpd (tcpserver on SMTP_IP:SMTP_PORT of control/services, lib/sh/services.sh;
# default 127.0.0.1:2525) and its one-line banner for run.sh. With SMTP_STARTTLS=yes (the
# default) and a usable certificate (lib/sh/tlscert.sh), tcpserver runs mailroom-tlsd, which
# offers STARTTLS (RFC 3207) and runs mailroom-smtpd as mrsmtpd; else mailroom-smtpd in clear,
# tcpserver itself as mrsmtpd. No AUTH on this port: that is submission's (setup.d/tls.sh).

# shellcheck shell=bash

smtpd_setup() {
  local me rules ug= smtp_ip=${svc[SMTP_IP]} smtp_port=${svc[SMTP_PORT]} prog tls=""
  if [ ! -x bin/mailroom-smtpd ]; then
    warn "no bin/mailroom-smtpd: no SMTP service"
    return 0
  fi
  if [ "$smtp_port" = off ]; then
    svc_down smtpd
    say "service/smtpd: off (SMTP_PORT=off in control/services)"
    return 0
  fi

  me=$(head -n 1 control/me 2>/dev/null || true)
  [[ $me =~ ^[A-Za-z0-9._-]+$ ]] || me=localhost
  if [ ! -e control/rcpthosts ]; then
    { sed -e 's/[[:space:]]*$//' -e '/^$/d' -e '/^#/d' control/locals 2>/dev/null; echo "$me"; } \
      | tr 'A-Z' 'a-z' | awk '!seen[$0]++' >control/rcpthosts.tmp
    mv -f control/rcpthosts.tmp control/rcpthosts
    say "control/rcpthosts: $(tr '\n' ' ' <control/rcpthosts)"
  fi
  if [ -x bin/mailroom-newcontrol ] && { [ -e control/rcpthosts.cdb ] || [ -e control/recipients.cdb ]; }; then
    bin/mailroom-newcontrol || warn "bin/mailroom-newcontrol failed: control/*.cdb not updated"
  fi

  rules=control/smtp.rules
  if [ ! -e $rules ]; then
    cat >$rules.tmp <<'RULES'
# tcprules(1) source for mailroom-smtpd, compiled to control/smtp.cdb by lib/sh/setup.sh
# (or: tcprules control/smtp.cdb control/smtp.tmp < control/smtp.rules).
# RELAYCLIENT lets a client send to any domain: give it only to your own hosts.
127.0.0.1:allow,RELAYCLIENT=""
::1:allow,RELAYCLIENT=""
:allow
RULES
    mv -f $rules.tmp $rules
    say "control/smtp.rules: 127.0.0.1 and ::1 may relay, others may send to control/rcpthosts"
  fi
  if ! command -v tcpserver >/dev/null || ! command -v tcprules >/dev/null; then
    warn "tcpserver or tcprules is not installed (Debian package ucspi-tcp-ipv6): no SMTP service"
    return 0
  fi
  tcprules control/smtp.cdb control/smtp.tmp <$rules || { warn "tcprules failed on $rules: no SMTP service"; return 0; }

  prog=$home/bin/mailroom-smtpd
  if [ "${svc[SMTP_STARTTLS]}" = yes ]; then
    if [ ! -x bin/mailroom-tlsd ]; then
      warn "no bin/mailroom-tlsd: no STARTTLS on SMTP"
    elif [ "$tls_ok" != 1 ]; then
      warn "no usable certificate: no STARTTLS on SMTP"
    else
      # tcpserver stays root: mailroom-tlsd reads the key, then becomes mrtlsd
      tlsd_ids
      prog="$home/bin/mailroom-tlsd${tls_args:+ $tls_args}${tlsd_u:+ $tlsd_u}${tlsd_s:+ $tlsd_s} $prog"
      tls=", STARTTLS"
    fi
  fi
  if [ -z "$tls" ] && [ "$root" = 1 ]; then ug="-u $(id -u mrsmtpd) -g $(id -g mrsmtpd) "; fi
  # -H -R -l: no DNS or ident lookups per connection; -c: at most 400 sessions at once, so
  # that control/smtpdlimits (per client, overload mode), not tcpserver, bounds a flood.
  mkdir -p slots/smtpd
  write_service smtpd "tcpserver -v -H -R -l $me -c 400 -b 64 -x $home/control/smtp.cdb $ug$smtp_ip $smtp_port $prog"
  svc_up smtpd
  echo "SMTP: $(svc_where "$smtp_ip" "$smtp_port")$tls" >service/smtpd/banner.tmp
  mv -f service/smtpd/banner.tmp service/smtpd/banner
  say "service/smtpd: SMTP on $(svc_where "$smtp_ip" "$smtp_port")$tls"
}
smtpd_setup
