# The admin's choices for an instance's services: where each one listens (address and port,
# IPv4 or IPv6), whether port 25 offers STARTTLS, which certificate TLS uses, and the DNS
# server the services ask (DNSCACHEIP). Sourced by lib/sh/setup.sh before it changes
# anything; the setup.d parts read the result in the array svc (svc[SMTP_PORT] ...).
#
# The values come from control/services, NAME=value lines that setup writes once, when the
# file is missing, and then never touches: re-running setup (after an upgrade, say) keeps
# every line an admin edited. A variable set (non-empty) in setup's own environment, such as
# `make run SUBMISSIONS_PORT=4650`, overrides the file for that one run and is said so; the
# file still wins on the next run without it. A value that is wrong stops setup before
# anything is written, with the line it came from.
# shellcheck shell=bash

SERVICES_FILE=control/services
SERVICES_VARS="SMTP_IP SMTP_PORT SMTP_STARTTLS SUBMISSION_IP SUBMISSION_PORT SUBMISSIONS_IP SUBMISSIONS_PORT POP3_IP POP3_PORT POP3S_IP POP3S_PORT TLS_CERT TLS_KEY DNSCACHEIP"
# Loopback and ports above 1024 for `make run`: a demo reachable from this host only, and
# one that an ordinary user can start. A real host edits control/services.
declare -A svc_default=(
  [SMTP_IP]=127.0.0.1 [SMTP_PORT]=2525 [SMTP_STARTTLS]=yes
  [SUBMISSION_IP]=127.0.0.1 [SUBMISSION_PORT]=2587
  [SUBMISSIONS_IP]=127.0.0.1 [SUBMISSIONS_PORT]=2465
  [POP3_IP]=127.0.0.1 [POP3_PORT]=2110
  [POP3S_IP]=127.0.0.1 [POP3S_PORT]=2995
  [TLS_CERT]='' [TLS_KEY]='' [DNSCACHEIP]=''
)
declare -A svc=()

# 0 if $1 is a dotted-quad IPv4 address.
svc_ip4_ok() {
  local -a o
  local x
  [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  IFS=. read -ra o <<<"$1"
  for x in "${o[@]}"; do [ $((10#$x)) -le 255 ] || return 1; done
}

# 0 if $1 is an IPv6 address in text form (RFC 4291 2.2: eight groups of 1-4 hex digits,
# at most one "::", an IPv4 address as the last 32 bits). No zone (%eth0): tcpserver has none.
svc_ip6_ok() {
  local a=$1 head tail part g n=0
  local -a gs
  [[ $a == *:* && $a =~ ^[0-9A-Fa-f:.]+$ ]] || return 1
  if [[ $a == *.* ]]; then
    svc_ip4_ok "${a##*:}" || return 1
    a=${a%:*}:0:0 # the IPv4 part counts as two groups
  fi
  if [[ $a == *::* ]]; then
    head=${a%%::*} tail=${a#*::}
    [[ $tail == *::* ]] && return 1
  else
    head=$a tail=
  fi
  for part in "$head" "$tail"; do
    [ -z "$part" ] && continue
    [[ $part == :* || $part == *: ]] && return 1
    IFS=: read -ra gs <<<"$part"
    for g in "${gs[@]}"; do
      [[ $g =~ ^[0-9A-Fa-f]{1,4}$ ]] || return 1
      n=$((n + 1))
    done
  done
  if [[ $a == *::* ]]; then [ $n -le 7 ]; else [ $n = 8 ]; fi
}

# The error for NAME=VALUE, empty when it is right.
svc_error() {
  local name=$1 v=$2
  case $name in
    *_IP)
      [ "$v" = 0 ] || svc_ip4_ok "$v" || svc_ip6_ok "$v" \
        || echo "$name=$v is not an IPv4 or IPv6 address (0 for every address of the host)" ;;
    *_PORT)
      if [ "$v" != off ] && ! { [[ $v =~ ^[1-9][0-9]{0,4}$ ]] && [ "$v" -le 65535 ]; }; then
        echo "$name=$v is not a port number 1..65535 (or off)"
      fi ;;
    SMTP_STARTTLS)
      case $v in yes | no) ;; *) echo "$name=$v: want yes or no" ;; esac ;;
    TLS_CERT | TLS_KEY)
      [ -z "$v" ] || [[ $v =~ ^/[A-Za-z0-9/._+@,=-]+$ && ! $v =~ (^|/)\.\.?(/|$) ]] \
        || echo "$name=$v: want an absolute path of letters, digits and /._+@,=- (or nothing: control/server*.pem)" ;;
    DNSCACHEIP)
      [ -z "$v" ] || svc_ip4_ok "$v" || svc_ip6_ok "$v" \
        || echo "$name=$v is not one IPv4 or IPv6 address (or nothing: the environment, else /etc/resolv.conf)" ;;
  esac
}

