/* DNS lookups with libowfat's resolver (dns_transmit: UDP, TCP when the answer is
   truncated, the servers of /etc/resolv.conf or $DNSCACHEIP), under our own deadline: its
   own schedule can wait a minute per server, and a domain naming many MX hosts must still
   end in bounded time. The answers are parsed by remote_dnsanswer.c. Also this host's own
   addresses, for the self-MX rule. */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <dns.h>
#include <iopause.h>
#include <taia.h>

#include "remote.h"
#include "remote_dns.h"

void dnsq_init(void)
{
  char seed[128];
  ssize_t r = getrandom(seed, sizeof seed, 0);
  if (r < 0) memset(seed, 0, sizeof seed); /* dns_random_init adds time and pid */
  dns_random_init(seed);
}

void dnsq_deadline(dnsq_clock *c, unsigned secs)
{
  taia_now(&c->deadline);
  taia_addsec(&c->deadline, &c->deadline, (long)secs);
}

/* One question, one answer packet into out. 0, or -1 with errno. */
static int resolve(unsigned char const *q, unsigned qtype, dnsq_clock *c, dnsans *out)
{
  static char const local[16] = {0};
  struct dns_transmit tx;
  char servers[256];
  char qt[2];
  struct taia stamp, d;
  iopause_fd x[1];
  int r;

  memset(&tx, 0, sizeof tx);
  qt[0] = (char)(qtype >> 8);
  qt[1] = (char)(qtype & 255);
  if (dns_resolvconfip(servers) == -1) return -1;
  if (dns_transmit_start(&tx, servers, 1, (char const *)q, qt, local) == -1) return -1;
  for (;;) {
    taia_now(&stamp);
    if (taia_less(&c->deadline, &stamp)) {
      dns_transmit_free(&tx);
      errno = ETIMEDOUT;
      return -1;
    }
    taia_addsec(&d, &stamp, DNSQ_QUERY_SECS);
    if (taia_less(&c->deadline, &d)) d = c->deadline;
    dns_transmit_io(&tx, x, &d);
    iopause(x, 1, &d, &stamp);
    r = dns_transmit_get(&tx, x, &stamp);
    if (r == -1) {
      int e = errno;
      dns_transmit_free(&tx);
      errno = e;
      return -1;
    }
    if (r == 1) break;
  }
  r = dnsans_parse(tx.packet, tx.packetlen, q, qtype, out);
  {
    int e = errno;
    dns_transmit_free(&tx);
    errno = e;
  }
  return r;
}

int dnsq_query(unsigned char const *name, unsigned qtype, dnsq_clock *c, dnsans *out)
{
  unsigned char q[DNSNAME_MAX + 1];
  unsigned i;
  memcpy(q, name, dnsname_len(name));
  for (i = 0;; i++) {
    if (resolve(q, qtype, c, out) < 0) return -1;
    if (!out->cname) return 0;
    /* The chain left the answer: ask for its end, a bounded number of times. */
    if (i == DNSQ_REQUERY_MAX) {
      errno = ELOOP;
      return -1;
    }
    memcpy(q, out->target, dnsname_len(out->target));
  }
}

unsigned selfaddrs(unsigned char (*out)[16], unsigned max)
{
  struct ifaddrs *ifa, *p;
  unsigned n = 0;
  /* 0.0.0.0 and :: reach this host too; 127.0.0.1 even without an lo in the list */
  static unsigned char const fixed[3][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0},
    {0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1},
  };
  for (; n < 3 && n < max; n++) memcpy(out[n], fixed[n], 16);
  if (getifaddrs(&ifa) < 0) return n;
  for (p = ifa; p && n < max; p = p->ifa_next) {
    if (!p->ifa_addr) continue;
    if (p->ifa_addr->sa_family == AF_INET) {
      struct sockaddr_in const *s = (struct sockaddr_in const *)(void const *)p->ifa_addr;
      memset(out[n], 0, 10);
      out[n][10] = out[n][11] = 0xff;
      memcpy(out[n] + 12, &s->sin_addr, 4);
      n++;
    } else if (p->ifa_addr->sa_family == AF_INET6) {
      struct sockaddr_in6 const *s = (struct sockaddr_in6 const *)(void const *)p->ifa_addr;
      memcpy(out[n], &s->sin6_addr, 16);
      n++;
    }
  }
  freeifaddrs(ifa);
  return n;
}
