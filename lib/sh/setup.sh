#!/bin/bash
# Sets up, or refreshes, a mailroom instance folder:  bash lib/sh/setup.sh HOME [BINDIR]
# (`make setup` runs it with the compiled-in home). BINDIR holds programs built with HOME
# compiled in; it defaults to the checkout's build/bin. Idempotent: a second run installs
# the programs again and re-applies owners and modes, and keeps the queue, the mailboxes,
# users/assign and the control files as they are. Where the services listen (and the DNS
# server they use) is control/services, written once and then the admin's: lib/sh/services.sh.
# As root it creates the role users and applies lib/sh/modes (the single owner/mode table);
# as an ordinary user everything belongs to that user and privilege separation is off.
set -eu
umask 022
shopt -s nullglob

say() { echo "mailroom: $*"; }
warn() { echo "mailroom: warning: $*" >&2; }
die() { echo "mailroom: fatal: $1" >&2; exit "${2:-100}"; }

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
MODES=$here/modes
ROLES="mrqueue mrsend mrremote mrsmtpd mrlog mrmail mrtlsd mrauth mrfetch"
# Programs an instance needs today; others found in BINDIR (smtpd, remote, ...) are
# installed too. A missing one is reported, not fatal: the parts are built one by one.
EXPECTED="mailroom-queue mailroom-inject mailroom-send mailroom-start mailroom-lspawn mailroom-rspawn mailroom-local mailroom-newu"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: setup.sh HOME [BINDIR]"; fi
home=$1
while [ "${home%/}" != "$home" ] && [ "$home" != / ]; do home=${home%/}; done
# The home is written into run scripts and users/assign (a ':'-separated format), and
# compared with the path compiled into the programs: keep it plain.
[[ $home =~ ^/[A-Za-z0-9/._+@,=_-]+$ ]] || die "HOME must be an absolute path of letters, digits and /._+@,=_- (got '$1')"
[[ $home =~ (^|/)\.\.?(/|$) ]] && die "HOME must not contain . or .. components (got '$1')"
bindir=${2:-$top/build/bin}
[ -d "$bindir" ] || die "no folder $bindir: build first (make)"

# --- the services' addresses and ports: the admin's control/services, checked before ----
# anything is changed (lib/sh/services.sh)
. "$here/services.sh"
svc_read "$home/$SERVICES_FILE"
svc_env

