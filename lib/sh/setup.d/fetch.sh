# mailroom-fetch's part of an instance (issue 17): sourced by lib/sh/setup.sh, in the
# instance folder, with $home, $root and the functions say, warn, as_role and write_service.
# Only when control/fetchaccounts exists (the admin wrote the accounts): the state folder
# fetch/ (mrfetch 0700; the accounts file is mrfetch 0600, lib/sh/modes) and the service
# service/fetch (and runit/fetch) running bin/mailroom-fetch as mrfetch.

fetch_setup() {
  [ -e control/fetchaccounts ] || return 0
  if [ ! -x bin/mailroom-fetch ]; then
    warn "no bin/mailroom-fetch: control/fetchaccounts is not polled"
    return 0
  fi
  mkdir -p fetch
  write_service fetch "$(as_role mrfetch "$home/bin/mailroom-fetch")"
  say "service/fetch: polls the accounts of control/fetchaccounts"
}
fetch_setup
