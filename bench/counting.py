"""counting: processes created and fsync-family calls per message, from the kernel (issue 14
point 4), for `make bench`'s counting passes.

A counting pass is a separate, short, untimed run of a figure's load under strace: no timed run
is ever traced. Before the load, strace -f attaches (-p) to every live process of the target,
found from /proc and not from a list of program names, so that long-lived workers of any kind
are traced however they were started:

- for mailroom: every process in the session of a root the bench started (mailroom-start's,
  i.e. mailroom-send's with lspawn, rspawn and their warm workers; tcpserver's; any supervised
  service the instance's tests start), every process whose executable is under the instance's
  bin/ (mailroom-queued under its own supervise, wherever that runs), and every process whose
  working folder is under the instance's home (supervise, svscan, runsv of its services);
- for Postfix: every process in master's session.

-f follows every child they create during the pass. When the messages are delivered and the
queue is empty, strace is interrupted (it detaches) and its output is parsed: each successful
fork, vfork, clone and clone3 that made a process (not a thread: CLONE_THREAD), and each call of
the fsync family (fsync, fdatasync, syncfs, sync_file_range, msync, sync), by kind and by the
program that made it. A load client that forks is counted the same way, under its own strace.
"""

import os
import re
import signal
import subprocess
import time

PROCS = ('fork', 'vfork', 'clone', 'clone3')
SYNCS = ('fsync', 'fdatasync', 'syncfs', 'sync_file_range', 'msync', 'sync')
TRACE = 'trace=' + ','.join(PROCS + SYNCS + ('execve',))

LINE = re.compile(r'^(\d+)\s+(?:<\.\.\. (\w+) resumed>(.*)|(\w+)\((.*))$')


def _stat_fields(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(')') + 2:].split()


def _readlink(path):
    try:
        return os.readlink(path)
    except OSError:
        return ''


def prog_of(pid):
    exe = _readlink('/proc/%d/exe' % pid)
    if exe:
        return os.path.basename(exe.replace(' (deleted)', ''))
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return '?'


def live_pids(roots=(), bindir=None, home=None):
    """Pids of the target's live processes (no zombies): in the session or process group of a
    root, or running a program under bindir, or working under home."""
    roots = {r for r in roots if r}
    bindir = os.path.realpath(bindir) + os.sep if bindir else None
    home = os.path.realpath(home) + os.sep if home else None
    me = os.getpid()
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        pid = int(d)
        if pid == me:
            continue
        f = _stat_fields(pid)
        if not f or f[0] == 'Z':
            continue
        pgrp, sid = int(f[2]), int(f[3])
        if prog_of(pid) == 'strace':
            continue
        keep = pid in roots or pgrp in roots or sid in roots
        if not keep and bindir:
            keep = _readlink('/proc/%d/exe' % pid).startswith(bindir)
        if not keep and home:
            keep = (_readlink('/proc/%d/cwd' % pid) + os.sep).startswith(home)
        if keep:
            out.append(pid)
    return sorted(out)


class Pass:
    """strace -f attached to pids from start() to stop(); stop() returns the counts."""

    def __init__(self, pids, path):
        self.pids = list(pids)
        self.path = path
        self.progs = {p: prog_of(p) for p in self.pids}
        self.proc = None

    def start(self, timeout=10.0):
        if not self.pids:
            raise RuntimeError('counting: no process to trace')
        err = self.path + '.err'
        with open(err, 'wb') as e:
            self.proc = subprocess.Popen(['strace', '-f', '-o', self.path, '-e', TRACE, '-e', 'signal=none'] +
                                         sum((['-p', str(p)] for p in self.pids), []),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e)
        # strace says "Process N attached" for each pid (and each thread): wait for them all
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('strace exited %s: %s' % (self.proc.returncode, _read(err)[-500:]))
            text = _read(err)
            # a process that ended between the listing and the attach is no loss: it made
            # nothing during the pass
            if text.count(' attached') + text.count('No such process') >= len(self.pids):
                return
            time.sleep(0.05)
        raise RuntimeError('strace attached to fewer than %d processes in %.0f s: %s' % (
            len(self.pids), timeout, _read(err)[-500:]))

    def stop(self):
        if self.proc is None:
            return None
        try:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
        try:
            return parse(self.path, self.progs)
        finally:
            for f in (self.path, self.path + '.err'):
                if os.path.exists(f):
                    os.unlink(f)


