/* The MX list: preference order, a random order among equal preferences (RFC 5321 5.1, so
   equal MX hosts share the load), and this host's own entries taken out. */
#include <string.h>

#include "remote.h"

void mx_sort(dnsmx *mx, unsigned n, unsigned (*rnd)(unsigned))
{
  unsigned i, j;
  /* insertion sort: n <= DNSANS_MX_MAX */
  for (i = 1; i < n; i++) {
    dnsmx t = mx[i];
    for (j = i; j && mx[j - 1].pref > t.pref; j--) mx[j] = mx[j - 1];
    mx[j] = t;
  }
  for (i = 0; i < n; i = j) {
    unsigned k;
    for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++) {
    }
    /* Fisher-Yates over [i, j) */
    for (k = j - 1; k > i; k--) {
      unsigned r = i + rnd(k - i + 1);
      if (r != k) {
        dnsmx t = mx[k];
        mx[k] = mx[r];
        mx[r] = t;
      }
    }
  }
}

unsigned mx_dropself(mxaddr *a, unsigned n, unsigned char const (*self)[16], unsigned nself, int *wasself)
{
  unsigned i, j, best = 0;
  int found = 0;
  for (i = 0; i < n; i++)
    for (j = 0; j < nself; j++)
      if (!memcmp(a[i].ip, self[j], 16) && (!found || a[i].pref < best)) {
        best = a[i].pref;
        found = 1;
      }
  *wasself = found;
  if (!found) return n;
  for (i = j = 0; i < n; i++)
    if (a[i].pref < best) a[j++] = a[i];
  return j;
}
