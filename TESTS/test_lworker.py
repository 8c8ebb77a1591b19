#!/usr/bin/env python3
"""Warm local deliverers (issue 14): mailroom-lspawn keeps one mailroom-local -w per recipient
uid, hands it jobs over a SOCK_SEQPACKET socket, and the worker commits the Maildir deliveries
it has in hand together.

What is checked, on one temporary instance (TESTS/lib/mrinst.py), restarted where a control
file changes: one worker for many messages (the P<pid> of the Maildir names, and the process
creations under lspawn counted by strace); its uid is the recipient's and two uids get two
workers; the files are byte-exact; batching (strace -y of fsync: fewer fsyncs of new/ than
messages when they arrive together); the bounds (messages, idle, lifetime); dot files with
|program, &forward, mbox, exit 99, extensions and no environment carried from one job to the
next; a worker SIGKILLed with jobs in hand (every one Z, then delivered; no zombie, no lost
slot); a worker that sends malformed replies is killed and its jobs are Z (a fake worker).
Every wait is bounded.
"""

import os
import pwd
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
from mrinst import IS_ROOT, info, read_file  # noqa: E402

R = mrinst.Results()
SLOW = mrinst.SLOW
NAME_PID = re.compile(r'\.M\d+P(\d+)Q\d+\.')


def pids_of(files):
    """{worker pid: files} from Maildir names (SEC.MusecPpidQn.host)."""
    out = {}
    for f in files:
        m = NAME_PID.search(os.path.basename(f))
        out.setdefault(int(m.group(1)) if m else -1, []).append(f)
    return out


def restart(inst, **controls):
    inst.stop()
    for k, v in controls.items():
        inst.control(k, v)
    inst.start()


def queue(inst, msg, sender, rcpts):
    env = b'F' + sender.encode() + b'\0' + b''.join(b'T' + r.encode() + b'\0' for r in rcpts) + b'\0'
    rc, err = inst.queue_direct(msg, env)
    if rc != 0:
        raise RuntimeError('mailroom-queue exited %d: %s' % (rc, err.decode(errors='replace')))


def wait_file(path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return True
        time.sleep(0.02)
    return False


def lspawn_pid(inst):
    ls = inst.instance_procs('mailroom-lspawn') or inst.instance_procs('mailroom-lspawn.real')
    return ls[0] if ls else None


def zombies_under(pid):
    """Zombie children of pid."""
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rfind(')') + 2:].split()
        if rest[0] == 'Z' and int(rest[1]) == pid:
            out.append(int(d))
    return out


# --- 1. one worker for many messages, byte-exact, process creations ----------------------------
def t_many(inst, n=200):
    box = inst.add_mailbox('many')
    restart(inst)
    sent = []
    for i in range(n):
        msg = b'Subject: many %d\nX-Serial: %d\n\nbody %d\n%s\n' % (i, i, i, b'x' * (i % 50))
        queue(inst, msg, 'snd%d@example.org' % i, ['many@localhost'])
        sent.append(msg)
    got, secs = inst.wait_for(n, 60 * SLOW, box)
    R.check('one user: %d messages delivered' % n, got == n, '%d files after %.1f s' % (got, secs))
    files = inst.maildir_files(box)
    by = pids_of(files)
    R.check('one user: every message by one mailroom-local process', len(by) == 1,
            'worker pids %s' % {p: len(v) for p, v in by.items()})
    want = set()
    for i, m in enumerate(sent):
        want.add(b'Return-Path: <snd%d@example.org>\nDelivered-To: many@localhost\n' % i + m)
    have = set(read_file(f) for f in files)
    R.check('one user: every file byte-exact (Return-Path, Delivered-To, the message)', have == want,
            '%d of %d files differ' % (len(want - have), n))
    tmp = os.listdir(os.path.join(box, 'tmp'))
    R.check('one user: tmp/ empty afterwards', not tmp, '%d files in tmp/' % len(tmp))


def wrap_lspawn(inst, trace, out):
    """bin/mailroom-lspawn becomes a script that runs the real one under strace -f."""
    real = inst.bin('mailroom-lspawn.real')
    if not os.path.exists(real):
        os.rename(inst.bin('mailroom-lspawn'), real)
    # LeakSanitizer cannot run under ptrace (it dies at exit with a report of its own): the
    # traced lspawn goes without it; the untraced runs of every other test keep the check
    mrinst.write_file(inst.bin('mailroom-lspawn'),
                      '#!/bin/sh\nASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"; export ASAN_OPTIONS\n'
                      'exec strace -f -qq -y -o %s -e trace=%s %s\n' % (out, trace, real), 0o755)


