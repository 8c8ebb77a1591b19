# DKIM signing's part of an instance (issue 16): sourced by lib/sh/setup.sh, in the instance
# folder, with $home, $root and the functions say, warn, die. As root it creates the role
# user mrdkim, the only one that reads the private keys (control/dkim/DOMAIN/key.pem, made by
# bin/mailroom-dkimkey; owners and modes in lib/sh/modes). mailroom-start runs
# bin/mailroom-dkimsign as mrdkim when control/dkim/ exists.

dkim_setup() {
  if [ "$root" = 1 ]; then
    if ! id -u mrdkim >/dev/null 2>&1; then
      if getent group mrdkim >/dev/null; then gopt=(-g mrdkim); else gopt=(-U); fi
      useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin "${gopt[@]}" mrdkim \
        || die "unable to create user mrdkim" 111
      say "created user mrdkim"
    fi
    [ "$(id -u mrdkim)" != 0 ] || die "role user mrdkim has uid 0"
    # mrdkim needs no other role's files: in particular not users/password.cdb
    for g in $(id -Gn mrdkim); do
      [ "$g" = mrauth ] && die "user mrdkim is in group mrauth: it must not read users/password.cdb (gpasswd -d mrdkim mrauth)"
    done
    # the group mrdkim opens control/dkim/: no other role may be in it
    for r in mrqueue mrsend mrremote mrsmtpd mrlog mrmail mrtlsd mrauth mrfetch; do
      id -u "$r" >/dev/null 2>&1 || continue
      for g in $(id -Gn "$r"); do
        [ "$g" = mrdkim ] && die "user $r is in group mrdkim: it must not read the DKIM keys (gpasswd -d $r mrdkim)"
      done
    done
  fi
  if [ -d control/dkim ]; then
    say "DKIM: keys for $(find control/dkim -mindepth 1 -maxdepth 1 -type d | wc -l) domain(s) in control/dkim/"
  fi
  return 0
}
dkim_setup
