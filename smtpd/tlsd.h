#ifndef MAILROOM_TLSD_H
#define MAILROOM_TLSD_H
/* mailroom-tlsd's modules: the proxy between the network and the server program
   (tlsd_proxy.c, the only code that calls libtls), the password verifier for SMTP AUTH
   (tlsd_auth.c); lib/tlsctl.c is the servers' side of the control socket.
   doc/INTERNALS.md, "TLS", describes the interface. */
#include <stddef.h>
#include <sys/types.h>

#include "tlsctl.h"

/* --- mailroom-tlsd's own parts ------------------------------------------------------------- */
struct tlsd_opts {
  unsigned int timeout;       /* seconds without traffic either way before giving up */
  unsigned int hstimeout;     /* seconds for a handshake */
};
struct tls;
/* tlsd_proxy.c: the handshake on fds 0 and 1 (at most secs seconds): 0, or -1 (logged). */
extern int tlsd_handshake(struct tls *srv, struct tls **c, unsigned int secs);
/* "version cipher" of an encrypted connection into info (TLSD_INFO_MAX + 1). */
extern void tlsd_info(struct tls *c, char *info);
/* Runs the proxy until the server program closes its output and all of it is sent (0), or
   the client goes (0), or an error or timeout (-1). c is the connection when it is already
   encrypted (implicit TLS), else 0; ctl is the control socket, or -1. */
extern int tlsd_proxy(struct tls *srv, struct tls *c, int cin, int cout, int ctl, struct tlsd_opts const *o);
/* The verifier process: answers requests on fd until EOF or maxfail wrong passwords,
   running checkprog (a checkpassword program) with `/bin/true` for each. Never returns. */
extern _Noreturn void tlsd_verifier(int fd, char const *checkprog, unsigned int delay_ms, unsigned int maxfail);
#endif