def unwrap_lspawn(inst):
    real = inst.bin('mailroom-lspawn.real')
    if os.path.exists(real):
        os.replace(real, inst.bin('mailroom-lspawn'))


def t_batch(inst, n=300):
    """Messages queued while send is down all arrive together at its start: the worker
    takes several jobs at a time and fsyncs new/ once per group."""
    box = inst.add_mailbox('batch')
    out = inst.path('strace.batch')
    inst.stop()
    for i in range(n):
        queue(inst, b'Subject: batch %d\n\nbatch %d\n' % (i, i), 'b@example.org', ['batch@localhost'])
    wrap_lspawn(inst, 'fsync,fdatasync,fork,vfork,clone,clone3,execve', out)
    try:
        inst.control('concurrencylocal', 50)
        inst.start()
        got, secs = inst.wait_for(n, 120 * SLOW, box)
        R.check('batch: %d queued messages delivered' % n, got == n, '%d files after %.1f s' % (got, secs))
        inst.stop()
    finally:
        unwrap_lspawn(inst)
        inst.control('concurrencylocal', None)
    lines = read_file(out).decode(errors='replace').splitlines()
    newsync = [ln for ln in lines if re.search(r'\bfsync\(\d+<%s/new>\)' % re.escape(box), ln)]
    filesync = [ln for ln in lines if re.search(r'\bfsync\(\d+<%s/tmp/' % re.escape(box), ln)]
    # "vfork() = PID", or with -f "vfork( <unfinished ...>" then "<... vfork resumed>) = PID"
    creations = [ln for ln in lines if re.search(r'\b(fork|vfork|clone|clone3)\b.*\)\s+= \d+$', ln)]
    execs = [ln for ln in lines if 'execve(' in ln and 'mailroom-local' in ln]
    info('batch: %d messages, %d fsyncs of new/, %d of tmp/ files, %d process creations under lspawn, '
         '%d execs of mailroom-local' % (n, len(newsync), len(filesync), len(creations), len(execs)))
    R.check('batch: every file fsynced once (%d)' % n, len(filesync) == n, '%d tmp/ fsyncs' % len(filesync))
    R.check('batch: fewer fsyncs of new/ than messages', 0 < len(newsync) < n, '%d new/ fsyncs for %d messages'
            % (len(newsync), n))
    R.check('batch: at most 0.2 process creations per message under lspawn (and the worker start seen)',
            1 <= len(creations) <= 0.2 * n,
            '%d creations for %d messages' % (len(creations), n))
    R.check('batch: one mailroom-local started', len(execs) == 1, '%d execs' % len(execs))
    # Guarantee 4, in the order the worker made the calls: every tmp/ file's fsync comes before
    # the fsync of new/ that makes it durable (the link in between is not traced).
    first_new = next((i for i, ln in enumerate(lines) if ln in newsync), None)
    last_file_before = [i for i, ln in enumerate(lines) if ln in filesync and first_new is not None and i < first_new]
    R.check('batch: the first new/ fsync comes after tmp/ file fsyncs', first_new is not None and last_file_before,
            'first new/ fsync at line %s' % first_new)


# --- 2. uids -------------------------------------------------------------------------------------
def t_uids(inst):
    labels = ["uid: the worker runs as the recipient's uid", 'uid: two users of two uids get two workers']
    if not IS_ROOT:
        for lb in labels:
            R.skip(lb, 'needs root')
        return
    restart(inst, localworkeridle=30)
    users = []
    for k in range(2):
        name, uid, gid = inst.system_user('mrlw')
        home = inst.user_home('uid%d' % k, uid, gid)
        users.append((name, uid, gid, home))
    for i in range(10):
        for k in range(2):
            queue(inst, b'Subject: uid %d %d\n\nx\n' % (k, i), 'u@example.org', ['uid%d@localhost' % k])
    ok = True
    for (_, uid, gid, home) in users:
        got, _ = inst.wait_for(10, 30 * SLOW, home + '/Maildir')
        ok = ok and got == 10
    seen = {}
    for p in inst.instance_procs('mailroom-local'):
        try:
            u, g = mrinst.proc_ids(p)
        except OSError:
            continue
        seen[p] = (set(u), set(g))
    want = {(frozenset({uid}), frozenset({gid})) for (_, uid, gid, _) in users}
    have = {(frozenset(u), frozenset(g)) for u, g in seen.values()}
    R.check(labels[0], ok and want <= have and not any(0 in u for u, _ in seen.values()),
            'workers %s, recipients %s' % (seen, [(u[1], u[2]) for u in users]))
    p0 = set(pids_of(inst.maildir_files(users[0][3] + '/Maildir')))
    p1 = set(pids_of(inst.maildir_files(users[1][3] + '/Maildir')))
    R.check(labels[1], len(p0) == 1 and len(p1) == 1 and not (p0 & p1), 'pids %s and %s' % (p0, p1))
    restart(inst, localworkeridle=None)