if [ "$(id -u)" = 0 ]; then
  root=1
  # Every role user must reach the home: a folder above it closed to others (a checkout in
  # /root, or in a mktemp -d folder, 0700) would leave each service failing with "access
  # denied" in a loop, so say it once here instead, before anything is made.
  d=$home
  while d=$(dirname "$d") && [ "$d" != / ]; do
    [ -d "$d" ] || continue
    perm=$(stat -c %a "$d")
    if (( (8#$perm & 1) == 0 )); then
      die "$d (mode $perm) is closed to others: the role users cannot reach $home. Pick a home they can reach (MAILROOM_HOME=/var/mailroom make run), or open it: chmod o+x $d"
    fi
  done
else
  root=0
  me=$(id -un)
  say "running as $me (not root): every program runs as $me, privilege separation is off"
fi

# --- the owner/mode table ----------------------------------------------------------------
t_path=() t_owner=() t_group=() t_mode=()
n=0
while read -r p o g m extra; do
  n=$((n + 1))
  case "$p" in ''|'#'*) continue ;; esac
  if [ -z "$m" ] || [ -n "${extra:-}" ]; then die "$MODES line $n: want: path owner group mode"; fi
  [[ $m =~ ^[0-7]{4}$ ]] || die "$MODES line $n: mode $m is not 4 octal digits"
  [[ $p != /* && ! $p =~ (^|/)\.\.(/|$) ]] || die "$MODES line $n: path $p must be relative"
  t_path+=("$p") t_owner+=("$o") t_group+=("$g") t_mode+=("$m")
done <"$MODES"

# 0 if the relative path matches the table pattern, component by component (a * never
# crosses a /, as in the glob that found the path).
matches() {
  local -a pa sa
  local i
  IFS=/ read -ra pa <<<"$1"
  IFS=/ read -ra sa <<<"$2"
  [ ${#pa[@]} = ${#sa[@]} ] || return 1
  for ((i = 0; i < ${#pa[@]}; i++)); do
    # shellcheck disable=SC2053 # the pattern is meant to glob
    [[ ${sa[i]} == ${pa[i]} ]] || return 1
  done
}

# Index of the last table line for a relative path, or -1.
entry_for() {
  local i found=-1
  for ((i = 0; i < ${#t_path[@]}; i++)); do
    if matches "${t_path[i]}" "$1"; then found=$i; fi
  done
  echo $found
}

# Gives file f the owner and mode of table line i. chown first: it clears a setuid bit.
set_entry() {
  local f=$1 i=$2 mode=${t_mode[$2]}
  if [ $root = 1 ]; then
    chown "${t_owner[i]}:${t_group[i]}" "$f"
  else
    mode=$(printf '%04o' $((8#$mode & ~8#4000)))
    # group mrauth's read right (users/password.cdb) would go to the user's own group here
    if [ "${t_group[i]}" = mrauth ]; then mode=$(printf '%04o' $((8#$mode & ~8#0070))); fi
  fi
  chmod "0$mode" "$f" # five digits: GNU chmod keeps a directory's setgid bit for "0755"
}

apply_modes() {
  local i f e
  local -A seen=()
  local -a paths=()
  for ((i = 0; i < ${#t_path[@]}; i++)); do
    for f in $home/${t_path[i]}; do
      f=${f#"$home"/}
      if [ -L "$home/$f" ] || [ ! -e "$home/$f" ] || [ -n "${seen[$f]:-}" ]; then continue; fi
      seen[$f]=1
      paths+=("$f")
    done
  done
  for f in "${paths[@]}"; do
    e=$(entry_for "$f")
    if [ "$e" -ge 0 ]; then set_entry "$home/$f" "$e"; fi
  done
}

# --- the programs must have this home compiled in: checked before anything is changed ---
for src in "$bindir"/mailroom-*; do
  if [ ! -f "$src" ] || [ ! -x "$src" ]; then continue; fi
  # mailroom-remote has no compiled-in home: it runs in the folder mailroom-rspawn gives it
  # and opens nothing by an absolute path (it links libowfat, not lib/'s auto_home)
  [ "${src##*/}" = mailroom-remote ] && continue
  if ! LC_ALL=C tr -c '[:print:]' '\n' <"$src" 2>/dev/null | grep -aqxF -- "$home"; then
    die "$src was built for another home, not $home: build with MAILROOM_HOME=$home make, or make relink RELINK_HOME=$home RELINK_OUT=DIR and pass DIR as BINDIR"
  fi
done

# --- role users --------------------------------------------------------------------------
if [ $root = 1 ]; then
  for r in $ROLES; do
    if ! id -u "$r" >/dev/null 2>&1; then
      if getent group "$r" >/dev/null; then gopt=(-g "$r"); else gopt=(-U); fi
      useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin "${gopt[@]}" "$r" \
        || die "unable to create user $r" 111
      say "created user $r"
    fi
    [ "$(id -u "$r")" != 0 ] || die "role user $r has uid 0"
  done
  # mailroom-remote talks to the network: its user must reach nothing in the queue but the
  # message it is handed (INTERNALS.md, "The remote channel").
  for g in $(id -Gn mrremote); do
    case $g in mrsend | mrqueue) die "user mrremote is in group $g: it must not read the queue (gpasswd -d mrremote $g)" ;; esac
  done
  # Group mrauth reads users/password.cdb (the SMTP AUTH verifier): no other role may be in it.
  for r in $ROLES; do
    [ "$r" = mrauth ] && continue
    for g in $(id -Gn "$r"); do
      [ "$g" = mrauth ] && die "user $r is in group mrauth: it must not read users/password.cdb (gpasswd -d $r mrauth)"
    done
  done
  mailuser=mrmail mailuid=$(id -u mrmail) mailgid=$(id -g mrmail)
  # The role users must be able to walk down to the instance.
  d=$(dirname "$home")
  while :; do
    if [ -d "$d" ] && [ $((8#$(stat -c %a "$d") & 1)) = 0 ]; then
      warn "$d is not searchable by others (mode $(stat -c %a "$d")): the role users cannot reach $home (chmod o+x $d)"
    fi
    [ "$d" = / ] && break
    d=$(dirname "$d")
  done
else
  mailuser=$me mailuid=$(id -u) mailgid=$(id -g)
fi

# --- folders -----------------------------------------------------------------------------
mkdir -p "$home"
cd "$home"
mkdir -p bin control users queue/tmp queue/new queue/mess queue/info queue/lock queue/bad \
  mail/demo/Maildir/tmp mail/demo/Maildir/new mail/demo/Maildir/cur service runit log
if [ ! -p queue/lock/trigger ]; then
  rm -f queue/lock/trigger
  mkfifo -m 0622 queue/lock/trigger
fi
# Queue control (mailroom-qctl -> mailroom-send): a FIFO only root and mrsend may write.
if [ ! -p queue/lock/ctl ]; then
  rm -f queue/lock/ctl
  mkfifo -m 0600 queue/lock/ctl
fi

# --- programs ----------------------------------------------------------------------------
# Each is copied beside its place, given its final owner and mode, then renamed: the
# setuid injector is never seen without its bit, nor a running program half-written.
install_prog() {
  local src=$1 name=$2 tmp=$home/bin/.$2.new e
  e=$(entry_for "bin/$name")
  if [ -f "bin/$name" ] && cmp -s "$src" "bin/$name"; then return 1; fi
  rm -f "$tmp"
  cp "$src" "$tmp"
  if [ "$e" -ge 0 ]; then set_entry "$tmp" "$e"; fi
  mv -f "$tmp" "bin/$name"
}
ninstalled=0 nsame=0
for src in "$bindir"/mailroom-*; do
  if [ ! -f "$src" ] || [ ! -x "$src" ]; then continue; fi
  if install_prog "$src" "$(basename "$src")"; then ninstalled=$((ninstalled + 1)); else nsame=$((nsame + 1)); fi
done
for p in $EXPECTED; do
  [ -x "$bindir/$p" ] || warn "$bindir/$p is missing (not built yet?): not installed"
done
if [ -e bin/mailroom-inject ]; then ln -sfn mailroom-inject bin/sendmail; else warn "no bin/mailroom-inject: no bin/sendmail either"; fi
if [ -e bin/mailroom-qread ]; then ln -sfn mailroom-qread bin/mailq; fi
say "programs: $ninstalled installed, $nsame unchanged, in $home/bin"

# --- control files: written only when missing, the admin's edits are kept ---------------
control_default() {
  [ -e "control/$1" ] && return 0
  printf '%s\n' "$2" >"control/$1.tmp"
  mv -f "control/$1.tmp" "control/$1"
  say "control/$1: $2"
}
control_default me localhost
control_default locals localhost
control_default concurrencylocal 10
# databytes: the largest message accepted, in bytes. qmail's 0 (unlimited) is refused as a
# default: every input from the network is bounded (DESIGN.md, guarantee 3). 50 MiB.
control_default databytes 52428800
control_default defaultdelivery ./Maildir/
svc_write

# --- the demo mailbox: demo@localhost; postmaster, abuse, mailer-daemon: the alias user --
# As qmail's ~alias: the three role addresses go to the alias user (home $home/alias) with
# the address as extension, so ~alias/.qmail-postmaster etc. say where they go
# (lib/sh/setup.d/alias.sh writes them: demo's Maildir).
if [ ! -e users/assign ]; then
  {
    echo "=demo:$mailuser:$mailuid:$mailgid:$home/mail/demo:::"
    echo "+demo-:$mailuser:$mailuid:$mailgid:$home/mail/demo:-::"
    for a in postmaster abuse mailer-daemon; do
      echo "=$a:$mailuser:$mailuid:$mailgid:$home/alias:-:$a:"
    done
    echo "."
  } >users/assign.tmp
  mv -f users/assign.tmp users/assign
  say "users/assign: demo (mailbox $home/mail/demo/Maildir); postmaster, abuse, mailer-daemon (~alias)"
fi

# --- services for daemontools' svscan ----------------------------------------------------
# Writes file $1 with the content on stdin, mode 0755, only if it changed.
write_script() {
  local f=$1 new
  new=$(cat)
  if [ -f "$f" ] && [ "$(cat "$f")" = "$new" ]; then return 0; fi
  printf '%s\n' "$new" >"$f.tmp"
  chmod 0755 "$f.tmp"
  mv -f "$f.tmp" "$f"
}
# COMMAND as role user ROLE when we are root (setuidgid), else as ourselves: as_role ROLE COMMAND...
as_role() {
  if [ $root = 1 ]; then echo "setuidgid $*"; else echo "${*:2}"; fi
}
# One supervised service: service/NAME/run execs COMMAND with stderr in the log, and
# DNSCACHEIP of control/services in its environment when one is set;
# service/NAME/log/run runs multilog (as mrlog when root) into log/NAME.
write_service() {
  local name=$1 cmd="${*:2}" logcmd dns=
  [ -n "${svc[DNSCACHEIP]}" ] && dns="DNSCACHEIP=${svc[DNSCACHEIP]}; export DNSCACHEIP"$'\n'
  mkdir -p "service/$name/log" "log/$name"
  write_script "service/$name/run" <<EOF
#!/bin/sh
exec 2>&1
${dns}\
exec $cmd
EOF
  logcmd="multilog t $home/log/$name"
  logcmd=$(as_role mrlog "$logcmd")
  write_script "service/$name/log/run" <<EOF
#!/bin/sh
exec $logcmd
EOF
  # The same service for runit (runsv, runsvdir: README, "Supervision"), in runit/NAME:
  # runsv keeps its state in NAME/supervise, so the two supervisors never share a folder.
  # Run one of them, not both: multilog locks log/NAME.
  mkdir -p "runit/$name/log"
  write_script "runit/$name/run" <<EOF
#!/bin/sh
exec 2>&1
${dns}\
exec $cmd
EOF
  write_script "runit/$name/log/run" <<EOF
#!/bin/sh
exec $logcmd
EOF
}
write_service send "$home/bin/mailroom-start"
# The certificate of the TLS services, made when missing and checked (lib/sh/tlscert.sh):
# $tls_ok, $tls_args for setup.d/smtpd.sh (STARTTLS on port 25) and setup.d/tls.sh.
. "$here/tlscert.sh"
tls_cert_setup
# Each further service (smtpd, pop3d, ...) sets itself up in lib/sh/setup.d/NAME.sh, sourced
# here with $home, $bindir, $root, the array svc (control/services) and the functions above;
# it may write a one-line service/NAME/banner that run.sh prints.
for part in "$top"/lib/sh/setup.d/*.sh; do
  [ -f "$part" ] || continue
  # shellcheck disable=SC1090
  . "$part" || die "$part failed" 111
done
for t in svscan supervise multilog setuidgid svc svok; do
  command -v $t >/dev/null || warn "$t is not installed (Debian package daemontools): make run needs it"
done

# --- users/assign.cdb, then owners and modes of everything -------------------------------
if [ -x bin/mailroom-newu ]; then
  bin/mailroom-newu || die "bin/mailroom-newu failed: users/assign.cdb not updated" 111
else
  warn "no bin/mailroom-newu: users/assign.cdb not made"
fi
apply_modes
say "instance ready in $home"