def _read(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode(errors='replace')
    except OSError:
        return ''


def client_prefix(path):
    """The argv prefix that runs a load client under strace, counting its process creations."""
    return ['strace', '-f', '-qq', '-o', path, '-e', 'trace=' + ','.join(PROCS + ('execve',)), '-e', 'signal=none', '--']


def empty():
    return {'procs': 0, 'procs_by_kind': {}, 'procs_by_prog': {}, 'threads': 0, 'execve': 0,
            'syncs': {}, 'syncs_by_prog': {}}


def parse(path, progs=None):
    """Counts of one strace -f output file. progs: {pid: program} at attach time."""
    progs = dict(progs or {})
    out = empty()
    pending = {}
    try:
        f = open(path, errors='replace')
    except FileNotFoundError:
        return out
    with f:
        for line in f:
            m = LINE.match(line.rstrip('\n'))
            if not m:
                continue
            pid = int(m.group(1))
            if m.group(2):
                name = m.group(2)
                start = pending.pop(pid, None)
                args = (start[1] if start and start[0] == name else '') + m.group(3)
            else:
                name, args = m.group(4), m.group(5)
                if args.endswith('<unfinished ...>'):
                    pending[pid] = (name, args[:-len('<unfinished ...>')])
                    continue
            _count(out, progs, pid, name, args)
    return out


def _ret(args):
    tail = args.rsplit(') = ', 1)
    if len(tail) < 2:
        tail = args.rsplit(' = ', 1)
        if len(tail) < 2:
            return None
    try:
        return int(tail[1].split()[0])
    except (ValueError, IndexError):
        return None


def _bump(d, k, n=1):
    d[k] = d.get(k, 0) + n


def _count(out, progs, pid, name, args):
    prog = progs.get(pid, '?')
    ret = _ret(args)
    if name in SYNCS:
        _bump(out['syncs'], name)
        _bump(out['syncs_by_prog'].setdefault(prog, {}), name)
    elif name == 'execve':
        if ret == 0:
            m = re.match(r'"([^"]*)"', args)
            if m:
                progs[pid] = os.path.basename(m.group(1))
            out['execve'] += 1
    elif name in PROCS:
        if ret is None or ret <= 0:
            return
        if 'CLONE_THREAD' in args:
            out['threads'] += 1
        else:
            out['procs'] += 1
            _bump(out['procs_by_kind'], name)
            _bump(out['procs_by_prog'], prog)
        progs.setdefault(ret, prog)  # the child may have exec'd (and said so) before our return


def merge(a, b):
    """The sum of two counts (each as parse() returns them)."""
    out = empty()
    for c in (a, b):
        if not c:
            continue
        out['procs'] += c['procs']
        out['threads'] += c['threads']
        out['execve'] += c['execve']
        for k in ('procs_by_kind', 'procs_by_prog', 'syncs'):
            for n, v in c[k].items():
                _bump(out[k], n, v)
        for prog, kv in c['syncs_by_prog'].items():
            for n, v in kv.items():
                _bump(out['syncs_by_prog'].setdefault(prog, {}), n, v)
    return out


def per_message(c, msgs):
    """The counts divided by the messages of the pass (rounded), with the pass's size."""
    if c is None or not msgs:
        return None
    d = float(msgs)
    return {'msgs': msgs,
            'procs': round(c['procs'] / d, 3),
            'procs_by_kind': {k: round(v / d, 3) for k, v in sorted(c['procs_by_kind'].items())},
            'procs_by_prog': {k: round(v / d, 3) for k, v in sorted(c['procs_by_prog'].items(), key=lambda x: -x[1])},
            'execve': round(c['execve'] / d, 3),
            'threads': round(c['threads'] / d, 3),
            'syncs': round(sum(c['syncs'].values()) / d, 3),
            'syncs_by_kind': {k: round(v / d, 3) for k, v in sorted(c['syncs'].items())},
            'syncs_by_prog': {p: {k: round(v / d, 3) for k, v in sorted(kv.items())}
                              for p, kv in sorted(c['syncs_by_prog'].items())}}


def fmt_syncs(pm):
    if not pm:
        return '-'
    kinds = ' '.join('%s %.2f' % (k, v) for k, v in pm['syncs_by_kind'].items())
    return '%.2f%s' % (pm['syncs'], ' (%s)' % kinds if kinds else '')


def fmt_procs(pm, client=None):
    if not pm:
        return '-'
    s = '%.2f' % pm['procs']
    if client and client.get('procs'):
        s += ' +%.2f client' % client['procs']
    return s
