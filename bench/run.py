#!/usr/bin/env python3
"""bench/run.py: the driver of `make bench` (issue 8).

Starts a throw-away mailroom instance (TESTS/lib/mrinst.py: `make relink` with a home under
/tmp, lib/sh/setup.sh, role users as root), measures the issue's figures 1-8 and the fsync
floor (build/bench/floor), and prints a table (value, messages per second, ratio to the
floor, and with COMPARE=postfix the Postfix figure and the mailroom/Postfix ratio), writes
bench/results.json and bench/results.svg. Every server it starts is stopped on the way out;
all traffic goes to random 127.x.y.z addresses; DNSCACHEIP points at a loopback address
where nothing answers, so nothing can query the machine's resolver.

Every compared figure (1-5, 9) is the median of RUNS (3) interleaved runs: mailroom, then
Postfix, then Postfix, then mailroom, and so on, so that a slow minute of the shared machine
falls on both. Beside the rates, each figure row gets the processes created and the
fsync-family calls per message from a separate, untimed counting pass under strace
(bench/counting.py): for mailroom always, for Postfix with COMPARE=postfix.

Environment: BENCH_SCALE (default 1: the issue's counts; 0.1 for a quick run),
COMPARE=postfix, BENCH_ONLY=1,2,... (figures to run), BENCH_RUNS (default 3),
BENCH_COUNT=0 (no counting passes).
"""

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'TESTS', 'lib'))
sys.path.insert(0, HERE)

import mrinst  # noqa: E402
import smtpinst  # noqa: E402
import mrbench  # noqa: E402
import counting  # noqa: E402
from mrbench import tool, uptime  # noqa: E402
import svgchart  # noqa: E402

SCALE = float(os.environ.get('BENCH_SCALE') or 1)
COMPARE = (os.environ.get('COMPARE') or '').strip()
ONLY = set((os.environ.get('BENCH_ONLY') or '').replace(',', ' ').split())
COUNT = os.environ.get('BENCH_COUNT', '1') != '0' and bool(shutil.which('strace'))
RUNS = max(1, int(os.environ.get('BENCH_RUNS') or 3))
IS_ROOT = os.geteuid() == 0
RCPT = 'demo@localhost'
T_START = time.monotonic()


def n(count, least=10):
    return max(least, int(count * SCALE))


def say(*a):
    print('#', *a, flush=True)


def want(fig):
    return not ONLY or str(fig) in ONLY


def timed(fig, fn, *args):
    t0 = time.monotonic()
    try:
        fn(*args)
    finally:
        R.secs[fig] = round(time.monotonic() - t0, 1)
        say('figure %s took %.1f s' % (fig, R.secs[fig]))


class Results:
    """Rows of the table. A row: fig, label, value, unit, rate (messages/s or None),
    peers {name: {value, rate}}, note."""

    def __init__(self):
        self.rows = []
        self.floor = None
        self.floors = []
        self.loads = []
        self.secs = {}  # figure -> seconds it took, with the peer's runs: where make bench's time goes

    def add(self, fig, label, value, unit, rate=None, note='', peer=None, key=None, runs=None, count=None):
        row = {'fig': fig, 'key': key or label, 'label': label, 'value': value, 'unit': unit,
               'rate': rate, 'note': note, 'peers': {}}
        if runs is not None:
            row['runs'] = runs
        if count is not None:
            row['count'], row['count_client'] = count
        if peer:
            row['peers'].update(peer)
        self.rows.append(row)
        val = '%.3f' % value if isinstance(value, float) else str(value)
        say('fig %s %-44s %12s %-6s%s%s' % (fig, label, val, unit,
                                           ' %9.1f msg/s' % rate if rate else '', ' (%s)' % note if note else ''))
        return row

    def peer(self, row, name, value, rate=None, note='', runs=None, count=None):
        row['peers'][name] = {'value': value, 'rate': rate, 'note': note}
        if runs is not None:
            row['peers'][name]['runs'] = runs
        if count is not None:
            row['peers'][name]['count'], row['peers'][name]['count_client'] = count
        val = '%.3f' % value if isinstance(value, float) else str(value)
        say('      %-44s %12s %-6s%s%s' % (name + ': ' + row['label'], val, row['unit'],
                                            ' %9.1f msg/s' % rate if rate else '', ' (%s)' % note if note else ''))


R = Results()


