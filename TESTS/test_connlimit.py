#!/usr/bin/env python3
"""Connection limits (issue 19) on the instance's own services (lib/sh/setup.d: tcpserver
-c 400 running mailroom-smtpd, and mailroom-popup + checkpassword + mailroom-pop3d), with
control/smtpdlimits and control/pop3dlimits set for a short test:

- one address holds at most perclient sessions: the next one gets 421 4.7.0 (POP3:
  -ERR [SYS/TEMP]) at once, and a freed slot is taken again;
- kill -9 of sessions that hold slots leaks none (the slot files' locks count 0);
- a flood from 127.0.0.0/8 addresses the test binds (200 idle connections from one
  address, 200 from 100 others, 50 slowloris clients dripping DATA, or a POP3 command)
  puts the service into overload mode; meanwhile a legitimate client from another address
  sends 100 messages (20 under SANITIZE=1) with smtplib (then fetches them with poplib): every greeting within
  15 s, all 100 delivered (fetched); the greeting latencies and the refusals by reason are
  printed;
- after the flood the service leaves overload mode and a session may idle longer than
  the overload timeout again;
- a bad limits file is refused with its line and reason in the log.
"""

import fcntl
import os
import poplib
import re
import resource
import smtplib
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import pop3inst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import info  # noqa: E402

R = mrinst.Results()
SLOW = getattr(mrinst, 'SLOW', 1)

PERCLIENT = 10
OVERLOAD_TIMEOUT = 3
# threshold: 50% of 300 = 150 sessions; the flood holds 10 + 200 + 50
KNOBS = ('# test limits\nperclient %d\nsessions 300\noverload 50\noverloadtimeout %d\nsessiontime 300\n'
         'minrate 20\nrategrace 4\n' % (PERCLIENT, OVERLOAD_TIMEOUT))
GREETING_MAX = 15.0
# The sanitized run moves less mail (TESTS/run.sh): its smtpd is several times slower, and
# the flood's clients reconnect all the while, so 100 legitimate sessions took 570 s there.
LEGIT = 20 if os.environ.get('MRTEST_SANITIZE') == '1' else 100


def held_slots(folder, prefix='v'):
    """Slot files whose lock a live session holds (each tried with flock LOCK_NB)."""
    n = 0
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return -1
    for name in names:
        if not name.startswith(prefix):
            continue
        try:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            n += 1
        finally:
            os.close(fd)
    return n


def connect_from(src, port, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0))
    s.connect(('127.0.0.1', port))
    return s


def first_line(s, timeout=10.0):
    s.settimeout(timeout)
    buf = b''
    while b'\n' not in buf:
        d = s.recv(512)
        if not d:
            break
        buf += d
    return buf


def pids_from(inst, prog, src):
    """Pids of the instance's PROG whose TCPREMOTEIP is src."""
    out = []
    for pid in inst.instance_procs(prog):
        try:
            env = open('/proc/%d/environ' % pid, 'rb').read().split(b'\0')
        except OSError:
            continue
        if ('TCPREMOTEIP=' + src).encode() in env:
            out.append(pid)
    return out


