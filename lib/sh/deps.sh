#!/bin/bash
# Install what mailroom builds and runs with, from Debian's packages, when it is missing.
# Also unpacks libowfat into a private prefix (build/owfat): libowfat-dev conflicts with
# libcdb-dev (LIBRARIES.md, trap 2), so it is never installed system-wide.
set -eu
cd "$(dirname "$0")/../.."

pkgs="skalibs-dev libcdb-dev tinycdb ucspi-tcp-ipv6 daemontools python3 procps curl swaks clang libclang-rt-14-dev xinetd libwrap0 libbsd0 libevent-2.1-7 fetchmail mpop checkpw dnsmasq-base util-linux iproute2 libtls-dev openssl dovecot-pop3d runit chromium groff man-db cppcheck clang-tidy libssl-dev python3-dkim"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
updated=0
apt_update() {
  [ $updated = 1 ] && return 0
  apt-get update -qq >/dev/null 2>&1 || apt-get update -qq
  updated=1
}
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages:$missing; run 'make' once as root, or: apt-get install$missing" >&2
    exit 1
  fi
  echo "deps: installing$missing"
  apt_update
  # Packages such as openbsd-inetd or xinetd start their daemon on installation; the tests
  # start their own, so forbid that for the length of the install (policy-rc.d, exit 101).
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null || { [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
fi

if [ ! -f build/owfat/usr/lib/libowfat.a ] && [ ! -f build/owfat/usr/lib/x86_64-linux-gnu/libowfat.a ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "deps: unpacking libowfat into build/owfat"
  if ! (cd "$tmp" && apt-get download libowfat-dev libowfat0 >/dev/null 2>&1); then
    [ "$(id -u)" = 0 ] && apt_update
    (cd "$tmp" && apt-get download libowfat-dev libowfat0 >/dev/null)
  fi
  mkdir -p build/owfat
  for d in "$tmp"/*.deb; do dpkg -x "$d" build/owfat; done
fi
# openbsd-inetd cannot be installed beside xinetd (both are the inet-superserver), and the
# tests run under both: its binary is unpacked into build/inetd, its libraries are above.
if [ ! -x build/inetd/usr/sbin/inetd ]; then
  tmp2=$(mktemp -d)
  echo "deps: unpacking openbsd-inetd into build/inetd"
  if ! (cd "$tmp2" && apt-get download openbsd-inetd >/dev/null 2>&1); then
    [ "$(id -u)" = 0 ] && apt_update
    (cd "$tmp2" && apt-get download openbsd-inetd >/dev/null)
  fi
  mkdir -p build/inetd
  for d in "$tmp2"/*.deb; do dpkg -x "$d" build/inetd; done
  rm -rf "$tmp2"
fi
exit 0
