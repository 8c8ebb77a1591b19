/* RFC 3464 delivery status notifications: multipart/report; report-type=delivery-status,
   with a human-readable part, the message/delivery-status part, and the original header as
   text/rfc822-headers (DESIGN.md: bounces are DSNs; INTERNALS.md, "Bounces and delay
   warnings"). Lines end in LF, as every message in the queue. */
#include <stdio.h>
#include <string.h>
#include "date822.h"
#include "dsnparam.h"
#include "send_dsn.h"

static int isdig(char c)
{
  return c >= '0' && c <= '9';
}

/* An enhanced code "c.s.d" at t: class one digit, subject and detail 1-3 digits each,
   followed by the end, a space or a tab. Its length, or 0. */
static size_t enhanced(char const *t)
{
  size_t i = 0, k;
  if (!(t[0] == '2' || t[0] == '4' || t[0] == '5') || t[1] != '.') return 0;
  i = 2;
  for (k = 0; k < 3 && isdig(t[i]); k++) i++;
  if (!k || t[i] != '.') return 0;
  i++;
  for (k = 0; k < 3 && isdig(t[i]); k++) i++;
  if (!k || (t[i] && t[i] != ' ' && t[i] != '\t')) return 0;
  return i;
}

/* mailroom-remote's texts are "host [ip] said: <reply> (stage)": the reply is what the
   Diagnostic-Code and the Status come from, the host is the Remote-MTA. Other texts are ours. */
static char const *remote_reply(char const *text, char *host, size_t hostmax)
{
  char const *said = strstr(text, " said: ");
  char const *sp;
  size_t n;
  *host = 0;
  if (!said) return text;
  sp = strchr(text, ' ');
  n = (size_t)(sp - text);
  if (n && n < hostmax) {
    memcpy(host, text, n);
    host[n] = 0;
  }
  return said + 7;
}

/* The status code of text with the class of kind: 5 failed, 4 delayed, 2 delivered or
   relayed. */
static void status_of(char const *text, int kind, char *out)
{
  char const *dflt = kind == DSN_DELAYED ? "4.0.0" : kind == DSN_FAILED ? "5.0.0" : "2.0.0";
  char host[256];
  char const *t = remote_reply(text, host, sizeof host);
  size_t l;
  if (isdig(t[0]) && isdig(t[1]) && isdig(t[2]) && (t[3] == ' ' || t[3] == '-')) t += 4;
  l = enhanced(t);
  if (!l) {
    memcpy(out, dflt, sizeof "4.0.0");
    return;
  }
  memcpy(out, t, l);
  out[l] = 0;
  out[0] = dflt[0];
}

void dsn_status(char const *text, int delayed, char *out)
{
  status_of(text, delayed ? DSN_DELAYED : DSN_FAILED, out);
}

/* An xtext value decoded, as one line (RFC 3461 6.2: the report carries ENVID and ORCPT
   decoded); bytes that are not printable ASCII become '?', so the report stays us-ascii. */
static int catxtext(stralloc *sa, char const *x, size_t n)
{
  char dec[DSN_ORCPT_MAX + 1];
  long l = xtext_decode(x, n, dec, sizeof dec);
  if (l < 0) return stralloc_catb(sa, x, n); /* cannot happen: the envelope was checked */
  for (long i = 0; i < l; i++)
    if ((unsigned char)dec[i] < 32 || (unsigned char)dec[i] >= 127) dec[i] = '?';
  return stralloc_catb(sa, dec, (size_t)l);
}

size_t dsn_header_len(char const *msg, size_t len)
{
  size_t pos = 0, lastend = 0;
  if (len > DSN_HEADERS_MAX) len = DSN_HEADERS_MAX;
  while (pos < len) {
    char const *nl = memchr(msg + pos, '\n', len - pos);
    size_t ll;
    if (!nl) break;
    ll = (size_t)(nl - (msg + pos));
    lastend = pos = (size_t)(nl - msg) + 1;
    if (!ll || (ll == 1 && msg[pos - 2] == '\r')) return pos; /* the empty line */
  }
  return lastend ? lastend : len; /* no body, or cut: whole lines, or what there is */
}

static int cat(stralloc *sa, char const *s)
{
  return stralloc_cats(sa, s);
}

/* A text as one line of a header field or a report: CR, LF and other controls become
   spaces, so nothing a remote server said can start a field or a part of its own. */
static int catline(stralloc *sa, char const *s)
{
  size_t start = sa->len, l = strlen(s);
  if (!stralloc_catb(sa, s, l)) return 0;
  for (size_t i = start; i < sa->len; i++)
    if ((unsigned char)sa->s[i] < 32 || sa->s[i] == 127) sa->s[i] = ' ';
  return 1;
}

static int catf(stralloc *sa, char const *fmt, char const *a, char const *b)
{
  char line[512];
  /* cppcheck-suppress wrongPrintfScanfArgNum ; a format with one %s leaves b over, which C allows (7.21.6.1) */
  snprintf(line, sizeof line, fmt, a, b);
  return cat(sa, line);
}

static int has(char const *hay, size_t n, char const *needle)
{
  return memmem(hay, n, needle, strlen(needle)) != 0;
}

