#!/usr/bin/env python3
"""mailroom-report (issue 6) on the log of a real run: an instance whose mailroom-send logs
through multilog (TAI64N stamps, as the send service does) gets a known set of messages:
local deliveries, a permanent failure that bounces, one whose bounce is dropped, and remote
recipients that defer. The report must give the known numbers, the same from the raw log
and from tai64nlocal's output (without delays for the raw one), and its --html page must
render in headless Chromium with the SVG charts present and non-empty. Hostile log lines are
counted as skipped, never fatal."""

import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
from mrinst import info  # noqa: E402

R = mrinst.Results()


def envelope(sender, rcpts):
    return b'F' + sender.encode() + b'\0' + b''.join(b'T' + r.encode() + b'\0' for r in rcpts) + b'\0'


def start_logged(inst):
    """mailroom-start with its output through `multilog t` into log/sendtest, as the send
    service's run script does."""
    logdir = inst.path('log', 'sendtest')
    rfd, wfd = os.pipe()
    ml = subprocess.Popen(['multilog', 't', logdir], stdin=rfd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(rfd)
    p = subprocess.Popen([inst.bin('mailroom-start')], cwd=inst.home, stdin=subprocess.DEVNULL, stdout=wfd,
                         stderr=subprocess.STDOUT, start_new_session=True)
    os.close(wfd)
    inst.procs += [p, ml]
    inst.send = p
    end = time.monotonic() + 5
    while time.monotonic() < end and not os.path.basename(mrinst.proc_exe(p.pid)).startswith('mailroom-send'):
        time.sleep(0.02)
    return p, ml, os.path.join(logdir, 'current')


def run(args, data=None, timeout=60):
    r = subprocess.run(args, input=data, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors='replace'), r.stderr.decode(errors='replace')


class SvgCheck(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.svg = None
        self.rects = {}
        self.scripts = 0
        self.external = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'svg':
            self.svg = a.get('id')
            self.rects[self.svg] = []
        elif tag == 'rect' and self.svg and a.get('class') == 'bar':
            self.rects[self.svg].append(float(a.get('height', 0)))
        elif tag == 'script':
            self.scripts += 1
        for k, v in attrs:
            if k in ('src', 'href') and v and re.match(r'^(https?:)?//', v):
                self.external.append(v)

    def handle_endtag(self, tag):
        if tag == 'svg':
            self.svg = None


def png_info(path):
    """(width, height, distinct row bytes) of a PNG, read with zlib alone."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        return None
    pos, idat, h = 8, b'', 0
    w = 0
    while pos < len(data):
        n, typ = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b'IHDR':
            w, h = struct.unpack('>II', body[:8])
        elif typ == b'IDAT':
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    return w, h, len(set(raw[i] for i in range(0, len(raw), 97)))


def t_run(inst):
    inst.control('smtproutes', 'far.example:[127.0.0.1]:1')
    inst.control('retrybase', '3600')
    p, ml, current = start_logged(inst)
    sizes = []
    # 5 local messages of known sizes
    for i in range(5):
        msg = b'Subject: local %d\n\n' % i + b'x' * (100 * (i + 1)) + b'\n'
        rc, err = inst.queue_direct(msg, envelope('alice@localhost', ['demo@localhost']))
        R.check('run: local message %d queued' % i, rc == 0, err)
        sizes.append(len(msg))
    # a permanent failure that bounces to demo, and one from #@[] whose bounce is dropped
    msg = b'Subject: fails\n\nnobody here\n'
    inst.queue_direct(msg, envelope('demo@localhost', ['nosuch@localhost']))
    sizes.append(len(msg))
    msg = b'Subject: fails too\n\nnobody\n'
    inst.queue_direct(msg, envelope('#@[]', ['nosuch2@localhost']))
    sizes.append(len(msg))
    # remote recipients that defer, and a message to both
    for i in range(3):
        msg = b'Subject: remote %d\n\nfar away\n' % i
        inst.queue_direct(msg, envelope('bob@localhost', ['r%d@far.example' % i]))
        sizes.append(len(msg))
    msg = b'Subject: mixed\n\nboth\n'
    inst.queue_direct(msg, envelope('bob@localhost', ['demo@localhost', 'r9@FAR.example']))
    sizes.append(len(msg))
    n, secs = inst.wait_for(7, 15)
    R.check('run: 7 messages in demo (5 + mixed + 1 bounce)', n == 7, 'got %d' % n)
    end = time.monotonic() + 10
    while time.monotonic() < end and not os.path.exists(current):
        time.sleep(0.05)
    time.sleep(0.5)
    inst.stop(p)
    ml.wait(10)
    return sizes, current


def t_numbers(inst, sizes, current):
    raw = open(current, 'rb').read().decode(errors='replace')
    R.check('log: TAI64N stamps from multilog', all(re.match(r'^@[0-9a-f]{24} ', line) for line in raw.splitlines()),
            raw[:200])
    bounce_sizes = [int(x) for x in re.findall(r'^@\S+ bounce msg=\S+ to=<demo@localhost> from=<> size=(\d+)', raw, re.M)]
    R.check('log: one bounce sent', len(bounce_sizes) == 1, raw[-500:])
    rc, out, err = run([inst.bin('mailroom-report'), '--json', current])
    j = json.loads(out)
    info('report --json: %s' % json.dumps({k: j[k] for k in ('messages', 'deliveries', 'delay')}))
    m, d = j['messages'], j['deliveries']
    R.check('report: messages in 12', m['in'] == 12, m)
    R.check('report: bytes in', m['bytes_in'] == sum(sizes) + sum(bounce_sizes), '%s vs %d' % (m['bytes_in'], sum(sizes) + sum(bounce_sizes)))
    R.check('report: 8 finished, 1 bounce, 1 dropped', (m['finished'], m['bounces'], m['double_bounces_dropped']) == (8, 1, 1), m)
    R.check('report: 7 delivered, all local', d['delivered']['total'] == 7 == d['delivered']['local'], d['delivered'])
    R.check('report: 2 failed', d['failed']['total'] == 2 and d['failed']['local'] == 2, d['failed'])
    R.check('report: 4 deferred, remote', d['deferred']['total'] == 4 and d['deferred']['local'] == 0, d['deferred'])
    delivered = sum(sizes[:5]) + sizes[-1] + sum(bounce_sizes)
    R.check('report: bytes delivered', d['bytes_delivered'] == delivered, '%s vs %d' % (d['bytes_delivered'], delivered))
    dl = j['delay']
    R.check('report: delay percentiles of the 7 deliveries', dl['count'] == 7 and 0 <= dl['p50'] <= dl['p90'] <= dl['p99'] <= dl['max'] < 60,
            dl)
    top = {s['address']: (s['messages'], s['bytes']) for s in j['senders']}
    R.check('report: senders', top.get('alice@localhost') == (5, sum(sizes[:5])) and top.get('bob@localhost', (0,))[0] == 4
            and top.get('<>', (0,))[0] == 1, top)
    R.check('report: top sender first', j['senders'][0]['address'] == 'alice@localhost', j['senders'][:2])
    rc_ = {r['address']: (r['delivered'], r['deferred'], r['failed']) for r in j['recipients']}
    R.check('report: recipients', rc_.get('demo@localhost') == (7, 0, 0) and rc_.get('nosuch@localhost') == (0, 0, 1), rc_)
    R.check('report: remote domains (case folded)', [(x['domain'], x['deferred']) for x in j['domains']] == [('far.example', 4)],
            j['domains'])
    R.check('report: deferral reason', any('refused' in x['text'] and x['deferred'] == 4 for x in j['reasons']), j['reasons'])
    R.check('report: messages per hour add up', sum(h['messages'] for h in j['hours']) == 12, j['hours'])
    odd = [x for x in raw.splitlines() if not re.match(r'^@[0-9a-f]{24} [a-z]+( [a-z_]+=|$)', x)]
    # mailroom-remote's warnings (a host passed over) share the log: they are the only lines
    # that are not mailroom-send events, and the only ones the report may skip
    R.check('report: skips only the other programs\' lines', j['skipped'] == len(odd) and
            j['lines'] == len(raw.splitlines()) and all(x.split(' ', 1)[1].startswith('mailroom-remote: ') for x in odd),
            (j['skipped'], j['lines'], odd[:6]))

    # the same log through tai64nlocal, and raw (stamps stripped), from stdin
    loc = subprocess.run(['tai64nlocal'], input=raw.encode(), capture_output=True, timeout=30).stdout
    rc, out, err = run([inst.bin('mailroom-report'), '--json'], loc)
    jl = json.loads(out)
    R.check('report: tai64nlocal log gives the same numbers', jl['messages'] == j['messages'] and jl['deliveries'] == j['deliveries']
            and jl['delay']['count'] == 7 and abs(jl['delay']['max'] - dl['max']) < 0.01, (jl['delay'], dl))
    rawlog = re.sub(r'^@[0-9a-f]{24} ', '', raw, flags=re.M).encode()
    rc, out, err = run([inst.bin('mailroom-report'), '--json', '-'], rawlog)
    jr = json.loads(out)
    R.check('report: raw log gives the same counts, no delays', jr['messages'] == j['messages'] and jr['deliveries'] == j['deliveries']
            and jr['delay']['count'] == 0 and jr['stamped'] == 0, jr['delay'])
    rc, out, err = run([inst.bin('mailroom-report'), current])
    R.check('report: text summary', rc == 0 and re.search(r'received\s+12\n', out) and re.search(r'delivered\s+7\s+7\s+0\s+0', out)
            and 'p50' in out, out[:600])
    return raw


def t_bad(inst, raw):
    hostile = (b'\0\xff\xfe binary\n' + b'@4000000zzz new msg=1\n' + b'@' + b'4' * 24 + b'\n' + b'new ' + b'a' * 10000 + b'\n'
               + b'new msg=1.000000.1 size=99999999999999999999999 from=<unterminated\n' + b'ok msg= d= to=<> text="\n'
               + b'defer msg=1.000000.1 d=1 to=<a@b> text="x\\"y"\n' + b'<script>alert(1)</script>\n' + b'x' * 70000)
    rc, out, err = run([inst.bin('mailroom-report'), '--json', '-'], hostile + raw.encode())
    try:
        j = json.loads(out)
        R.check('bad input: hostile lines skipped, the rest counted', rc == 0 and j['skipped'] >= 7 and j['messages']['in'] >= 12,
                (rc, j['skipped'], j['messages']))
    except ValueError as e:
        R.fail('bad input: still valid JSON', '%s %r %s' % (e, out[:200], err))
    rc, out, err = run([inst.bin('mailroom-report'), '/nonexistent/log'])
    R.check('bad input: missing file exits 111', rc == 111 and 'unable to open' in err, (rc, err))
    rc, out, err = run([inst.bin('mailroom-report'), '--top', 'x'])
    R.check('bad input: bad option exits 100', rc == 100, (rc, err))
    rc, out, err = run([inst.bin('mailroom-report'), '--html', '/nonexistent/dir/x.html'], b'')
    R.check('bad input: unwritable --html exits 111', rc == 111, (rc, err))


def t_html(inst, current):
    page = inst.path('report.html')
    rc, out, err = run([inst.bin('mailroom-report'), '--html', page, current])
    R.check('html: written', rc == 0 and os.path.getsize(page) > 1000, err)
    text = open(page, encoding='utf-8').read()
    c = SvgCheck()
    c.feed(text)
    hours = c.rects.get('chart-hours', [])
    delays = c.rects.get('chart-delays', [])
    R.check('html: hourly chart has non-empty bars', hours and any(h > 0 for h in hours), hours)
    R.check('html: delay chart has 4 bars', len(delays) == 4 and all(h > 0 for h in delays) or (len(delays) == 4 and delays[-1] > 0), delays)
    R.check('html: no script, nothing from the network', c.scripts == 0 and not c.external, (c.scripts, c.external))
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if not chromium:
        R.skip('html: renders in headless chromium', 'chromium is not installed (Debian package chromium; lib/sh/deps.sh)')
        return
    shot = inst.path('shot.png')
    prof = inst.path('chromium-profile')
    r = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                        '--no-first-run', '--user-data-dir=' + prof, '--window-size=900,1400',
                        '--screenshot=' + shot, 'file://' + page],
                       capture_output=True, timeout=90, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, HOME=inst.home))
    ok = os.path.exists(shot)
    R.check('html: headless chromium wrote a screenshot', ok, r.stderr.decode(errors='replace')[-400:])
    if ok:
        w, h, distinct = png_info(shot)
        info('screenshot %dx%d, %d distinct sampled bytes' % (w, h, distinct))
        R.check('html: screenshot is not blank', w == 900 and h == 1400 and distinct > 3, (w, h, distinct))


def main():
    with mrinst.Instance() as inst:
        res = R.run('run', t_run, inst)
        if res:
            sizes, current = res
            raw = R.run('numbers', t_numbers, inst, sizes, current)
            R.run('bad input', t_bad, inst, raw or '')
            R.run('html', t_html, inst, current)
    R.exit()


main()
