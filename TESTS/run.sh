#!/bin/bash
# The test runner `make check` calls after the build. Runs, in order, every build/test/test_*
# binary, every TESTS/*.sh and every TESTS/test_*.py (python3 -u), each under `timeout`.
# A test prints `PASS label`, `FAIL label: why` or `SKIP label: why` lines on stdout; the
# runner shows every line prefixed with the file's name, counts the results, and ends with
# exactly `N passed, N failed` (`, N skipped` when any were) and exit 1 if any failed.
# A file that exits non-zero without a FAIL line, prints no result at all, or times out
# counts as one FAIL. Its stderr goes to build/test-logs/NAME.err (tail shown on failure).
#
# Environment: TESTS=pattern runs only the files whose path matches *pattern* (a glob);
# TEST_TIMEOUT=seconds per file (default 600, 1800 with MRTEST_SANITIZE=1). `make check SANITIZE=1` sets MRTEST_SANITIZE=1
# and MRTEST_SANLOG, the folder where the sanitized programs write their ASan/UBSan reports
# (TESTS/sanitize/sanopts.c): after each file, every report there is a FAIL of that file,
# shown and moved to build/test-logs/sanitizer/.
set -u
shopt -s nullglob lastpipe
cd "$(dirname "$0")/.." || exit 111

limit=${TEST_TIMEOUT:-600}
# sanitized programs are several times slower (mrinst.SLOW stretches a test's own bounds x5):
# the default per-file limit stretches x3
[ "${MRTEST_SANITIZE:-}" = 1 ] && [ -z "${TEST_TIMEOUT:-}" ] && limit=1800
# The sanitized run is for the reports, not for volume: every test runs, but the stress tests
# move less mail (the plain run keeps the full figures), so that CI's two runs stay within
# an hour on 2 cores. Each can still be set by hand.
if [ "${MRTEST_SANITIZE:-}" = 1 ]; then
  export MRTEST_BURST=${MRTEST_BURST:-1000} MRTEST_LOAD_SECONDS=${MRTEST_LOAD_SECONDS:-30}
fi
pattern=${TESTS:-}
budget=1200 # the whole `make check` must stay under 20 minutes on 2 cores
logdir=build/test-logs
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the checkout
mkdir -p "$logdir" || exit 111
sanlog=${MRTEST_SANLOG:-}
if [ -n "$sanlog" ]; then
  # sticky and world-writable: the programs run as several uids, each writes its own report
  mkdir -p "$sanlog" "$logdir/sanitizer" && chmod 1777 "$sanlog" || exit 111
  stale=("$sanlog"/*)
  if [ ${#stale[@]} -gt 0 ]; then
    echo "== moving ${#stale[@]} sanitizer reports of an earlier run to $logdir/sanitizer/old"
    mkdir -p "$logdir/sanitizer/old" && mv -f "${stale[@]}" "$logdir/sanitizer/old/"
  fi
fi
sanreports=0

files=()
for f in build/test/test_*; do
  [ -f "$f" ] && [ -x "$f" ] && files+=("$f")
done
for f in TESTS/*.sh; do
  [ "$f" = TESTS/run.sh ] || files+=("$f")
done
for f in TESTS/test_*.py; do
  files+=("$f")
done

pass=0 fail=0 skip=0
t_all=$EPOCHREALTIME
durations=()
for f in "${files[@]}"; do
  # shellcheck disable=SC2053 # the pattern is a glob on purpose
  if [ -n "$pattern" ] && [[ $f != *$pattern* ]]; then continue; fi
  name=${f##*/}
  case $f in
  *.sh) cmd=(bash "$f") ;;
  *.py) cmd=(python3 -u "$f") ;;
  *) cmd=("./$f") ;;
  esac
  err="$logdir/$name.err"
  fp=0 ff=0 fs=0
  t0=$EPOCHREALTIME
  timeout -k 15 "$limit" "${cmd[@]}" </dev/null 2>"$err" | while IFS= read -r line || [ -n "$line" ]; do
    printf '%s: %s\n' "$name" "$line"
    case $line in
    PASS | "PASS "* | "PASS:"*) fp=$((fp + 1)) ;;
    FAIL | "FAIL "* | "FAIL:"*) ff=$((ff + 1)) ;;
    SKIP | "SKIP "* | "SKIP:"*) fs=$((fs + 1)) ;;
    esac
  done
  rc=${PIPESTATUS[0]}
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  if [ "$rc" = 124 ] || { [ "$rc" = 137 ] && awk -v s="$secs" -v l="$limit" 'BEGIN { exit !(s >= l) }'; }; then
    echo "$name: FAIL $name: timed out after $limit s"
    ff=$((ff + 1))
  elif [ "$rc" != 0 ] && [ "$ff" = 0 ]; then
    echo "$name: FAIL $name: exited $rc without a FAIL line"
    ff=$((ff + 1))
  elif [ "$rc" = 0 ] && [ $((fp + ff + fs)) = 0 ]; then
    echo "$name: FAIL $name: printed no PASS, FAIL or SKIP line"
    ff=$((ff + 1))
  fi
  if [ -n "$sanlog" ]; then
    for r in "$sanlog"/*; do
      [ -f "$r" ] || continue
      echo "$name: FAIL $name: sanitizer report ${r##*/}"
      grep -m 12 -E 'ERROR|SUMMARY|runtime error|^    #[0-9] ' "$r" | sed "s|^|$name: report: |"
      mv -f "$r" "$logdir/sanitizer/$name.${r##*/}"
      ff=$((ff + 1)) sanreports=$((sanreports + 1))
    done
  fi
  if [ "$ff" != 0 ] && [ -s "$err" ]; then
    echo "$name: --- last lines of $err:"
    tail -n 30 "$err" | sed "s|^|$name: stderr: |"
  fi
  echo "== $name: $secs s, $fp passed, $ff failed, $fs skipped (exit $rc)"
  durations+=("$secs $name")
  pass=$((pass + fp)) fail=$((fail + ff)) skip=$((skip + fs))
done

total=$(awk -v a="$t_all" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
if [ ${#durations[@]} -gt 0 ]; then
  echo "== durations, longest first:"
  printf '%s\n' "${durations[@]}" | sort -rn | head -n 10 | sed 's/^/==   /'
fi
echo "== total: $total s for ${#durations[@]} files (budget for make check: $budget s)"
if [ -n "$sanlog" ]; then
  echo "== sanitizers: $sanreports reports (kept in $logdir/sanitizer/)"
  # the budget is the plain run's: sanitized programs are several times slower
  [ "$total" -gt "$budget" ] && echo "== note: the sanitized run took longer than the plain run's $budget s budget (expected)"
elif [ "$total" -gt "$budget" ]; then
  echo "== WARNING: the tests took longer than the $budget s budget"
fi
summary="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && summary="$summary, $skip skipped"
echo "$summary"
[ "$fail" = 0 ] || exit 1
exit 0