# --- 3. bounds -----------------------------------------------------------------------------------
def t_bounds(inst):
    box = inst.add_mailbox('bounds')
    restart(inst, localworkermessages=5)
    for i in range(12):
        queue(inst, b'Subject: bound %d\n\nx\n' % i, 'b@example.org', ['bounds@localhost'])
        inst.wait_for(i + 1, 10 * SLOW, box)  # one at a time: each job counts against one worker
    by = pids_of(inst.maildir_files(box))
    R.check('bounds: localworkermessages 5: 12 messages by 3 workers, none over 5',
            len(by) == 3 and max(len(v) for v in by.values()) <= 5, 'workers %s' % {p: len(v) for p, v in by.items()})

    restart(inst, localworkermessages=None, localworkeridle=2)
    before = inst.maildir_count(box)
    queue(inst, b'Subject: idle\n\nx\n', 'b@example.org', ['bounds@localhost'])
    inst.wait_for(before + 1, 10 * SLOW, box)
    t0 = time.monotonic()
    alive = inst.instance_procs('mailroom-local')
    gone = mrinst.wait_until(lambda: not inst.instance_procs('mailroom-local'), 8 * SLOW)
    el = time.monotonic() - t0
    R.check('bounds: localworkeridle 2: the worker is there after a delivery and gone after the idle time',
            alive and gone and el >= 1.0, 'alive %s, gone %s after %.1f s' % (alive, gone, el))

    restart(inst, localworkeridle=100, localworkerlife=2)
    before = set(inst.maildir_files(box))
    for i in range(10):
        queue(inst, b'Subject: life %d\n\nx\n' % i, 'b@example.org', ['bounds@localhost'])
        time.sleep(0.5)
    inst.wait_for(len(before) + 10, 10 * SLOW, box)
    by = pids_of(set(inst.maildir_files(box)) - before)
    R.check('bounds: localworkerlife 2: 10 messages over 5 s by at least 2 workers', len(by) >= 2,
            'workers %s' % {p: len(v) for p, v in by.items()})
    restart(inst, localworkeridle=None, localworkerlife=None)


