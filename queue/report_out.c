/* mailroom-report's output: text (like qmailanalog's and pflogsumm's summaries), JSON for
   scripts, and a self-contained HTML page whose charts are inline SVG drawn here: no script,
   no style sheet or font from the network. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include "qtool.h"
#include "report.h"

#define HOURS_MAX 168 /* bars in the hourly chart: the last week of the log */

static char const *const chname[3] = { "local", "remote", "no channel" };
static char const *const resname[3] = { "delivered", "deferred", "failed" };

static void stamp(char *out, size_t n, double t)
{
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  if (!strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm)) out[0] = 0;
}

static void table(struct rpt_tab const *t, char const *title, char const *const *cols, int ncol, unsigned top)
{
  size_t n;
  struct rpt_ent **v = rpt_tab_top(t, 0, &n);
  qt_putf(buffer_1, "\n%s (%zu%s)\n", title, n, n > top ? ", top shown" : "");
  for (int c = 0; c < ncol; c++) qt_putf(buffer_1, "%10s", cols[c]);
  qt_put(buffer_1, "  \n");
  for (size_t k = 0; k < n && k < top; k++) {
    for (int c = 0; c < ncol; c++) qt_putf(buffer_1, "%10llu", v[k]->v[c]);
    qt_putf(buffer_1, "  %s\n", v[k]->k);
  }
  free(v);
}

void rpt_text(struct rpt *r, unsigned top)
{
  static char const *const sc[] = { "messages", "bytes" }, *const rc[] = { "delivered", "deferred", "failed" },
                           *const dc[] = { "deferred", "failed" };
  char a[40], b[40];
  qt_putf(buffer_1, "mailroom-report: %lu log lines, %lu not mailroom-send events\n", r->lines, r->skipped);
  if (r->stamped) {
    stamp(a, sizeof a, r->tmin);
    stamp(b, sizeof b, r->tmax);
    qt_putf(buffer_1, "from %s to %s\n", a, b);
  } else
    qt_put(buffer_1, "no time stamps (log through multilog for delays and times)\n");
  qt_put(buffer_1, "\nMessages\n");
  qt_putf(buffer_1, "  %-26s %10llu\n  %-26s %10llu\n  %-26s %10llu\n  %-26s %10llu\n  %-26s %10llu\n",
          "received", r->in, "bytes received", r->bytes_in, "finished (left the queue)", r->finished, "bounces sent",
          r->bounces, "double bounces dropped", r->dropped_bounces);
  qt_putf(buffer_1, "\nDeliveries %16s %10s %10s %10s\n", "total", chname[0], chname[1], chname[2]);
  for (int k = 0; k < 3; k++)
    qt_putf(buffer_1, "  %-24s %10llu %10llu %10llu %10llu\n", resname[k], r->res[k][0] + r->res[k][1] + r->res[k][2],
            r->res[k][0], r->res[k][1], r->res[k][2]);
  qt_putf(buffer_1, "  %-24s %10llu\n", "bytes delivered", r->bytes_out);
  if (r->ndelays)
    qt_putf(buffer_1, "\nDelivery delay, arrival to delivery (%zu deliveries): p50 %.3f s  p90 %.3f s  p99 %.3f s  max %.3f s\n",
            r->ndelays, rpt_percentile(r, 50), rpt_percentile(r, 90), rpt_percentile(r, 99), rpt_percentile(r, 100));
  else
    qt_put(buffer_1, "\nDelivery delay: unknown (no time-stamped deliveries)\n");
  table(&r->senders, "Senders", sc, 2, top);
  table(&r->rcpts, "Recipients", rc, 3, top);
  table(&r->domains, "Remote domains", rc, 3, top);
  table(&r->reasons, "Deferral and failure reasons", dc, 2, top);
  if (r->admin || r->cleanups)
    qt_putf(buffer_1, "\nqueue control actions: %llu, temporary files cleaned up: %llu\n", r->admin, r->cleanups);
  if (r->fetchpolls[0] + r->fetchpolls[1])
    qt_putf(buffer_1, "\nmailroom-fetch: polls %llu ok, %llu failed; messages fetched %llu, skipped %llu, refused %llu, failed %llu\n",
            r->fetchpolls[0], r->fetchpolls[1], r->fetch[0], r->fetch[1], r->fetch[2], r->fetch[3]);
  for (int k = 0; k < 2; k++)
    if (r->conn[k][0] + r->conn[k][1] + r->conn[k][2] + r->conn[k][3] + r->overloads[k])
      qt_putf(buffer_1, "\n%s connection limits: refused per client %llu; cut in overload mode %llu, too slow %llu, at sessiontime %llu; overload mode began %llu times\n",
              k ? "pop3d" : "smtpd", r->conn[k][0], r->conn[k][1], r->conn[k][2], r->conn[k][3], r->overloads[k]);
  qt_flush(buffer_1);
}

