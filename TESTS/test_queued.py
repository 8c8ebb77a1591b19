#!/usr/bin/env python3
"""The queue writer (mailroom-queued, issue 14): a long-lived mailroom-queue that
mailroom-smtpd and sendmail hand their messages to over HOME/queued/socket, committing the
messages of concurrent sessions together.

What is checked, on one temporary instance (TESTS/lib/smtpinst.py) with its SMTP service:
the writer runs as mrqueue and refuses root; SMTP and sendmail go through it (the qp of the
250 reply, the writer's own count at exit); its queue file is byte for byte mailroom-queue's;
the fsyncs (strace -y of the writer): a lone message costs one of its file and one of new/, and
concurrent sessions share new/'s; the writer killed: new messages fall back to the exec'd
mailroom-queue (250, never 5xx) and a message in flight gets 451 and is not queued;
MAILROOM_QUEUE bypasses the writer; hostile clients on the socket (garbage, wrong descriptor
counts, an oversized packet, files instead of pipes, random bytes, a client that dies
mid-message, no envelope, a cut or bad envelope, too long an address, more than databytes, an
idle client, 1,000 idle connections) each get mailroom-queue's exit code or are dropped, the
writer lives on with no descriptor leaked, and nothing reaches queue/new or stays in queue/tmp.
Every wait is bounded.
"""

import array
import os
import random
import re
import resource
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, info  # noqa: E402

R = mrinst.Results()
SLOW = mrinst.SLOW
QP = re.compile(rb'queued as (\S+) \(qp (\d+)\)')
VERDICT = re.compile(rb'^MRQW1 V (\d{3})(?: (\S+))?$')
QQ_OK, QQ_ADDR_TOO_LONG, QQ_PERM_REFUSED, QQ_TIMEOUT, QQ_READ, QQ_TEMP_REFUSED, QQ_ENVELOPE = 0, 11, 31, 52, 54, 71, 91


def write_all(fd, data):
    """Writes data to fd (which stays open); False when the reader went away."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
        return True
    except OSError:
        return False


def envelope(sender, rcpts):
    return b'F' + sender.encode() + b'\0' + b''.join(b'T' + r.encode() + b'\0' for r in rcpts) + b'\0'


def sock_path(inst):
    return inst.path('queued', 'socket')


def connect(inst, timeout=10.0):
    """A connection to the writer. The connect blocks (a unix socket's connect returns at
    once or, with a full backlog, waits for room); the reads then have a timeout."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock_path(inst))
    s.settimeout(timeout * SLOW)
    return s


def send_request(s, data=b'MRQW1 Q', fds=()):
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))] if fds else []
    s.sendmsg([data], anc)


def recv_packet(s):
    """The next packet, b'' at a hang-up, None at the timeout."""
    try:
        return s.recv(256)
    except socket.timeout:
        return None
    except ConnectionResetError:
        return b''


def verdict_of(pkt):
    """(code, id) of a verdict packet, or None."""
    m = VERDICT.match(pkt or b'')
    return (int(m.group(1)), (m.group(2) or b'').decode()) if m else None


def hand(inst, message, env, cut_message=False, die_after=None):
    """Hands a message to the writer as lib/qwclient.c does. Returns ('go refused', pkt),
    ('verdict', (code, id)), ('hangup', None) or ('timeout', None). die_after: bytes of the
    message after which the client closes everything (it died)."""
    mr, mw = os.pipe()
    er, ew = os.pipe()
    s = connect(inst)
    try:
        try:
            send_request(s, fds=(mr, er))
        except (BrokenPipeError, ConnectionResetError):
            # refused and closed before the request went (over the client limit): the
            # verdict may still be waiting, as lib/qwclient.c sees it when it falls back
            return ('go refused', recv_packet(s) or b'')
        os.close(mr)
        os.close(er)
        mr = er = None
        go = recv_packet(s)
        if go != b'MRQW1 G':
            return ('go refused', go)
        body = message if die_after is None else message[:die_after]
        write_all(mw, body)
        if die_after is not None:
            return ('died', None)
        os.close(mw)
        mw = None
        if not cut_message:
            write_all(ew, env)
        os.close(ew)
        ew = None
        pkt = recv_packet(s)
        if pkt is None:
            return ('timeout', None)
        if not pkt:
            return ('hangup', None)
        return ('verdict', verdict_of(pkt))
    finally:
        for fd in (mr, er, mw, ew):
            if fd is not None:
                os.close(fd)
        s.close()


