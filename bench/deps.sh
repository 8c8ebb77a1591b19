#!/bin/bash
# What `make bench` needs beyond lib/sh/deps.sh: Postfix's programs (smtp-sink for figure 5,
# and a whole private Postfix for COMPARE=postfix), unpacked from Debian's package into
# build/postfix. The package is never installed: installing it would make Postfix the
# machine's MTA (and remove exim4 where that is installed), write /etc/postfix and start a
# daemon on port 25 at the next boot. The unpacked programs run with LD_LIBRARY_PATH pointing
# RUNPATH is set (patchelf) to build/postfix/usr/lib/postfix. Its libraries (libicu72,
# libssl3, libsasl2-2, libdb5.3, libnsl2) and patchelf are installed here if missing.
set -eu
cd "$(dirname "$0")/.."
[ -f build/postfix/.ready ] && exit 0
libs="libdb5.3 libicu72 libnsl2 libsasl2-2 libssl3 patchelf"
missing=""
for p in $libs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench/deps.sh: missing Debian packages:$missing (apt-get install$missing)" >&2
    exit 1
  fi
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # apt's _apt user writes the download there
echo "bench: unpacking Debian's postfix into build/postfix (not installed)"
if ! (cd "$tmp" && apt-get download postfix >/dev/null 2>&1); then
  [ "$(id -u)" = 0 ] && { apt-get update -qq >/dev/null 2>&1 || true; }
  (cd "$tmp" && apt-get download postfix >/dev/null) || { echo "bench/deps.sh: apt-get download postfix failed: no smtp-sink, no COMPARE=postfix" >&2; exit 0; }
fi
mkdir -p build/postfix
for d in "$tmp"/*.deb; do dpkg -x "$d" build/postfix; done
# dpkg -x keeps postdrop's and postqueue's set-gid bits: drop them. The bench runs them as
# root, and a set-gid program ignores LD_LIBRARY_PATH (so it would not find its libraries).
chmod -R ug-s build/postfix
# Their RUNPATH is /usr/lib/postfix, where nothing is installed; and sendmail runs postdrop
# with a cleaned environment, so LD_LIBRARY_PATH does not reach it: point RUNPATH here.
lib=$(pwd)/build/postfix/usr/lib/postfix
for f in build/postfix/usr/sbin/* build/postfix/usr/lib/postfix/sbin/* build/postfix/usr/lib/postfix/*.so; do
  if [ -f "$f" ] && head -c 4 "$f" | grep -q ELF; then patchelf --set-rpath "$lib" "$f"; fi
done
touch build/postfix/.ready
exit 0