# Reads control/services into svc (defaults for what it does not name); dies on a bad line.
svc_read() {
  local f=$1 line name v n=0 e
  local -A known=()
  for name in $SERVICES_VARS; do known[$name]=1 svc[$name]=${svc_default[$name]}; done
  [ -e "$f" ] || return 0
  [ -r "$f" ] || die "cannot read $f" 111
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    [[ $line =~ ^([A-Z0-9_]+)=([^[:space:]\"\'\`\$\;\\#]*)([[:space:]]+#.*)?[[:space:]]*$ ]] \
      || die "$f line $n: want NAME=value, no quotes, spaces or shell syntax (got '$line')"
    name=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
    [ -n "${known[$name]:-}" ] || die "$f line $n: unknown name $name (known: $SERVICES_VARS)"
    [ "$name" != "${name%_IP}" ] && [ "$v" = :: ] && v=0 # tcpserver's "every address"
    e=$(svc_error "$name" "$v")
    [ -z "$e" ] || die "$f line $n: $e"
    svc[$name]=$v
  done <"$f"
}

# A non-empty variable in the environment overrides the file for this run.
svc_env() {
  local name v e
  for name in $SERVICES_VARS; do
    v=${!name:-}
    [ -n "$v" ] || continue
    [ "$name" != "${name%_IP}" ] && [ "$v" = :: ] && v=0
    e=$(svc_error "$name" "$v")
    [ -z "$e" ] || die "from the environment: $e"
    if [ "$v" != "${svc[$name]}" ]; then
      [ -e "$home/$SERVICES_FILE" ] && say "$name=$v from the environment, for this run (control/services says ${svc[$name]:-nothing}; edit it to keep the change)"
      svc[$name]=$v
    fi
  done
}

# Writes control/services when it is missing, with the values of this run.
svc_write() {
  local f=$SERVICES_FILE
  [ -e "$f" ] && return 0
  cat >"$f.tmp" <<EOF
# Where the services of this instance listen, and the DNS server they use. lib/sh/setup.sh
# (make setup) reads this file and never rewrites it: edit it, then run make setup again,
# which rewrites the run scripts; svscan (or runsv) restarts a service whose run script
# changed only after svc -t service/NAME (sv term runit/NAME).
# One NAME=value a line, no quotes (a # after a space starts a comment). An address is IPv4 (192.0.2.1) or IPv6 (2001:db8::1,
# ::1); 0 is every address of the host, IPv4 and IPv6. A port of off writes the service
# down (a file service/NAME/down: it is not started).
# SMTP: the MX (port 25 on a real host); tcpserver rules in control/smtp.rules
SMTP_IP=${svc[SMTP_IP]}
SMTP_PORT=${svc[SMTP_PORT]}
# STARTTLS on the SMTP port (RFC 3207), through mailroom-tlsd: yes or no
SMTP_STARTTLS=${svc[SMTP_STARTTLS]}
# submission (RFC 6409, port 587): STARTTLS, then AUTH, then relay
SUBMISSION_IP=${svc[SUBMISSION_IP]}
SUBMISSION_PORT=${svc[SUBMISSION_PORT]}
# submission over implicit TLS (RFC 8314, port 465): AUTH, then relay
SUBMISSIONS_IP=${svc[SUBMISSIONS_IP]}
SUBMISSIONS_PORT=${svc[SUBMISSIONS_PORT]}
# POP3 (port 110; USER/PASS only on loopback or after STLS) and POP3 over TLS (port 995)
POP3_IP=${svc[POP3_IP]}
POP3_PORT=${svc[POP3_PORT]}
POP3S_IP=${svc[POP3S_IP]}
POP3S_PORT=${svc[POP3S_PORT]}
# The certificate chain and key (PEM) for every TLS service, absolute paths; empty:
# control/servercert.pem and control/serverkey.pem (a self-signed pair made by setup when
# missing; replace them with your own, or name yours here)
TLS_CERT=${svc[TLS_CERT]}
TLS_KEY=${svc[TLS_KEY]}
# The DNS server the services ask (mailroom-remote's MX and address lookups), one IPv4 or
# IPv6 address, as djbdns tools read DNSCACHEIP; empty: the environment svscan was started
# with, else /etc/resolv.conf
DNSCACHEIP=${svc[DNSCACHEIP]}
EOF
  mv -f "$f.tmp" "$f"
  say "control/services: the services' addresses and ports (edit it; setup keeps it)"
}

# "IP:PORT", with brackets for IPv6, for banners.
svc_where() {
  case $1 in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac
}

# Marks service NAME down (port off) in both supervisors' folders, or up again.
svc_down() {
  local name=$1 d
  for d in service runit; do
    [ -d "$d/$name" ] && : >"$d/$name/down"
    rm -f "$d/$name/banner"
  done
  return 0
}
svc_up() {
  rm -f "service/$1/down" "runit/$1/down"
}
