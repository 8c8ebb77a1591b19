# The POP3 service of an instance; sourced by lib/sh/setup.sh after the programs are
# installed, with $home, $bindir, $root, the array svc (control/services, lib/sh/services.sh)
# and the functions say, warn and write_service.
# Writes service/pop3d (tcpserver on POP3_IP:POP3_PORT, default 127.0.0.1:2110, running mailroom-popup,
# mailroom-checkpassword and mailroom-pop3d), its banner line for run.sh, and the demo user
# demo/demo in users/password.cdb when it has no entry yet. Idempotent.
# shellcheck shell=bash

pop3_setup() {
  local ip=${svc[POP3_IP]} port=${svc[POP3_PORT]} me u g p
  for p in mailroom-popup mailroom-checkpassword mailroom-pop3d mailroom-passwd; do
    if [ ! -x "$home/bin/$p" ]; then warn "no $home/bin/$p: no POP3 service"; return 0; fi
  done
  command -v tcpserver >/dev/null || warn "tcpserver is not installed (Debian package ucspi-tcp-ipv6): the POP3 service needs it"

  # The greeting names the host; tcpserver: no DNS (-H, -l0), no ident (-R), 400 at once
  # (control/pop3dlimits, not tcpserver, bounds a flood: slots/pop3d).
  # It runs as root: mailroom-checkpassword must switch to each user.
  mkdir -p "$home/slots/pop3d"
  me=$(head -n 1 "$home/control/me" 2>/dev/null || true)
  [[ $me =~ ^[A-Za-z0-9.-]+$ ]] || me=localhost
  if [ "$port" = off ]; then
    svc_down pop3d
    say "service/pop3d: off (POP3_PORT=off in control/services)"
  else
    write_service pop3d "tcpserver -R -H -l0 -c 400 -- $ip $port $home/bin/mailroom-popup $me $home/bin/mailroom-checkpassword $home/bin/mailroom-pop3d Maildir"
    svc_up pop3d
    printf 'POP3: %s (user demo, password demo)\n' "$(svc_where "$ip" "$port")" >"$home/service/pop3d/banner.tmp"
    mv -f "$home/service/pop3d/banner.tmp" "$home/service/pop3d/banner"
  fi

  # The demo mailbox's owner: mrmail as root, else the user running this.
  if [ "$root" = 1 ]; then u=$(id -u mrmail) g=$(id -g mrmail); else u=$(id -u) g=$(id -g); fi
  if ! "$home/bin/mailroom-passwd" list | grep -q '^demo '; then
    printf 'demo\n' | "$home/bin/mailroom-passwd" -u "$u" -g "$g" -d "$home/mail/demo" add demo \
      || { warn "unable to add the POP3 user demo"; return 0; }
    say "users/password.cdb: POP3 user demo (password demo), mailbox $home/mail/demo/Maildir"
  fi
}
pop3_setup
