#!/bin/bash
# Runs a mailroom instance in the foreground:  bash lib/sh/run.sh HOME  (`make run`).
# Starts daemontools' svscan on HOME/service as a child in its own process group (so a
# Ctrl-C reaches this script, not the services), and on Ctrl-C, SIGTERM or SIGHUP stops
# everything it started: svscan first (it would restart what we stop), then every service
# and its log with svc -dx, waiting a bounded time, then kill by pid what is left.
set -u

say() { echo "mailroom: $*"; }
die() { echo "mailroom: fatal: $1" >&2; exit "${2:-100}"; }

WAIT_SECONDS=15 # how long supervise gets to take its service down

[ $# = 1 ] || die "usage: run.sh HOME"
home=$1
while [ "${home%/}" != "$home" ] && [ "$home" != / ]; do home=${home%/}; done
sdir=$home/service
[ -d "$sdir" ] || die "no $sdir: run make setup first"
real=$(cd "$sdir" && pwd -P) || die "cannot enter $sdir" 111
for t in svscan supervise svc svok svstat; do
  command -v $t >/dev/null || die "$t is not installed (Debian package daemontools)" 111
done

# The services and their logs, as supervise folders.
svdirs() {
  local s
  for s in "$real"/*/; do
    s=${s%/}
    [ -f "$s/run" ] || continue
    echo "$s"
    [ -f "$s/log/run" ] && echo "$s/log"
  done
}

# Pids of processes named $1 whose cwd is $2 or below (svscan and supervise chdir into the
# folder they watch). Only what can be read: another user's processes may stay hidden,
# which is why svok is asked as well.
pids_in() {
  local p cwd comm
  for p in /proc/[0-9]*; do
    comm=
    read -r comm 2>/dev/null <"$p/comm"
    [ "$comm" = "$1" ] || continue
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    case "$cwd" in "$2" | "$2"/*) echo "${p#/proc/}" ;; esac
  done
}

# --- refuse to start twice ----------------------------------------------------------------
old=$(pids_in svscan "$real")
if [ -z "$old" ]; then
  old=$(ps -eo pid=,args= | awk -v a="svscan $sdir" -v b="svscan $real" '{p=$1; $1=""; sub(/^ /,"")} $0==a || $0==b {print p}')
fi
old=$(echo "$old" | tr '\n' ' ')
old=${old% }
[ -z "$old" ] || die "svscan already runs on $sdir (pid $old): stop it first (Ctrl-C in its terminal, or kill $old then svc -dx $sdir/* $sdir/*/log)" 111
for s in $(svdirs); do
  if svok "$s" 2>/dev/null; then
    die "supervise already runs in $s without this script: svc -dx $s first" 111
  fi
done

# --- start --------------------------------------------------------------------------------
set -m # job control: the background svscan gets its own process group
svscan "$sdir" &
svscan_pid=$!
set +m

stop() {
  local rc=$1 s i left p group alive state
  trap '' INT TERM HUP
  echo
  say "stopping the services in $sdir"
  # Everything svscan started shares its process group (set -m above): note it now, to
  # wait for each process to be gone, reaped by init, before this script ends.
  group=$(pgrep -g "$svscan_pid" 2>/dev/null | tr '\n' ' ')
  kill -TERM "$svscan_pid" 2>/dev/null
  wait "$svscan_pid" 2>/dev/null
  # The services first, then their logs, so the last lines get written.
  for s in $(svdirs); do
    case "$s" in */log) ;; *) svc -dx "$s" 2>/dev/null ;; esac
  done
  for s in $(svdirs); do
    case "$s" in */log) svc -dx "$s" 2>/dev/null ;; esac
  done
  i=$((SECONDS + WAIT_SECONDS))
  while [ $SECONDS -lt $i ]; do
    left=""
    for s in $(svdirs); do svok "$s" 2>/dev/null && left="$left $s"; done
    [ -z "$left" ] && [ -z "$(pids_in supervise "$real")" ] && break
    sleep 0.1
  done
  if [ -n "$left" ] || [ -n "$(pids_in supervise "$real")" ]; then
    # Something ignored svc -d: end it by pid, the service first, then its supervise.
    say "still running after $WAIT_SECONDS s:$left; killing them"
    for s in $(svdirs); do
      p=$(svstat "$s" 2>/dev/null | sed -n 's/.*(pid \([0-9]*\)).*/\1/p')
      [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
    done
    for p in $(pids_in supervise "$real"); do kill -KILL "$p" 2>/dev/null; done
    sleep 0.2
  fi
  for ((i = 0; i < 30; i++)); do
    alive=""
    for p in $group; do [ -e "/proc/$p" ] && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for p in $alive; do
    state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$p/stat" 2>/dev/null)
    if [ -n "$state" ] && [ "$state" != Z ]; then
      say "process $p ($(cat "/proc/$p/comm" 2>/dev/null)) is still running; killing it"
      kill -KILL "$p" 2>/dev/null
    fi
  done
  say "stopped"
  exit "$rc"
}
trap 'stop 0' INT TERM HUP

say "svscan runs on $sdir (pid $svscan_pid), supervising:"
for s in $(svdirs); do
  case "$s" in
    */log) ;;
    *) n=$(basename "$s")
       say "  $n: $(sed -n 's/^exec \(.*\)/\1/p' "$s/run" | tail -n 1) (log: $home/log/$n, tai64nlocal < $home/log/$n/current)" ;;
  esac
done
for b in "$home"/service/*/banner; do
  [ -f "$b" ] && say "$(head -n 1 "$b")"
done
say "send a first message:"
echo "    echo 'Subject: hello' | $home/bin/sendmail demo@localhost"
echo "    ls $home/mail/demo/Maildir/new"
say "Ctrl-C stops everything."

# wait returns early when a trapped signal arrives; the trap then exits. If svscan itself
# dies, the services it started are still stopped.
while kill -0 "$svscan_pid" 2>/dev/null; do wait "$svscan_pid"; done
say "svscan exited by itself"
stop 111
