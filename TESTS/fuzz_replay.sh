#!/bin/bash
# Replays every fuzz target's corpus (TESTS/fuzz/NAME/, and build/fuzz/corpus/NAME/ when
# `make fuzz` has grown one) once, under ASan and UBSan: a crash on any input is a FAIL.
cd "$(dirname "$0")/.." || exit 1
status=0
found=0
for b in build/fuzz/fuzz_*; do
  [ -x "$b" ] || continue
  found=1
  n=${b#build/fuzz/fuzz_}
  files=$(find "TESTS/fuzz/$n" "build/fuzz/corpus/$n" -type f 2>/dev/null | head -n 5000)
  count=$(printf '%s\n' "$files" | grep -c .)
  if [ "$count" = 0 ]; then
    echo "FAIL fuzz corpus $n: no seed corpus in TESTS/fuzz/$n"
    status=1
    continue
  fi
  if out=$(printf '%s\n' "$files" | xargs -d '\n' timeout 300 "$b" -runs=0 2>&1); then
    echo "PASS fuzz corpus $n: $count inputs replayed"
  else
    # a trap of a target's own check prints its file:line; anything else, the last line
    why=$(printf '%s\n' "$out" | grep -m 3 -E 'ERROR|SUMMARY|runtime error|fuzz_.*\.c:[0-9]+:' | tr '\n' ' ')
    [ -n "$why" ] || why=$(printf '%s\n' "$out" | tail -n 1)
    echo "FAIL fuzz corpus $n: $why"
    status=1
  fi
done
[ $found = 1 ] || { echo "SKIP fuzz corpus: no fuzz targets built (clang missing?)"; }
exit $status