# --- per-client limit and kill -9 ---------------------------------------------------------
def per_client(inst, port, svc, folder, prog):
    refused = b'421 4.7.0' if svc == 'smtpd' else b'-ERR [SYS/TEMP]'
    socks = []
    try:
        for i in range(PERCLIENT):
            s = connect_from('127.0.0.2', port)
            socks.append(s)
            g = first_line(s)
            if not R.check('%s: session %d of one address admitted' % (svc, i + 1), g[:1] in (b'2', b'+'), repr(g)):
                return
        t0 = time.monotonic()
        s = connect_from('127.0.0.2', port)
        g = first_line(s)
        el = time.monotonic() - t0
        s.close()
        R.check('%s: session %d of one address refused at once (%.3f s)' % (svc, PERCLIENT + 1, el),
                g.startswith(refused) and el < 2 * SLOW, '%r after %.2f s' % (g, el))
        # another address is not counted with it
        s = connect_from('127.0.0.5', port)
        g = first_line(s)
        s.close()
        R.check('%s: another address is admitted' % svc, g[:1] in (b'2', b'+'), repr(g))
        socks.pop().close()
        ok = mrinst.wait_until(lambda: held_slots(folder, 'v4-7f000002') == PERCLIENT - 1, 5 * SLOW)
        R.check('%s: a closed session gives its slot back' % svc, ok, 'held %d' % held_slots(folder, 'v4-7f000002'))
        s = connect_from('127.0.0.2', port)
        socks.append(s)
        g = first_line(s)
        R.check('%s: the freed slot is taken again' % svc, g[:1] in (b'2', b'+'), repr(g))
    finally:
        for s in socks:
            s.close()
    log = inst.read_log('smtpd.service.log' if svc == 'smtpd' else 'pop3-service.log')
    R.check('%s: the refusal is logged with its reason' % svc,
            re.search(r'connrefused service=%s ip=127\.0\.0\.2 client=v4-7f000002-32 reason=perclient limit=%d'
                      % (svc, PERCLIENT), log), log[-600:])
    # kill -9 of sessions that hold slots
    socks = [connect_from('127.0.0.3', port) for _ in range(PERCLIENT)]
    try:
        for s in socks:
            first_line(s)
        n = held_slots(folder, 'v4-7f000003')
        R.check('%s: %d sessions hold %d slots' % (svc, PERCLIENT, n), n == PERCLIENT, 'held %d' % n)
        pids = pids_from(inst, prog, '127.0.0.3')
        R.check('%s: found the %d sessions\' processes' % (svc, PERCLIENT), len(pids) == PERCLIENT, str(pids))
        for pid in pids:
            os.kill(pid, 9)
        ok = mrinst.wait_until(lambda: held_slots(folder, 'v4-7f000003') == 0, 5 * SLOW)
        R.check('%s: kill -9 of sessions holding slots leaks none (count 0)' % svc, ok,
                'held %d' % held_slots(folder, 'v4-7f000003'))
    finally:
        for s in socks:
            s.close()
    socks = []
    try:
        for i in range(PERCLIENT):
            s = connect_from('127.0.0.3', port)
            socks.append(s)
            g = first_line(s)
            if not g[:1] in (b'2', b'+'):
                break
        R.check('%s: after the kills the address has its %d sessions again' % (svc, PERCLIENT),
                len(socks) == PERCLIENT and g[:1] in (b'2', b'+'), 'session %d: %r' % (len(socks), g))
    finally:
        for s in socks:
            s.close()
    if svc == 'smtpd':
        # 127.0.0.1 has RELAYCLIENT in the setup's smtp.rules: no per-client limit
        socks = []
        try:
            for i in range(PERCLIENT + 5):
                s = connect_from('127.0.0.1', port)
                socks.append(s)
                g = first_line(s)
                if not g.startswith(b'220'):
                    break
            R.check('smtpd: a RELAYCLIENT address is not limited per client (%d sessions)' % (PERCLIENT + 5),
                    g.startswith(b'220') and len(socks) == PERCLIENT + 5, 'session %d: %r' % (len(socks), g))
            n = held_slots(folder, 'v4-7f000001')
            R.check('smtpd: ... but its sessions hold slots (count for the load)', n == PERCLIENT + 5, 'held %d' % n)
        finally:
            for s in socks:
                s.close()
    mrinst.wait_until(lambda: held_slots(folder) == 0, 5 * SLOW)


