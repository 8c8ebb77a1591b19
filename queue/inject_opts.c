/* sendmail's command line. Not subgetopt: sendmail's flags are not getopt's (-q and -d take
   an optional attached value, "-oi" is a flag spelled as an option), and scripts written
   for sendmail, Postfix and qmail pass all of them. Flags that change nothing here are
   accepted and ignored, so those scripts keep working. */
#include <string.h>

#include "inject.h"

/* Flags taking a value, attached ("-fuser") or as the next argument ("-f user"). */
static char const withvalue[] = "ABbCFfhLMNOoRrpVXe";
/* Flags taking an optional attached value only. */
static char const optvalue[] = "dqQ";
/* Flags without a value. */
static char const plain[] = "GimntUv";

int inject_opts_parse(inject_opts *o, int argc, char const *const *argv,
                      char const **err, char const **errarg)
{
  int i = 1;
  o->sender = 0;
  o->fullname = 0;
  o->mode = 'm';
  o->flagt = o->flagi = o->flagq = 0;
  o->notify[0] = o->envid[0] = 0;
  o->ret = 0;
  for (; i < argc; i++) {
    char const *a = argv[i];
    if (a[0] != '-' || !a[1]) break;
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    for (a++; *a; a++) {
      char c = *a;
      char const *v;
      if (strchr(plain, c)) {
        if (c == 't') o->flagt = 1;
        else if (c == 'i') o->flagi = 1;
        continue;
      }
      if (strchr(optvalue, c)) {
        if (c == 'q') o->flagq = 1;
        break; /* the rest of the argument is the value */
      }
      if (!strchr(withvalue, c)) {
        *err = "unknown option";
        *errarg = argv[i];
        return -1;
      }
      if (a[1]) v = a + 1;
      else if (i + 1 < argc) v = argv[++i];
      else {
        *err = "missing value for option";
        *errarg = argv[i];
        return -1;
      }
      switch (c) {
        case 'f':
        case 'r': o->sender = v; break;
        case 'F': o->fullname = v; break;
        case 'b':
          if (!v[0] || v[1]) {
            *err = "unknown mode";
            *errarg = v;
            return -1;
          }
          o->mode = v[0];
          break;
        case 'o':
          if (!strcmp(v, "i")) o->flagi = 1;
          break;
        case 'N': {
          unsigned bits = dsn_notify_parse(v, strlen(v));
          if (!bits) {
            *err = "bad -N value (never, or a list of delay, failure, success)";
            *errarg = v;
            return -1;
          }
          dsn_notify_fmt(bits, o->notify);
          break;
        }
        case 'R':
          switch (dsn_ret_parse(v, strlen(v))) {
            case DSN_RET_FULL: o->ret = "FULL"; break;
            case DSN_RET_HDRS: o->ret = "HDRS"; break;
            default:
              *err = "bad -R value (full or hdrs)";
              *errarg = v;
              return -1;
          }
          break;
        case 'V':
          /* the id as the user wrote it, xtext-encoded for the envelope (RFC 3461 4) */
          if (!*v || xtext_encode(v, strlen(v), o->envid, sizeof o->envid) < 0) {
            *err = "bad -V value (an envelope id of 1 to 100 characters once xtext-encoded)";
            *errarg = v;
            return -1;
          }
          break;
        default: break; /* -B -X -C -h -L -M -O -p -A -e: accepted, ignored */
      }
      break;
    }
  }
  return i;
}
