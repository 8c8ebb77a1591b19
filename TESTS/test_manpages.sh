#!/bin/bash
# Every man page in doc/ renders without a warning: groff -man -ww, and man -l as a reader
# would open it; every program built has its page. One PASS/FAIL line per page.
set -u
cd "$(dirname "$0")/.." || exit 111
fail=0
if ! command -v groff >/dev/null || ! command -v man >/dev/null; then
  echo "SKIP manpages: groff or man is not installed (Debian packages groff, man-db; lib/sh/deps.sh)"
  exit 0
fi
shopt -s nullglob
pages=(doc/*.[158])
[ ${#pages[@]} -gt 0 ] || { echo "FAIL manpages: no page in doc/"; exit 1; }
for p in "${pages[@]}"; do
  w=$(groff -man -ww -z "$p" 2>&1)
  if [ -n "$w" ]; then
    echo "FAIL groff -ww $p: $(echo "$w" | head -n 3 | tr '\n' ' ')"
    fail=1
  else
    echo "PASS groff -ww $p"
  fi
  out=$(MANWIDTH=80 timeout 30 man --warnings=w -l "$p" 2>"build/manpage.err")
  w=$(cat build/manpage.err)
  if [ -n "$w" ] || ! grep -q '^NAME' <<<"$out"; then
    echo "FAIL man -l $p: ${w:-no NAME section rendered}"
    fail=1
  else
    echo "PASS man -l $p"
  fi
done
rm -f build/manpage.err
for b in build/bin/mailroom-* build/bin/mailq; do
  n=$(basename "$b")
  if [ -e "doc/$n.8" ]; then echo "PASS man page for $n"; else echo "FAIL man page for $n: no doc/$n.8"; fail=1; fi
done
exit $fail