static void jtable(struct rpt_tab const *t, char const *name, char const *keyname, char const *const *cols, int ncol,
                   unsigned top)
{
  size_t n;
  struct rpt_ent **v = rpt_tab_top(t, 0, &n);
  qt_putf(buffer_1, ",\"%s\":[", name);
  for (size_t k = 0; k < n && k < top; k++) {
    qt_putf(buffer_1, "%s{\"%s\":", k ? "," : "", keyname);
    qt_json_str(buffer_1, v[k]->k);
    for (int c = 0; c < ncol; c++) qt_putf(buffer_1, ",\"%s\":%llu", cols[c], v[k]->v[c]);
    qt_put(buffer_1, "}");
  }
  qt_put(buffer_1, "]");
  free(v);
}

static void jnum(char const *name, double v)
{
  if (v < 0) qt_putf(buffer_1, ",\"%s\":null", name);
  else qt_putf(buffer_1, ",\"%s\":%.6f", name, v);
}

static int byhour(void const *a, void const *b)
{
  long long x = strtoll((*(struct rpt_ent *const *)a)->k, 0, 10), y = strtoll((*(struct rpt_ent *const *)b)->k, 0, 10);
  return x < y ? -1 : x > y;
}

static struct rpt_ent **hours(struct rpt const *r, size_t *n)
{
  struct rpt_ent **v = rpt_tab_top(&r->hours, 0, n);
  qsort(v, *n, sizeof *v, byhour); /* NOLINT(bugprone-sizeof-expression): v is an array of pointers: sizeof *v is one pointer */
  return v;
}

void rpt_json(struct rpt *r, unsigned top)
{
  static char const *const sc[] = { "messages", "bytes" }, *const rc[] = { "delivered", "deferred", "failed" },
                           *const dc[] = { "deferred", "failed" };
  static char const *const jch[3] = { "local", "remote", "unknown" };
  size_t nh;
  struct rpt_ent **h;
  qt_putf(buffer_1, "{\"lines\":%lu,\"skipped\":%lu,\"stamped\":%lu", r->lines, r->skipped, r->stamped);
  jnum("first", r->stamped ? r->tmin : -1);
  jnum("last", r->stamped ? r->tmax : -1);
  qt_putf(buffer_1, ",\"messages\":{\"in\":%llu,\"bytes_in\":%llu,\"finished\":%llu,\"bounces\":%llu,\"double_bounces_dropped\":%llu}",
          r->in, r->bytes_in, r->finished, r->bounces, r->dropped_bounces);
  qt_put(buffer_1, ",\"deliveries\":{");
  for (int k = 0; k < 3; k++) {
    qt_putf(buffer_1, "%s\"%s\":{\"total\":%llu", k ? "," : "", resname[k], r->res[k][0] + r->res[k][1] + r->res[k][2]);
    for (int c = 0; c < 3; c++) qt_putf(buffer_1, ",\"%s\":%llu", jch[c], r->res[k][c]);
    qt_put(buffer_1, "}");
  }
  qt_putf(buffer_1, ",\"bytes_delivered\":%llu}", r->bytes_out);
  qt_putf(buffer_1, ",\"delay\":{\"count\":%zu", r->ndelays);
  jnum("p50", rpt_percentile(r, 50));
  jnum("p90", rpt_percentile(r, 90));
  jnum("p99", rpt_percentile(r, 99));
  jnum("max", rpt_percentile(r, 100));
  qt_put(buffer_1, "}");
  jtable(&r->senders, "senders", "address", sc, 2, top);
  jtable(&r->rcpts, "recipients", "address", rc, 3, top);
  jtable(&r->domains, "domains", "domain", rc, 3, top);
  jtable(&r->reasons, "reasons", "text", dc, 2, top);
  h = hours(r, &nh);
  qt_put(buffer_1, ",\"hours\":[");
  for (size_t k = 0; k < nh; k++)
    qt_putf(buffer_1, "%s{\"hour\":%lld,\"messages\":%llu,\"deliveries\":%llu}", k ? "," : "", strtoll(h[k]->k, 0, 10) * 3600,
            h[k]->v[0], h[k]->v[1]);
  free(h);
  qt_putf(buffer_1, "],\"admin_actions\":%llu,\"tmp_cleanups\":%llu", r->admin, r->cleanups);
  qt_putf(buffer_1, ",\"fetch\":{\"polls_ok\":%llu,\"polls_failed\":%llu,\"fetched\":%llu,\"skipped\":%llu,\"refused\":%llu,\"failed\":%llu}",
          r->fetchpolls[0], r->fetchpolls[1], r->fetch[0], r->fetch[1], r->fetch[2], r->fetch[3]);
  for (int k = 0; k < 2; k++)
    qt_putf(buffer_1, ",\"%s_limits\":{\"refused_perclient\":%llu,\"cut_overload\":%llu,\"cut_slowdata\":%llu,\"cut_sessiontime\":%llu,\"overload_began\":%llu}",
            k ? "pop3d" : "smtpd", r->conn[k][0], r->conn[k][1], r->conn[k][2], r->conn[k][3], r->overloads[k]);
  qt_put(buffer_1, "}\n");
  qt_flush(buffer_1);
}

