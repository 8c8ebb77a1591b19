"""Load (issue 7): 50 SMTP clients sending without a pause for MRTEST_LOAD_SECONDS (default
120, at most 900) through the instance's own tcpserver service on a random loopback address,
while POP3 clients (one per mailbox: mailroom-pop3d allows one session per Maildir) log in
again and again and STAT, LIST, UIDL, RETR and DELE what has been delivered.

Checks: no error reply, except what a concurrency limit says (counted apart: a refused or
reset connection, a 421 greeting, a POP3 [IN-USE]); every accepted message delivered exactly
once (each carries a unique X-Load-Id; retrieved by a POP3 session whose QUIT said +OK, plus
what is left in the Maildir, equals what was accepted); the peak memory (VmHWM, sampled from
/proc) of each program under a ceiling (not under MRTEST_SANITIZE: shadow memory). Prints
messages/s accepted and delivered, POP3 retrievals, refusals and peak memory per program.

The concurrency limits in force: tcpserver -c 40 -b 64 for SMTP (lib/sh/setup.d/smtpd.sh),
so 10 of the 50 clients wait in the listen backlog, none should be refused; tcpserver -c 40 for
POP3; control/concurrencylocal 10 for deliveries (queued, never refused).
"""

import collections
import os
import poplib
import random
import re
import smtplib
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import pop3inst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import SANITIZED, SLOW, info  # noqa: E402

R = mrinst.Results()


def _seconds():
    try:
        s = int(os.environ.get('MRTEST_LOAD_SECONDS', '120'))
    except ValueError:
        s = 120
    return max(5, min(s, 900))


SECONDS = _seconds()
NSMTP = 50
NBOX = 4
PASSWORD = 'load-pw-%d' % random.randrange(10 ** 9)
PROGS = ('mailroom-smtpd', 'mailroom-queue', 'mailroom-send', 'mailroom-lspawn', 'mailroom-local',
         'mailroom-popup', 'mailroom-checkpassword', 'mailroom-pop3d')
# Peak RSS ceilings in kB, release build, measured on Debian 12 with room to spare (x2 or
# more): a ceiling is there to catch growth with load (a leak, a buffer sized by the
# queue or the mailbox), not to pin today's figure.
CEILING_KB = {
    'mailroom-smtpd': 2048,          # static, one per connection (test_smtpd_msg: < 2 MB)
    'mailroom-queue': 4096,
    'mailroom-send': 8192,           # grows with the queue: tens of messages at a time here
    'mailroom-lspawn': 4096,
    'mailroom-local': 4096,
    'mailroom-popup': 4096,
    'mailroom-checkpassword': 8192,  # libcrypt
    'mailroom-pop3d': 8192,          # grows with the mailbox: a few hundred messages here
}
ID_RE = re.compile(rb'^X-Load-Id: (\S+)\r?$', re.M)