def writer_fds(inst):
    try:
        return len(os.listdir('/proc/%d/fd' % inst.writer.pid))
    except OSError:
        return -1


def qfiles(inst, d):
    try:
        return sorted(os.listdir(inst.path('queue', d)))
    except FileNotFoundError:
        return []


def smtp_send(port, subject, rcpt='demo@localhost', timeout=30):
    """One message over a new connection; the final reply (code, text) of DATA."""
    c = smtplib.SMTP('127.0.0.1', port, timeout=timeout * SLOW)
    try:
        c.ehlo('tester')
        c.mail('s@example.org')
        c.rcpt(rcpt)
        code, text = c.data(b'Subject: %s\r\n\r\nbody of %s\r\n' % (subject.encode(), subject.encode()))
        return code, text
    finally:
        try:
            c.quit()
        except Exception:  # noqa: BLE001 - the reply is what counts
            pass


def qp_of(text):
    m = QP.search(text or b'')
    return int(m.group(2)) if m else None


def delivered_subjects(inst):
    out = []
    for f in inst.maildir_files():
        m = re.search(rb'^Subject: (.*)$', mrinst.read_file(f), re.M)
        if m:
            out.append(m.group(1).decode(errors='replace'))
    return out


def wait_subject(inst, subject, timeout):
    return mrinst.wait_until(lambda: subject in delivered_subjects(inst), timeout)


# --- 1. who it runs as, and the paths through it ---------------------------------------------
def t_basics(inst, port):
    wpid = inst.writer.pid
    if IS_ROOT:
        ids = mrinst.proc_ids(wpid)
        import pwd
        q = pwd.getpwnam('mrqueue')
        R.check('writer runs as mrqueue (real, effective, saved uid)', ids and set(ids[0]) == {q.pw_uid},
                'ids %s, mrqueue %d' % (ids, q.pw_uid))
        r = subprocess.run([inst.bin('mailroom-queued')], capture_output=True, timeout=10 * SLOW, cwd='/')
        R.check('writer refuses to run as root (exit 100, says why)', r.returncode == 100 and b'root' in r.stderr,
                'exit %d %s' % (r.returncode, r.stderr[-200:]))
    else:
        R.skip('writer runs as mrqueue', 'not root: every process runs as the test user')
        R.skip('writer refuses to run as root', 'not root')
    st = os.stat(sock_path(inst))
    R.check('socket is HOME/queued/socket, a socket of mode 0777', (st.st_mode & 0o7777) == 0o777 and
            (st.st_mode & 0o170000) == 0o140000, oct(st.st_mode))
    code, text = smtp_send(port, 'via-writer')
    R.check('SMTP: 250 with the writer as qp', code == 250 and qp_of(text) == wpid, '%d %s (writer %d)' % (code, text, wpid))
    R.check('SMTP: the message is delivered', wait_subject(inst, 'via-writer', 20 * SLOW), delivered_subjects(inst))
    # through many sessions in a row: distinct ids, all delivered
    ids = set()
    for i in range(30):
        code, text = smtp_send(port, 'row-%d' % i)
        m = QP.search(text or b'')
        if code == 250 and m:
            ids.add(m.group(1))
    R.check('SMTP: 30 messages in a row get 30 distinct queue ids', len(ids) == 30, '%d ids' % len(ids))
    ok = mrinst.wait_until(lambda: sum(s.startswith('row-') for s in delivered_subjects(inst)) == 30, 30 * SLOW)
    R.check('SMTP: all 30 delivered', ok, '%d' % sum(s.startswith('row-') for s in delivered_subjects(inst)))


def t_sendmail(inst):
    """sendmail's messages go through the writer: its count at exit says so."""
    inst.stop_writer()
    inst.start_writer()
    n = 5
    rcs = [inst.sendmail(['demo@localhost'], b'Subject: sm-%d\n\nfrom sendmail\n' % i).returncode for i in range(n)]
    inst.stop_writer()
    m = re.findall(r'exit messages=(\d+) commits=(\d+)', inst.writer_log())
    got = int(m[-1][0]) if m else -1
    R.check('sendmail: exit 0 and all %d taken by the writer (its count at exit)' % n, rcs == [0] * n and got == n,
            'exits %s, writer counted %d' % (rcs, got))
    inst.start_writer()
    ok = mrinst.wait_until(lambda: sum(s.startswith('sm-') for s in delivered_subjects(inst)) == n, 30 * SLOW)
    R.check('sendmail: all delivered', ok, delivered_subjects(inst))