# --- the flood ------------------------------------------------------------------------------
class Flood:
    """Threads that hold idle connections, reconnecting when cut, and slowloris clients."""

    def __init__(self, port, svc):
        self.port, self.svc = port, svc
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.stats = {'refused': 0, 'cut': 0, 'connect_errors': 0, 'sessions': 0}
        self.threads = []

    def count(self, k):
        with self.lock:
            self.stats[k] += 1

    def idle(self, src):
        while not self.stop.is_set():
            s = None
            try:
                s = connect_from(src, self.port, 10)
                g = first_line(s)
                if not g[:1] in (b'2', b'+'):
                    self.count('refused')
                    s.close()
                    self.stop.wait(2)
                    continue
                self.count('sessions')
                s.settimeout(0.5)
                while not self.stop.is_set():
                    try:
                        if not s.recv(512):
                            break
                    except socket.timeout:
                        continue
                if not self.stop.is_set():
                    self.count('cut')
            except OSError:
                self.count('connect_errors')
                self.stop.wait(1)
            finally:
                if s:
                    s.close()
            self.stop.wait(0.5)

    def slow(self, src):
        while not self.stop.is_set():
            s = None
            try:
                s = connect_from(src, self.port, 10)
                g = first_line(s)
                if not g[:1] in (b'2', b'+'):
                    self.count('refused')
                    s.close()
                    self.stop.wait(2)
                    continue
                self.count('sessions')
                if self.svc == 'smtpd':
                    s.sendall(b'EHLO slow.example\r\nMAIL FROM:<slow@example.org>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\n')
                    buf = b''
                    while b'\r\n354 ' not in buf and not buf.startswith(b'354 '):
                        d = s.recv(4096)
                        if not d:
                            raise OSError('closed')
                        buf += d
                        buf = buf[-200:]
                    drip = b'Subject: slow\r\n\r\n' + b'x' * 1000
                else:
                    drip = b'USER ' + b'x' * 200
                s.settimeout(0.2)
                for c in drip:
                    if self.stop.wait(1):
                        break
                    s.sendall(bytes([c]))
                    try:
                        s.recv(512)
                        break  # a reply before the end (421, -ERR) or EOF: cut
                    except socket.timeout:
                        pass
                if not self.stop.is_set():
                    self.count('cut')
            except OSError:
                if not self.stop.is_set():
                    self.count('cut')
            finally:
                if s:
                    s.close()
            self.stop.wait(0.5)

    def start(self):
        threading.stack_size(256 * 1024)
        for i in range(200):
            self.threads.append(threading.Thread(target=self.idle, args=('127.0.0.10',), daemon=True))
        for i in range(200):
            self.threads.append(threading.Thread(target=self.idle, args=('127.1.0.%d' % (i % 100 + 1),), daemon=True))
        for i in range(50):
            self.threads.append(threading.Thread(target=self.slow, args=('127.2.0.%d' % (i + 1),), daemon=True))
        # a burst as fast as the test can make it, spread over a second so that the listen
        # backlog (tcpserver -b) is not what is measured
        for i, t in enumerate(self.threads):
            t.start()
            if i % 45 == 44:
                time.sleep(0.1)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(15)
        return sum(t.is_alive() for t in self.threads)


def distribution(label, lat):
    lat = sorted(lat)
    if not lat:
        return
    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))]
    info('%s greeting latency over %d sessions: min %.3f s, median %.3f s, p90 %.3f s, p99 %.3f s, max %.3f s'
         % (label, len(lat), lat[0], pct(0.5), pct(0.9), pct(0.99), lat[-1]))


def refusals(label, log, svc):
    why = {}
    for m in re.finditer(r'^(?:\S+ )?(connrefused|conncut) service=%s .*?reason=(\w+)' % svc, log, re.M):
        k = '%s %s' % (m.group(1), m.group(2))
        why[k] = why.get(k, 0) + 1
    info('%s refusals and cuts by reason: %s' % (label, ', '.join('%s=%d' % kv for kv in sorted(why.items())) or 'none'))
    return why


def enough_cuts(log, svc):
    return (len(re.findall(r'conncut service=%s \S+ reason=overload' % svc, log)) >= 100
            and len(re.findall(r'conncut service=%s \S+ reason=slowdata' % svc, log)) >= 40)


def wait_overload(inst, logname, svc, state, timeout):
    pat = re.compile(r'overload service=%s state=%s ' % (svc, state))
    return mrinst.wait_until(lambda: pat.search(inst.read_log(logname)), timeout, 0.2)


