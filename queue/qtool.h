#ifndef MAILROOM_QTOOL_H
#define MAILROOM_QTOOL_H
/* What the queue tools (mailroom-qstat, -qread, -qctl, -qcheck) share: reading the queue's
   files without changing them, the info file format as mailroom-send writes it
   (INTERNALS.md), JSON strings, ages. */
#include <stddef.h>
#include <time.h>
#include <skalibs/buffer.h>
#include "qid.h"
#include "vdomain.h"

#define QT_INFO_HEADER 64
#define QT_INFO_RECORD 256
#define QT_INFO_TEXT 231 /* bytes 24..254 of a record */
#define QT_FLAG_HELD 1UL

struct qt_cf {
  char me[256];
  char *locals;
  size_t localslen;
};

struct qt_rcpt {
  char const *addr; /* into the message's envelope */
  char state;       /* 'T' 'D' 'F' 'B' */
  char chan;        /* 'L' 'R' */
  char *vaddr;      /* a virtual domain's: prefix-local@domain (malloc'd), else 0 */
  unsigned attempts;
  unsigned long long next;
  char text[QT_INFO_TEXT + 1]; /* last result, trailing spaces removed */
};

struct qt_msg {
  char id[QID_MAX + 1];
  char where; /* 'n' queue/new, 'm' queue/mess */
  unsigned long long arrival, msglen, fsize;
  char *env;
  size_t envlen;
  char const *sender;
  unsigned nrcpt;
  struct qt_rcpt *r;
  unsigned long flags; /* the info header's */
  int hasinfo;         /* 1 if queue/info/ID was read and valid */
};

struct qt_list {
  struct qt_msg *m;
  size_t n, cap;
  unsigned long bad; /* files that are not a valid message (mailroom-qcheck's business) */
};

/* Recipient buckets of mailroom-qstat, exclusive: */
enum { QT_NEW, QT_FIRST, QT_DEFERRED, QT_HELD, QT_BOUNCING, QT_DONE, QT_NBUCKET };

/* qtool_read.c */
extern int qt_config(struct qt_cf *cf);
extern int qt_islocal(struct qt_cf const *cf, char const *addr);
extern int qt_virtual(char const *addr, char *out, size_t cap);
extern int qt_parseinfo(char const *buf, size_t len, unsigned nrcpt, struct qt_rcpt *r, unsigned long *flags);
extern int qt_loadone(struct qt_msg *m, struct qt_cf const *cf, char dir, char const *id);
extern int qt_load(struct qt_list *l, struct qt_cf const *cf);
extern struct qt_msg *qt_find(struct qt_list const *l, char const *id);
extern void qt_freemsg(struct qt_msg *m);
extern void qt_free(struct qt_list *l);
extern int qt_bucket(struct qt_msg const *m, unsigned i);
extern int qt_domainis(char const *addr, char const *domain);

/* qtool_out.c */
extern int qt_json_str(buffer *b, char const *s);
extern void qt_age(char *out, size_t n, long long secs);
extern _Noreturn void qt_die_nomem(void);
extern void qt_put(buffer *b, char const *s);
extern void qt_putf(buffer *b, char const *fmt, ...) __attribute__((format(printf, 2, 3)));
extern void qt_flush(buffer *b);
#endif
