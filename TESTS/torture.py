#!/usr/bin/env python3
"""The crash test (issue 7): mail goes in through SMTP (tcpserver + mailroom-smtpd) and
sendmail to local and remote recipients while mailroom-send, -lspawn, -local, -rspawn,
-remote, -smtpd and -queue are SIGKILLed at random points, and restarted as a supervisor
would. At the end: every message that got a 250 or an exit 0 is delivered at least once to
each of its recipients, no delivered file is partial, duplicates are counted, and the
queue is empty.

    python3 -u TESTS/torture.py [--seconds S] [--kills N] [--messages N] [--drain D]
    (or TORTURE_SECONDS, TORTURE_KILLS, TORTURE_MESSAGES, TORTURE_DRAIN in the environment)

The kill phase ends when S seconds have passed and at least N kills were made (bounded by
2 S: too few kills then is a FAIL), or when N messages were injected and the kills are done;
then the queue gets up to D seconds to drain (the supervisor still restarts what exits). `make torture` runs the long
version; TESTS/test_torture.py a short one for `make check`.

The world: instance A (the one tortured) with virtual mailboxes ta, tb (local recipients)
and tsnd (the envelope sender, so a bounce would be seen); instance B (never killed), the
remote side, reached through A's control/smtproutes `rcv.test:[IP]:PORT` on a random
127.x.y.z, with mailbox rb. DNSCACHEIP points where nothing answers: no DNS is asked.

Supervision as daemontools would do it: mailroom-start is the root of send's process tree
(it forks lspawn and rspawn and becomes send). Killing lspawn or rspawn makes send exit 111
("spawner went away", once the other spawner's deliveries under way have reported, at most
30 s); killing send makes the spawners see EOF, finish and exit. Whenever
the tree's root process has exited, the supervisor thread here starts mailroom-start again
(no sooner than 1 s after the previous start, as supervise). The per-message programs
(local, remote, queue, smtpd) are found in /proc (this instance's binaries only) and killed
mid-flight; their parents must cope.

Each message carries X-Torture-Id and X-Torture-Sum (sha256 of its body) and X-Torture-Len,
so a delivered file whose body is not whole is seen. Root is not needed: as an ordinary
user every program runs as that user (the role switches are skipped, as mrinst does).
"""

import argparse
import contextlib
import hashlib
import os
import pwd
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, info  # noqa: E402

PROGS = ('mailroom-send', 'mailroom-lspawn', 'mailroom-rspawn', 'mailroom-local', 'mailroom-remote',
         'mailroom-smtpd', 'mailroom-queue', 'mailroom-queued')
# The queue writer is restarted this long after its death (as svscan would, at most once a
# second), so that the fallback, an exec'd mailroom-queue per message, runs and is killed too.
WRITER_DOWN = 1.5
TREE = ('mailroom-send', 'mailroom-lspawn', 'mailroom-rspawn')  # under mailroom-start
LOCAL_RCPTS = ('ta@localhost', 'tb@localhost')
REMOTE_DOMAIN = 'rcv.test'
REMOTE_RCPTS = ('rb@' + REMOTE_DOMAIN,)
BOX_OF = {'ta@localhost': ('A', 'ta'), 'tb@localhost': ('A', 'tb'), 'rb@rcv.test': ('B', 'rb')}
SENDER = 'tsnd@localhost'


def rand_ip():
    return '127.%d.%d.%d' % (random.randint(1, 254), random.randint(0, 255), random.randint(2, 254))