def flood_smtp(inst, port):
    fl = Flood(port, 'smtpd')
    t0 = time.monotonic()
    fl.start()
    lat = []
    sent = 0
    try:
        # the flood takes its slots first: overload mode comes within seconds
        on = wait_overload(inst, 'smtpd.service.log', 'smtpd', 'on', 20 * SLOW)
        info('smtpd: overload mode %.1f s after the flood began, %d slots held' % (
            time.monotonic() - t0, held_slots(inst.path('slots', 'smtpd'))))
        R.check('smtpd: the flood puts the service into overload mode', on, inst.service_log()[-800:])
        for i in range(LEGIT):
            t0 = time.monotonic()
            try:
                c = smtplib.SMTP('127.0.0.1', port, timeout=60, source_address=('127.3.0.1', 0))
            except (OSError, smtplib.SMTPException) as e:
                lat.append(time.monotonic() - t0)
                info('legit SMTP session %d: %s' % (i, e))
                continue
            lat.append(time.monotonic() - t0)
            try:
                c.sendmail('legit@example.org', ['demo@localhost'],
                           b'From: legit@example.org\r\nTo: demo@localhost\r\nSubject: legit %d\r\n\r\nmessage %d\r\n' % (i, i))
                sent += 1
                c.quit()
            except (OSError, smtplib.SMTPException) as e:
                info('legit SMTP session %d: %s' % (i, e))
                c.close()
        held = held_slots(inst.path('slots', 'smtpd'))
        # the idle ones are cut overloadtimeout seconds after their last byte, the slowloris
        # ones rategrace seconds after their first
        mrinst.wait_until(lambda: enough_cuts(inst.service_log(), 'smtpd'), (OVERLOAD_TIMEOUT * 4 + 10) * SLOW, 0.3)
    finally:
        t1 = time.monotonic()
        alive = fl.finish()
        info('flood stopped in %.1f s' % (time.monotonic() - t1))
    info('smtpd flood: %s; slots held at the end of the legit run: %d' % (fl.stats, held))
    distribution('smtpd', lat)
    R.check('smtpd: flood threads stopped', alive == 0, '%d alive' % alive)
    R.check('smtpd: every legit greeting within %.0f s under the flood' % GREETING_MAX,
            len(lat) == LEGIT and max(lat) < GREETING_MAX * SLOW, 'max %.2f s' % max(lat))
    R.check('smtpd: %d legit messages accepted' % LEGIT, sent == LEGIT, 'sent %d' % sent)
    n, _ = inst.wait_for(LEGIT, 60 * SLOW)
    R.check('smtpd: all %d delivered' % LEGIT, n == LEGIT, 'delivered %d' % n)
    why = refusals('smtpd', inst.service_log(), 'smtpd')
    R.check('smtpd: the one-address flood is refused per client', why.get('connrefused perclient', 0) >= 190,
            str(why))
    R.check('smtpd: idle sessions are cut in overload mode', why.get('conncut overload', 0) >= 100, str(why))
    R.check('smtpd: slowloris DATA is cut by the rate bound', why.get('conncut slowdata', 0) >= 40, str(why))
    # after the flood
    off = wait_overload(inst, 'smtpd.service.log', 'smtpd', 'off', 20 * SLOW)
    R.check('smtpd: after the flood the service leaves overload mode', off, inst.service_log()[-800:])
    ok = mrinst.wait_until(lambda: held_slots(inst.path('slots', 'smtpd')) == 0, 10 * SLOW)
    R.check('smtpd: after the flood no slot is held', ok, 'held %d' % held_slots(inst.path('slots', 'smtpd')))
    c = smtpinst.Client(connect_from('127.4.0.1', port), 20)
    try:
        code, _ = c.reply()
        time.sleep(OVERLOAD_TIMEOUT + 2)
        code2, _ = c.cmd('NOOP')
        R.check('smtpd: after the flood an idle session outlives the overload timeout', code == 220 and code2 == 250,
                '%d %d' % (code, code2))
        c.cmd('QUIT')
    finally:
        c.close()