def t_same_bytes(inst):
    """With send down, one message through mailroom-queue and the same through the writer:
    the two queue files are byte for byte the same."""
    inst.stop()
    before = set(qfiles(inst, 'new'))
    msg = b'Subject: same\n\n' + bytes(range(256)) * 40 + b'\nend\n'
    env = envelope('s@example.org', ['demo@localhost', 'other@example.net'])
    rc, err = inst.queue_direct(msg, env)
    a = set(qfiles(inst, 'new')) - before
    kind, v = hand(inst, msg, env)
    b = set(qfiles(inst, 'new')) - before - a
    same = False
    if rc == 0 and len(a) == 1 and len(b) == 1:
        same = mrinst.read_file(inst.path('queue', 'new', a.pop())) == mrinst.read_file(inst.path('queue', 'new', b.pop()))
    R.check('protocol: a message handed over gets verdict 000 and its id',
            kind == 'verdict' and v and v[0] == QQ_OK and v[1], '%s %s' % (kind, v))
    R.check('queue file: the writer writes the same bytes as mailroom-queue', same,
            'mailroom-queue exit %d %s, files %d + %d' % (rc, err[-200:], len(a), len(b)))
    inst.start()


# --- 2. group commit, counted by strace -----------------------------------------------------
def strace_writer(inst, out):
    inst.stop_writer()
    env = dict(os.environ)
    # LeakSanitizer cannot run under ptrace (test_lworker.py says the same)
    env['ASAN_OPTIONS'] = (env['ASAN_OPTIONS'] + ':' if env.get('ASAN_OPTIONS') else '') + 'detect_leaks=0'
    inst.start_writer(wrap=['strace', '-f', '-qq', '-y', '-o', out, '-e', 'trace=fsync,fdatasync,sync_file_range'],
                      env=env)


def count_fsyncs(out):
    tmp = new = other = 0
    for line in open(out, errors='replace'):
        if not re.match(r'(\d+ +)?(fsync|fdatasync)\(', line):
            continue
        if '/queue/tmp/' in line:
            tmp += 1
        elif re.search(r'/queue/new>', line):
            new += 1
        else:
            other += 1
    return tmp, new, other