# --- 4. dot files through the worker -----------------------------------------------------------
def t_dotfiles(inst, ru):
    name, uid, gid = ru
    restart(inst, localworkeridle=30)
    home = inst.user_home('dotty', uid, gid, dotqmail='|echo "main ext=$EXT default=${DEFAULT-unset}" >> %s/env.out\n'
                          './Maildir/\n' % inst.path('home', 'dotty'))
    h = home
    # extension addresses: dotty-EXT is the user dotty with extension EXT (qmail-users(5) '+')
    inst.add_user('dotty-', pwd.getpwuid(uid).pw_name, uid, gid, home, dash='-', ext='', wildcard=True)

    def dot(ext, text):
        mrinst.write_file(os.path.join(h, '.qmail-' + ext), text, 0o600, uid, gid)
    dot('default', '|echo "default ext=$EXT default=${DEFAULT-unset}" >> %s/env.out\n./Maildir/\n' % h)
    dot('stop', '|exit 99\n./Maildir/\n')
    dot('mbox', './mbox\n')
    dot('fwd', '&fwdtarget@localhost\n')
    dot('two', './Maildir/\n./Maildir2/\n')
    mrinst.make_maildir(os.path.join(h, 'Maildir2'), uid if IS_ROOT else None, gid if IS_ROOT else None)
    target = inst.add_mailbox('fwdtarget')
    md = os.path.join(h, 'Maildir')
    queue(inst, b'Subject: dflt\n\nx\n', 's@example.org', ['dotty-zzz@localhost'])
    inst.wait_for(1, 10 * SLOW, md)
    queue(inst, b'Subject: main\n\nx\n', 's@example.org', ['dotty@localhost'])
    inst.wait_for(2, 10 * SLOW, md)
    env = read_file(os.path.join(h, 'env.out')).decode(errors='replace').splitlines() \
        if os.path.exists(os.path.join(h, 'env.out')) else []
    R.check('dotfile via worker: |program then ./Maildir/, .qmail-default sets DEFAULT',
            env[:1] == ['default ext=zzz default=zzz'] and inst.maildir_count(md) == 2, 'env.out %s' % env)
    R.check('dotfile via worker: the next job sees no DEFAULT or EXT of the last', env[1:2] == ['main ext= default=unset'],
            'env.out %s' % env)
    queue(inst, b'Subject: stop\n\nx\n', 's@example.org', ['dotty-stop@localhost'])
    queue(inst, b'Subject: mbox\n\nFrom me\nx\n', 's@example.org', ['dotty-mbox@localhost'])
    queue(inst, b'Subject: fwd\n\nx\n', 's@example.org', ['dotty-fwd@localhost'])
    queue(inst, b'Subject: two\n\nx\n', 's@example.org', ['dotty-two@localhost'])
    mbox = os.path.join(h, 'mbox')
    wait_file(mbox, 10 * SLOW)
    n_fwd, _ = inst.wait_for(1, 10 * SLOW, target)
    inst.wait_for(3, 10 * SLOW, md)
    inst.wait_for(1, 10 * SLOW, os.path.join(h, 'Maildir2'))
    time.sleep(0.5)
    log = inst.log()
    data = read_file(mbox) if os.path.exists(mbox) else b''
    R.check('dotfile via worker: mbox line, From_ line and >From quoting', data.startswith(b'From s@example.org ')
            and b'\n>From me\n' in data, 'mbox %r' % data[:200])
    R.check('dotfile via worker: &forward reaches the other mailbox', n_fwd == 1, '%d files' % n_fwd)
    stop_ok = re.search(r'ok msg=\S+ d=\d+ to=<dotty-stop@localhost> text="program exited 99 \(stop\)"', log)
    R.check('dotfile via worker: exit 99 stops the lines after it, and is K', stop_ok and inst.maildir_count(md) == 3,
            'Maildir has %d (want 3: dflt, main, two)' % inst.maildir_count(md))
    R.check('dotfile via worker: two Maildir lines in one dot file (extension address)',
            inst.maildir_count(os.path.join(h, 'Maildir2')) == 1, '%d in Maildir2' % inst.maildir_count(os.path.join(h, 'Maildir2')))
    queue(inst, b'Subject: nobox\n\nx\n', 's@example.org', ['dotty-nosuch-x@localhost'])
    ok = mrinst.wait_until(lambda: re.search(r'ok msg=\S+ d=\d+ to=<dotty-nosuch-x@localhost> text="program exited 0; '
                                             r'delivered to ./Maildir/', inst.log()), 10 * SLOW)
    env = read_file(os.path.join(h, 'env.out')).decode(errors='replace').splitlines()
    R.check('dotfile via worker: dotty-nosuch-x falls to .qmail-default with DEFAULT=nosuch-x',
            ok and env[-1:] == ['default ext=nosuch-x default=nosuch-x'], 'env.out %s; log %s' % (env, inst.log()[-300:]))
    restart(inst, localworkeridle=None)


# --- 5. a worker killed with jobs in hand ------------------------------------------------------
def t_kill(inst, ru, n=30):
    name, uid, gid = ru
    restart(inst, localworkeridle=30)
    home = inst.user_home('killme', uid, gid, dotqmail='|sleep 0.2\n./Maildir/\n')
    md = os.path.join(home, 'Maildir')
    ls = lspawn_pid(inst)
    for i in range(n):
        queue(inst, b'Subject: kill %d\n\nkill %d\n' % (i, i), 's@example.org', ['killme@localhost'])
    # the worker is busy with the first jobs (0.2 s each), the others wait in its socket
    mrinst.wait_until(lambda: inst.maildir_count(md) >= 2, 20 * SLOW)
    victims = inst.instance_procs('mailroom-local')
    for p in victims:
        os.kill(p, signal.SIGKILL)
    info('killed workers %s with %d of %d delivered' % (victims, inst.maildir_count(md), n))
    ok = mrinst.wait_until(lambda: 'mailroom-local was killed by signal 9' in inst.log(), 10 * SLOW)
    R.check('kill: the jobs of a SIGKILLed worker are Z "killed by signal 9"', ok and victims, inst.log()[-400:])
    got, secs = inst.wait_for(n, 60 * SLOW, md)
    serials = {}
    for f in inst.maildir_files(md):
        m = re.search(rb'Subject: kill (\d+)', read_file(f))
        if m:
            serials[int(m.group(1))] = serials.get(int(m.group(1)), 0) + 1
    missing = [i for i in range(n) if i not in serials]
    dups = {i: c for i, c in serials.items() if c > 1}
    R.check('kill: every message delivered after the kill (retries)', not missing, 'missing %s' % missing)
    R.check('kill: duplicates only from the one job in flight', len(dups) <= 1, 'duplicates %s' % dups)
    R.check('kill: lspawn is the same process and has no zombie child', lspawn_pid(inst) == ls and not zombies_under(ls),
            'lspawn %s -> %s, zombies %s' % (ls, lspawn_pid(inst), zombies_under(ls) if ls else None))
    # no slot leaked: a full round of concurrent deliveries still goes through
    box = inst.add_mailbox('afterkill')
    for i in range(40):
        queue(inst, b'Subject: after %d\n\nx\n' % i, 's@example.org', ['afterkill@localhost'])
    got, secs = inst.wait_for(40, 30 * SLOW, box)
    R.check('kill: 40 deliveries afterwards all go through (no slot lost)', got == 40 and lspawn_pid(inst) == ls,
            '%d after %.1f s' % (got, secs))
    restart(inst, localworkeridle=None)