def flood_pop3(inst, port):
    class SrcPOP3(poplib.POP3):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout, source_address=('127.3.0.2', 0))
    fl = Flood(port, 'pop3d')
    t0 = time.monotonic()
    fl.start()
    lat = []
    fetched = 0
    try:
        on = wait_overload(inst, 'pop3-service.log', 'pop3d', 'on', 20 * SLOW)
        info('pop3d: overload mode %.1f s after the flood began, %d slots held' % (
            time.monotonic() - t0, held_slots(inst.path('slots', 'pop3d'))))
        R.check('pop3d: the flood puts the service into overload mode', on, inst.read_log('pop3-service.log')[-800:])
        for i in range(LEGIT):
            t0 = time.monotonic()
            try:
                p = SrcPOP3('127.0.0.1', port, timeout=60)
            except (OSError, poplib.error_proto) as e:
                lat.append(time.monotonic() - t0)
                info('legit POP3 session %d: %s' % (i, e))
                continue
            lat.append(time.monotonic() - t0)
            try:
                p.user('demo')
                p.pass_('demo')
                count, _ = p.stat()
                if count == LEGIT:
                    _, lines, _ = p.retr(i + 1)
                    if any(ln.startswith(b'Subject: legit ') for ln in lines):
                        fetched += 1
                p.quit()
            except (OSError, poplib.error_proto) as e:
                info('legit POP3 session %d: %s' % (i, e))
                p.close()
        mrinst.wait_until(lambda: enough_cuts(inst.read_log('pop3-service.log'), 'pop3d'),
                          (OVERLOAD_TIMEOUT * 4 + 10) * SLOW, 0.3)
    finally:
        t1 = time.monotonic()
        alive = fl.finish()
        info('flood stopped in %.1f s' % (time.monotonic() - t1))
    info('pop3d flood: %s' % fl.stats)
    distribution('pop3d', lat)
    R.check('pop3d: flood threads stopped', alive == 0, '%d alive' % alive)
    R.check('pop3d: every legit greeting within %.0f s under the flood' % GREETING_MAX,
            len(lat) == LEGIT and max(lat) < GREETING_MAX * SLOW, 'max %.2f s' % max(lat))
    R.check('pop3d: all %d messages fetched' % LEGIT, fetched == LEGIT, 'fetched %d' % fetched)
    log = inst.read_log('pop3-service.log')
    why = refusals('pop3d', log, 'pop3d')
    R.check('pop3d: the one-address flood is refused per client', why.get('connrefused perclient', 0) >= 190, str(why))
    R.check('pop3d: idle sessions are cut in overload mode', why.get('conncut overload', 0) >= 100, str(why))
    R.check('pop3d: a dripped command is cut by the rate bound', why.get('conncut slowdata', 0) >= 40, str(why))
    off = wait_overload(inst, 'pop3-service.log', 'pop3d', 'off', 20 * SLOW)
    R.check('pop3d: after the flood the service leaves overload mode', off, log[-800:])
    ok = mrinst.wait_until(lambda: held_slots(inst.path('slots', 'pop3d')) == 0, 10 * SLOW)
    R.check('pop3d: after the flood no slot is held', ok, 'held %d' % held_slots(inst.path('slots', 'pop3d')))
    c = pop3inst.Client.__new__(pop3inst.Client)
    c.sock = connect_from('127.4.0.2', port, 20)
    c.f = c.sock.makefile('rb')
    try:
        g = c.f.readline()
        time.sleep(OVERLOAD_TIMEOUT + 2)
        r = c.cmd(b'CAPA')
        R.check('pop3d: after the flood an idle session outlives the overload timeout',
                g.startswith(b'+OK') and r.startswith(b'+OK'), '%r %r' % (g, r))
    finally:
        c.close()


# --- bad limits files -----------------------------------------------------------------------
def bad_files(inst, sport, pport):
    good = inst.read_control('smtpdlimits')
    try:
        inst.control('smtpdlimits', 'perclient 10\nprefix4 64\n')
        s = connect_from('127.0.0.6', sport)
        g = first_line(s)
        s.close()
        R.check('smtpd: a bad limits file: 421 4.3.0', g.startswith(b'421 4.3.0'), repr(g))
        ok = mrinst.wait_until(lambda: 'control/smtpdlimits line 2: value out of range' in inst.service_log(), 5)
        R.check('smtpd: a bad limits file: its line and reason logged', ok, inst.service_log()[-500:])
        inst.control('smtpdlimits', 'perclient 10\x00\n')
        s = connect_from('127.0.0.6', sport)
        g = first_line(s)
        s.close()
        R.check('smtpd: a binary limits file: 421 4.3.0', g.startswith(b'421 4.3.0'), repr(g))
        inst.control('pop3dlimits', 'overloadtimeout 1\nwhatever 3\n')
        s = connect_from('127.0.0.6', pport)
        g = first_line(s)
        s.close()
        R.check('pop3d: a bad limits file: no greeting', not g.startswith(b'+OK'), repr(g))
        ok = mrinst.wait_until(lambda: 'control/pop3dlimits line 2: unknown name' in inst.read_log('pop3-service.log'), 5)
        R.check('pop3d: a bad limits file: its line and reason logged', ok, inst.read_log('pop3-service.log')[-500:])
    finally:
        inst.control('smtpdlimits', good)
        inst.control('pop3dlimits', good)


