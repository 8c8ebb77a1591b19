#ifndef MAILROOM_SHOWCTL_H
#define MAILROOM_SHOWCTL_H
/* mailroom-showctl's modules: the table of control files (showctl_table.c), the checks of
   each kind of file and across files (showctl_check.c), the report (showctl_out.c). */
#include <stddef.h>

enum sc_kind {
  SC_NUM,      /* a number on the first line, in min..max */
  SC_HOST,     /* a host name on the first line */
  SC_LINE,     /* any text on the first line (a path, a delivery) */
  SC_DOMAINS,  /* domains one a line (locals); dots allowed first when sub is set */
  SC_ADDRS,    /* addresses one a line (recipients) */
  SC_VDOMAINS, /* control/virtualdomains */
  SC_ROUTES,   /* control/smtproutes */
  SC_TLSDOMS,  /* control/tlsdomains */
  SC_SECRET,   /* a key or credentials: shown as present, never read; not for others */
  SC_FILE,     /* another file a program reads whole (a certificate, tcprules source) */
  SC_DIR,      /* a folder of files for one role (dkim keys): closed to others */
  SC_CDB       /* made from another file (source): must not be older than it */
};

struct sc_file {
  char const *name;
  enum sc_kind kind;
  unsigned long def, min, max; /* SC_NUM */
  char const *defs;            /* what applies when the file is missing, as text */
  char const *source;          /* SC_CDB: the file it is made from; SC_DOMAINS: "sub" */
  char const *meaning;
};

extern struct sc_file const sc_files[];
extern size_t const sc_nfiles;
extern struct sc_file const *sc_lookup(char const *name);

/* The report: what each file holds, and the mistakes. */
#define SC_SHOW_MAX 50 /* lines of a list shown; the rest are counted */
struct sc_entry {
  struct sc_file const *f;
  int exists;
  char *value; /* malloc'd text ("\n" between the lines of a list), or 0 */
  unsigned long nlines;
};
struct sc_mistake {
  char file[64];
  unsigned long line; /* 0: the file as a whole */
  char *text;         /* malloc'd */
};
struct sc_report {
  struct sc_entry *e;
  size_t ne;
  struct sc_mistake *m;
  size_t nm, capm;
  char **notes;
  size_t nn, capn;
};

/* showctl_check.c: fills r for the instance in the cwd. 0, or -1 (errno) when control/
   cannot be read at all. */
extern int sc_check(struct sc_report *r);
extern void sc_mistake(struct sc_report *r, char const *file, unsigned long line, char const *fmt, ...)
  __attribute__((format(printf, 4, 5)));
extern void sc_note(struct sc_report *r, char const *fmt, ...) __attribute__((format(printf, 2, 3)));
extern void sc_free(struct sc_report *r);

/* showctl_out.c */
extern void sc_print(struct sc_report const *r, char const *home);
extern void sc_json(struct sc_report const *r, char const *home);
#endif