# --- 6. a worker that breaks the protocol --------------------------------------------------------
FAKE = r'''#!/usr/bin/python3
import os, socket, sys, time
mode = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake.mode')).read().strip()
s = socket.socket(fileno=0)
data, anc, flags, addr = s.recvmsg(20000, socket.CMSG_SPACE(16))
slot = data.split(b'\0')[0]
if mode == 'garbage':
    s.send(b'hello there')
elif mode == 'otherslot':
    s.send(str(int(slot) + 1 if int(slot) < 999 else 0).encode() + b'\x000\0delivered\0')
elif mode == 'longtext':
    s.send(slot + b'\x000\0' + b'x' * 2000 + b'\0')
elif mode == 'badcode':
    s.send(slot + b'\x007\0odd\0')
elif mode == 'ctrl':
    s.send(slot + b'\x000\0a\nb\0')
time.sleep(30)
'''


def t_fake(inst):
    box = inst.add_mailbox('faked')
    real = inst.bin('mailroom-local.real')
    os.rename(inst.bin('mailroom-local'), real)
    mrinst.write_file(inst.bin('mailroom-local'), FAKE, 0o755)
    try:
        restart(inst)
        ls = lspawn_pid(inst)
        for mode in ('garbage', 'otherslot', 'longtext', 'badcode', 'ctrl'):
            mrinst.write_file(inst.bin('fake.mode'), mode + '\n', 0o644)
            before = inst.log().count('sent a malformed reply and was killed')
            queue(inst, b'Subject: fake %s\n\nx\n' % mode.encode(), 's@example.org', ['faked@localhost'])
            ok = mrinst.wait_until(lambda: inst.log().count('sent a malformed reply and was killed') > before, 10 * SLOW)
            gone = mrinst.wait_until(lambda: not [p for p in group_fakes(inst)], 5 * SLOW)
            R.check('malformed reply (%s): the worker is killed, its job Z, lspawn goes on' % mode,
                    ok and gone and lspawn_pid(inst) == ls and inst.maildir_count(box) == 0 and not zombies_under(ls),
                    'logged %s, fake gone %s, lspawn %s -> %s, %d files' % (ok, gone, ls, lspawn_pid(inst),
                                                                          inst.maildir_count(box)))
    finally:
        os.replace(real, inst.bin('mailroom-local'))
    got, secs = inst.wait_for(5, 30 * SLOW, box)
    R.check('malformed reply: with the real worker back, the deferred messages are delivered', got == 5,
            '%d of 5 after %.1f s' % (got, secs))


def group_fakes(inst):
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % d, 'rb') as f:
                cl = f.read()
        except OSError:
            continue
        if inst.bin('mailroom-local').encode() in cl and b'python' in cl and mrinst.proc_state(int(d)) not in (None, 'Z'):
            out.append(int(d))
    return out


def main():
    try:
        inst = mrinst.Instance().__enter__()
    except Exception as e:  # noqa: BLE001
        R.fail('instance: make relink + lib/sh/setup.sh', e)
        R.exit()
    try:
        inst.control('retrybase', 1)
        inst.control('retrymax', 2)
        if R.run('instance: mailroom-start runs', inst.start) is None:
            R.exit()
        ru = None
        if IS_ROOT:
            ru = R.run('instance: useradd a recipient user', inst.system_user, 'mrlwr')
        if ru is None:
            ru = (pwd.getpwuid(os.getuid()).pw_name, os.getuid(), os.getgid())
        R.run('one worker for many messages', t_many, inst)
        R.run('batching', t_batch, inst)
        R.run('uids', t_uids, inst)
        R.run('bounds', t_bounds, inst)
        R.run('dot files', t_dotfiles, inst, ru)
        R.run('kill a worker', t_kill, inst, ru)
        R.run('malformed replies', t_fake, inst)
    finally:
        inst.__exit__(None, None, None)
    R.exit()


if __name__ == '__main__':
    main()