def report(inst):
    """mailroom-report counts the refusals and cuts of both logs as the logs have them."""
    import json
    import subprocess
    logs = [inst.path('smtpd.service.log'), inst.path('pop3-service.log')]
    r = subprocess.run([inst.bin('mailroom-report'), '--json'] + logs, capture_output=True, timeout=30)
    R.check('report: runs on the smtpd and pop3d logs', r.returncode == 0, r.stderr.decode(errors='replace'))
    j = json.loads(r.stdout)
    for svc, name in (('smtpd', 'smtpd.service.log'), ('pop3d', 'pop3-service.log')):
        log = inst.read_log(name)
        want = {
            'refused_perclient': len(re.findall(r'^connrefused service=%s .*reason=perclient' % svc, log, re.M)),
            'cut_overload': len(re.findall(r'^conncut service=%s .*reason=overload' % svc, log, re.M)),
            'cut_slowdata': len(re.findall(r'^conncut service=%s .*reason=slowdata' % svc, log, re.M)),
            'overload_began': len(re.findall(r'^overload service=%s state=on ' % svc, log, re.M)),
        }
        got = j.get('%s_limits' % svc, {})
        R.check('report: %s refusals and cuts counted (%s)' % (svc, want),
                all(got.get(k) == v for k, v in want.items()) and want['refused_perclient'] > 0, str(got))
    t = subprocess.run([inst.bin('mailroom-report')] + logs, capture_output=True, timeout=30).stdout.decode()
    R.check('report: the text names the limits', 'smtpd connection limits: refused per client' in t
            and 'pop3d connection limits' in t, t[-600:])


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    pport = pop3inst.free_port()
    sport = smtpinst.free_port()
    # both services written by the instance's first setup (no second run for the SMTP port)
    os.environ['POP3_PORT'] = str(pport)
    os.environ['SMTP_PORT'] = str(sport)
    t0 = time.monotonic()
    with smtpinst.SmtpInstance('mrtest.connl.') as inst, pop3inst.Servers() as srv:
        inst.service_port = sport
        inst.control('smtpdlimits', KNOBS)
        inst.control('pop3dlimits', KNOBS)
        inst.start()
        inst.start_service(sport)
        R.check('setup: tcpserver -c 400 for smtpd', inst.service_limit() == 400, str(inst.service_limit()))
        R.check('setup: tcpserver -c 400 for pop3d', ' -c 400 ' in mrinst.read_file(inst.path('service', 'pop3d', 'run')).decode(), '')
        srv.service(inst, pport)
        info('set up in %.1f s' % (time.monotonic() - t0))
        R.run('smtpd per client', per_client, inst, sport, 'smtpd', inst.path('slots', 'smtpd'), 'mailroom-smtpd')
        R.run('pop3d per client', per_client, inst, pport, 'pop3d', inst.path('slots', 'pop3d'), 'mailroom-popup')
        info('per client done at %.1f s' % (time.monotonic() - t0))
        R.run('smtpd flood', flood_smtp, inst, sport)
        info('smtpd flood done at %.1f s' % (time.monotonic() - t0))
        R.run('pop3d flood', flood_pop3, inst, pport)
        info('pop3d flood done at %.1f s' % (time.monotonic() - t0))
        R.run('report', report, inst)
        R.run('bad files', bad_files, inst, sport, pport)
    info('test_connlimit: %.1f s' % (time.monotonic() - t0))
    R.exit()


if __name__ == '__main__':
    main()
