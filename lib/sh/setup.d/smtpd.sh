# mailroom-smtpd's part of an instance: sourced by lib/sh/setup.sh, in the instance folder,
# with $home, $bindir, $root (1 as root) and the functions say, warn and write_service.
# Writes, only when missing (an admin's edits are kept):
#   control/rcpthosts   the domains accepted from anyone: control/locals and control/me;
#   control/smtp.rules  tcprules source: 127.0.0.1 may relay (RELAYCLIENT, the local
#                       programs' submission port), everyone else may connect;
# and every time: control/smtp.cdb (tcprules), control/rcpthosts.cdb and recipients.cdb
# when they already exist (mailroom-newcontrol; a short list needs no cdb), the service
# service/smtpd (tcpserver on $SMTP_IP:$SMTP_PORT, default 127.0.0.1:2525, running
# mailroom-smtpd as mrsmtpd) and its one-line banner for run.sh.

smtp_ip=${SMTP_IP:-127.0.0.1}
smtp_port=${SMTP_PORT:-2525}

smtpd_setup() {
  local me rules ug=
  if [ ! -x bin/mailroom-smtpd ]; then
    warn "no bin/mailroom-smtpd: no SMTP service"
    return 0
  fi
  [[ $smtp_port =~ ^[0-9]{1,5}$ ]] && [ "$smtp_port" -ge 1 ] && [ "$smtp_port" -le 65535 ] \
    || { warn "SMTP_PORT=$smtp_port is not a port number: no SMTP service"; return 0; }
  [[ $smtp_ip =~ ^[0-9a-fA-F.:]+$ ]] || { warn "SMTP_IP=$smtp_ip is not an IP address: no SMTP service"; return 0; }

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
:allow
RULES
    mv -f $rules.tmp $rules
    say "control/smtp.rules: 127.0.0.1 may relay, others may send to control/rcpthosts"
  fi
  if ! command -v tcpserver >/dev/null || ! command -v tcprules >/dev/null; then
    warn "tcpserver or tcprules is not installed (Debian package ucspi-tcp-ipv6): no SMTP service"
    return 0
  fi
  tcprules control/smtp.cdb control/smtp.tmp <$rules || { warn "tcprules failed on $rules: no SMTP service"; return 0; }

  if [ "$root" = 1 ]; then ug="-u $(id -u mrsmtpd) -g $(id -g mrsmtpd)"; fi
  # -H -R -l: no DNS or ident lookups per connection; -c: at most 400 sessions at once, so
  # that control/smtpdlimits (per client, overload mode), not tcpserver, bounds a flood.
  mkdir -p slots/smtpd
  write_service smtpd "tcpserver -v -H -R -l $me -c 400 -b 64 -x $home/control/smtp.cdb $ug $smtp_ip $smtp_port $home/bin/mailroom-smtpd"
  echo "SMTP: $smtp_ip:$smtp_port" >service/smtpd/banner.tmp
  mv -f service/smtpd/banner.tmp service/smtpd/banner
  say "service/smtpd: SMTP on $smtp_ip:$smtp_port"
}
smtpd_setup
