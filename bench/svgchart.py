"""svgchart: the bar chart of bench/results.svg, drawn without any library.

Messages per second per figure, on a logarithmic axis (the figures span 10 to 100,000):
one bar for mailroom, one per peer (Postfix), and the fsync floor as a bar of its own and
a dashed line across the chart.
"""

import math
from xml.sax.saxutils import escape

COLORS = {'mailroom': '#2b6cb0', 'postfix': '#dd6b20', 'floor': '#c53030'}
LABEL_W = 330
BAR_W = 560
BAR_H = 11
GAP = 6


def chart(info):
    rows = [r for r in info['rows'] if isinstance(r.get('rate'), (int, float)) and r['rate']]
    peers = sorted({p for r in rows for p in r['peers'] if r['peers'][p].get('rate')})
    floor = info.get('floor') or 0
    rates = [r['rate'] for r in rows] + [r['peers'][p]['rate'] for r in rows for p in r['peers']
                                         if r['peers'][p].get('rate')] + ([floor] if floor else [])
    lo = 10 ** math.floor(math.log10(max(0.1, min(rates)))) if rates else 1
    hi = 10 ** math.ceil(math.log10(max(rates))) if rates else 10
    if hi <= lo:
        hi = lo * 10

    def x(v):
        v = max(lo, v)
        return LABEL_W + BAR_W * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    per_row = BAR_H * (1 + len(peers)) + GAP
    top = 60
    height = top + per_row * (len(rows) + 1) + 40
    width = LABEL_W + BAR_W + 90
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="10">'
           % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="18" font-size="13" font-weight="bold">mailroom make bench: messages per second '
           '(log scale)</text>',
           '<text x="10" y="34">%s, %s cpus, BENCH_SCALE=%s, load %s</text>' % (
               escape(info.get('date', '')), info.get('cpus', '?'), info.get('scale', 1),
               escape(' / '.join(l for _, l in info.get('loads', [])[:1])))]
    lx = 10
    for name in ['mailroom'] + peers + ['floor']:
        out.append('<rect x="%d" y="42" width="10" height="10" fill="%s"/><text x="%d" y="51">%s</text>'
                   % (lx, COLORS.get(name, '#555'), lx + 14, escape(name if name != 'floor' else 'fsync floor')))
        lx += 110
    # axis: a line per decade
    d = lo
    for _ in range(12):
        if d > hi:
            break
        xx = x(d)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (xx, top, xx, height - 30))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (xx, height - 16, '%g' % d))
        d *= 10
    y = top
    if floor:
        out.append('<text x="%d" y="%d" text-anchor="end">fsync floor</text>' % (LABEL_W - 6, y + BAR_H - 2))
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
            LABEL_W, y, x(floor) - LABEL_W, BAR_H, COLORS['floor']))
        out.append('<text x="%.1f" y="%d">%.0f</text>' % (x(floor) + 3, y + BAR_H - 2, floor))
        y += per_row
    for r in rows:
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (
            LABEL_W - 6, y + BAR_H - 2, escape('%s. %s' % (r['fig'], r['label']))[:70]))
        bars = [('mailroom', r['rate'])] + [(p, r['peers'].get(p, {}).get('rate')) for p in peers]
        for k, (name, v) in enumerate(bars):
            yy = y + k * BAR_H
            if not v:
                continue
            out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
                LABEL_W, yy, max(1.0, x(v) - LABEL_W), BAR_H - 1, COLORS.get(name, '#555')))
            out.append('<text x="%.1f" y="%d">%s</text>' % (x(v) + 3, yy + BAR_H - 2, '%.0f' % v if v >= 10 else '%.2f' % v))
        y += per_row
    if floor:
        xf = x(floor)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4,3"/>' % (
            xf, top, xf, height - 30, COLORS['floor']))
    out.append('</svg>')
    return '\n'.join(out) + '\n'
