#!/bin/bash
# mailroom-queue on its own: the file it writes, its exit codes, and that every failure
# leaves queue/tmp and queue/new as they were. Runs the injector directly, relinked with a
# temporary home (make relink), no queue manager.
cd "$(dirname "$0")/.." || exit 1
H=$(mktemp -d /tmp/mr-queue.XXXXXX)
trap 'rm -rf "$H"' EXIT
chmod 755 "$H"
make -s relink RELINK_HOME="$H" RELINK_OUT="$H/.build" >/dev/null || { echo "FAIL queue.sh: make relink"; exit 1; }
mkdir -p "$H"/queue/{tmp,new,mess,info,lock} "$H/control" && mkfifo -m 0622 "$H/queue/lock/trigger"
Q=$H/.build/mailroom-queue W=$H/w
mkdir "$W"
pass=0 fail=0
ok() { if [ "$1" = "$2" ]; then echo "PASS $3"; pass=$((pass+1)); else echo "FAIL $3: got '$1', want '$2'"; fail=$((fail+1)); fi; }
clean() { rm -f "$H"/queue/new/* "$H"/queue/tmp/* "$H/control/databytes"; }
count() { ls "$H/queue/$1" | wc -l; }
# What mailroom-send will read: the trailer, the envelope, the message length (INTERNALS.md).
qcheck() {
  python3 - "$1" <<'PY'
import os, sys
d = open(sys.argv[1], 'rb').read()
t = d[-32:]
assert t[:5] == b'MRQ1 ' and t[-1:] == b'\n', 'bad trailer'
m, e = int(t[5:21], 16), int(t[21:31], 16)
assert len(d) == m + e + 32, 'bad size'
env = d[m:m + e].split(b'\0')
assert env[-2:] == [b'', b''] and env[0][:1] == b'F', 'bad envelope'
print('msglen=%d envlen=%d sender=%s' % (m, e, env[0][1:].decode()) + ''.join(' rcpt=' + r[1:].decode() for r in env[1:-2]))
PY
}
clean
printf 'Subject: x\n\nbody\n' > $W/qt.m; printf 'Fa@b\0Tc@d\0\0' > $W/qt.e
$Q < $W/qt.m 1< $W/qt.e 2>$W/qt.err; ok $? 0 "accept"; ok $(count new) 1 "accept: one file in new/"; ok $(count tmp) 0 "accept: tmp/ empty"
f=$(ls "$H"/queue/new/*); ok "$(qcheck $f)" "msglen=17 envlen=11 sender=a@b rcpt=c@d" "accept: msgfile_open reads it"
ok "$(head -c 17 $f)" "$(cat $W/qt.m)" "accept: message bytes first"
ok "$(stat -c %a $f)" 640 "accept: mode 0640"
ok "$(basename $f | grep -cE '^[0-9]+\.[0-9]{6}\.[0-9]+$')" 1 "accept: id form"
clean
: > $W/qt.empty; $Q < $W/qt.empty 1< $W/qt.e; ok $? 0 "empty message"
ok "$(qcheck $H/queue/new/*)" "msglen=0 envlen=11 sender=a@b rcpt=c@d" "empty message: file"
clean
printf 'F\0Tc@d\0\0' > $W/qt.e0; $Q < $W/qt.m 1< $W/qt.e0; ok $? 0 "null sender"
clean
echo 10 > "$H"/control/databytes
$Q < $W/qt.m 1< $W/qt.e 2>$W/qt.err; ok $? 31 "databytes exceeded"
ok "$(cat $W/qt.err)" "mailroom-queue: fatal: message is larger than databytes (10)" "databytes: message"
ok "$(count new)$(count tmp)" 00 "databytes: nothing left"
echo 17 > "$H"/control/databytes; $Q < $W/qt.m 1< $W/qt.e; ok $? 0 "databytes: exactly at limit"
clean
echo 0 > "$H"/control/databytes; head -c 3000000 /dev/urandom > $W/qt.big; $Q < $W/qt.big 1< $W/qt.e; ok $? 0 "databytes 0: no limit (3 MB binary)"
f=$(ls "$H"/queue/new/*); ok "$(head -c 3000000 $f | cmp - $W/qt.big && echo same)" same "3 MB binary kept exactly"
clean
echo abc > "$H"/control/databytes; $Q < $W/qt.m 1< $W/qt.e 2>/dev/null; ok $? 55 "bad databytes: 55"; clean
for e in 'Fa@b\0\0' 'Fa@b\0Tc@d\0' 'Fa@b\0Tc@d\0\0x' 'Xa@b\0Tc@d\0\0' '' 'Fa@b\0Tc\nd\0\0'; do
  printf "$e" > $W/qt.bad; $Q < $W/qt.m 1< $W/qt.bad 2>$W/qt.err; ok $? 91 "envelope [$e]: 91"
  ok "$(count new)$(count tmp)" 00 "envelope [$e]: nothing left"
done
{ printf 'Fa@b\0T'; head -c 1001 /dev/zero | tr '\0' x; printf '@d\0\0'; } > $W/qt.long
$Q < $W/qt.m 1< $W/qt.long 2>$W/qt.err; ok $? 11 "long address: 11"; ok "$(count new)$(count tmp)" 00 "long address: nothing left"
cat $W/qt.err >&2
# fd 2 closed: still works
$Q < $W/qt.m 1< $W/qt.e 2>&-; ok $? 0 "fd 2 closed"; clean
# fd 0 closed
$Q <&- 1< $W/qt.e 2>$W/qt.err; ok $? 54 "fd 0 closed: 54"; cat $W/qt.err >&2
# fd 1 open for writing only: read error
$Q < $W/qt.m 1>$W/qt.w 2>$W/qt.err; ok $? 54 "fd 1 write-only: 54"; ok "$(count new)$(count tmp)" 00 "fd1 write-only: nothing left"; cat $W/qt.err >&2
# trigger: a reader gets one byte
( exec 3<>"$H"/queue/lock/trigger; $Q < $W/qt.m 1< $W/qt.e; ok $? 0 "trigger with reader"; ok "$(timeout 1 head -c 1 <&3 | od -An -c | tr -d ' ')" '\0' "trigger: one byte" )
clean
# missing queue dir
mv "$H"/queue "$H"/queue.x; $Q < $W/qt.m 1< $W/qt.e 2>$W/qt.err; ok $? 62 "missing queue: 62"; mv "$H"/queue.x "$H"/queue; cat $W/qt.err >&2
mv "$H"/queue/new "$H"/queue/new.x; $Q < $W/qt.m 1< $W/qt.e 2>$W/qt.err; ok $? 62 "missing new/: 62"; mv "$H"/queue/new.x "$H"/queue/new; ok "$(count tmp)" 0 "missing new/: tmp cleaned"; cat $W/qt.err >&2
# pipes, slow writer
( printf 'Subject: p\n\n'; sleep 1; printf 'late\n' ) | $Q 1< <(sleep 1.5; printf 'Fa@b\0Tc@d\0\0'); ok $? 0 "pipes, slow writers"
ok "$(qcheck $H/queue/new/*)" "msglen=17 envlen=11 sender=a@b rcpt=c@d" "pipes: file"
clean
# RLIMIT_FSIZE: write error 53, cleaned
( ulimit -f 1; exec $Q < $W/qt.big 1< $W/qt.e 2>$W/qt.err ); ok $? 53 "RLIMIT_FSIZE: 53"; ok "$(count new)$(count tmp)" 00 "fsize: nothing left"; cat $W/qt.err >&2
# the environment is ignored
env -i PATH=/x $Q < $W/qt.m 1< $W/qt.e; ok $? 0 "empty environment"; clean
# cwd irrelevant
(cd / && $Q < $W/qt.m 1< $W/qt.e); ok $? 0 "other cwd"; clean
[ $fail = 0 ]
