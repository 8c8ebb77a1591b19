#ifndef MAILROOM_DOTQMAIL_H
#define MAILROOM_DOTQMAIL_H
/* Dot files (.qmail, .qmail-EXT, .qmail-default; dot-mailroom(5)): a pure parser over a
   bounded buffer and the file names of the search, so that mailroom-local delivers with
   them and mailroom-smtpd can tell whether an extension address exists. libc only. */
#include <stddef.h>

#define DOTQMAIL_PREFIX ".qmail"
#define DOTQMAIL_FILE_MAX 65536 /* a bigger dot file is a temporary failure */
#define DOTQMAIL_LINE_MAX 1000  /* bytes of a line, without its LF; also ENV_ADDR_MAX */
#define DOTQMAIL_ACTS_MAX 100   /* delivery lines (not comments) of one dot file */
/* A dot file name: prefix, dash, the extension (at most one address' worth), "default". */
#define DOTQMAIL_NAME_MAX (sizeof DOTQMAIL_PREFIX + 1 + 1000 + 8)

/* Kinds of line. */
#define DQ_COMMENT 0 /* "#..." or a blank line after the first: nothing to do */
#define DQ_PROGRAM 1 /* "|command": value is the command, without the '|' */
#define DQ_FORWARD 2 /* "&address" or "address" starting with a letter or digit */
#define DQ_MAILDIR 3 /* "./path/" or "/path/": ends with '/' */
#define DQ_MBOX 4    /* "./path" or "/path" */

/* Errors of dotqmail_next(), negative. */
#define DQ_ELONG -1    /* a line over DOTQMAIL_LINE_MAX */
#define DQ_ENUL -2     /* a NUL byte */
#define DQ_ECTRL -3    /* a control character (other than tab, or CR before the LF) */
#define DQ_EBLANK -4   /* the first line is blank (qmail defers that too) */
#define DQ_EEMPTY -5   /* "|" or "&" with nothing after it */
#define DQ_EKIND -6    /* a line starting with none of # | & . / letter digit */
#define DQ_EMANY -7    /* more than DOTQMAIL_ACTS_MAX delivery lines */
#define DQ_EBIG -8     /* the file is over DOTQMAIL_FILE_MAX */

typedef struct dotqmail_s dotqmail;
struct dotqmail_s {
  char const *s; /* the file */
  size_t len;
  size_t pos;           /* where the next line starts */
  unsigned int lineno;  /* of the line last returned (1-based) */
  unsigned int nacts;   /* delivery lines returned so far */
};

typedef struct dotqmail_line_s dotqmail_line;
struct dotqmail_line_s {
  int kind;          /* DQ_* kind */
  char const *value; /* inside the file, not NUL-terminated; trailing blanks cut */
  size_t len;        /* at most DOTQMAIL_LINE_MAX */
  unsigned int lineno;
};

/* Starts a parse of s[0..len). Returns DQ_EBIG if len > DOTQMAIL_FILE_MAX, else 0. */
extern int dotqmail_init(dotqmail *d, char const *s, size_t len);
/* The next line: 1 (in *l), 0 at the end, or a DQ_E* error (d->lineno says where; the
   parse must stop there). A last line without LF counts. Trailing spaces, tabs and one CR
   are cut. Comments and blank lines (after the first) come back as DQ_COMMENT. */
extern int dotqmail_next(dotqmail *d, dotqmail_line *l);
/* Checks a whole file: 0 or a DQ_E* error; *nacts (may be 0) gets the delivery lines. */
extern int dotqmail_check(char const *s, size_t len, unsigned int *nacts);
extern char const *dotqmail_strerror(int e);

/* The dot file names tried for an address, in qmail-local's order: k = 0 is
   .qmail DASH EXT; k = 1, 2, ... are .qmail DASH PREFIX default going up to .qmail-default
   (none when dash is empty). EXT is lowercased and its dots become ':'. Writes a
   NUL-terminated name into s (n bytes) and, in *defpos, the offset in ext where $DEFAULT
   starts (or (size_t)-1 when the name has no "default" part). Returns 1, 0 when there is no
   k-th name, -1 if n is too small. */
extern int dotqmail_name(char *s, size_t n, char const *dash, char const *ext, unsigned int k,
                         size_t *defpos);
#endif