/* --- HTML ------------------------------------------------------------------------------- */

static void esc(FILE *f, char const *s)
{
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '&') fputs("&amp;", f);
    else if (c == '<') fputs("&lt;", f);
    else if (c == '>') fputs("&gt;", f);
    else if (c == '"') fputs("&quot;", f);
    else if (c < 32 || c > 126) fprintf(f, "&#%u;", (unsigned)(c < 32 ? 0xfffd : c));
    else fputc(c, f);
  }
}

static void htable(FILE *f, struct rpt_tab const *t, char const *title, char const *const *cols, int ncol, unsigned top)
{
  size_t n;
  struct rpt_ent **v = rpt_tab_top(t, 0, &n);
  fprintf(f, "<h2>%s</h2>\n<table><tr>", title);
  for (int c = 0; c < ncol; c++) fprintf(f, "<th>%s</th>", cols[c]);
  fputs("<th class=\"l\"></th></tr>\n", f);
  for (size_t k = 0; k < n && k < top; k++) {
    fputs("<tr>", f);
    for (int c = 0; c < ncol; c++) fprintf(f, "<td>%llu</td>", v[k]->v[c]);
    fputs("<td class=\"l\">", f);
    esc(f, v[k]->k);
    fputs("</td></tr>\n", f);
  }
  if (!n) fprintf(f, "<tr><td colspan=\"%d\" class=\"l\">none</td></tr>\n", ncol + 1);
  fputs("</table>\n", f);
  free(v);
}

/* Bars for values v[0..n) with labels, in a W x H SVG; each bar is a <rect class="bar">. */
static void bars(FILE *f, char const *id, char const *title, double const *v, char const *const *label, size_t n,
                 char const *unit)
{
  int const W = 760, H = 260, L = 100, B = 40, T = 30;
  double max = 0, bw;
  fprintf(f, "<svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
          id, W, H, W, H);
  fprintf(f, "<title>%s</title><rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", title, W, H);
  fprintf(f, "<text x=\"%d\" y=\"18\" font-size=\"14\" font-family=\"sans-serif\">%s</text>\n", L, title);
  for (size_t k = 0; k < n; k++)
    if (v[k] > max) max = v[k];
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", L, H - B, W - 10, H - B);
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", L, T, L, H - B);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\" font-family=\"sans-serif\">%.4g %s</text>\n", L - 4,
          T + 4, max, unit);
  fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\" font-family=\"sans-serif\">0</text>\n", L - 4, H - B);
  if (!n || max <= 0) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"13\" font-family=\"sans-serif\">no data</text>\n</svg>\n", L + 20, H / 2);
    return;
  }
  bw = (double)(W - 10 - L) / (double)n;
  if (bw > 80) bw = 80; /* a few bars stay bars, not walls */
  for (size_t k = 0; k < n; k++) {
    double h = v[k] / max * (H - B - T);
    if (v[k] > 0 && h < 1) h = 1;
    fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3a6ea5\"><title>",
            L + k * bw + bw * 0.1, H - B - h, bw * 0.8, h);
    esc(f, label[k]);
    fprintf(f, ": %.4g %s</title></rect>\n", v[k], unit);
    if (n <= 24 || k % (n / 12 + 1) == 0) {
      fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" font-family=\"sans-serif\">",
              L + k * bw + bw / 2, H - B + 14);
      esc(f, label[k]);
      fputs("</text>\n", f);
    }
  }
  fputs("</svg>\n", f);
}

