#!/bin/bash
# mailroom-local end to end: the built program run by hand, as mailroom-lspawn would run it,
# against a temporary home, with queue message files written here in msgfile's format
# (message + envelope + "MRQ1 " trailer). One PASS/FAIL line per case; exit 1 if any failed.
# As root, the program runs as nobody (it refuses root); otherwise as the caller.
set -u
cd "$(dirname "$0")/.." || exit 111

fails=0
pass() { echo "PASS local.sh: $1"; }
fail() { echo "FAIL local.sh: $1"; fails=$((fails + 1)); }
ok() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

[ -x build/bin/mailroom-local ] || { fail "build/bin/mailroom-local is not built"; exit 1; }
T=$(mktemp -d /tmp/mailroom-local.XXXXXX) || exit 111
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
cp build/bin/mailroom-local "$T/mailroom-local"
H=$T/home
mkdir -p "$H/Maildir/tmp" "$H/Maildir/new" "$H/Maildir/cur"

RUNAS=()
if [ "$(id -u)" = 0 ]; then
  RUNAS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
# Gives the home to the user the program runs as (files written here by root included).
own() { if [ ${#RUNAS[@]} -gt 0 ]; then chown -R nobody:nogroup "$H"; fi; }

# mkmsg FILE BODYFILE SENDER RCPT...: a queue message file; sets ML to the message length.
mkmsg() {
  local f=$1 body=$2 sender=$3 env
  shift 3
  cp "$body" "$f"
  ML=$(stat -c %s "$body")
  env=$T/env.tmp
  { printf 'F%s\0' "$sender"; for r in "$@"; do printf 'T%s\0' "$r"; done; printf '\0'; } >"$env"
  cat "$env" >>"$f"
  printf 'MRQ1 %016x%010x\n' "$ML" "$(stat -c %s "$env")" >>"$f"
}

# deliver ARGS...: runs mailroom-local -- ARGS with $T/msg on fd 0; sets RC and OUT.
deliver() {
  own
  OUT=$(cd / && "${RUNAS[@]}" env MAILROOM_QUEUE="${MAILROOM_QUEUE:-}" "$T/mailroom-local" -- "$@" <"$T/msg" 2>&1)
  RC=$?
}
# local LOCAL DASH EXT [SENDER]: the usual argument list for user u at example.org.
dl() { deliver u "$H" "$1" "$2" "$3" example.org "${4:-s@x.org}" "$ML"; }
# snap DIR before a delivery, added DIR after it: the file it put into DIR/new.
snap() { ls "$H/$1/new" | sort >"$T/snap"; }
added() { ls "$H/$1/new" | sort | comm -13 "$T/snap" - | head -n 1; }
tmpempty() { [ -z "$(ls -A "$H/$1/tmp")" ]; }

printf 'Subject: test\nFrom: a@x.org\n\nbody\nFrom the start\n>From quoted\nlast line\n' >"$T/body"
mkmsg "$T/msg" "$T/body" s@x.org u@example.org secret-bcc@example.net

# --- Maildir, the default delivery ---------------------------------------------------------
snap Maildir
dl u "" ""
ok "maildir: exit 0" '[ $RC = 0 ]'
ok "maildir: text names the file" '[[ $OUT == "delivered to ./Maildir/ as new/"* ]]'
f=$H/Maildir/new/$(added Maildir)
{ printf 'Return-Path: <s@x.org>\nDelivered-To: u@example.org\n'; cat "$T/body"; } >"$T/want"
ok "maildir: content byte-exact (no envelope)" 'cmp -s "$f" "$T/want"'
ok "maildir: tmp/ empty" 'tmpempty Maildir'
ok "maildir: file mode 0600" '[ "$(stat -c %a "$f")" = 600 ]'
ok "maildir: envelope never delivered" '! grep -q secret-bcc "$f"'

mkdir -p "$H/Other/tmp" "$H/Other/new" "$H/Other/cur"
deliver u "$H" u "" "" example.org s@x.org "$ML" ./Other/
ok "defaultdelivery argument used" '[ $RC = 0 ] && [ -n "$(ls "$H/Other/new")" ]'
snap Maildir
deliver u "$H" u "" "" example.org "" "$ML"
f=$H/Maildir/new/$(added Maildir)
ok "bounce sender: Return-Path <>" '[ $RC = 0 ] && head -n 1 "$f" | grep -qx "Return-Path: <>"'

mkdir -p "$H/NoNew/tmp"
echo ./NoNew/ >"$H/.qmail-nonew"
dl u-nonew - nonew
ok "maildir without new/: 111, tmp/ empty" '[ $RC = 111 ] && [[ $OUT == 4.2.1* ]] && tmpempty NoNew'
echo ./Nowhere/ >"$H/.qmail-nowhere"
dl u-nowhere - nowhere
ok "missing maildir: 111 naming it" '[ $RC = 111 ] && [[ $OUT == "4.2.1 maildir ./Nowhere/ is missing" ]]'

# --- programs ------------------------------------------------------------------------------
cat >"$H/prog.sh" <<'EOF'
#!/bin/sh
for v in SENDER NEWSENDER RECIPIENT USER HOME LOCAL HOST HOST2 HOST3 HOST4 EXT EXT2 EXT3 EXT4 DEFAULT DTLINE RPLINE UFLINE; do
  eval "printf '%s=[%s]\n' $v \"\${$v-unset}\""
done >"$HOME/env.out"
cat >"$HOME/stdin.out"
echo "seen it"
exit 0
EOF
chmod 755 "$H/prog.sh"
echo "|./prog.sh" >"$H/.qmail-p-default"
deliver u "$H" u-p-a-b - p-a-b mx.example.org s@x.org "$ML"
E=$H/env.out
ok "program: exit 0, output in the text" '[ $RC = 0 ] && [ "$OUT" = "program exited 0: seen it" ]'
ok "program: stdin is exactly the message" 'cmp -s "$H/stdin.out" "$T/body"'
ok "program: SENDER RECIPIENT LOCAL" 'grep -qx "SENDER=\[s@x.org\]" $E && grep -qx "RECIPIENT=\[u-p-a-b@mx.example.org\]" $E && grep -qx "LOCAL=\[u-p-a-b\]" $E'
ok "program: USER HOME NEWSENDER" 'grep -qx "USER=\[u\]" $E && grep -qx "HOME=\[$H\]" $E && grep -qx "NEWSENDER=\[s@x.org\]" $E'
ok "program: HOST HOST2 HOST3 HOST4" 'grep -qx "HOST=\[mx.example.org\]" $E && grep -qx "HOST2=\[mx.example\]" $E && grep -qx "HOST3=\[mx\]" $E && grep -qx "HOST4=\[mx\]" $E'
ok "program: EXT EXT2 EXT3 EXT4" 'grep -qx "EXT=\[p-a-b\]" $E && grep -qx "EXT2=\[a-b\]" $E && grep -qx "EXT3=\[b\]" $E && grep -qx "EXT4=\[\]" $E'
ok "program: DEFAULT from .qmail-p-default" 'grep -qx "DEFAULT=\[a-b\]" $E'
ok "program: DTLINE RPLINE" 'grep -qx "DTLINE=\[Delivered-To: u-p-a-b@mx.example.org" $E && grep -qx "RPLINE=\[Return-Path: <s@x.org>" $E'
ok "program: UFLINE" 'grep -q "^UFLINE=\[From s@x.org ... ... .. ..:..:.. ....$" $E'

echo "|echo no such list; exit 100" >"$H/.qmail-perm"
dl u-perm - perm
ok "program exit 100: 100" '[ $RC = 100 ] && [ "$OUT" = "5.0.0 program exited 100: no such list" ]'
echo "|echo 5.1.1 gone; exit 100" >"$H/.qmail-perm2"
dl u-perm2 - perm2
ok "program's own status code kept" '[ $RC = 100 ] && [ "$OUT" = "5.1.1 gone" ]'
echo "|exit 111" >"$H/.qmail-temp"
dl u-temp - temp
ok "program exit 111: 111" '[ $RC = 111 ] && [[ $OUT == 4.* ]]'
echo "|exit 3" >"$H/.qmail-temp3"
dl u-temp3 - temp3
ok "program exit 3: 111" '[ $RC = 111 ]'
echo "|kill -9 \$\$" >"$H/.qmail-sig"
dl u-sig - sig
ok "program killed: 111" '[ $RC = 111 ] && [[ $OUT == *"signal 9"* ]]'
printf '|exit 99\n|touch not-reached\n' >"$H/.qmail-stop"
dl u-stop - stop
ok "program exit 99: 99, later lines skipped" '[ $RC = 99 ] && [ ! -e "$H/not-reached" ]'
head -c 3000000 /dev/zero | tr '\0' 'x' | fold -w 70 >"$T/bigbody"
mkmsg "$T/msg" "$T/bigbody" s@x.org u@example.org
echo "|exit 0" >"$H/.qmail-noread"
dl u-noread - noread
ok "program that never reads a 3 MB message: 0" '[ $RC = 0 ]'
echo "|cat > big.out" >"$H/.qmail-bigread"
dl u-bigread - bigread
ok "program reads a 3 MB message exactly" '[ $RC = 0 ] && cmp -s "$H/big.out" "$T/bigbody"'
mkmsg "$T/msg" "$T/body" s@x.org u@example.org secret-bcc@example.net

# --- extensions and dot files --------------------------------------------------------------
mkdir -p "$H/Ext/tmp" "$H/Ext/new" "$H/Ext/cur" "$H/Def/tmp" "$H/Def/new" "$H/Def/cur"
echo ./Ext/ >"$H/.qmail-foo:bar"
dl u-Foo.Bar - Foo.Bar
ok "extension: .qmail-foo:bar for Foo.Bar" '[ $RC = 0 ] && [[ $OUT == "delivered to ./Ext/"* ]]'
echo ./Def/ >"$H/.qmail-default"
dl u-zzz - zzz
ok "extension: .qmail-default" '[ $RC = 0 ] && [[ $OUT == "delivered to ./Def/"* ]]'
rm "$H/.qmail-default"
dl u-zzz - zzz
ok "extension without dot file: 100 5.1.1" '[ $RC = 100 ] && [[ $OUT == 5.1.1* ]]'
: >"$H/.qmail-empty"
dl u-empty - empty
ok "empty dot file: default delivery" '[ $RC = 0 ] && [[ $OUT == "delivered to ./Maildir/"* ]]'
echo "# drop it" >"$H/.qmail-drop"
dl u-drop - drop
ok "comments only: delivered nowhere" '[ $RC = 0 ] && [[ $OUT == "no delivery"* ]]'
printf '\n./Maildir/\n' >"$H/.qmail-blank"
dl u-blank - blank
ok "first line blank: 111" '[ $RC = 111 ] && [[ $OUT == *"first line is blank" ]]'
printf './Maildir/\n-bad\n' >"$H/.qmail-bad"
n=$(ls "$H/Maildir/new" | wc -l)
dl u-bad - bad
ok "bad line 2: 111 and line 1 not delivered" '[ $RC = 111 ] && [[ $OUT == *"line 2: "* ]] && [ "$(ls "$H/Maildir/new" | wc -l)" = $n ]'
printf '|touch %s/gw.ran\n' "$T" >"$H/.qmail-gw"
own
chmod 664 "$H/.qmail-gw"
OUT=$(cd / && "${RUNAS[@]}" "$T/mailroom-local" -- u "$H" u-gw - gw example.org s@x.org "$ML" <"$T/msg" 2>&1)
RC=$?
ok "group-writable dot file: ignored (said), its program not run" '[[ $OUT == *"ignored .qmail-gw (group- or world-writable)"* ]] && [ ! -e "$T/gw.ran" ]'
rm -f "$H/.qmail-gw"

# --- mbox ----------------------------------------------------------------------------------
echo ./mbox >"$H/.qmail-mbox"
dl u-mbox - mbox
dl u-mbox - mbox
ok "mbox: exit 0" '[ $RC = 0 ] && [ "$OUT" = "appended to ./mbox" ]'
{
  for i in 1 2; do
    printf 'From s@x.org DATE\nReturn-Path: <s@x.org>\nDelivered-To: u-mbox@example.org\n'
    sed -e 's/^>*From />&/' "$T/body"
    echo
  done
} >"$T/want"
sed -e 's/^From s@x.org .*/From s@x.org DATE/' "$H/mbox" >"$T/got"
ok "mbox: From_ lines, >From quoting, blank lines" 'cmp -s "$T/got" "$T/want"'

# --- writes that fail half way (a file size limit stands for a full disk) ------------------
head -c 3000000 /dev/zero | tr '\0' 'y' | fold -w 70 >"$T/bigbody"
mkmsg "$T/msg" "$T/bigbody" s@x.org u@example.org
# limited ARGS...: deliver with a 1 MB file size limit and SIGXFSZ ignored (write says EFBIG).
limited() {
  own
  OUT=$(cd / && trap '' XFSZ && ulimit -f 1024 && "${RUNAS[@]}" "$T/mailroom-local" -- "$@" <"$T/msg" 2>&1)
  RC=$?
}
size=$(stat -c %s "$H/mbox")
limited u "$H" u-mbox - mbox example.org s@x.org "$ML"
ok "mbox write fails: 111, mbox cut back to its old size" '[ $RC = 111 ] && [ "$(stat -c %s "$H/mbox")" = "$size" ]'
n=$(ls "$H/Maildir/new" | wc -l)
limited u "$H" u "" "" example.org s@x.org "$ML"
ok "maildir write fails: 111, tmp/ empty, new/ unchanged" '[ $RC = 111 ] && tmpempty Maildir && [ "$(ls "$H/Maildir/new" | wc -l)" = $n ]'
mkmsg "$T/msg" "$T/body" s@x.org u@example.org secret-bcc@example.net

# fd 0 need not be at offset 0: mailroom-local reads with pread from 0 to msglen.
own
snap Maildir
OUT=$(cd / && exec <"$T/msg" && dd bs=1 count=7 of=/dev/null 2>/dev/null && "${RUNAS[@]}" "$T/mailroom-local" -- u "$H" u "" "" example.org s@x.org "$ML" 2>&1)
RC=$?
f=$H/Maildir/new/$(added Maildir)
{ printf 'Return-Path: <s@x.org>\nDelivered-To: u@example.org\n'; cat "$T/body"; } >"$T/want"
ok "fd 0 at another offset: still the whole message" '[ $RC = 0 ] && cmp -s "$f" "$T/want"'

# --- forwards ------------------------------------------------------------------------------
cat >"$T/queue.sh" <<'EOF'
#!/bin/sh
cat >"$QDIR/fd0"
cat <&1 >"$QDIR/fd1"
exit "${QEXIT:-0}"
EOF
chmod 755 "$T/queue.sh"
mkdir -p "$T/q" && chmod 777 "$T/q"
printf '&a@x.org\nb@y.org\n# c\n&c@z.org\n' >"$H/.qmail-fwd"
MAILROOM_QUEUE=$T/queue.sh
export QDIR=$T/q
dl u-fwd - fwd
ok "forward: exit 0" '[ $RC = 0 ] && [ "$OUT" = "forwarded to a@x.org b@y.org c@z.org" ]'
printf 'Fs@x.org\0Ta@x.org\0Tb@y.org\0Tc@z.org\0\0' >"$T/want"
ok "forward: one injection, envelope with the same sender" 'cmp -s "$T/q/fd1" "$T/want"'
{ printf 'Delivered-To: u-fwd@example.org\n'; cat "$T/body"; } >"$T/want"
ok "forward: message with Delivered-To on top" 'cmp -s "$T/q/fd0" "$T/want"'
: >"$H/.qmail-fwd-owner"
dl u-fwd - fwd
ok "forward: -owner file makes the sender u-fwd-owner@" '[ $RC = 0 ] && head -c 30 "$T/q/fd1" | grep -aq "^Fu-fwd-owner@example.org"'
rm "$H/.qmail-fwd-owner"
export QEXIT=31
dl u-fwd - fwd
ok "forward: injector exit 31: 100" '[ $RC = 100 ] && [[ $OUT == 5.* ]]'
export QEXIT=71
dl u-fwd - fwd
ok "forward: injector exit 71: 111" '[ $RC = 111 ] && [[ $OUT == 4.* ]]'
unset QEXIT MAILROOM_QUEUE

# --- loops and failures --------------------------------------------------------------------
printf 'Delivered-To: other@example.org\nDelivered-To: U@Example.org\nSubject: x\n\nbody\n' >"$T/loop"
mkmsg "$T/msg" "$T/loop" s@x.org u@example.org
dl u "" ""
ok "Delivered-To loop: 100 5.4.6" '[ $RC = 100 ] && [[ $OUT == "5.4.6 this message is looping"* ]]'
printf 'Subject: x\n\nDelivered-To: u@example.org\n' >"$T/noloop"
mkmsg "$T/msg" "$T/noloop" s@x.org u@example.org
dl u "" ""
ok "Delivered-To in the body is no loop" '[ $RC = 0 ]'
deliver u "$T/nohome" u "" "" example.org s@x.org "$ML"
ok "home missing: 111 4.2.1" '[ $RC = 111 ] && [[ $OUT == "4.2.1 home directory missing"* ]]'
deliver u "$H" u "" "" example.org s@x.org $((ML + 1000))
ok "msglen past the file: 111" '[ $RC = 111 ]'
deliver u "$H" u "" ""
ok "usage: 111" '[ $RC = 111 ] && [[ $OUT == "4.3.5 usage"* ]]'
if [ ${#RUNAS[@]} -gt 0 ]; then
  OUT=$("$T/mailroom-local" -- u "$H" u "" "" example.org s@x.org "$ML" <"$T/msg" 2>&1)
  RC=$?
  ok "refuses to run as root" '[ $RC = 111 ] && [[ $OUT == *"refuses to run as root" ]]'
else
  echo "SKIP local.sh: refuses to run as root: needs root"
fi

[ "$fails" = 0 ] || exit 1
exit 0
