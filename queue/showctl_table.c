/* Every control file a mailroom program reads, with its default and what it means, as
   the programs read them (the file named in each line). A file not listed here is reported
   as unknown by mailroom-showctl: a new control file gets its line here. */
#include <string.h>
#include "showctl.h"

#define NUM(n, d, lo, hi, m) { n, SC_NUM, d, lo, hi, #d, 0, m }
#define TEXT(n, k, d, src, m) { n, k, 0, 0, 0, d, src, m }

struct sc_file const sc_files[] = {
  TEXT("me", SC_HOST, "localhost", 0,
       "this host's name: a local domain, the greeting of smtpd, the sender host of bounces, the default of defaulthost"),
  TEXT("locals", SC_DOMAINS, "(none: only me)", 0,
       "domains delivered here; the local part is looked up in users/assign and the system's users"),
  TEXT("virtualdomains", SC_VDOMAINS, "(none)", 0,
       "domain:prefix, .sub.domain:prefix, user@domain:prefix, :prefix: delivered here as prefix-local (virtualdomains(5))"),
  TEXT("rcpthosts", SC_DOMAINS, "(none: only locals, me and virtual domains)", "sub",
       "domains smtpd accepts from anyone (.domain: every subdomain); those not local are for the next hop"),
  TEXT("recipients", SC_ADDRS, "(none)", 0,
       "addresses smtpd accepts without looking the user up (users it cannot see: NSS-only users, dot-file extensions)"),
  NUM("databytes", 52428800, 0, 4294967295UL,
      "largest message in bytes, for smtpd and the injector (smtpd: 0 means its default, 52428800)"),
  NUM("maxrcpt", 100, 1, 100000, "recipients smtpd takes in one message"),
  NUM("timeoutsmtpd", 1200, 1, 86400, "seconds smtpd waits for a client's next line or data"),
  NUM("queuedclients", 300, 1, 100000, "clients the queue writer (mailroom-queued) serves at once"),
  NUM("timeoutqueued", 1200, 1, 86400, "seconds the queue writer waits for a client's next byte"),
  NUM("concurrencylocal", 10, 1, 1000, "local deliveries mailroom-send runs at once"),
  NUM("concurrencyremote", 20, 1, 1000, "remote deliveries mailroom-send runs at once"),
  NUM("concurrencydomain", 10, 1, 1000, "remote deliveries to one domain at once"),
  NUM("retrybase", 300, 1, 86400, "seconds before the first retry of a deferred delivery (then doubling)"),
  NUM("retrymax", 14400, 1, 604800, "largest interval between retries, seconds"),
  NUM("queuelifetime", 604800, 0, 31536000, "seconds a message may stay queued before it bounces"),
  NUM("delaywarn", 14400, 0, 31536000, "seconds of delay after which the sender gets a warning (0: never)"),
  NUM("localworkermessages", 500, 1, 1000000, "messages one warm local deliverer takes before it ends"),
  NUM("localworkeridle", 10, 1, 86400, "seconds a warm local deliverer waits idle"),
  NUM("localworkerlife", 300, 1, 604800, "seconds a warm local deliverer lives at most"),
  NUM("remoteworkermessages", 1000, 1, 1000000000, "messages one remote worker takes before it ends"),
  NUM("remoteworkeridle", 60, 1, 86400, "seconds a remote worker waits idle"),
  NUM("remoteworkerlifetime", 3600, 1, 2592000, "seconds a remote worker lives at most"),
  NUM("remotecachemessages", 100, 1, 1000000, "messages sent over one kept SMTP connection"),
  NUM("remotecacheidle", 2, 1, 3600, "seconds a kept SMTP connection waits idle"),
  NUM("remotecachelifetime", 300, 1, 86400, "seconds a kept SMTP connection lives at most"),
  NUM("timeoutconnect", 60, 1, 86400, "seconds mailroom-remote waits for a TCP connection"),
  NUM("timeoutremote", 1200, 1, 86400, "seconds mailroom-remote waits for a peer's reply"),
  NUM("remoteport", 25, 1, 65535, "the TCP port of remote SMTP servers"),
  NUM("timeoutpop3d", 600, 1, 86400, "seconds popup and pop3d wait for a client's command"),
  NUM("popshadow", 0, 0, 1, "1: mailroom-checkpassword also accepts system users by their shadow password"),
  TEXT("defaulthost", SC_HOST, "(me)", 0, "the host the injector adds to addresses without one"),
  TEXT("helohost", SC_HOST, "(me)", 0, "the name mailroom-remote gives in EHLO"),
  TEXT("defaultdelivery", SC_LINE, "./Maildir/", 0, "the delivery of a user without a dot file (a .qmail line)"),
  TEXT("smtproutes", SC_ROUTES, "(none: MX records)", 0,
       "domain:relay[:port], .sub.domain:..., :relay (every domain); an empty relay means MX"),
  TEXT("tlsdomains", SC_TLSDOMS, "(none: opportunistic TLS)", 0,
       "domains mailroom-remote sends to only over TLS (domain:verify: with a valid certificate)"),
  TEXT("tlscafile", SC_LINE, "(the system's CA bundle)", 0, "the CA certificates mailroom-remote verifies peers with"),
  TEXT("servercert.pem", SC_FILE, "(none: no TLS)", 0, "the certificate chain of mailroom-tlsd"),
  TEXT("serverkey.pem", SC_SECRET, "(none: no TLS)", 0, "the private key of mailroom-tlsd (root's only)"),
  TEXT("fetchaccounts", SC_SECRET, "(none)", 0, "mailroom-fetch's POP3 accounts and passwords (mrfetch's only)"),
  TEXT("smtproutes-auth", SC_SECRET, "(none)", 0, "smarthost credentials NAME:user:password for smtproutes auth= (root's only)"),
  TEXT("dkim", SC_DIR, "(none: nothing signed)", 0, "DKIM selectors and keys, one folder per signing domain (mrdkim's keys)"),
  TEXT("services", SC_FILE, "(written by make setup)", 0, "where each service listens, STARTTLS, the certificate, DNSCACHEIP (make setup)"),
  TEXT("smtpdlimits", SC_FILE, "(the defaults)", 0, "connection limits of mailroom-smtpd: per client, overload mode, session time, rate"),
  TEXT("pop3dlimits", SC_FILE, "(the defaults)", 0, "connection limits of POP3 (popup, pop3d), as smtpdlimits"),
  TEXT("smtp.rules", SC_FILE, "(none)", 0, "tcprules source of the SMTP service: who may connect, who may relay"),
  TEXT("smtp.cdb", SC_CDB, "(none)", "smtp.rules", "compiled from smtp.rules by tcprules (make setup)"),
  TEXT("rcpthosts.cdb", SC_CDB, "(none: the text is read)", "rcpthosts", "compiled from rcpthosts by mailroom-newcontrol"),
  TEXT("recipients.cdb", SC_CDB, "(none: the text is read)", "recipients",
       "compiled from recipients by mailroom-newcontrol"),
  TEXT("virtualdomains.cdb", SC_CDB, "(none: the text is read)", "virtualdomains",
       "compiled from virtualdomains by mailroom-newcontrol"),
};
size_t const sc_nfiles = sizeof sc_files / sizeof sc_files[0];

struct sc_file const *sc_lookup(char const *name)
{
  for (size_t i = 0; i < sc_nfiles; i++)
    if (!strcmp(sc_files[i].name, name)) return &sc_files[i];
  return 0;
}