def t_fsyncs(inst, port):
    if subprocess.run(['which', 'strace'], capture_output=True).returncode != 0:
        R.skip('fsyncs', 'no strace')
        return
    out = inst.path('strace.lone')
    strace_writer(inst, out)
    code, text = smtp_send(port, 'lone')
    inst.stop_writer()
    t, n, o = count_fsyncs(out)
    R.check('fsyncs: a lone message costs 2 (its file, then new/ once)', code == 250 and (t, n, o) == (1, 1, 0),
            'reply %d; tmp %d new %d other %d' % (code, t, n, o))

    out = inst.path('strace.group')
    strace_writer(inst, out)
    sessions, per = 20, 5
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(sessions)

    def session(k):
        got = []
        try:
            c = smtplib.SMTP('127.0.0.1', port, timeout=60 * SLOW)
            c.ehlo('tester')
            barrier.wait(30 * SLOW)
            for i in range(per):
                c.mail('s@example.org')
                c.rcpt('demo@localhost')
                got.append(c.data(b'Subject: group-%d-%d\r\n\r\n%s\r\n' % (k, i, b'x' * 2000))[0])
            c.quit()
        except Exception as e:  # noqa: BLE001 - counted below
            got.append(str(e))
        with lock:
            results.extend(got)
    th = [threading.Thread(target=session, args=(k,), daemon=True) for k in range(sessions)]
    for x in th:
        x.start()
    for x in th:
        x.join(120 * SLOW)
    inst.stop_writer()
    t, n, o = count_fsyncs(out)
    total = sessions * per
    ok250 = sum(1 for r in results if r == 250)
    info('group commit: %d sessions x %d messages: %d fsyncs of files, %d of new/ (%.2f per message)' % (
        sessions, per, t, n, (t + n) / max(total, 1)))
    R.check('fsyncs: %d concurrent messages all 250' % total, ok250 == total, '%d of %d: %s' % (
        ok250, total, [r for r in results if r != 250][:3]))
    R.check('fsyncs: concurrent sessions share new/\'s fsync (fewer than 3 in 4 messages pay one)',
            t == total and 0 < n <= total * 3 // 4, 'tmp %d new %d of %d messages' % (t, n, total))
    inst.start_writer()
    ok = mrinst.wait_until(lambda: sum(s.startswith('group-') for s in delivered_subjects(inst)) == total, 60 * SLOW)
    R.check('fsyncs: all %d delivered' % total, ok, '%d' % sum(s.startswith('group-') for s in delivered_subjects(inst)))


# --- 3. the writer down ---------------------------------------------------------------------
def t_fallback(inst, port):
    old = inst.writer.pid
    inst.kill_writer()
    code, text = smtp_send(port, 'fallback')
    qp = qp_of(text)
    R.check('writer killed: SMTP still gets 250, from an exec\'d mailroom-queue', code == 250 and qp and qp != old,
            '%d %s' % (code, text))
    R.check('writer killed: that message is delivered', wait_subject(inst, 'fallback', 20 * SLOW), '')
    r = inst.sendmail(['demo@localhost'], b'Subject: fallback-sm\n\nx\n')
    R.check('writer killed: sendmail exits 0 and is delivered', r.returncode == 0 and
            wait_subject(inst, 'fallback-sm', 20 * SLOW), 'exit %d %s' % (r.returncode, r.stderr[-200:]))
    inst.start_writer()
    code, text = smtp_send(port, 'back')
    R.check('writer restarted: messages go through it again', code == 250 and qp_of(text) == inst.writer.pid,
            '%d %s' % (code, text))


def t_kill_midmessage(inst, port):
    c = smtplib.SMTP('127.0.0.1', port, timeout=30 * SLOW)
    c.ehlo('tester')
    c.mail('s@example.org')
    c.rcpt('demo@localhost')
    code, _ = c.docmd('DATA')
    c.send(b'Subject: midkill\r\n\r\n' + b'y' * 200000 + b'\r\n')
    time.sleep(0.3 * SLOW)
    inst.kill_writer()
    c.send(b'tail\r\n.\r\n')
    code2, text2 = c.getreply()
    try:
        c.quit()
    except Exception:  # noqa: BLE001
        pass
    R.check('writer killed mid-message: the client gets 451, never 250 or 5xx', code == 354 and code2 == 451,
            'DATA %d, end %d %s' % (code, code2, text2))
    inst.start_writer()
    code, text = smtp_send(port, 'after-midkill')
    ok = wait_subject(inst, 'after-midkill', 20 * SLOW)
    R.check('writer killed mid-message: that message is never delivered', ok and 'midkill' not in delivered_subjects(inst),
            'after-midkill delivered %s' % ok)


def t_bypass(inst):
    with inst.session(env={'MAILROOM_QUEUE': inst.bin('mailroom-queue')}) as s:
        s.cmd('EHLO tester')
        code, text = s.transaction('s@example.org', ['demo@localhost'], b'Subject: bypass\r\n\r\nx\r\n')
    if isinstance(text, list):
        text = ' '.join(text)
    qp = qp_of(text.encode() if isinstance(text, str) else text)
    R.check('MAILROOM_QUEUE: smtpd runs that program, not the writer', code == 250 and qp and qp != inst.writer.pid,
            '%d %s' % (code, text))


# --- 4. hostile clients ---------------------------------------------------------------------
def raw(inst, data, fds=(), close_fds=True):
    s = connect(inst, 10)
    try:
        send_request(s, data, fds)
        if close_fds:
            for fd in fds:
                os.close(fd)
        return recv_packet(s)
    finally:
        s.close()


def t_hostile(inst):
    inst.stop()  # send down: anything committed would stay in queue/new
    inst.control('timeoutqueued', None)
    base_new = set(qfiles(inst, 'new'))
    # a writer SIGKILLed mid-message (above) leaves its tmp/ file, as a killed mailroom-queue
    # does: never delivered, removed by mailroom-send after 36 hours (INTERNALS.md, S1)
    base_tmp = set(qfiles(inst, 'tmp'))
    fds0 = writer_fds(inst)
    msg = b'Subject: hostile\n\nbody\n'
    env = envelope('s@example.org', ['demo@localhost'])

    def pipes():
        a, b = os.pipe()
        c, d = os.pipe()
        return (a, b, c, d)

    def expect(label, pkt, code):
        v = verdict_of(pkt)
        R.check('hostile: %s gets verdict %03d' % (label, code), v is not None and v[0] == code,
                'got %r' % (pkt,))

    expect('garbage without descriptors', raw(inst, b'hello world'), QQ_READ)
    a, b, c, d = pipes()
    expect('the request with 1 descriptor', raw(inst, b'MRQW1 Q', (a,)), QQ_READ)
    for fd in (b, c, d):
        os.close(fd)
    a, b, c, d = pipes()
    e, f = os.pipe()
    expect('the request with 3 descriptors', raw(inst, b'MRQW1 Q', (a, c, e)), QQ_READ)
    for fd in (b, d, f):
        os.close(fd)
    a, b, c, d = pipes()
    expect('a 5,000-byte request', raw(inst, b'MRQW1 Q' + b'x' * 5000, (a, c)), QQ_READ)
    for fd in (b, d):
        os.close(fd)
    a, b, c, d = pipes()
    expect('a wrong version', raw(inst, b'MRQW2 Q', (a, c)), QQ_READ)
    for fd in (b, d):
        os.close(fd)
    reg = os.open(inst.path('control', 'me'), os.O_RDONLY)
    nul = os.open('/dev/null', os.O_RDONLY)
    expect('a regular file and a device instead of pipes', raw(inst, b'MRQW1 Q', (reg, nul)), QQ_READ)
    a, b, c, d = pipes()
    expect('the write ends of the pipes', raw(inst, b'MRQW1 Q', (b, d)), QQ_READ)
    for fd in (a, c):
        os.close(fd)
    rnd = random.Random(14)
    answered = 0
    for i in range(100):
        pkt = raw(inst, bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 64))))
        answered += verdict_of(pkt) is not None or pkt == b''
    R.check('hostile: 100 random packets each get a verdict or a hang-up', answered == 100, '%d' % answered)

    kind, v = hand(inst, msg, env, die_after=len(msg) // 2)
    kind, v = hand(inst, b'x' * 300000, env, die_after=150000)
    kind, v = hand(inst, msg, b'')
    R.check('hostile: no envelope gets 091', kind == 'verdict' and v and v[0] == QQ_ENVELOPE, '%s %s' % (kind, v))
    kind, v = hand(inst, msg, env[:-1])
    R.check('hostile: an envelope without its final NUL gets 091', kind == 'verdict' and v and v[0] == QQ_ENVELOPE,
            '%s %s' % (kind, v))
    kind, v = hand(inst, msg, b'Fs@x\0Xbad\0\0')
    R.check('hostile: a malformed envelope gets 091', kind == 'verdict' and v and v[0] == QQ_ENVELOPE, '%s %s' % (kind, v))
    kind, v = hand(inst, msg, envelope('s@example.org', ['a' * 1001 + '@example.org']))
    R.check('hostile: an address over 1,000 bytes gets 011', kind == 'verdict' and v and v[0] == QQ_ADDR_TOO_LONG,
            '%s %s' % (kind, v))
    kind, v = hand(inst, msg, b'\xff\x00' * 5000)
    R.check('hostile: a binary envelope gets 091', kind == 'verdict' and v and v[0] == QQ_ENVELOPE, '%s %s' % (kind, v))
    saved = inst.read_control('databytes')
    inst.control('databytes', 10000)
    kind, v = hand(inst, b'z' * 20000, env)
    R.check('hostile: a message over databytes gets 031', kind in ('verdict', 'hangup') and (v is None or v[0] == QQ_PERM_REFUSED),
            '%s %s' % (kind, v))
    inst.control('databytes', saved)

    # an idle client: timed out by control/timeoutqueued
    inst.control('timeoutqueued', 2)
    inst.stop_writer()
    inst.start_writer()
    fds0 = writer_fds(inst)
    s = connect(inst, 20)
    t0 = time.monotonic()
    pkt = recv_packet(s)
    s.close()
    v = verdict_of(pkt)
    R.check('hostile: a client that sends nothing is timed out (052) after timeoutqueued',
            v is not None and v[0] == QQ_TIMEOUT and time.monotonic() - t0 < 10 * SLOW,
            '%r after %.1f s' % (pkt, time.monotonic() - t0))
    mr, mw = os.pipe()
    er, ew = os.pipe()
    s = connect(inst, 20)
    send_request(s, fds=(mr, er))
    os.close(mr)
    os.close(er)
    go = recv_packet(s)
    os.write(mw, b'Subject: stalled\n\npart')
    pkt = recv_packet(s)
    v = verdict_of(pkt)
    R.check('hostile: a client that stalls mid-message is timed out (052)', go == b'MRQW1 G' and v is not None and
            v[0] == QQ_TIMEOUT, 'go %r, then %r' % (go, pkt))
    for fd in (mw, ew):
        os.close(fd)
    s.close()
    inst.control('timeoutqueued', None)
    inst.stop_writer()
    inst.start_writer()

    # 1,000 idle connections: the writer takes its limit (queuedclients, 300) and refuses the
    # rest at once with 071, so their clients fall back to mailroom-queue
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 1000
    if hard < want + 100:
        R.skip('hostile: 1,000 idle connections', 'descriptor limit %d' % hard)
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want + 100), hard))
        fds0 = writer_fds(inst)
        idle, refused, errs = [], 0, 0
        for i in range(want):
            try:
                idle.append(connect(inst, 5))
            except OSError:
                errs += 1
        time.sleep(0.5 * SLOW)
        for s in idle:
            s.setblocking(False)
            try:
                pkt = s.recv(256)
                refused += (verdict_of(pkt) or (None,))[0] == QQ_TEMP_REFUSED
            except (BlockingIOError, ConnectionResetError):
                pass
        peak = writer_fds(inst)
        alive = inst.writer.poll() is None
        R.check('hostile: 1,000 idle connections: 700 refused at once with 071, the writer lives',
                refused == want - 300 and errs == 0 and alive, 'refused %d, connect errors %d, alive %s, fds %d' % (
                    refused, errs, alive, peak))
        t0 = time.monotonic()
        kind, v = hand(inst, msg, env)
        # the verdict, or (when the request was already queued as the writer closed) a reset:
        # either way no go, and qwclient falls back to mailroom-queue
        R.check('hostile: with its slots full, a new client is refused (071 or a hang-up) at once',
                kind == 'go refused' and (v == b'' or (verdict_of(v) or (None,))[0] == QQ_TEMP_REFUSED) and
                time.monotonic() - t0 < 2 * SLOW, '%s %r after %.1f s' % (kind, v, time.monotonic() - t0))
        for s in idle:
            s.close()
        ok = mrinst.wait_until(lambda: writer_fds(inst) == fds0, 10 * SLOW)
        R.check('hostile: the idle connections closed, the writer holds no descriptor more than before', ok,
                'fds %d -> %d' % (fds0, writer_fds(inst)))
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    ok = mrinst.wait_until(lambda: set(qfiles(inst, 'tmp')) <= base_tmp, 10 * SLOW)
    R.check('hostile: nothing left in queue/tmp', ok, sorted(set(qfiles(inst, 'tmp')) - base_tmp)[:5])
    R.check('hostile: nothing reached queue/new', set(qfiles(inst, 'new')) == base_new,
            sorted(set(qfiles(inst, 'new')) - base_new)[:5])
    kind, v = hand(inst, msg, env)
    R.check('hostile: afterwards a good message is accepted', kind == 'verdict' and v and v[0] == QQ_OK, '%s %s' % (kind, v))
    inst.start()
    R.check('hostile: and delivered', wait_subject(inst, 'hostile', 20 * SLOW), '')


def main():
    with smtpinst.SmtpInstance(prefix='mrqw.') as inst:
        inst.start()
        port = inst.start_service()
        R.run('basics', t_basics, inst, port)
        R.run('sendmail', t_sendmail, inst)
        R.run('same bytes', t_same_bytes, inst)
        R.run('fsyncs', t_fsyncs, inst, port)
        R.run('fallback', t_fallback, inst, port)
        R.run('kill mid-message', t_kill_midmessage, inst, port)
        R.run('bypass', t_bypass, inst)
        R.run('hostile', t_hostile, inst)
        errs = [l for l in inst.writer_log().splitlines() if 'fatal' in l]
        R.check('the writer never died of an error (no fatal in its log)', not errs, errs[:3])
    R.exit()


if __name__ == '__main__':
    main()