int dsn_build(stralloc *sa, struct dsn const *d)
{
  static char const *const subject[] = { "Subject: Undelivered Mail Returned to Sender\n",
                                         "Subject: Delivery delayed: still trying\n",
                                         "Subject: Successful Mail Delivery Report\n",
                                         "Subject: Delivery Status Notification (relayed)\n" };
  static char const *const idtag[] = { "bounce", "delay", "delivered", "relayed" };
  static char const *const action[] = { "failed", "delayed", "delivered", "relayed" };
  char date[DATE822_MAX + 1], arr[DATE822_MAX + 1], b[96], st[16];
  size_t hl = d->full ? d->msglen : dsn_header_len(d->msg, d->msglen);
  unsigned salt = 0;
  int kind = d->delayed;
  date822_fmt(date, (long long)d->now, 0);
  date822_fmt(arr, (long long)d->arrival, 0);
  /* A boundary found nowhere in what the parts quote. */
  do snprintf(b, sizeof b, "=_mailroom_%s_%u", d->id, salt++);
  while (has(d->msg, hl, b) && salt < 1000);
  if (!catf(sa, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", d->me, 0) || !cat(sa, "To: ") ||
      !catline(sa, d->to) || !cat(sa, "\n") ||
      !cat(sa, subject[kind]) || !catf(sa, "Date: %s\n", date, 0) ||
      !catf(sa, "Message-ID: <%s.%s@", d->id, idtag[kind]) ||
      !catline(sa, d->me) || !cat(sa, ">\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n") ||
      !catf(sa, "Content-Type: multipart/report; report-type=delivery-status;\n boundary=\"%s\"\n\n", b, 0) ||
      !cat(sa, "This is a MIME-encapsulated message.\n\n"))
    return -1;
  /* 1: for people */
  if (!catf(sa, "--%s\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n", b, 0) ||
      !catf(sa, "This is the mail system at %s.\n\n", d->me, 0))
    return -1;
  if (kind == DSN_DELIVERED) {
    if (!cat(sa, "Your message was delivered to the recipients below, as you asked\n"
                 "(NOTIFY=SUCCESS).\n\n"))
      return -1;
  } else if (kind == DSN_RELAYED) {
    if (!cat(sa, "Your message was relayed to the recipients below, as you asked for notice of\n"
                 "success (NOTIFY=SUCCESS). The next mail system does not offer delivery\n"
                 "notifications, so this is the last notice you will get from here.\n\n"))
      return -1;
  } else if (d->delayed) {
    if (!cat(sa, "Your message could not be delivered yet to the recipients below. The mail\n"
                 "system will keep trying; you do not need to send it again. You will be told\n"
                 "if it gives up.\n\n"))
      return -1;
  } else if (!cat(sa, "I'm sorry to have to inform you that your message could not be delivered\n"
                      "to the recipients below. This is a permanent error; I've given up.\n\n"))
    return -1;
  for (unsigned i = 0; i < d->n; i++)
    if (!cat(sa, "<") || !catline(sa, d->rcpt[i].addr) || !cat(sa, ">: ") || !catline(sa, d->rcpt[i].text) ||
        !cat(sa, "\n"))
      return -1;
  if (d->cut && !cat(sa, "\nThe message was too large to be returned whole (RET=FULL): its header follows.\n"))
    return -1;
  /* 2: for programs */
  if (!catf(sa, "\n--%s\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n", b, 0) ||
      (d->envid && (!cat(sa, "Original-Envelope-Id: ") || !catxtext(sa, d->envid, strlen(d->envid)) ||
                    !cat(sa, "\n"))) ||
      !cat(sa, "Reporting-MTA: dns; ") || !catline(sa, d->me) || !catf(sa, "\nX-mailroom-Queue-ID: %s\n", d->id, 0) ||
      !catf(sa, "Arrival-Date: %s\n", arr, 0))
    return -1;
  for (unsigned i = 0; i < d->n; i++) {
    char host[256];
    char const *t = remote_reply(d->rcpt[i].text, host, sizeof host);
    int smtp = isdig(t[0]) && isdig(t[1]) && isdig(t[2]) && (t[3] == ' ' || t[3] == '-' || !t[3]);
    char const *oc = d->rcpt[i].orcpt ? strchr(d->rcpt[i].orcpt, ';') : 0;
    if (!smtp) t = d->rcpt[i].text;
    status_of(t, kind, st);
    if (!cat(sa, "\n") ||
        (oc && (!cat(sa, "Original-Recipient: ") || !stralloc_catb(sa, d->rcpt[i].orcpt, (size_t)(oc - d->rcpt[i].orcpt)) ||
                !cat(sa, "; ") || !catxtext(sa, oc + 1, strlen(oc + 1)) || !cat(sa, "\n"))) ||
        !cat(sa, "Final-Recipient: rfc822; ") || !catline(sa, d->rcpt[i].addr) ||
        !catf(sa, "\nAction: %s\nStatus: %s\n", action[kind], st) ||
        (smtp && *host && (!cat(sa, "Remote-MTA: dns; ") || !catline(sa, host) || !cat(sa, "\n"))) ||
        !cat(sa, smtp ? "Diagnostic-Code: smtp; " : "Diagnostic-Code: X-mailroom; ") || !catline(sa, t) ||
        !cat(sa, "\n"))
      return -1;
    if (kind == DSN_DELAYED && !catf(sa, "Last-Attempt-Date: %s\n", date, 0)) return -1;
  }
  /* 3: the original message (RET=FULL, failures only) or its header */
  if ((d->full ? !catf(sa, "\n--%s\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\n\n", b, 0)
               : !catf(sa, "\n--%s\nContent-Description: %s\nContent-Type: text/rfc822-headers\n\n", b,
                       kind >= DSN_DELIVERED ? "Message Headers" : "Undelivered Message Headers")) ||
      !stralloc_catb(sa, d->msg, hl) || (hl && d->msg[hl - 1] != '\n' && !cat(sa, "\n")) ||
      !catf(sa, "\n--%s--\n", b, 0))
    return -1;
  return 0;
}
