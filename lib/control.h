#ifndef MAILROOM_CONTROL_H
#define MAILROOM_CONTROL_H
/* Control files (qmail's control/ folder): paths are relative to the instance home, which
   programs chdir to first. A missing file is not an error: the caller's default applies. */
#include <stddef.h>

#define CONTROL_LINE_MAX 1024

/* First line of file, without trailing spaces/tabs/CR; into s (size n, NUL-terminated).
   Returns 1 read, 0 missing or empty (s gets def, which may be 0 for ""), -1 error
   (errno; EOVERFLOW if the line is longer than n - 1, EINVAL if it holds a NUL). */
extern int control_readline(char const *file, char *s, size_t n, char const *def);
/* First line as an unsigned number. 1 read, 0 missing (*u = def), -1 error (EINVAL if
   not a number). */
extern int control_readulong(char const *file, unsigned long *u, unsigned long def);
/* Whole file into a malloc'd buffer of NUL-separated lines, comments (#...) and blank
   lines dropped, trailing white space trimmed. *s is 0 and *n 0 for a missing file.
   Returns 1, 0 (missing) or -1. At most max bytes read (EFBIG past that). */
extern int control_readlines(char const *file, char **s, size_t *n, size_t max);
/* 1 if line (len bytes, compared case-insensitively) is one of the NUL-separated lines. */
extern int control_haslinecase(char const *lines, size_t n, char const *line, size_t len);
#endif
