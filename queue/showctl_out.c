/* mailroom-showctl's report: text for an admin, or JSON (--json). */
#include <skalibs/buffer.h>
#include "qtool.h"
#include "showctl.h"

static void put_value(struct sc_entry const *e)
{
  char const *v = e->value;
  if (e->f->kind == SC_NUM || e->f->kind == SC_HOST || e->f->kind == SC_LINE) {
    qt_putf(buffer_1, "%s", v);
    if (e->f->kind == SC_NUM) qt_putf(buffer_1, " (default %lu)", e->f->def);
    return;
  }
  if (e->f->kind == SC_SECRET || e->f->kind == SC_FILE || e->f->kind == SC_DIR || e->f->kind == SC_CDB) {
    qt_put(buffer_1, v);
    return;
  }
  qt_putf(buffer_1, "%lu line%s", e->nlines, e->nlines == 1 ? "" : "s");
  for (char const *p = v; p && *p;) {
    char const *nl = p;
    while (*nl && *nl != '\n') nl++;
    qt_putf(buffer_1, "\n    %.*s", (int)(nl - p), p);
    p = *nl ? nl + 1 : nl;
  }
  if (e->nlines > SC_SHOW_MAX) qt_putf(buffer_1, "\n    ... and %lu more", e->nlines - SC_SHOW_MAX);
}

void sc_print(struct sc_report const *r, char const *home)
{
  qt_putf(buffer_1, "mailroom-showctl: the instance %s, its control files in %s/control\n\n", home, home);
  for (size_t i = 0; i < r->ne; i++) {
    struct sc_entry const *e = &r->e[i];
    qt_putf(buffer_1, "%s: ", e->f->name);
    if (!e->exists) qt_putf(buffer_1, "not set, default %s", e->f->defs);
    else if (!e->value) qt_put(buffer_1, "(no value)");
    else put_value(e);
    qt_putf(buffer_1, "\n  %s\n", e->f->meaning);
  }
  for (size_t i = 0; i < r->nn; i++) qt_putf(buffer_1, "\nnote: %s", r->notes[i]);
  qt_put(buffer_1, "\n");
  for (size_t i = 0; i < r->nm; i++) {
    struct sc_mistake const *m = &r->m[i];
    if (m->line) qt_putf(buffer_1, "mistake: control/%s line %lu: %s\n", m->file, m->line, m->text);
    else qt_putf(buffer_1, "mistake: control/%s: %s\n", m->file, m->text);
  }
  qt_putf(buffer_1, "%lu mistake%s found\n", (unsigned long)r->nm, r->nm == 1 ? "" : "s");
}

void sc_json(struct sc_report const *r, char const *home)
{
  qt_put(buffer_1, "{\"home\":");
  qt_json_str(buffer_1, home);
  qt_put(buffer_1, ",\"files\":[");
  for (size_t i = 0; i < r->ne; i++) {
    struct sc_entry const *e = &r->e[i];
    qt_put(buffer_1, i ? ",\n{\"name\":" : "\n{\"name\":");
    qt_json_str(buffer_1, e->f->name);
    qt_putf(buffer_1, ",\"set\":%s,\"value\":", e->exists ? "true" : "false");
    if (e->exists && e->value) qt_json_str(buffer_1, e->value);
    else qt_put(buffer_1, "null");
    qt_putf(buffer_1, ",\"lines\":%lu,\"default\":", e->nlines);
    qt_json_str(buffer_1, e->f->defs);
    qt_put(buffer_1, ",\"meaning\":");
    qt_json_str(buffer_1, e->f->meaning);
    qt_put(buffer_1, "}");
  }
  qt_put(buffer_1, "],\n\"mistakes\":[");
  for (size_t i = 0; i < r->nm; i++) {
    qt_put(buffer_1, i ? ",\n{\"file\":" : "\n{\"file\":");
    qt_json_str(buffer_1, r->m[i].file);
    qt_putf(buffer_1, ",\"line\":%lu,\"text\":", r->m[i].line);
    qt_json_str(buffer_1, r->m[i].text);
    qt_put(buffer_1, "}");
  }
  qt_put(buffer_1, "],\n\"notes\":[");
  for (size_t i = 0; i < r->nn; i++) {
    if (i) qt_put(buffer_1, ",");
    qt_json_str(buffer_1, r->notes[i]);
  }
  qt_put(buffer_1, "]}\n");
}
