#!/bin/bash
# mailroom-newu end to end: the real program, relinked with a temporary home, on good and bad
# users/assign files. One PASS/FAIL line per case; exit 1 if any failed.
# NEWU=path runs an already built mailroom-newu whose compiled-in home is $T (then T must be set).
set -u
cd "$(dirname "$0")/.." || exit 111

fails=0
pass() { echo "PASS newu: $1"; }
fail() { echo "FAIL newu: $1"; fails=$((fails + 1)); }
ok() { if [ "$1" = 0 ]; then pass "$2"; else fail "$2"; fi; }

if [ -z "${NEWU:-}" ]; then
  T=$(mktemp -d /tmp/mailroom-newu.XXXXXX)
  trap 'rm -rf "$T"' EXIT
  if ! make -s --no-print-directory relink RELINK_HOME="$T" RELINK_OUT="$T/build" >"$T/make.log" 2>&1; then
    cat "$T/make.log" >&2
    fail "make relink"
    exit 1
  fi
  NEWU=$T/build/mailroom-newu
fi
[ -x "$NEWU" ] || { fail "no program $NEWU"; exit 1; }
mkdir -p "$T/users"
A=$T/users/assign
CDB=$T/users/assign.cdb

newu() { "$NEWU" >"$T/out" 2>"$T/err"; echo $?; }
# value of KEY in the cdb, NULs shown as '|'
val() { cdb -q "$CDB" "$1" 2>/dev/null | tr '\0' '|'; }

# --- a good file ---
cat >"$A" <<'EOF'
=demo:mrmail:1001:1002:/srv/mail/demo:::
+demo-:mrmail:1001:1002:/srv/mail/demo:-::
=PostMaster:mrmail:1001:1002:/srv/mail/demo:::
+list-:lists:0002001:2002:/srv/lists:-:pre-:
.
EOF
rc=$(newu)
ok "$([ "$rc" = 0 ] && [ ! -s "$T/err" ]; echo $?)" "good file: exit 0, quiet (rc=$rc)"
ok "$([ "$(val '=demo')" = "mrmail|1001|1002|/srv/mail/demo|||" ]; echo $?)" "good file: =demo entry"
ok "$([ "$(val '+demo-')" = "mrmail|1001|1002|/srv/mail/demo|-||" ]; echo $?)" "good file: +demo- wildcard"
ok "$([ "$(val '=postmaster')" = "mrmail|1001|1002|/srv/mail/demo|||" ]; echo $?)" "good file: key lowercased"
ok "$([ "$(val '+list-')" = "lists|2001|2002|/srv/lists|-|pre-|" ]; echo $?)" "good file: uid canonical, prepend kept"
ok "$([ "$(cdb -l "$CDB" | grep -c "^+")" = 4 ]; echo $?)" "good file: 4 records"
ok "$([ "$(stat -c %a "$CDB")" = 644 ]; echo $?)" "good file: cdb mode 0644"
ok "$([ ! -e "$CDB.tmp" ]; echo $?)" "good file: no tmp left"
cp "$CDB" "$T/good.cdb"

# Each bad file: exit 100, the exact message, the old cdb untouched, no tmp left.
bad() { # label, expected stderr
  local rc
  rc=$(newu)
  ok "$([ "$rc" = 100 ]; echo $?)" "$1: exit 100 (rc=$rc)"
  ok "$([ "$(cat "$T/err")" = "$2" ]; echo $?)" "$1: message"
  [ "$(cat "$T/err")" = "$2" ] || echo "  got: $(cat "$T/err")" >&2
  ok "$(cmp -s "$CDB" "$T/good.cdb"; echo $?)" "$1: old cdb kept"
  ok "$([ ! -e "$CDB.tmp" ]; echo $?)" "$1: tmp removed"
}

printf '=demo:mrmail:1001:1002:/srv/mail/demo:::\n=other:u:1:1:/h:::\n=bad:u:12x:1:/h:::\n.\n' >"$A"
bad "non-numeric uid" "mailroom-newu: fatal: users/assign line 3: uid is not a number below 4294967295"

printf '=demo:mrmail:1001:1002:/srv/mail/demo:::\n=x:u:1:1:/h::\n.\n' >"$A"
bad "missing field" "mailroom-newu: fatal: users/assign line 2: fewer than 7 colon-ended fields (local:user:uid:gid:home:dash:ext:)"

printf '=demo:mrmail:1001:1002:/srv/mail/demo:::\n=root:root:0:0:/root:::\n.\n' >"$A"
bad "uid 0" "mailroom-newu: fatal: users/assign line 2: uid 0 (root) is not a mail user"

