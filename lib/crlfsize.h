#ifndef MAILROOM_CRLFSIZE_H
#define MAILROOM_CRLFSIZE_H
/* The size of a stored message as POP3 sends it (RFC 1939 section 11, "Message Format":
   each line end counted as CR LF, a byte-stuffed dot not counted): the ",W=" of a Maildir
   name (Courier, Dovecot). The count follows pop3d's RETR transform exactly (pop3d_xform.c):
   a LF is a line end, a CR before a LF is part of it, any other CR is data, and a last line
   without its LF is ended (CR LF). Pure, streaming. */
#include <stddef.h>
#include <stdint.h>

typedef struct crlfsize_s crlfsize;
struct crlfsize_s {
  uint64_t n; /* octets so far, a held CR and the end not counted */
  int bol;    /* at the start of a line */
  int cr;     /* a CR is held: part of CR LF if a LF follows */
};
extern void crlfsize_init(crlfsize *c);
extern void crlfsize_feed(crlfsize *c, char const *s, size_t len);
/* The size of the whole message (the state is left as it was). */
extern uint64_t crlfsize_end(crlfsize const *c);
#endif
