#!/bin/bash
# Runs one libFuzzer target for a set time and appends what it did to TESTS/fuzz/RUNLOG,
# the committed record that each target ran long enough (issue 7: >= 600 s in total).
# Usage: TESTS/fuzz/run.sh NAME SECONDS     (from the top of the tree; called by `make fuzz`)
# The line: date, target, seconds, executions, commit, result (ok or crash/the artifact).
# Seconds and executions come from libFuzzer's final "Done N runs in S second(s)" line;
# when the run stops on a crash there is no such line, so the wall time and the last
# "#N" status line stand in.
cd "$(dirname "$0")/../.." || exit 111
n=$1
secs=$2
b=build/fuzz/fuzz_$n
case $n in ''|*/*|.*) echo "fuzz: bad target name '$n'" >&2; exit 100 ;; esac
case $secs in ''|*[!0-9]*) echo "fuzz: bad seconds '$secs'" >&2; exit 100 ;; esac
[ -x "$b" ] || { echo "fuzz: $b not built" >&2; exit 111; }
mkdir -p "build/fuzz/corpus/$n" build/fuzz/artifacts build/fuzz/logs "TESTS/fuzz/$n"
log=build/fuzz/logs/$n.$(date -u +%Y%m%dT%H%M%S).log
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# the log itself is no change to the code that ran
git diff --quiet HEAD -- . ':!TESTS/fuzz/RUNLOG' 2>/dev/null || commit=$commit+dirty
echo "fuzz: $n for ${secs}s, log $log"
start=$(date +%s)
nice -n 19 "$b" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="build/fuzz/artifacts/$n-" \
  "build/fuzz/corpus/$n" "TESTS/fuzz/$n" >"$log" 2>&1
rc=$?
end=$(date +%s)
done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
if [ -n "$done_line" ]; then
  runs=$(printf '%s\n' "$done_line" | awk '{print $2}')
  ran=$(printf '%s\n' "$done_line" | awk '{print $5}')
else
  runs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
  ran=$((end - start))
fi
result=ok
if [ $rc != 0 ]; then
  art=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -n 1 | awk '{print $5}')
  result="crash(rc=$rc${art:+ $art})"
fi
printf '%s %s seconds=%s runs=%s commit=%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "$n" "${ran:-0}" "${runs:-0}" "$commit" "$result" >>TESTS/fuzz/RUNLOG
tail -n 3 "$log"
exit $rc