printf '=demo:mrmail:1001:1002:/srv/mail/demo:::\n+demo-:mrmail:1001:1002:/srv/mail/demo:-::\n' >"$A"
bad "missing final dot" "mailroom-newu: fatal: users/assign: no final . line (a truncated file is not applied)"

printf '=demo:mrmail:1001:1002:/srv/mail/de' >"$A"
bad "truncated mid-line" "mailroom-newu: fatal: users/assign line 1: fewer than 7 colon-ended fields (local:user:uid:gid:home:dash:ext:)"

: >"$A"
bad "empty file" "mailroom-newu: fatal: users/assign: no final . line (a truncated file is not applied)"

printf '=demo:mrmail:1001:1002:/srv/mail/demo:::\n.\n=late:u:1:1:/h:::\n' >"$A"
bad "data after dot" "mailroom-newu: fatal: users/assign line 3: data after the final . line"

printf '=demo:mrmail:1001:1002:/srv/mail/demo:::\r\n.\r\n' >"$A"
bad "CRLF lines" "mailroom-newu: fatal: users/assign line 1: control character in line"

printf '=de\0mo:mrmail:1001:1002:/srv/mail/demo:::\n.\n' >"$A"
bad "NUL byte" "mailroom-newu: fatal: users/assign line 1: NUL byte in line"

{ printf '=demo:mrmail:1001:1002:/'; head -c 5000 /dev/zero | tr '\0' h; printf ':::\n.\n'; } >"$A"
bad "line over 4096 bytes" "mailroom-newu: fatal: users/assign line 1: longer than 4096 bytes"

head -c 3000 /dev/urandom >"$A"
rc=$(newu)
ok "$([ "$rc" = 100 ] && grep -q '^mailroom-newu: fatal: users/assign line [0-9]*: ' "$T/err" && cmp -s "$CDB" "$T/good.cdb"; echo $?)" "binary junk: exit 100, old cdb kept (rc=$rc)"

# --- exactly 4096 bytes is read as a line (and then judged by its fields: no valid line is
# that long, every field being bounded) ---
{ printf '=long:u:1:1:/'; head -c $((4096 - 16)) /dev/zero | tr '\0' h; printf ':::\n.\n'; } >"$A"
ok "$([ "$(head -n 1 "$A" | tr -d '\n' | wc -c)" = 4096 ]; echo $?)" "the 4096-byte line is 4096 bytes"
bad "line of exactly 4096 bytes" "mailroom-newu: fatal: users/assign line 1: home folder too long"
{ printf '=long:u:1:1:/'; head -c $((4097 - 16)) /dev/zero | tr '\0' h; printf ':::\n.\n'; } >"$A"
bad "line of 4097 bytes" "mailroom-newu: fatal: users/assign line 1: longer than 4096 bytes"

# --- duplicates: the first wins, with a warning ---
printf '=demo:first:1:1:/a:::\n=demo:second:2:2:/b:::\n.\n' >"$A"
rc=$(newu)
ok "$([ "$rc" = 0 ] && [ "$(val '=demo')" = "first|1|1|/a|||" ]; echo $?)" "duplicate key: first wins (rc=$rc)"
ok "$([ "$(cat "$T/err")" = "mailroom-newu: warning: users/assign line 2: duplicate =demo: the first entry wins" ]; echo $?)" "duplicate key: warning"

# --- "." alone, without a newline, is the end ---
printf '=demo:mrmail:1001:1002:/srv/mail/demo:::\n.' >"$A"
rc=$(newu)
ok "$([ "$rc" = 0 ] && [ "$(val '=demo')" = "mrmail|1001|1002|/srv/mail/demo|||" ] && [ "$(cdb -l "$CDB" | grep -c "^+")" = 1 ]; echo $?)" "final dot without newline (rc=$rc)"

# --- no users/assign: temporary error ---
rm -f "$A"
rc=$(newu)
ok "$([ "$rc" = 111 ] && grep -q '^mailroom-newu: fatal: unable to open users/assign: ' "$T/err"; echo $?)" "missing users/assign: exit 111 (rc=$rc)"

# --- arguments are a usage error ---
rc=$("$NEWU" x 2>/dev/null; echo $?)
ok "$([ "$rc" = 100 ]; echo $?)" "usage: exit 100 (rc=$rc)"

if [ $fails = 0 ]; then echo "# newu.sh: all passed"; else echo "# newu.sh: $fails failed"; fi
[ $fails = 0 ]