def free_port(ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((ip, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def exe_of(pid):
    try:
        return os.readlink('/proc/%d/exe' % pid)
    except OSError:
        return None


def find_procs(bindir):
    """{prog: [pid, ...]} of live processes running bindir/PROG for the programs in PROGS.
    Only /proc/PID/exe is trusted (a process we may not inspect is not ours)."""
    want = {os.path.join(bindir, p): p for p in PROGS}
    out = {p: [] for p in PROGS}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        e = exe_of(int(d))
        if e in want and mrinst.proc_state(int(d)) not in (None, 'Z'):
            out[want[e]].append(int(d))
    return out


# --- messages ------------------------------------------------------------------------------
def make_message(mid, rcpts, size, via):
    """(header+body bytes with LF ends, body sha256 hex). Lines stay well under 998 bytes;
    some start with '.', so dot-stuffing is exercised on both SMTP hops."""
    rnd = random.Random(mid)
    lines = []
    total = 0
    k = 0
    while total < size:
        n = rnd.randint(0, 120)
        ln = ('.' if rnd.random() < 0.05 else '') + '%s %d ' % (mid, k) + ''.join(
            rnd.choice('abcdefghijklmnopqrstuvwxyz0123456789 ') for _ in range(n))
        lines.append(ln.encode() + b'\n')
        total += len(lines[-1])
        k += 1
    body = b''.join(lines)
    s = hashlib.sha256(body).hexdigest()
    head = ('From: %s\nTo: %s\nSubject: torture %s via %s\nMessage-ID: <%s@torture.test>\n'
            'X-Torture-Id: %s\nX-Torture-Len: %d\nX-Torture-Sum: %s\n\n') % (
        SENDER, ', '.join(rcpts), mid, via, mid, mid, len(body), s)
    return head.encode() + body


def check_file(data):
    """A delivered file -> (id, None) if whole, (id or None, why) if not."""
    j = data.find(b'\nX-Torture-Id: ')
    if j < 0:
        return None, 'no X-Torture-Id'
    mid = data[j + 15:data.find(b'\n', j + 1)].decode(errors='replace')
    hdr_end = data.find(b'\n\n')
    if hdr_end < 0:
        return mid, 'no end of header'
    hdr = data[:hdr_end + 1]
    body = data[hdr_end + 2:]

    def field(name):
        i = hdr.find(b'\n' + name + b': ')
        if i < 0:
            return None
        return hdr[i + len(name) + 3:hdr.find(b'\n', i + 1)].decode(errors='replace')
    ln, s = field(b'X-Torture-Len'), field(b'X-Torture-Sum')
    if ln is None or s is None:
        return mid, 'header fields missing'
    if len(body) != int(ln):
        return mid, 'body %d bytes, want %s' % (len(body), ln)
    if hashlib.sha256(body).hexdigest() != s:
        return mid, 'body checksum differs'
    return mid, None


def check_queue_file(path):
    """None if queue/new or queue/mess's file PATH is whole (INTERNALS.md: message, envelope,
    32-byte trailer with both lengths) or gone; else why not. S2/S3: a file there is always
    complete, whatever was killed when."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        return None
    tr = data[-32:]
    if len(data) < 32 or not tr.startswith(b'MRQ1 ') or tr[-1:] != b'\n':
        return 'no trailer (%d bytes)' % len(data)
    try:
        ml, el = int(tr[5:21], 16), int(tr[21:31], 16)
    except ValueError:
        return 'malformed trailer %r' % tr
    if ml + el + 32 != len(data):
        return 'size %d, trailer says %d + %d + 32' % (len(data), ml, el)
    env = data[ml:ml + el]
    if not env.startswith(b'F') or not env.endswith(b'\0\0') or b'\0T' not in env:
        return 'malformed envelope %r' % env[:80]
    return None


def check_queue(inst):
    """[(dir/name, why)] for every file of queue/new and queue/mess that is not whole."""
    bad = []
    q = inst.queue_files()
    for d in ('new', 'mess'):
        for n in q[d]:
            why = check_queue_file(inst.path('queue', d, n))
            if why:
                bad.append(('%s/%s' % (d, n), why))
    return bad


# --- the run -------------------------------------------------------------------------------
class Torture:
    def __init__(self, a, b, seconds, kills, messages, drain):
        self.a, self.b = a, b
        self.seconds, self.want_kills, self.max_messages, self.drain = seconds, kills, messages, drain
        self.lock = threading.Lock()
        self.msgs = {}           # id -> {'via', 'rcpts', 'accepted': True/False/None, 'why'}
        self.kills = {p: 0 for p in PROGS}
        self.kill_misses = {p: 0 for p in PROGS}
        self.restarts = 0
        self.writer_restarts = 0
        self.writer_dead_at = None  # when the writer was seen dead
        self.qchecks = 0         # looks at queue/new and queue/mess, each time the tree was down
        self.qbad = []           # (file, why) of queue files that were not whole
        self.stop_inject = threading.Event()
        self.stop_kill = threading.Event()
        self.errors = []
        self.nseq = 0
        self.bindir = a.path('bin')
        self.smtp_addr = None

    def next_id(self, via):
        with self.lock:
            self.nseq += 1
            if self.max_messages and self.nseq > self.max_messages:
                self.stop_inject.set()
                return None
            return 't%05d%s' % (self.nseq, via[0])

    def record(self, mid, via, rcpts, accepted, why=''):
        with self.lock:
            self.msgs[mid] = {'via': via, 'rcpts': rcpts, 'accepted': accepted, 'why': why}

    def pick(self):
        rcpts = [r for r in LOCAL_RCPTS + REMOTE_RCPTS if random.random() < 0.5]
        return rcpts or [random.choice(LOCAL_RCPTS + REMOTE_RCPTS)]

    def size(self):
        return random.choice((random.randint(200, 4000), random.randint(4000, 60000), random.randint(60000, 300000)))

    # --- injectors ---------------------------------------------------------------------
    def smtp_loop(self):
        while not self.stop_inject.is_set():
            try:
                self.smtp_session()
            except Exception:  # noqa: BLE001 - an injector error is recorded, never fatal
                with self.lock:
                    self.errors.append('smtp: ' + traceback.format_exc(limit=2))
                time.sleep(0.2)

    def smtp_session(self):
        try:
            s = socket.create_connection(self.smtp_addr, timeout=30)
        except OSError:
            time.sleep(0.1)
            return
        c = smtpinst.Client(s, 60)
        try:
            try:
                code, _ = c.reply()
                if code != 220:
                    return
                code, _ = c.cmd('EHLO torture.test')
                if code != 250:
                    return
            except (OSError, EOFError, ValueError, TimeoutError):
                return
            for _ in range(random.randint(1, 3)):
                if self.stop_inject.is_set():
                    break
                mid = self.next_id('smtp')
                if mid is None:
                    break
                rcpts = self.pick()
                data = make_message(mid, rcpts, self.size(), 'smtp')
                self.record(mid, 'smtp', rcpts, None, 'not finished')
                try:
                    code, text, took = self.transaction(c, rcpts, smtpinst.crlf(data))
                except (OSError, EOFError, ValueError, TimeoutError) as e:
                    # the final reply may have been lost: neither accepted nor refused
                    self.record(mid, 'smtp', rcpts, None, 'connection: %s' % type(e).__name__)
                    return
                # a recipient refused at RCPT is not part of what the 250 accepted
                self.record(mid, 'smtp', took if code == 250 else rcpts, code == 250,
                            '%d %s' % (code, ' '.join(text)[:80]))
                if code != 250:
                    try:
                        c.cmd('RSET')
                    except (OSError, EOFError, ValueError, TimeoutError):
                        return
            try:
                c.cmd('QUIT', 10)
            except (OSError, EOFError, ValueError, TimeoutError):
                pass
        finally:
            c.close()

    @staticmethod
    def transaction(c, rcpts, data):
        """MAIL, RCPTs, DATA: (final code, text, [recipients that got 250])."""
        code, text = c.cmd('MAIL FROM:<%s>' % SENDER)
        if code != 250:
            return code, text, []
        took = []
        for r in rcpts:
            code, text = c.cmd('RCPT TO:<%s>' % r)
            if code == 250:
                took.append(r)
        if not took:
            return code, text, []
        code, text = c.cmd('DATA')
        if code != 354:
            return code, text, []
        c.send(data + b'.\r\n')
        code, text = c.reply(120)
        return code, text, took

    def sendmail_loop(self):
        while not self.stop_inject.is_set():
            mid = self.next_id('sendmail')
            if mid is None:
                break
            rcpts = self.pick()
            data = make_message(mid, rcpts, self.size(), 'sendmail')
            try:
                r = self.a.sendmail(['-f', SENDER] + rcpts, data, timeout=120)
                self.record(mid, 'sendmail', rcpts, r.returncode == 0,
                            'exit %d %s' % (r.returncode, r.stderr.decode(errors='replace').strip()[:80]))
            except subprocess.TimeoutExpired:
                self.record(mid, 'sendmail', rcpts, None, 'timeout')

    # --- the supervisor and the killer ------------------------------------------------
    def supervise_writer(self):
        """Restarts the queue writer WRITER_DOWN s after it was seen dead."""
        a = self.a
        if a.writer is not None and a.writer.poll() is None:
            return
        now = time.monotonic()
        if self.writer_dead_at is None:
            self.writer_dead_at = now
        if now - self.writer_dead_at < WRITER_DOWN:
            return
        try:
            a.writer = None
            a.start_writer(ready_timeout=30)
            self.writer_restarts += 1
        except RuntimeError as e:
            with self.lock:
                self.errors.append('restart: %s' % e)
        self.writer_dead_at = None

    def supervise(self):
        """Restarts mailroom-start when the tree's root has exited (at most once a second),
        and the queue writer when it has died."""
        a = self.a
        self.supervise_writer()
        if a.running():
            return
        self.qchecks += 1
        for b in check_queue(a):
            if b not in self.qbad:
                self.qbad.append(b)
        wait = 1.0 - (time.monotonic() - self.last_start)
        if wait > 0:
            time.sleep(wait)
        try:
            a.start(ready_timeout=30)
        except RuntimeError as e:
            with self.lock:
                self.errors.append('restart: %s' % e)
            a.send = None
        self.last_start = time.monotonic()
        self.restarts += 1

    def kill_one(self, prog, window):
        """Waits up to window s for a live PROG of instance A, then SIGKILLs one at a random
        moment. Returns True if a kill was made."""
        deadline = time.monotonic() + window
        if prog == 'mailroom-queue' and find_procs(self.bindir)['mailroom-queued']:
            # the exec'd injector runs only while the writer is down: bring that about
            if self.kill_one('mailroom-queued', window):
                self.a.writer.wait(10)
        while time.monotonic() < deadline and not self.stop_kill.is_set():
            self.supervise()
            pids = find_procs(self.bindir)[prog]
            if pids:
                time.sleep(random.uniform(0, 0.03))  # somewhere inside its work
                pid = random.choice(pids)
                if exe_of(pid) != os.path.join(self.bindir, prog):
                    continue  # gone, or its pid reused
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                self.kills[prog] += 1
                if prog in TREE and self.a.send is not None and prog == 'mailroom-send':
                    self.a.send.wait(10)  # reap it, so the supervisor sees it gone
                if prog == 'mailroom-queued' and self.a.writer is not None:
                    self.a.writer.wait(10)
                return True
            time.sleep(0.005)
        self.kill_misses[prog] += 1
        return False

    def kill_loop(self, t_end, t_hard):
        order = []
        while not self.stop_kill.is_set():
            now = time.monotonic()
            total = sum(self.kills.values())
            if now >= t_hard:
                break
            if now >= t_end and total >= self.want_kills:
                break
            if self.stop_inject.is_set() and total >= self.want_kills:
                break
            if not order:
                order = list(PROGS)
                random.shuffle(order)
            prog = order.pop()
            # kills of the tree cost a restart each: space them so deliveries make progress
            if self.kill_one(prog, 3.0) and prog in TREE:
                time.sleep(random.uniform(0.3, 1.2))
            else:
                time.sleep(random.uniform(0.05, 0.3))
            self.supervise()
        self.stop_kill.set()

    # --- the whole run -----------------------------------------------------------------
    def run(self, R):
        a = self.a
        self.last_start = time.monotonic()
        a.start()
        threads = [threading.Thread(target=self.smtp_loop, daemon=True) for _ in range(2)]
        threads.append(threading.Thread(target=self.sendmail_loop, daemon=True))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        self.kill_loop(t0 + self.seconds, t0 + 2 * self.seconds)
        self.stop_inject.set()
        t_kill = time.monotonic() - t0
        for t in threads:
            t.join(150)
        alive = [t for t in threads if t.is_alive()]
        info('kill phase: %.1f s, %d kills, %d restarts of mailroom-start; injectors stopped %.1f s later' % (
            t_kill, sum(self.kills.values()), self.restarts, time.monotonic() - t0 - t_kill))
        R.check('torture: the injectors stopped', not alive, '%d still running' % len(alive))
        # the supervisor keeps the tree up while the queue drains
        self.supervise()
        t1 = time.monotonic()
        drained = self.wait_drained()
        info('drain: %.1f s, queue A %s, queue B %s' % (
            time.monotonic() - t1, qcount(a), qcount(self.b)))
        return drained

    def wait_drained(self):
        deadline = time.monotonic() + self.drain
        while time.monotonic() < deadline:
            self.supervise()
            if not any(qcount(self.a).values()) and not any(qcount(self.b).values()):
                return True
            time.sleep(0.2)
        return False


def qcount(inst):
    return {k: len(v) for k, v in inst.queue_files().items()}


def analyse(t, R):
    a, b = t.a, t.b
    got = {}        # (id, rcpt) -> count
    half = []
    strays = []
    for rcpt, (which, box) in BOX_OF.items():
        inst = a if which == 'A' else b
        md = inst.maildir(box)
        for sub in ('new', 'cur'):
            d = os.path.join(md, sub)
            for n in sorted(os.listdir(d)):
                data = mrinst.read_file(os.path.join(d, n))
                mid, why = check_file(data)
                if why:
                    half.append((box, n, mid, why))
                    continue
                m = t.msgs.get(mid)
                if m is None or rcpt not in m['rcpts']:
                    strays.append((box, mid))
                    continue
                got[(mid, rcpt)] = got.get((mid, rcpt), 0) + 1
    bounces = len(a.maildir_files('tsnd'))
    accepted = {k: m for k, m in t.msgs.items() if m['accepted']}
    refused = {k: m for k, m in t.msgs.items() if m['accepted'] is False}
    unknown = {k: m for k, m in t.msgs.items() if m['accepted'] is None}
    lost = [(k, r) for k, m in accepted.items() for r in m['rcpts'] if not got.get((k, r))]
    dups = sum(c - 1 for c in got.values() if c > 1)
    dup_keys = sorted((k for k, c in got.items() if c > 1))
    unacc_deliv = sorted({k for (k, r) in got if k in refused or k in unknown})
    via = {v: sum(1 for m in t.msgs.values() if m['via'] == v) for v in ('smtp', 'sendmail')}
    accv = {v: sum(1 for m in accepted.values() if m['via'] == v) for v in ('smtp', 'sendmail')}
    q = qcount(a)
    qb = qcount(b)
    ndeliv = sum(got.values())
    tmp_left = sum(len(os.listdir(os.path.join(a.maildir(box) if w == 'A' else b.maildir(box), 'tmp')))
                   for w, box in BOX_OF.values())
    info('figures: messages %d (smtp %d, sendmail %d); accepted %d (smtp %d, sendmail %d); '
         'refused %d; unknown outcome %d; kills %d (%s); restarts %d' % (
             len(t.msgs), via['smtp'], via['sendmail'], len(accepted), accv['smtp'], accv['sendmail'],
             len(refused), len(unknown), sum(t.kills.values()),
             ' '.join('%s=%d' % (p[9:], t.kills[p]) for p in PROGS), t.restarts))
    info('figures: delivered %d (recipient copies), duplicates %d, losses %d, half-delivered %d, '
         'strays %d, bounces %d, delivered though not accepted %d messages, '
         'Maildir tmp/ leftovers %d, queue left A %s B %s' % (
             ndeliv, dups, len(lost), len(half), len(strays), bounces, len(unacc_deliv), tmp_left, q, qb))
    print('TORTURE messages=%d smtp=%d sendmail=%d accepted=%d kills=%d %s delivered=%d duplicates=%d '
          'losses=%d half=%d queue_left=%d' % (
              len(t.msgs), via['smtp'], via['sendmail'], len(accepted), sum(t.kills.values()),
              ' '.join('%s=%d' % (p[9:], t.kills[p]) for p in PROGS), ndeliv, dups, len(lost), len(half),
              sum(q.values())), flush=True)
    if dup_keys:
        info('duplicates (id, recipient): %s' % dup_keys[:20])
    fatal = {}
    for inst in (a, b):
        for line in (inst.log() + inst.service_log()).splitlines():
            if ': fatal: ' in line or ': warning: ' in line:
                k = re.sub(r'[0-9][0-9.]{5,}', 'N', re.sub(r'slot [0-9]+', 'slot N', line))[:140]
                fatal[k] = fatal.get(k, 0) + 1
    for k, n in sorted(fatal.items(), key=lambda x: -x[1])[:12]:
        info('log: %4d x %s' % (n, k))
    if t.errors:
        info('injector/supervisor errors: %d, first: %s' % (len(t.errors), t.errors[0][-300:]))
    R.check('torture: messages accepted through SMTP and sendmail', accv['smtp'] > 0 and accv['sendmail'] > 0,
            'accepted smtp %d sendmail %d' % (accv['smtp'], accv['sendmail']))
    missed = [p for p in PROGS if t.kills[p] == 0]
    R.check('torture: at least %d kills, every program killed' % t.want_kills,
            sum(t.kills.values()) >= t.want_kills and not missed,
            'kills %s; never caught running: %s' % (t.kills, missed))
    R.check('torture: every accepted message is delivered to each of its recipients (losses = 0)', not lost,
            '%d lost, e.g. %s' % (len(lost), [(k, r, t.msgs[k]['via'], t.msgs[k]['why']) for k, r in lost[:8]]))
    R.check('torture: no delivered file is partial or altered (half-delivered = 0)', not half,
            '%d, e.g. %s' % (len(half), half[:5]))
    R.check('torture: nothing delivered to a recipient it was not for', not strays, strays[:5])
    R.check('torture: no bounce (every recipient exists; a kill is a temporary failure)', bounces == 0,
            '%d bounces in tsnd\'s Maildir; send.log: %s' % (bounces, a.log()[-400:]))
    R.check('torture: every file in queue/new and queue/mess was whole whenever the tree was down '
            '(%d looks)' % t.qchecks, not t.qbad, t.qbad[:5])
    R.check('torture: the queue is empty at the end (A and B)', not any(q.values()) and not any(qb.values()),
            'A %s B %s' % (q, qb))
    R.check('torture: no restart of mailroom-start failed', not [e for e in t.errors if e.startswith('restart')],
            [e for e in t.errors if e.startswith('restart')][:3])
    return not lost and not half


def setup_service(inst, ip, port, rules=None):
    """service/smtpd for ip:port (SmtpInstance.setup_smtpd), with smtp.rules first when
    given. Set-up on a loaded machine can take minutes: the bound is long."""
    if rules is not None:
        mrinst.write_file(inst.path('control', 'smtp.rules'), rules, 0o644)
    inst.setup_smtpd(port, ip, timeout=600)


ROLES = ('mrqueue', 'mrsend', 'mrremote', 'mrsmtpd', 'mrlog', 'mrmail', 'mrtlsd', 'mrauth')  # lib/sh/setup.sh


def has_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def side_by_side(fns, res, serial=False, limit=900):
    """Runs the callables in threads at once (one after the other when serial); res[k]
    becomes (True, value) or (False, exception). Also when a SIGTERM (the runner's timeout)
    comes meanwhile, what is under way is waited for (bounded), so that what it made can be
    removed. (Events, not Thread.join: a join interrupted by the signal's exception may
    not wait again.)"""
    done = [threading.Event() for _ in fns]

    def run(k):
        try:
            res[k] = (True, fns[k]())
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            res[k] = (False, e)
        finally:
            done[k].set()
    started = []
    try:
        for k in range(len(fns)):
            threading.Thread(target=run, args=(k,), daemon=True).start()
            started.append(k)
            if serial:
                done[k].wait(limit)
        for k in started:
            done[k].wait(limit)
    finally:
        for k in started:
            done[k].wait(300)
    for k in range(len(fns)):
        if res[k] is None:
            raise RuntimeError('step %d did not end within %d s' % (k, limit))
        if not res[k][0]:
            raise res[k][1]


def make_instances(stack):
    """(A, B), set up side by side (each is a relink and a setup.sh: minutes on a loaded
    machine), entered into stack so that leaving it stops and removes both."""
    # the build first, once: two `make relink` (each makes `all`) must not build at once
    r = subprocess.run(['make', '-s', 'all'], cwd=mrinst.CHECKOUT, env=mrinst._make_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError('make all failed: %s' % (r.stdout + r.stderr).decode(errors='replace')[-2000:])
    insts = [smtpinst.SmtpInstance('mrtorta.'), smtpinst.SmtpInstance('mrtortb.')]
    res = [None, None]
    # On a fresh machine lib/sh/setup.sh creates the role users: two useradds at once would
    # fight over /etc/passwd's lock, so the first instance is made alone there.
    serial = IS_ROOT and not all(has_user(r) for r in ROLES)
    try:
        side_by_side([insts[0].__enter__, insts[1].__enter__], res, serial)
    finally:
        # B is pushed first so that A (the sender) stops first when the stack unwinds
        for k in (1, 0):
            if res[k] and res[k][0]:
                stack.push(insts[k].__exit__)
    return insts[0], insts[1]


def param(args, name, env, default, conv):
    v = getattr(args, name)
    if v is None:
        v = os.environ.get(env)
    return conv(v) if v is not None else default


def main(argv=None, defaults=(150, 210, 0, 240)):
    ap = argparse.ArgumentParser(description='mailroom crash test')
    ap.add_argument('--seconds', type=float)
    ap.add_argument('--kills', type=int)
    ap.add_argument('--messages', type=int)
    ap.add_argument('--drain', type=float)
    args = ap.parse_args(argv)
    seconds = param(args, 'seconds', 'TORTURE_SECONDS', defaults[0], float)
    kills = param(args, 'kills', 'TORTURE_KILLS', defaults[1], int)
    messages = param(args, 'messages', 'TORTURE_MESSAGES', defaults[2], int)
    drain = param(args, 'drain', 'TORTURE_DRAIN', defaults[3], float)
    R = mrinst.Results()
    info('torture: %.0f s, >= %d kills, %s messages, drain bound %.0f s, as %s' % (
        seconds, kills, messages or 'unbounded', drain, 'root' if IS_ROOT else 'uid %d' % os.getuid()))
    if not IS_ROOT:
        info('not root: every program runs as this user (no role switches); the rest is the same')
    os.environ['DNSCACHEIP'] = mrinst.NO_DNS  # no DNS is asked: routes are literal addresses
    t_start = time.monotonic()
    with contextlib.ExitStack() as stack:
        a, b = make_instances(stack)
        b.control('me', REMOTE_DOMAIN)
        b.control('locals', REMOTE_DOMAIN)
        b.control('rcpthosts', REMOTE_DOMAIN)
        b.add_mailbox('rb')
        bip = rand_ip()
        bport = free_port(bip)
        for box in ('ta', 'tb', 'tsnd'):
            a.add_mailbox(box)
        a.control('retrybase', 1)
        a.control('retrymax', 2)
        a.control('smtproutes', '%s:[%s]:%d' % (REMOTE_DOMAIN, bip, bport))
        a.control('timeoutconnect', 10)
        a.control('timeoutremote', 60)
        aip = rand_ip()
        aport = free_port(aip)
        # every loopback client may relay (the clients connect from 127.x.y.z)
        side_by_side([lambda: setup_service(a, aip, aport, rules='127.:allow,RELAYCLIENT=""\n:allow\n'),
                      lambda: setup_service(b, bip, bport)], [None, None])
        b.start()
        b.start_service(bport, ready_timeout=30, ip=bip)
        a.start_service(aport, ready_timeout=30, ip=aip)
        info('set-up of the two instances: %.1f s' % (time.monotonic() - t_start))
        t = Torture(a, b, seconds, kills, messages, drain)
        t.smtp_addr = (aip, aport)
        try:
            t.run(R)
        finally:
            t.stop_kill.set()
            t.stop_inject.set()
        analyse(t, R)
        t_end = time.monotonic()
        if R.failed:
            info('send.log of A (tail): %s' % a.log()[-1500:].replace('\n', ' | '))
    info('clean-up: %.1f s; whole run %.1f s' % (time.monotonic() - t_end, time.monotonic() - t_start))
    R.exit()


if __name__ == '__main__':
    main()
