# The queue writer's part of an instance (mailroom-queued, issue 14): sourced by
# lib/sh/setup.sh, in the instance folder, with $home, $root and the functions say, warn,
# as_role and write_service. The folder queued/ (mrqueue 0755, lib/sh/modes) holds the writer's socket,
# outside queue/ so that a client never needs to reach the queue itself; the service
# service/queued (and runit/queued) runs bin/mailroom-queued as mrqueue. mailroom-smtpd and
# sendmail hand their messages to it, and exec bin/mailroom-queue when it is not running.

queued_setup() {
  if [ ! -x bin/mailroom-queued ]; then
    warn "no bin/mailroom-queued: every message is written by an exec'd mailroom-queue"
    return 0
  fi
  mkdir -p queued
  write_service queued "$(as_role mrqueue "$home/bin/mailroom-queued")"
  say "service/queued: the queue writer on $home/queued/socket"
}
queued_setup