class Stats:
    """Everything the clients count, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = []                  # (id, box) pairs answered 250 after DATA
        self.errors = []                    # error replies and failures (text)
        self.uncertain = []                 # DATA sent, no reply: may or may not be delivered
        self.refusals = collections.Counter()  # concurrency-limit refusals by kind
        self.sessions = 0
        self.retrieved = []                 # (id, box) from POP3 sessions whose QUIT said +OK
        self.pop_sessions = 0
        self.pop_errors = []
        self.inuse = 0
        self.first_accept = None
        self.last_accept = None

    def add(self, field, value):
        with self.lock:
            getattr(self, field).append(value)

    def error(self, text):
        with self.lock:
            if len(self.errors) < 1000:
                self.errors.append(text)


def random_loopback():
    """A random 127.x.y.z and a port nothing listens on there."""
    for _ in range(50):
        ip = '127.%d.%d.%d' % (random.randint(1, 254), random.randint(0, 255), random.randint(2, 254))
        port = random.randint(20000, 60000)
        s = socket.socket()
        try:
            s.bind((ip, port))
            return ip, port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError('no free random loopback address and port')


def wait_listen(ip, port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ip, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start_pop3(inst, srv, ip, port):
    argv = ['tcpserver', '-R', '-H', '-l0', '-c', '40', '--', ip, str(port), inst.bin('mailroom-popup'), 'localhost',
            inst.bin('mailroom-checkpassword'), inst.bin('mailroom-pop3d'), 'Maildir']
    srv.start(argv, port, inst.path('pop3.log'), probe=False)
    if not wait_listen(ip, port, 10 * SLOW):
        raise RuntimeError('POP3 tcpserver does not listen on %s:%d' % (ip, port))


def _line_pool(n=512):
    """Random body lines, made once: building each body character by character would make
    the Python clients, not the programs, the bottleneck."""
    rnd = random.Random(7)
    out = []
    for _ in range(n):
        ln = ''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz .,') for _ in range(rnd.randint(0, 76)))
        if rnd.random() < 0.05:
            ln = '.' + ln  # dot-stuffing on the way in and out
        out.append(ln)
    return out


LINES = _line_pool()


def message(mid, box, size):
    body = []
    n = 0
    while n < size:
        ln = random.choice(LINES)
        body.append(ln)
        n += len(ln) + 2
    return ('From: load@example.org\r\nTo: %s@localhost\r\nSubject: load %s\r\n'
            'Message-ID: <%s@load.example.org>\r\nX-Load-Id: %s\r\n\r\n%s\r\n') % (
                box, mid, mid, mid, '\r\n'.join(body))


def smtp_client(k, ip, port, boxes, st, stop):
    n = 0
    timeout = 60 * SLOW
    while not stop.is_set():
        try:
            s = smtplib.SMTP(ip, port, local_hostname='load%d.example.org' % k, timeout=timeout)
        except smtplib.SMTPConnectError as e:
            with st.lock:
                st.refusals['SMTP greeting %d' % e.smtp_code] += 1
            if e.smtp_code != 421:
                st.error('client %d: greeting %d %r' % (k, e.smtp_code, e.smtp_error))
            time.sleep(0.1)
            continue
        except (ConnectionRefusedError, ConnectionResetError, smtplib.SMTPServerDisconnected) as e:
            with st.lock:
                st.refusals['SMTP connection %s' % type(e).__name__] += 1
            time.sleep(0.1)
            continue
        except OSError as e:
            st.error('client %d: connect: %s %s' % (k, type(e).__name__, e))
            time.sleep(0.1)
            continue
        with st.lock:
            st.sessions += 1
        try:
            s.ehlo_or_helo_if_needed()
            lost = False
            for _ in range(random.randint(1, 5)):
                if stop.is_set():
                    break
                n += 1
                mid = 'c%d.m%d.%08x' % (k, n, random.getrandbits(32))
                box = random.choice(boxes)
                data = message(mid, box, random.choice((200, 1000, 4000, 20000)))
                try:
                    refused = s.sendmail('sender%d@example.org' % k, ['%s@localhost' % box], data)
                except smtplib.SMTPServerDisconnected as e:
                    st.add('uncertain', (mid, box))
                    st.error('client %d: %s: disconnected: %s' % (k, mid, e))
                    lost = True
                    break
                except smtplib.SMTPResponseException as e:
                    st.error('client %d: %s: %d %r' % (k, mid, e.smtp_code, e.smtp_error))
                    s.rset()
                    continue
                except smtplib.SMTPRecipientsRefused as e:
                    st.error('client %d: %s: recipients refused %r' % (k, mid, e.recipients))
                    s.rset()
                    continue
                except OSError as e:  # a timeout while waiting for the reply to DATA
                    st.add('uncertain', (mid, box))
                    st.error('client %d: %s: %s %s' % (k, mid, type(e).__name__, e))
                    lost = True
                    break
                if refused:
                    st.error('client %d: %s: refused %r' % (k, mid, refused))
                    continue
                now = time.monotonic()
                with st.lock:
                    st.accepted.append((mid, box))
                    st.first_accept = st.first_accept or now
                    st.last_accept = now
            if not lost:
                try:
                    code, text = s.docmd('QUIT')
                    if code != 221:
                        st.error('client %d: QUIT %d %r' % (k, code, text))
                except (smtplib.SMTPException, OSError) as e:
                    st.error('client %d: QUIT: %s' % (k, e))
        except (smtplib.SMTPException, OSError) as e:
            st.error('client %d: session: %s %s' % (k, type(e).__name__, e))
        finally:
            try:
                s.close()
            except OSError:
                pass


def pop_session(ip, port, box, st, maxretr):
    """One POP3 session: returns the number of messages retrieved and deleted."""
    p = poplib.POP3(ip, port, timeout=60 * SLOW)
    got = []
    try:
        p.user(box)
        try:
            p.pass_(PASSWORD)
        except poplib.error_proto as e:
            if b'[IN-USE]' in e.args[0]:
                with st.lock:
                    st.inuse += 1
                return 0
            raise
        count, _ = p.stat()
        _, lst, _ = p.list()
        _, uidl, _ = p.uidl()
        if len(lst) != count or len(uidl) != count:
            st.pop_errors.append('%s: STAT %d, LIST %d, UIDL %d' % (box, count, len(lst), len(uidl)))
        for i in range(1, min(count, maxretr) + 1):
            _, lines, _ = p.retr(i)
            m = ID_RE.search(b'\r\n'.join(lines))
            got.append((m.group(1).decode() if m else '?no-id', box))
            p.dele(i)
        resp = p.quit()
        p = None
        if not resp.startswith(b'+OK'):
            raise poplib.error_proto('QUIT: %r' % resp)
        with st.lock:
            st.retrieved.extend(got)  # deleted now: QUIT said +OK
            st.pop_sessions += 1
        return len(got)
    finally:
        if p is not None:
            p.close()  # no QUIT: nothing deleted, the messages stay for the final count


def pop_client(ip, port, box, st, stop):
    while not stop.is_set():
        try:
            pop_session(ip, port, box, st, random.randint(5, 40))
        except (poplib.error_proto, OSError, EOFError) as e:
            with st.lock:
                st.pop_errors.append('%s: %s %s' % (box, type(e).__name__, e))
        stop.wait(random.uniform(0.1, 0.5))


def sampler(inst, peaks, pids, stop):
    want = {os.path.realpath(inst.bin(p)): p for p in PROGS}
    while not stop.is_set():
        for d in os.listdir('/proc'):
            if not d.isdigit():
                continue
            prog = want.get(mrinst.proc_exe(int(d)))
            if prog is None:
                continue
            try:
                with open('/proc/%s/status' % d) as f:
                    for ln in f:
                        if ln.startswith('VmHWM:') or ln.startswith('VmRSS:'):
                            kb = int(ln.split()[1])
                            if kb > peaks[prog][0]:
                                peaks[prog] = (kb, int(d))
            except (OSError, ValueError, IndexError):
                continue
            pids[prog].add(int(d))
        stop.wait(0.2)


def maildir_ids(md, box):
    out = []
    for sub in ('new', 'cur'):
        d = os.path.join(md, sub)
        for n in os.listdir(d):
            with open(os.path.join(d, n), 'rb') as f:
                head = f.read(4096)
            m = ID_RE.search(head)
            out.append((m.group(1).decode() if m else '?no-id:' + n, box))
    return out


def run(inst, srv):
    boxes = ['load%d' % i for i in range(NBOX)]
    mds = {b: pop3inst.add_pop_user(inst, b, PASSWORD) for b in boxes}
    inst.start(ready_timeout=10 * SLOW)
    ip, sport = random_loopback()
    # service/smtpd as lib/sh/setup.d/smtpd.sh writes it, on this address
    inst.start_service(sport, ready_timeout=10 * SLOW, ip=ip)
    limit = inst.service_limit()
    _, pport = random_loopback()
    pport = pport if pport != sport else pport + 1
    start_pop3(inst, srv, ip, pport)
    info('SMTP on %s:%d (tcpserver -c %s), POP3 on %s:%d, %d SMTP clients, %d POP3 clients, %d s%s' % (
        ip, sport, limit, ip, pport, NSMTP, NBOX, SECONDS, ' (sanitizers)' if SANITIZED else ''))

    st = Stats()
    stop_smtp, stop_pop, stop_sample = threading.Event(), threading.Event(), threading.Event()
    peaks = collections.defaultdict(lambda: (0, 0))
    pids = collections.defaultdict(set)
    samp = threading.Thread(target=sampler, args=(inst, peaks, pids, stop_sample), daemon=True)
    samp.start()
    smtp = [threading.Thread(target=smtp_client, args=(k, ip, sport, boxes, st, stop_smtp), daemon=True)
            for k in range(NSMTP)]
    pop = [threading.Thread(target=pop_client, args=(ip, pport, b, st, stop_pop), daemon=True) for b in boxes]
    t0 = time.monotonic()
    for t in smtp + pop:
        t.start()
    stop_smtp.wait(SECONDS)
    stop_smtp.set()
    t_stop = time.monotonic()
    for t in smtp:
        t.join(max(1.0, t_stop + 120 * SLOW - time.monotonic()))
    hung = sum(t.is_alive() for t in smtp)
    t_sent = time.monotonic()
    drained = inst.wait_queue_empty(300 * SLOW)
    t_drained = time.monotonic()
    # the POP3 clients read on a little, then stop; what they leave is counted in the Maildirs
    stop_pop.wait(2)
    stop_pop.set()
    deadline = time.monotonic() + 120 * SLOW
    for t in pop:
        t.join(max(1.0, deadline - time.monotonic()))
    pop_hung = sum(t.is_alive() for t in pop)
    stop_sample.set()
    samp.join(10)

    R.check('SMTP clients finished', hung == 0, '%d of %d still running 120 s after the end' % (hung, NSMTP))
    R.check('POP3 clients finished', pop_hung == 0, '%d still running' % pop_hung)
    R.check('queue drained after the load', drained, 'queue: %s' % {k: len(v) for k, v in inst.queue_files().items()})

    with st.lock:
        accepted = list(st.accepted)
        errors = list(st.errors)
        uncertain = list(st.uncertain)
        retrieved = list(st.retrieved)
        refusals = dict(st.refusals)
    left = []
    for b, md in mds.items():
        left += maildir_ids(md, b)
    delivered = collections.Counter(retrieved + left)
    acc = collections.Counter(accepted)
    dup_acc = [k for k, v in acc.items() if v > 1]
    missing = [k for k in acc if delivered[k] == 0]
    twice = [k for k, v in delivered.items() if v > 1]
    unc = set(uncertain)
    unknown = [k for k in delivered if k not in acc and k not in unc]

    secs = SECONDS
    dsecs = (t_drained - t0) if drained else float('nan')
    info('accepted %d messages in %d s: %.1f/s over %d SMTP sessions' % (len(accepted), secs, len(accepted) / secs, st.sessions))
    info('delivered %d (POP3 retrieved %d in %d sessions, left in the Maildirs %d): %.1f/s until the queue was empty (%.1f s after the start, %.1f s after the clients stopped)' % (
        sum(delivered.values()), len(retrieved), st.pop_sessions, len(left),
        sum(delivered.values()) / dsecs if drained else 0.0, dsecs, t_drained - t_sent))
    info('refusals by a concurrency limit: %s; POP3 [IN-USE] (one session per Maildir): %d' % (
        ', '.join('%s: %d' % kv for kv in sorted(refusals.items())) or 'none', st.inuse))
    for prog in PROGS:
        kb, pid = peaks[prog]
        info('peak memory %-24s %6d kB (VmHWM; %d processes seen)' % (prog, kb, len(pids[prog])))

    R.check('messages accepted (%d)' % len(accepted), len(accepted) >= NSMTP, 'only %d' % len(accepted))
    R.check('no SMTP error reply', not errors, '%d: %s' % (len(errors), '; '.join(errors[:5])))
    R.check('no answer lost after DATA', not uncertain, '%d: %s' % (len(uncertain), uncertain[:5]))
    R.check('no POP3 error', not st.pop_errors, '%d: %s' % (len(st.pop_errors), '; '.join(st.pop_errors[:5])))
    R.check('POP3 retrieved messages during the load (%d)' % len(retrieved), len(retrieved) > 0, 'none')
    R.check('unique ids', not dup_acc, str(dup_acc[:5]))
    R.check('every accepted message delivered', not missing, '%d missing, e.g. %s' % (len(missing), missing[:5]))
    R.check('no message delivered twice', not twice, '%d, e.g. %s' % (len(twice), twice[:5]))
    R.check('nothing delivered that was not accepted', not unknown, '%d, e.g. %s' % (len(unknown), unknown[:5]))
    R.check('SMTP refusals only as tcpserver -c allows (none: it queues)', not refusals, str(refusals))
    for prog in PROGS:
        kb, pid = peaks[prog]
        label = 'peak memory of %s under %d kB' % (prog, CEILING_KB[prog])
        if not pids[prog]:
            R.skip(label, 'no process seen by the sampler')
        elif SANITIZED:
            R.skip(label, 'sanitizer build: shadow memory (%d kB)' % kb)
        else:
            R.check(label + ' (%d kB)' % kb, kb <= CEILING_KB[prog], '%d kB (pid %d)' % (kb, pid))


def main():
    with smtpinst.SmtpInstance('mrload.') as inst, pop3inst.Servers() as srv:
        R.run('load', run, inst, srv)
    R.exit()


if __name__ == '__main__':
    main()