# --- the fsync floor ----------------------------------------------------------------------
def floor(count):
    d = tempfile.mkdtemp(prefix='mrbench.floor.', dir='/tmp')
    try:
        r = mrbench.run([tool('floor'), os.path.join(d, 'f'), str(count)], timeout=300)
        if r.returncode != 0:
            raise RuntimeError('floor: %s' % r.stderr.decode(errors='replace'))
        f = dict(kv.split('=') for kv in r.stdout.decode().split()[1:])
        return float(f['rate'])
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- targets: mailroom, and Postfix with COMPARE=postfix ------------------------------------
class Mailroom:
    name = 'mailroom'
    rcpt = RCPT

    def sendmail_env(self):
        return None

    def __init__(self, inst):
        self.inst = inst
        self.ip, self.port = mrbench.random_loopback()
        self.tcpserver = None

    def start(self):
        self.inst.start(ready_timeout=30)
        # The service as lib/sh/setup.d/smtpd.sh writes it, with room for 50 sessions at once
        # (the service's -c 40 would queue ten of figure 1's clients in the backlog).
        self.inst.setup_smtpd(self.port)
        uid, gid = self.inst.smtpd_ids()
        ug = ['-u', str(uid), '-g', str(gid)] if IS_ROOT else []
        argv = (['tcpserver', '-H', '-R', '-l', 'localhost', '-c', '100', '-b', '128', '-x',
                 self.inst.path('control', 'smtp.cdb')] + ug + [self.ip, str(self.port), self.inst.bin('mailroom-smtpd')])
        log = open(self.inst.path('smtpd.bench.log'), 'ab')
        try:
            self.tcpserver = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True, cwd='/', env={'PATH': '/usr/bin:/bin'})
        finally:
            log.close()
        self.inst.services.append(self.tcpserver)
        mrbench.wait_port(self.ip, self.port, 10, self.tcpserver)

    def maildir_new(self):
        return os.path.join(self.inst.maildir('demo'), 'new')

    def clear(self):
        mrbench.empty_dir(self.maildir_new())

    def queue_empty(self):
        q = self.inst.queue_files()
        return not q['new'] and not q['mess']

    def wait_queue_empty(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue_empty():
                return True
            time.sleep(0.05)
        return False

    def sendmail(self):
        return [self.inst.bin('sendmail'), RCPT]

    def hold(self):
        self.inst.stop()

    def release(self):
        self.inst.start(ready_timeout=60)

    def release_prepare(self):
        pass

    def fill_held(self, count, msg, rcpts=(RCPT,)):
        ids = queue_ids()
        mrbench.write_queue(self.inst.home, count, msg, 'bench@bench.test', list(rcpts), 'new', uid=ids[0], gid=ids[1])
        os.sync()

    def send_pid(self):
        p = self.inst.instance_procs('mailroom-send')
        return p[0] if p else None

    def count_pids(self):
        """Every live process of the instance (bench/counting.py): the sessions of what the
        bench and the instance started (mailroom-start's, tcpserver's, any service's), every
        program of its bin/, and whatever works under its home (supervise, svscan, runsv)."""
        roots = [p.pid for p in self.inst.procs + self.inst.services if p.poll() is None]
        if self.tcpserver is not None:
            roots.append(self.tcpserver.pid)
        return counting.live_pids(roots, bindir=self.inst.path('bin'), home=self.inst.home)

    def put_queued(self, count, rcpts):
        """count messages into queue/new of the running instance, each written under
        queue/bench.stage and renamed in (a name in new/ is always a whole file), then the
        trigger. Returns None: the pass waits for count."""
        ids = queue_ids()
        stage = self.inst.path('queue', 'bench.stage')
        os.makedirs(stage, exist_ok=True)
        try:
            qids = mrbench.write_queue(self.inst.home, count, mrbench.message_2k(), 'bench@bench.test', list(rcpts),
                                       'bench.stage', uid=ids[0], gid=ids[1])
            for q in qids:
                os.rename(os.path.join(stage, q), self.inst.path('queue', 'new', q))
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        try:
            fd = os.open(self.inst.path('queue', 'lock', 'trigger'), os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(fd, b'x')
            finally:
                os.close(fd)
        except OSError:
            pass  # no reader: send's next scan finds them
        return None


def queue_ids():
    if not IS_ROOT:
        return None, None
    import pwd
    q = pwd.getpwnam('mrqueue')
    s = pwd.getpwnam('mrsend')
    return q.pw_uid, s.pw_gid


smtpload = mrbench.smtpload


# --- interleaved runs and their medians -------------------------------------------------------
def median(xs):
    xs = sorted(xs)
    k = len(xs)
    return xs[k // 2] if k % 2 else (xs[k // 2 - 1] + xs[k // 2]) / 2


def interleaved(targets, fn):
    """RUNS runs of fn(target) per target, the order turned round each run (A B, B A, A B):
    {name: [result or the exception of a failed run]}. One failed run does not end the bench."""
    out = {t.name: [] for t in targets}
    for rnd in range(RUNS):
        for t in (targets if rnd % 2 == 0 else targets[::-1]):
            try:
                out[t.name].append(fn(t))
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                out[t.name].append(e)
    return out


def summary(runs, nvals):
    """Medians of the first nvals fields of the runs that worked (each run: (v1, ..., note)),
    the notes of all, and the runs' values for results.json."""
    ok = [r for r in runs if not isinstance(r, Exception)]
    bad = [r for r in runs if isinstance(r, Exception)]
    notes = sorted({r[-1] for r in ok if r[-1]})
    if bad:
        notes.append('%d of %d runs failed: %s' % (len(bad), len(runs), bad[0]))
    if len(runs) > 1:
        notes.append('median of %d' % len(ok))
    vals = [median([r[i] for r in ok]) if ok else 0.0 for i in range(nvals)]
    return vals, '; '.join(notes), [[round(x, 3) if isinstance(x, float) else x for x in r[:nvals]] for r in ok]


# --- counting passes (bench/counting.py) ---------------------------------------------------------
def count_pass(t, msgs, load, done):
    """A counting pass: strace -f attached to every live process of target t while load(prefix)
    runs (prefix: the argv prefix that counts a load client's own forks; load returns the
    messages it got accepted, None for msgs) and done(accepted) waits for their delivery.
    Returns (instance, client) counts per message, or None when counting is off."""
    if not COUNT or not IS_ROOT or not hasattr(t, 'count_pids'):
        return None
    path = '/tmp/mrbench.count.%d' % os.getpid()
    cpath = path + '.client'
    t.clear()
    ps = counting.Pass(t.count_pids(), path)
    try:
        ps.start()
        got = load(counting.client_prefix(cpath))
        got = msgs if got is None else got
        done(got)
        t.wait_queue_empty(60)
    finally:
        c = ps.stop()
    client = counting.parse(cpath) if os.path.exists(cpath) else None
    if os.path.exists(cpath):
        os.unlink(cpath)
    t.clear()
    pm, pc = counting.per_message(c, got), counting.per_message(client, got)
    say('count %s: %d msgs: procs/msg %s, fsync/msg %s; by program %s' % (
        t.name, got, counting.fmt_procs(pm, pc), counting.fmt_syncs(pm),
        ' '.join('%s=%s' % kv for kv in (pm or {}).get('procs_by_prog', {}).items())))
    return pm, pc


def safe_count(t, *a):
    try:
        return count_pass(t, *a)
    except Exception as e:  # noqa: BLE001 - a failed counting pass leaves its column empty
        traceback.print_exc()
        say('count %s: failed: %s' % (t.name, e))
        return None


def count_smtp(t, conc, perconn, size):
    # enough for every session to run at once; the counts do not depend on the size, so the
    # 100 KB figure's passes are shorter
    msgs = max(conc * perconn, 100 if size <= 8192 else 50)

    def load(prefix):
        ok, fail, secs = smtpload(t, msgs, conc, perconn, size, rcpt=t.rcpt, prefix=prefix)
        return ok

    return safe_count(t, msgs, load, lambda got: mrbench.wait_count(t.maildir_new(), got, timeout=120 + got * 0.5))


def smtp_run(target, count, conc, perconn, size):
    """One run of figures 1-2: returns (accepted/s, end-to-end/s, note)."""
    target.clear()
    t0 = time.monotonic()
    ok, fail, secs = smtpload(target, count, conc, perconn, size, rcpt=target.rcpt)
    got, _ = mrbench.wait_count(target.maildir_new(), ok, timeout=60 + count * 0.2)
    e2e = time.monotonic() - t0
    note = ''
    if fail:
        note += '%d refused or failed; ' % fail
    if got < ok:
        note += 'only %d of %d delivered in time; ' % (got, ok)
    target.wait_queue_empty(60)
    target.clear()
    return ok / secs if secs else 0, got / e2e if e2e else 0, note.rstrip('; ')


def fig_smtp(targets, fig, size, count):
    for conc in (1, 10, 50):
        for perconn in (1, 10):
            label = 'smtp %dKB c%d %s' % (size // 1024, conc, '1/conn' if perconn == 1 else '10/conn')
            runs = interleaved(targets, lambda t: smtp_run(t, count, conc, perconn, size))
            for t in targets:
                (acc, e2e), note, vals = summary(runs[t.name], 2)
                cnt = count_smtp(t, conc, perconn, size)
                if t.name == 'mailroom':
                    ra = R.add(fig, label + ' accepted', acc, 'msg/s', acc, note, runs=[v[0] for v in vals], count=cnt)
                    re_ = R.add(fig, label + ' into Maildir', e2e, 'msg/s', e2e, note, runs=[v[1] for v in vals])
                else:
                    R.peer(ra, t.name, acc, acc, note, runs=[v[0] for v in vals], count=cnt)
                    R.peer(re_, t.name, e2e, e2e, note, runs=[v[1] for v in vals])


# --- figure 9: Postfix's smtp-source, one message per connection and kept (-d), issue 18 --------
def sourcepath():
    p = os.path.join(mrbench.CHECKOUT, 'build', 'postfix', 'usr', 'sbin', 'smtp-source')
    return p if os.path.exists(p) else shutil.which('smtp-source')


def source(t, count, conc, kept, prefix=()):
    """smtp-source -4 -m count -s conc -l 2048 [-d] against target t; returns its seconds."""
    env = dict(os.environ)
    env['LD_LIBRARY_PATH'] = os.path.join(mrbench.CHECKOUT, 'build', 'postfix', 'usr', 'lib', 'postfix')
    argv = list(prefix) + [sourcepath(), '-4', '-m', str(count), '-s', str(conc), '-l', '2048'] + (
        ['-d'] if kept else []) + ['-f', 'a@localhost', '-t', t.rcpt, '-M', 'localhost', 'inet:%s:%d' % (t.ip, t.port)]
    t0 = time.monotonic()
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    secs = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError('smtp-source exit %d: %s' % (r.returncode, r.stderr.decode(errors='replace')[-300:]))
    return secs


def source_run(t, count, conc, kept):
    t.clear()
    t0 = time.monotonic()
    secs = source(t, count, conc, kept)
    got, _ = mrbench.wait_count(t.maildir_new(), count, timeout=60 + count * 0.2)
    e2e = time.monotonic() - t0
    note = '' if got >= count else 'only %d of %d delivered in time' % (got, count)
    t.wait_queue_empty(60)
    t.clear()
    return count / secs, got / e2e if e2e else 0, note


def fig_source(targets, counts):
    if not sourcepath():
        R.add(9, 'smtp-source', 'n/a', '', None, 'no smtp-source (bench/deps.sh unpacks postfix)')
        return
    for conc, count in counts:
        new = {}
        for kept in (False, True):
            label = 'smtp-source c%d %s' % (conc, 'kept (-d)' if kept else '1/conn')
            runs = interleaved(targets, lambda t: source_run(t, count, conc, kept))
            for t in targets:
                (acc, e2e), note, vals = summary(runs[t.name], 2)
                if kept and new.get(t.name):
                    note = ('kept/1-per-conn %.2f; ' % (acc / new[t.name])) + note
                new[t.name] = acc
                msgs = max(conc * 10, 100)
                cnt = safe_count(t, msgs, lambda prefix: (source(t, msgs, conc, kept, prefix), None)[1],
                                 lambda got: mrbench.wait_count(t.maildir_new(), got, timeout=120 + got * 0.5))
                if t.name == 'mailroom':
                    row = R.add(9, label + ' accepted', acc, 'msg/s', acc, note, runs=[v[0] for v in vals], count=cnt)
                else:
                    R.peer(row, t.name, acc, acc, note, runs=[v[0] for v in vals], count=cnt)


def sendmail_run(t, count, msg):
    t.clear()
    argv = t.sendmail()
    fails = 0
    t0 = time.monotonic()
    for _ in range(count):
        r = subprocess.run(argv, input=msg, capture_output=True, timeout=60, cwd='/', env=t.sendmail_env())
        fails += r.returncode != 0
    inj = time.monotonic() - t0
    got, _ = mrbench.wait_count(t.maildir_new(), count - fails, timeout=60 + count * 0.2)
    e2e = time.monotonic() - t0
    note = '%d failed' % fails if fails else ''
    if got < count - fails:
        note += ' only %d delivered' % got
    t.wait_queue_empty(60)
    t.clear()
    return inj / count * 1000, count / inj, e2e, got / e2e, note.strip()


def add_counts(a, b):
    """Per-message counts a + b (both as counting.per_message gives them)."""
    out = dict(a)
    for k in ('procs', 'execve', 'threads', 'syncs'):
        out[k] = round(a[k] + b[k], 3)
    for k in ('procs_by_kind', 'procs_by_prog', 'syncs_by_kind'):
        d = dict(a[k])
        for name, v in b[k].items():
            d[name] = round(d.get(name, 0) + v, 3)
        out[k] = d
    sp = {p: dict(kv) for p, kv in a['syncs_by_prog'].items()}
    for prog, kv in b['syncs_by_prog'].items():
        d = sp.setdefault(prog, {})
        for name, v in kv.items():
            d[name] = round(d.get(name, 0) + v, 3)
    out['syncs_by_prog'] = sp
    return out


def count_sendmail(t, msg, msgs=50):
    """Each sendmail runs under its own strace (sendmail and what it starts are the target's
    programs), the target's daemons under the pass's. The bench's own spawn of sendmail is the
    client's: one per message."""
    path = '/tmp/mrbench.count.%d.sm' % os.getpid()
    own = {}

    def load(prefix):
        tot = None
        for i in range(msgs):
            f = '%s.%d' % (path, i)
            argv = ['strace', '-f', '-qq', '-o', f, '-e', counting.TRACE, '-e', 'signal=none', '--']
            subprocess.run(argv + t.sendmail(), input=msg, capture_output=True, timeout=60, cwd='/', env=t.sendmail_env())
            tot = counting.merge(tot, counting.parse(f))
            if os.path.exists(f):
                os.unlink(f)
        own['c'] = tot
        return None

    r = safe_count(t, msgs, load, lambda got: mrbench.wait_count(t.maildir_new(), got, timeout=120 + got * 0.5))
    if r is None or r[0] is None or own.get('c') is None:
        return r
    both = add_counts(r[0], counting.per_message(own['c'], msgs))
    return both, {'msgs': msgs, 'procs': 1.0, 'procs_by_kind': {'bench spawns sendmail': 1.0}}


def fig_sendmail(targets, count):
    msg = mrbench.message_2k()
    runs = interleaved(targets, lambda t: sendmail_run(t, count, msg))
    rows = {}
    for t in targets:
        (ms, irate, e2e, erate), note, vals = summary(runs[t.name], 4)
        cnt = count_sendmail(t, msg)
        if t.name == 'mailroom':
            rows['i'] = R.add(3, 'sendmail serial: ms per injection', ms, 'ms', irate, note,
                              runs=[v[0] for v in vals], count=cnt)
            rows['e'] = R.add(3, 'sendmail serial: until delivered', e2e, 's', erate, note, runs=[v[2] for v in vals])
        else:
            R.peer(rows['i'], t.name, ms, irate, note, runs=[v[0] for v in vals], count=cnt)
            R.peer(rows['e'], t.name, e2e, erate, note, runs=[v[2] for v in vals])


def drain_run(t, count, msg):
    t.clear()
    t.hold()
    say('%s: %d messages queued with delivery held' % (t.name, count))
    t.fill_held(count, msg)
    t.release_prepare()
    t0 = time.monotonic()
    t.release()
    got, _ = mrbench.wait_count(t.maildir_new(), count, timeout=60 + count * 0.1)
    secs = time.monotonic() - t0
    note = '' if got >= count else 'only %d of %d delivered' % (got, count)
    t.wait_queue_empty(60)
    t.clear()
    hw = mrbench.vmhwm(t.send_pid() or 0) if t.name == 'mailroom' else None
    return secs, got / secs, hw, note


def fig_drain(targets, count):
    msg = mrbench.message_2k()
    runs = interleaved(targets, lambda t: drain_run(t, count, msg))
    row = None
    for t in targets:
        (secs, rate), note, vals = summary(runs[t.name], 2)
        cnt = count_queued(t, 200, [RCPT], lambda got, t=t: mrbench.wait_count(
            t.maildir_new(), got, timeout=120 + got * 0.5))
        if t.name == 'mailroom':
            row = R.add(4, 'local drain of %d' % count, secs, 's', rate, note, runs=[v[0] for v in vals], count=cnt)
            hws = [r[2] for r in runs[t.name] if not isinstance(r, Exception) and r[2]]
            if hws:
                R.add(8, 'peak RSS mailroom-send after the drain', max(hws), 'KB')
        else:
            R.peer(row, t.name, secs, rate, note, runs=[v[0] for v in vals], count=cnt)


def count_queued(t, msgs, rcpts, done):
    """A counting pass of delivery alone: with every process of the running instance traced,
    msgs messages are put into queue/new (each written elsewhere and renamed in, as the
    injector's files appear) and mailroom-send is triggered. Only mailroom (Postfix's queue
    cannot be filled behind its back)."""
    if not hasattr(t, 'put_queued'):
        return None
    return safe_count(t, msgs, lambda prefix: t.put_queued(msgs, rcpts), done)


# --- figure 5: remote delivery to a sink ----------------------------------------------------
def fig_remote(targets, counts):
    have = all(os.path.exists(os.path.join(mrbench.CHECKOUT, 'build', 'bin', p))
               for p in ('mailroom-rspawn', 'mailroom-remote'))
    sink = shutil.which('smtp-sink') or sinkpath()
    for rc, count in counts:
        label = 'remote c20 %d rcpt/msg (%d msgs)' % (rc, count)
        if not have:
            R.add(5, label, 'n/a', '', None, 'remote delivery not built')
            continue
        if not sink:
            R.add(5, label, 'n/a', '', None, 'no smtp-sink (bench/deps.sh unpacks postfix)')
            continue
        runs = interleaved(targets, lambda t: remote_run(t, sink, rc, count))
        row = None
        for t in targets:
            (secs, rate), note, vals = summary(runs[t.name], 2)
            cnt = remote_count(t, sink, rc, max(5, 100 // rc)) if t.name == 'mailroom' else None
            if t.name == 'mailroom':
                row = R.add(5, label, secs, 's', rate, note, runs=[v[0] for v in vals], count=cnt)
            else:
                R.peer(row, t.name, secs, rate, note, runs=[v[0] for v in vals], count=cnt)


def sinkpath():
    p = os.path.join(mrbench.CHECKOUT, 'build', 'postfix', 'usr', 'sbin', 'smtp-sink')
    return p if os.path.exists(p) else None


def start_sink(sink, ip, port, logpath):
    env = dict(os.environ)
    lib = os.path.join(mrbench.CHECKOUT, 'build', 'postfix', 'usr', 'lib', 'postfix')
    if os.path.isdir(lib):
        env['LD_LIBRARY_PATH'] = lib
    log = open(logpath, 'ab')
    try:
        # -c: count; -u: run as nobody when root; backlog 256
        argv = [sink, '-u', 'nobody', '%s:%d' % (ip, port), '256'] if IS_ROOT else [sink, '%s:%d' % (ip, port), '256']
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, env=env)
    finally:
        log.close()
    mrbench.wait_port(ip, port, 10, p)
    return p


def stop_group(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(5)


def remote_run(t, sink, rc, count):
    ip, port = mrbench.random_loopback()
    sinklog = '/tmp/mrbench.sink.%d.log' % os.getpid()
    sp = start_sink(sink, ip, port, sinklog)
    try:
        t.route_sink(ip, port)
        t.hold()
        rcpts = ['u%d@sink.test' % i for i in range(rc)]
        t.fill_held(count, mrbench.message_2k(), rcpts)
        t.release_prepare()
        t0 = time.monotonic()
        t.release()
        ok = t.wait_queue_empty(120 + count * rc * 0.05)
        secs = time.monotonic() - t0
        return secs, count / secs if ok else 0.0, '' if ok else 'queue not empty after %.0f s' % secs
    finally:
        stop_group(sp)
        if os.path.exists(sinklog):
            os.unlink(sinklog)


Mailroom.route_sink = lambda self, ip, port: (self.inst.control('smtproutes', 'sink.test:[%s]:%d' % (ip, port)),
                                               self.inst.control('concurrencyremote', '20'),
                                               self.inst.control('concurrencydomain', '20'))


def remote_count(t, sink, rc, msgs):
    """The counting pass of figure 5 (mailroom): the messages put into the running instance's
    queue with every process traced, as for the drain."""
    ip, port = mrbench.random_loopback()
    sinklog = '/tmp/mrbench.sink.%d.log' % os.getpid()
    sp = start_sink(sink, ip, port, sinklog)
    try:
        t.hold()  # a restart, so that mailroom-send and its workers read the new route
        t.route_sink(ip, port)
        t.release()
        rcpts = ['u%d@sink.test' % i for i in range(rc)]
        return count_queued(t, msgs, rcpts, lambda got: t.wait_queue_empty(120 + msgs * rc * 0.05))
    finally:
        stop_group(sp)
        if os.path.exists(sinklog):
            os.unlink(sinklog)


# --- figure 6: queue scale ----------------------------------------------------------------------
def fig_queue_scale(mr, sizes, count):
    msg = mrbench.message_2k()
    ids = queue_ids()
    for q in sizes:
        mr.hold()
        mr.clear()
        t0 = time.monotonic()
        # already picked up, each with its retry a day away: they stay queued while we measure
        mrbench.write_queue(mr.inst.home, q, b'Subject: queued\n\nx\n', 'bench@bench.test', [RCPT], 'mess',
                            deferred_until=int(time.time()) + 86400, uid=ids[0], gid=ids[1],
                            info_uid=sendids()[0] if IS_ROOT else None)
        os.sync()
        say('queue scale: %d deferred messages written in %.1f s' % (q, time.monotonic() - t0))
        t0 = time.monotonic()
        mr.release()
        # a probe through the whole path tells when the start-up scan is over
        subprocess.run(mr.sendmail(), input=msg, capture_output=True, timeout=60, cwd='/')
        got, _ = mrbench.wait_count(mr.maildir_new(), 1, timeout=120 + q / 500)
        startup = time.monotonic() - t0
        mr.clear()

        def cost(t):
            t0 = time.monotonic()
            ok, fail, secs = smtpload(t, count, 10, 10)
            got, _ = mrbench.wait_count(t.maildir_new(), ok, timeout=60 + count * 0.2)
            e2e = time.monotonic() - t0
            t.clear()
            return e2e / max(1, got) * 1000, got / e2e, '' if got >= count else 'only %d of %d delivered' % (got, count)

        (ms, rate), note, vals = summary(interleaved([mr], cost)['mailroom'], 2)
        R.add(6, 'queue %d: start-up until first delivery' % q, startup, 's')
        R.add(6, 'queue %d: ms per message (smtp c10 10/conn)' % q, ms, 'ms',
              rate, note, key='queue %d cost' % q, runs=[v[0] for v in vals])
        hw = mrbench.vmhwm(mr.send_pid() or 0)
        if hw:
            R.add(8, 'peak RSS mailroom-send with %d queued' % q, hw, 'KB')
        mr.hold()
        for d in ('mess', 'info', 'new'):
            mrbench.empty_dir(mr.inst.path('queue', d))
        mr.clear()
    mr.release()


def sendids():
    import pwd
    s = pwd.getpwnam('mrsend')
    return s.pw_uid, s.pw_gid


# --- figure 7: POP3 ----------------------------------------------------------------------------
def fig_pop3(mr, sizes, retr):
    import pwd
    inst = mr.inst
    box = inst.add_mailbox('popbench')
    d = inst.assign_entry('demo')
    uid, gid = (d['uid'], d['gid']) if IS_ROOT else (os.getuid(), os.getgid())
    r = subprocess.run([inst.bin('mailroom-passwd'), '-u', str(uid), '-g', str(gid), '-d',
                        inst.path('mail', 'popbench'), 'add', 'popbench'], input=b'popbench\n',
                       capture_output=True, timeout=30, cwd=inst.home)
    if r.returncode != 0:
        R.add(7, 'pop3', 'n/a', '', None, 'mailroom-passwd add failed: %s' % r.stderr.decode(errors='replace')[:200])
        return
    ip, port = mrbench.random_loopback()
    argv = ['tcpserver', '-R', '-H', '-l0', '-c', '10', ip, str(port), inst.bin('mailroom-popup'), 'localhost',
            inst.bin('mailroom-checkpassword'), inst.bin('mailroom-pop3d'), 'Maildir']
    log = open(inst.path('pop3.bench.log'), 'ab')
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, cwd='/', env={'PATH': '/usr/bin:/bin'})
    finally:
        log.close()
    inst.services.append(p)
    mrbench.wait_port(ip, port, 10, p)
    msg = mrbench.message_2k()
    have = 0
    host = 'bench'
    flat = msg.replace(b'\r\n', b'\n')
    wsize = len(flat) + flat.count(b'\n') + (0 if not flat or flat.endswith(b'\n') else 2)
    for total in sizes:
        t0 = time.monotonic()
        cur = os.path.join(box, 'cur')
        for i in range(have, total):
            # named as mailroom-local names a delivery (,W=: the size with CRLF), so listed unread
            fn = os.path.join(cur, '1700000000.M%dP1.%s,S=%d,W=%d:2,' % (i, host, len(msg), wsize))
            fd = os.open(fn, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, msg)
            if IS_ROOT:
                os.fchown(fd, uid, gid)
            os.close(fd)
        have = total
        os.sync()
        say('pop3: Maildir of %d messages made in %.1f s' % (total, time.monotonic() - t0))
        # RUNS sessions, medians: a POP3 figure has no peer to interleave with, but one slow
        # second of the shared machine must not make it
        got = [pop3_session(inst, ip, port, total, min(retr, total) if total == sizes[0] else 0) for _ in range(RUNS)]
        t_login, t_list, t_retr = (median([g[k] for g in got]) for k in range(3))
        nlist, nuidl, size, hw = got[-1][3:]
        note = '' if nlist == total and nuidl == total else 'LIST %d, UIDL %d lines' % (nlist, nuidl)
        R.add(7, 'pop3 %d: login+STAT+LIST+UIDL' % total, t_list, 's', total / t_list, note + (
            '; login %.3f s' % t_login).lstrip('; ') + ('; median of %d' % RUNS if RUNS > 1 else ''),
            runs=[round(g[1], 4) for g in got])
        # the login is the password hash's cost (yescrypt, default cost) and the exec chain;
        # the Maildir's size shows in what follows it
        after = median([g[1] - g[0] for g in got])
        R.add(7, 'pop3 %d: STAT+LIST+UIDL after login' % total, after, 's', total / max(after, 1e-6),
              runs=[round(g[1] - g[0], 4) for g in got])
        if total == sizes[0]:
            nr = min(retr, total)
            R.add(7, 'pop3 RETR of %d' % nr, t_retr, 's', nr / t_retr, '%d bytes' % size, runs=[round(g[2], 4) for g in got])
        if hw:
            R.add(8, 'peak RSS mailroom-pop3d, %d msgs' % total, hw, 'KB')
    mr.inst.stop_service(p)


def pop3_session(inst, ip, port, total, nretr):
    """One POP3 session: login, STAT, LIST, UIDL, then nretr RETRs. Returns (login s, login to
    the end of UIDL s, RETRs s, LIST lines, UIDL lines, RETR bytes, peak RSS of pop3d KB)."""
    c = mrbench.LineConn(ip, port, timeout=120)
    try:
        t0 = time.monotonic()
        line = c.line()
        assert line.startswith(b'+OK'), line
        assert c.cmd('USER popbench').startswith(b'+OK')
        line = c.cmd('PASS popbench')
        assert line.startswith(b'+OK'), line
        t_login = time.monotonic() - t0
        st = c.cmd('STAT')
        assert st.startswith(b'+OK'), st
        line = c.cmd('LIST')
        assert line.startswith(b'+OK'), line
        nlist = c.multi().count(b'\r\n')
        line = c.cmd('UIDL')
        assert line.startswith(b'+OK'), line
        nuidl = c.multi().count(b'\r\n')
        t_list = time.monotonic() - t0
        pids = inst.instance_procs('mailroom-pop3d')
        t0 = time.monotonic()
        size = 0
        for i in range(1, nretr + 1):
            line = c.cmd('RETR %d' % i)
            assert line.startswith(b'+OK'), line
            size += len(c.multi())
        t_retr = time.monotonic() - t0
        hw = max([mrbench.vmhwm(q) or 0 for q in pids] or [0])
        c.cmd('QUIT')
        return t_login, t_list, t_retr, nlist, nuidl, size, hw
    finally:
        c.close()


# --- figure 8: peak RSS of smtpd and local -------------------------------------------------------
def fig_rss(mr):
    inst = mr.inst
    for size, label in ((2048, '2 KB'), (10 * 1024 * 1024, '10 MB')):
        s = inst.session(env={'TCPREMOTEIP': '127.0.0.1'}, timeout=120)
        try:
            s.cmd('EHLO bench.test')
            code, text = s.transaction('bench@bench.test', [RCPT], smtpinst.crlf(mrbench.message_2k(size)))
            hw = mrbench.vmhwm(s.proc.pid)
            R.add(8, 'peak RSS mailroom-smtpd, one %s message' % label, hw or 'n/a', 'KB', None,
                  '' if code == 250 else 'reply %s %s' % (code, text))
            s.cmd('QUIT')
        finally:
            s.finish()
    mrbench.wait_count(mr.maildir_new(), 2, timeout=60)
    mr.clear()
    # mailroom-local run as lspawn runs it (INTERNALS.md), under build/bench/peakrss
    d = inst.assign_entry('demo')
    for size, label in ((2048, '2 KB'), (10 * 1024 * 1024, '10 MB')):
        msg = mrbench.message_2k(size)
        qf = inst.path('rss.msg')
        with open(qf, 'wb') as f:
            f.write(mrbench.queue_file(msg, 'bench@bench.test', [RCPT]))
        argv = [tool('peakrss')]
        if IS_ROOT:
            argv += ['-u', str(d['uid']), '-g', str(d['gid'])]
        argv += ['-d', d['home'], inst.bin('mailroom-local'), '--', d['user'], d['home'], 'demo', '', '',
                 'localhost', 'bench@bench.test', str(len(msg)), './Maildir/']
        with open(qf, 'rb') as f:
            r = subprocess.run(argv, stdin=f, capture_output=True, timeout=60)
        kb = None
        for line in r.stderr.decode(errors='replace').splitlines():
            if line.startswith('peakrss '):
                kb = int(line.split()[1])
        R.add(8, 'peak RSS mailroom-local, one %s message' % label, kb or 'n/a', 'KB', None,
              '' if r.returncode == 0 else 'exit %d: %s' % (r.returncode, r.stdout.decode(errors='replace')[:100]))
        os.unlink(qf)
    mr.clear()


# --- the table ------------------------------------------------------------------------------------
def table():
    fl = R.floor
    peers = sorted({p for r in R.rows for p in r['peers']})
    head = '%-4s %-48s %12s %-5s %10s %8s' % ('fig', 'what', 'value', 'unit', 'msg/s', '/floor')
    for p in peers:
        head += ' %12s %9s' % (p + ' msg/s', 'mr/' + p)
    head += ' %-18s %-26s' % ('procs/msg', 'fsync/msg (by kind)')
    lines = [head, '-' * len(head)]
    lines.append('%-4s %-48s %12.1f %-5s %10.1f %8s' % ('0', 'fsync floor (create+2KB+fsync+rename+fsync dir)',
                                                     fl, 'msg/s', fl, '1.00'))
    for r in R.rows:
        v = r['value']
        vs = ('%.3f' % v if v < 100 else '%.1f' % v) if isinstance(v, float) else str(v)
        rate = r['rate']
        line = '%-4s %-48s %12s %-5s %10s %8s' % (r['fig'], r['label'][:48], vs, r['unit'],
                                                 '%.1f' % rate if rate else '-',
                                                 '%.3f' % (rate / fl) if rate and fl else '-')
        for p in peers:
            pr = r['peers'].get(p)
            if pr and pr.get('rate'):
                line += ' %12.1f %9s' % (pr['rate'], '%.2f' % (rate / pr['rate']) if rate else '-')
            else:
                line += ' %12s %9s' % ('-', '-')
        if 'count' in r:
            line += ' %-18s %-26s' % (counting.fmt_procs(r['count'], r.get('count_client')), counting.fmt_syncs(r['count']))
        elif r['note']:
            line += ' %-18s %-26s' % ('', '')
        if r['note']:
            line += '  ' + r['note']
        lines.append(line.rstrip())
    return '\n'.join(lines)


def count_table():
    """The counting passes in detail: per program, and the peer's."""
    lines = []
    for r in R.rows:
        if 'count' not in r and not any('count' in p for p in r['peers'].values()):
            continue
        lines.append('fig %s %s' % (r['fig'], r['label']))
        for name, c, cl in [('mailroom', r.get('count'), r.get('count_client'))] + [
                (p, v.get('count'), v.get('count_client')) for p, v in sorted(r['peers'].items())]:
            if not c:
                if name in r['peers'] or name == 'mailroom':
                    lines.append('    %-9s not counted' % name)
                continue
            lines.append('    %-9s %d msgs: procs/msg %s (%s; execve %.2f) by program: %s' % (
                name, c['msgs'], counting.fmt_procs(c, cl),
                ' '.join('%s %.2f' % kv for kv in c['procs_by_kind'].items()) or 'none', c['execve'],
                ' '.join('%s %.2f' % kv for kv in c['procs_by_prog'].items()) or 'none'))
            if cl:
                lines.append('    %-9s load client: procs/msg %.2f%s' % (
                    '', cl['procs'], ' (%s)' % ' '.join('%s %.2f' % kv for kv in cl['procs_by_kind'].items())
                    if cl.get('procs_by_kind') else ''))
            lines.append('    %-9s fsync/msg %s by program: %s' % (
                '', counting.fmt_syncs(c), ' '.join('%s(%s)' % (p, ' '.join('%s %.2f' % kv for kv in kv2.items()))
                                                    for p, kv2 in c['syncs_by_prog'].items()) or 'none'))
    return '\n'.join(lines)


def main():
    if IS_ROOT is False:
        say('not root: no role users, privilege separation off; figures are not comparable')
    for b in ('mailroom-smtpd', 'mailroom-queue'):
        p = os.path.join(mrbench.CHECKOUT, 'build', 'bin', b)
        if os.path.exists(p) and b'__asan_init' in open(p, 'rb').read():
            print('bench: build/bin/%s was built with SANITIZE=1: make clean && make bench' % b, file=sys.stderr)
            return 100
    os.environ['DNSCACHEIP'] = mrbench.random_loopback()[0]  # nothing answers there: no query leaves
    info = {'date': time.strftime('%Y-%m-%d %H:%M:%S %z'), 'host': platform.node(), 'kernel': platform.release(),
            'cpus': os.cpu_count(), 'scale': SCALE, 'compare': COMPARE or None}
    say('mailroom bench: %s, %d cpus, kernel %s, BENCH_SCALE=%s%s' % (
        info['date'], info['cpus'], info['kernel'], SCALE, ', COMPARE=' + COMPARE if COMPARE else ''))
    R.loads.append(('start', uptime()))
    say('load average at start: %s' % uptime())
    R.floors.append(floor(n(2000, 100)))
    say('fsync floor: %.1f msg/s' % R.floors[-1])
    R.floor = R.floors[0]

    peer_ctx = None
    if COMPARE:
        if COMPARE != 'postfix':
            print('bench: COMPARE=%s: only postfix is known' % COMPARE, file=sys.stderr)
            return 100
        import postfixpeer
        peer_ctx = postfixpeer.Postfix()
    with smtpinst.SmtpInstance(prefix='mrbench.') as inst:
        mr = Mailroom(inst)
        mr.start()
        targets = [mr]
        if peer_ctx:
            try:
                peer_ctx.__enter__()
                peer_ctx.start()
                targets.append(peer_ctx)
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                say('postfix: not compared: %s' % e)
                peer_ctx.__exit__(None, None, None)
                peer_ctx = None
        try:
            if want(1):
                timed(1, fig_smtp, targets, 1, 2048, n(1000))
            R.loads.append(('after 1', uptime()))
            if want(2):
                timed(2, fig_smtp, targets, 2, 100 * 1024, n(200))
            if want(3):
                timed(3, fig_sendmail, targets, n(300))
            if want(9):
                timed(9, fig_source, targets, [(1, n(200, 50)), (10, n(1000, 100))])
            R.loads.append(('after 3', uptime()))
            if want(4):
                timed(4, fig_drain, targets, n(10000))
            if want(5):
                timed(5, fig_remote, targets, [(1, n(500)), (10, n(100)), (100, n(30, 5))])
            if peer_ctx:
                peer_ctx.__exit__(None, None, None)
                peer_ctx = None
            R.loads.append(('after 5', uptime()))
            if want(6):
                timed(6, fig_queue_scale, mr, [n(1000, 100), n(10000, 100), n(100000, 100)], n(1000, 100))
            if want(7):
                timed(7, fig_pop3, mr, [n(10000, 100), n(100000, 100)], n(1000, 100))
            if want(8):
                timed(8, fig_rss, mr)
        finally:
            if peer_ctx:
                peer_ctx.__exit__(None, None, None)
    R.floors.append(floor(n(2000, 100)))
    R.loads.append(('end', uptime()))
    R.floor = sum(R.floors) / len(R.floors)
    say('fsync floor at the end: %.1f msg/s; the ratios use the mean %.1f' % (R.floors[-1], R.floor))
    elapsed = time.monotonic() - T_START
    print()
    print(table())
    print()
    print('load averages (1, 5, 15 min): ' + '; '.join('%s %s' % x for x in R.loads))
    ct = count_table()
    if ct:
        print()
        print('counting passes (strace -f attached to every process of the target, untimed; '
              'procs = fork+vfork+clone+clone3 that made a process):')
        print(ct)
    print('seconds per figure (with the peer\'s runs): ' + ', '.join('%s %.0f' % kv for kv in R.secs.items()))
    print('bench took %.0f s' % elapsed)
    info.update({'floor': R.floor, 'floors': R.floors, 'loads': R.loads, 'seconds': round(elapsed, 1),
                 'runs': RUNS, 'figure_seconds': R.secs, 'rows': R.rows})
    with open(os.path.join(HERE, 'results.json'), 'w') as f:
        json.dump(info, f, indent=1)
    with open(os.path.join(HERE, 'results.svg'), 'w') as f:
        f.write(svgchart.chart(info))
    print('wrote bench/results.json and bench/results.svg')
    return 0


if __name__ == '__main__':
    sys.exit(main())
