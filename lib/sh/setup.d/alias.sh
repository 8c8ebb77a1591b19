# The alias user's part of an instance (qmail's ~alias) and the virtual domains: sourced by
# lib/sh/setup.sh, in the instance folder, with $home, $root, $mailuser and say/warn.
# Writes, only when missing (an admin's edits are kept):
#   alias/.qmail-postmaster, .qmail-abuse, .qmail-mailer-daemon: where mail for those
#     addresses goes (users/assign sends them to the alias user, home alias/, extension
#     the address): demo's Maildir to start with;
# and every time control/virtualdomains.cdb when control/virtualdomains exists
# (mailroom-newcontrol virtualdomains; a malformed line leaves the old cdb and warns).

alias_setup() {
  local a
  mkdir -p alias
  for a in postmaster abuse mailer-daemon; do
    [ -e "alias/.qmail-$a" ] && continue
    echo "$home/mail/demo/Maildir/" >"alias/.qmail-$a.tmp"
    chmod 0644 "alias/.qmail-$a.tmp"
    mv -f "alias/.qmail-$a.tmp" "alias/.qmail-$a"
    say "alias/.qmail-$a: $home/mail/demo/Maildir/"
  done
  if [ -e control/virtualdomains ]; then
    if [ -x bin/mailroom-newcontrol ]; then
      bin/mailroom-newcontrol virtualdomains || warn "bin/mailroom-newcontrol virtualdomains failed: control/virtualdomains.cdb not updated"
    else
      warn "no bin/mailroom-newcontrol: control/virtualdomains.cdb not made"
    fi
  fi
}
alias_setup
