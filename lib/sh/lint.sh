#!/bin/bash
# Static analysis of every C file of the project: cppcheck, then clang-tidy (its checks are in
# .clang-tidy at the top of the tree). Run by `make lint`, which passes the build's flags in
# LINT_CFLAGS, LINT_OWFAT_INC and LINT_FUZZ_FLAGS; the defaults below are the Makefile's.
# Both tools see each file with the flags it is built with, through a compile database made
# here (build/lint/compile_commands.json). Exit 0 when neither tool reports anything, 1 on any
# finding, 111 when a tool is missing or cannot run.
set -u
cd "$(dirname "$0")/../.."

cflags=${LINT_CFLAGS:--std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 -g -Ilib -Ibuild -Wall -Wextra -Werror -Wvla -Wno-unused-parameter}
owfat=${LINT_OWFAT_INC:--Ibuild/owfat/usr/include}
fuzzflags=${LINT_FUZZ_FLAGS:--std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O1 -g -Ilib -Ibuild}
jobs=${LINT_JOBS:-$(nproc 2>/dev/null || echo 2)}
out=build/lint

for t in cppcheck clang-tidy; do
  command -v "$t" >/dev/null || { echo "lint: $t not found (make deps installs it)" >&2; exit 111; }
done
mkdir -p "$out" || exit 111
# This run's reports go to a folder of its own, so two runs (a full one and `make lint
# LINT_FILES=...`) never mix; a full run leaves its reports in build/lint/*.txt.
run=$(mktemp -d "$out/run.XXXXXX") || exit 111
trap 'rm -rf "$run"' EXIT
# remote/'s files include libowfat's headers from the private prefix that `make deps` unpacks.
[ -d build/owfat/usr/include ] || { echo "lint: build/owfat missing: run make deps first" >&2; exit 111; }

# --- the compile database: one entry per file, with the flags its Makefile rule uses ---------
files=()
entries=()
add() { # add FILE FLAGS...
  local f=$1 args="" a
  shift
  for a in cc "$@" -c "$f"; do args="$args${args:+, }\"$a\""; done
  files+=("$f")
  entries+=("  {\"directory\": \"$PWD\", \"file\": \"$f\", \"arguments\": [$args]}")
}
shopt -s nullglob
for f in lib/*.c queue/*.c send/*.c local/*.c smtpd/*.c pop3d/*.c TESTS/unit/*.c; do
  # shellcheck disable=SC2086 # the flags are words
  add "$f" $cflags
done
for f in remote/*.c; do
  # shellcheck disable=SC2086
  add "$f" $cflags $owfat
done
for f in TESTS/fuzz/*.c; do
  # shellcheck disable=SC2086
  add "$f" $fuzzflags
done
for f in bench/*.c; do
  # shellcheck disable=SC2086
  add "$f" $cflags -pthread
done
# `lint.sh FILE...` checks only those files (they must be among the ones above).
if [ $# -gt 0 ]; then
  sel=()
  for f in "$@"; do
    for i in "${!files[@]}"; do [ "${files[$i]}" = "$f" ] && sel+=("$f"); done
  done
  [ ${#sel[@]} = $# ] || { echo "lint: not a file of the tree's lint set: $*" >&2; exit 100; }
fi
{
  echo "["
  n=${#entries[@]}
  for ((i = 0; i < n; i++)); do
    if ((i + 1 < n)); then echo "${entries[$i]},"; else echo "${entries[$i]}"; fi
  done
  echo "]"
} >"$run/compile_commands.json" || exit 111
# the database stays for editors and for clang-tidy by hand (clang-tidy -p build/lint FILE)
cp "$run/compile_commands.json" "$out/compile_commands.json.new" && mv "$out/compile_commands.json.new" "$out/compile_commands.json" || exit 111

[ $# = 0 ] || files=("${sel[@]}")

# --- cppcheck --------------------------------------------------------------------------------
# Headers of the system and of skalibs are not given to cppcheck (missingIncludeSystem): it
# analyses our code, not theirs. cppcheck 2.10 does not know C11's _Noreturn (it does know
# gcc's attribute): without the -D, every `if (!p) die_x();` reads as "p may be null after".
echo "lint: cppcheck on ${#files[@]} files"
filter=()
[ $# = 0 ] || for f in "${files[@]}"; do filter+=("--file-filter=$f"); done
cppcheck -q -j "$jobs" --project="$run/compile_commands.json" "${filter[@]}" \
  '-D_Noreturn=__attribute__((noreturn))' \
  --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
  --suppress=missingIncludeSystem -i build/ --suppress='*:build/*' \
  --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
  >"$run/cppcheck.txt" 2>&1
crc=$?
cat "$run/cppcheck.txt"
cfind=$(grep -c ': \(error\|warning\|performance\|portability\|style\|information\): ' "$run/cppcheck.txt")
[ $crc = 0 ] || [ "$cfind" != 0 ] || cfind=1 # a failure without a finding line still fails

# --- clang-tidy ------------------------------------------------------------------------------
# One process per file, $jobs at a time, each into its own report, joined in file order so
# the output of two files never interleaves; only our own headers are reported.
echo "lint: clang-tidy on ${#files[@]} files"
mkdir "$run/tidy" || exit 111
hf="^$PWD/(lib|queue|send|local|smtpd|pop3d|remote|TESTS|bench)/"
printf '%s\0' "${files[@]}" |
  xargs -0 -n 1 -P "$jobs" sh -c 'r="$1/tidy/$(echo "$3" | tr / _).txt"
    clang-tidy -p "$1" --quiet --header-filter="$2" "$3" >"$r" 2>&1 || echo "lint: clang-tidy failed on $3" >>"$r"' sh "$run" "$hf"
for f in "${files[@]}"; do cat "$run/tidy/$(echo "$f" | tr / _).txt"; done >"$run/clang-tidy.txt"
# clang-tidy prints "N warnings generated" for warnings it filtered out (system headers): noise.
grep -v '^[0-9]* warnings\? \(and [0-9]* errors\? \)\?generated\.$' "$run/clang-tidy.txt"
tfind=$(grep -c ': \(warning\|error\): ' "$run/clang-tidy.txt")
tfail=$(grep -c '^lint: clang-tidy failed on ' "$run/clang-tidy.txt")
[ "$tfail" = 0 ] || [ "$tfind" != 0 ] || tfind=$tfail

[ $# != 0 ] || cp "$run/cppcheck.txt" "$run/clang-tidy.txt" "$out/"
total=$((cfind + tfind))
echo "lint: ${#files[@]} files, cppcheck $cfind finding(s), clang-tidy $tfind finding(s): $([ $total = 0 ] && echo clean || echo FAILED)"
[ $total = 0 ]