static void charts(FILE *f, struct rpt *r)
{
  size_t nh, first = 0, n;
  struct rpt_ent **h = hours(r, &nh);
  long long h0, h1;
  double *v;
  char **lab;
  static char const *const pl[4] = { "p50", "p90", "p99", "max" };
  double pv[4];
  h0 = nh ? strtoll(h[0]->k, 0, 10) : 0;
  h1 = nh ? strtoll(h[nh - 1]->k, 0, 10) : -1;
  if (h1 - h0 + 1 > HOURS_MAX) h0 = h1 - HOURS_MAX + 1;
  n = (size_t)(h1 - h0 + 1);
  v = calloc(n ? n : 1, sizeof *v);
  lab = calloc(n ? n : 1, sizeof *lab);
  if (!v || !lab) qt_die_nomem();
  for (size_t k = 0; k < n; k++) {
    time_t t = (time_t)((h0 + (long long)k) * 3600);
    struct tm tm;
    lab[k] = malloc(16);
    if (!lab[k]) qt_die_nomem();
    gmtime_r(&t, &tm);
    if (!strftime(lab[k], 16, n > 24 ? "%d %Hh" : "%Hh", &tm)) lab[k][0] = 0;
  }
  for (size_t k = first; k < nh; k++) {
    long long x = strtoll(h[k]->k, 0, 10);
    if (x >= h0 && x <= h1) v[x - h0] = (double)h[k]->v[0];
  }
  bars(f, "chart-hours", "Messages received per hour (UTC)", v, (char const *const *)lab, n, "messages");
  for (int k = 0; k < 4; k++) pv[k] = rpt_percentile(r, k == 0 ? 50 : k == 1 ? 90 : k == 2 ? 99 : 100);
  bars(f, "chart-delays", "Delivery delay, arrival to delivery", pv, pl, r->ndelays ? 4 : 0, "s");
  for (size_t k = 0; k < n; k++) free(lab[k]);
  free(lab);
  free(v);
  free(h);
}

int rpt_html(struct rpt *r, unsigned top, char const *file)
{
  static char const *const sc[] = { "messages", "bytes" }, *const rc[] = { "delivered", "deferred", "failed" },
                           *const dc[] = { "deferred", "failed" };
  char tmp[4096], a[40], b[40];
  FILE *f;
  if (snprintf(tmp, sizeof tmp, "%s.tmp", file) >= (int)sizeof tmp) return (errno = ENAMETOOLONG, -1);
  f = fopen(tmp, "w");
  if (!f) return -1;
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mailroom report</title>\n"
        "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}.l{text-align:left}svg{display:block;margin:1em 0;"
        "border:1px solid #ddd}</style></head><body>\n<h1>mailroom report</h1>\n", f);
  if (r->stamped) {
    stamp(a, sizeof a, r->tmin);
    stamp(b, sizeof b, r->tmax);
    fprintf(f, "<p>%lu log lines from %s to %s.</p>\n", r->lines, a, b);
  } else
    fprintf(f, "<p>%lu log lines, without time stamps.</p>\n", r->lines);
  fprintf(f, "<h2>Messages</h2><table><tr><td class=\"l\">received</td><td>%llu</td></tr>"
             "<tr><td class=\"l\">bytes received</td><td>%llu</td></tr><tr><td class=\"l\">finished</td><td>%llu</td></tr>"
             "<tr><td class=\"l\">bounces sent</td><td>%llu</td></tr></table>\n",
          r->in, r->bytes_in, r->finished, r->bounces);
  fputs("<h2>Deliveries</h2><table><tr><th></th><th>total</th><th>local</th><th>remote</th><th>no channel</th></tr>\n", f);
  for (int k = 0; k < 3; k++)
    fprintf(f, "<tr><td class=\"l\">%s</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td></tr>\n", resname[k],
            r->res[k][0] + r->res[k][1] + r->res[k][2], r->res[k][0], r->res[k][1], r->res[k][2]);
  fputs("</table>\n", f);
  charts(f, r);
  htable(f, &r->senders, "Senders", sc, 2, top);
  htable(f, &r->rcpts, "Recipients", rc, 3, top);
  htable(f, &r->domains, "Remote domains", rc, 3, top);
  htable(f, &r->reasons, "Deferral and failure reasons", dc, 2, top);
  fputs("</body></html>\n", f);
  if (fflush(f) || ferror(f) || fsync(fileno(f)) < 0) {
    int e = errno;
    (void)fclose(f); /* already failing: the write error is the one reported */
    unlink(tmp);
    return (errno = e ? e : EIO, -1);
  }
  if (fclose(f) < 0 || rename(tmp, file) < 0) {
    int e = errno;
    unlink(tmp);
    return (errno = e, -1);
  }
  return 0;
}
