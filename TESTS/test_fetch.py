"""mailroom-fetch (issue 17) end to end: fetching from Dovecot (Debian's dovecot-pop3d, a
throw-away instance on a loopback port) and from mailroom's own pop3d, plain, POP3S and STLS
with a test CA made here; byte-exact delivery below the trace lines, once; keep and delete
modes; a wrong password and a certificate that does not verify; a scripted hostile server
beside a good account in the same run; the hash of the headers on a server without UIDL;
the service written by setup; mailroom-report's counts; and the crash test: 500 messages,
>= 50 SIGKILLs of mailroom-fetch, every message delivered at least once, none deleted from
the server before it was queued, duplicates counted. Every server is stopped by the test."""

import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import pop3hostile  # noqa: E402
import pop3inst  # noqa: E402
from mrinst import IS_ROOT, info  # noqa: E402
from pop3inst import free_port  # noqa: E402

R = mrinst.Results()
CRASH_MESSAGES = int(os.environ.get('FETCH_CRASH_MESSAGES', '500'))
CRASH_KILLS = int(os.environ.get('FETCH_CRASH_KILLS', '50'))
RCPT = 'fetched@localhost'


# --- helpers ---------------------------------------------------------------------------------
def test_message(tag, i):
    """A message with what a POP3 path can break: dot lines, a lone dot, a long line,
    8-bit bytes, a From_ line, blank lines."""
    return (b'From: Sender %s <sender-%s@example.org>\nTo: someone@example.org\nSubject: %s %d\n'
            b'Message-ID: <%s.%d@example.org>\nX-Seq: %s\n\nfirst line\n.\n..two dots\n.leading dot\n'
            b'From the start\n\n%s\n\xc3\xa9t\xc3\xa9 8-bit\nlast line %d\n'
            % (tag.encode(), tag.encode(), tag.encode(), i, tag.encode(), i, tag.encode(), b'L' * 2000, i))


def strip_trace(data):
    """The delivered file without mailroom-local's lines and our Received field (3 lines)."""
    added, rest = mrinst.split_delivered(data)
    if not rest.startswith(b'Received: from '):
        return None, rest
    lines = rest.split(b'\n')
    n = 1
    while n < len(lines) and lines[n].startswith(b'\t'):
        n += 1
    return b'\n'.join(lines[:n]) + b'\n', b'\n'.join(lines[n:])


def parse_log(text):
    out = []
    for line in text.splitlines():
        ev, _, rest = line.partition(' ')
        if ev not in ('fetch', 'fetchpoll', 'fetchinfo'):
            continue
        d = {'event': ev, 'line': line}
        for m in re.finditer(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|<[^>]*>|\S+)', rest):
            v = m.group(2)
            if v.startswith('"') or v.startswith('<'):
                v = v[1:-1]
            d[m.group(1)] = v
        out.append(d)
    return out


class Fetch:
    """The instance's mailroom-fetch, as mrfetch, with an accounts file written here."""

    def __init__(self, inst):
        self.inst = inst
        self.logs = []

    def accounts(self, lines):
        p = self.inst.path('control', 'fetchaccounts')
        with open(p, 'w') as f:
            f.write('# written by test_fetch.py\n' + '\n'.join(lines) + '\n')
        if IS_ROOT:
            pw = pwd.getpwnam('mrfetch')
            os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(p, 0o600)

    def argv(self, args):
        base = [self.inst.bin('mailroom-fetch')] + list(args)
        return (['setuidgid', 'mrfetch'] + base) if IS_ROOT else base

    def run(self, args=('-1', '-t', '5'), timeout=120):
        r = subprocess.run(self.argv(args), cwd=self.inst.home, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
        out = r.stdout.decode(errors='replace')
        self.logs.append(out)
        with open(self.inst.path('fetch.log'), 'a') as f:
            f.write(out)
        return r.returncode, parse_log(out), r.stderr.decode(errors='replace')

    def spawn(self, args=('-1', '-t', '5')):
        log = open(self.inst.path('fetch.log'), 'ab')
        try:
            return subprocess.Popen(self.argv(args), cwd=self.inst.home, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)
        finally:
            log.close()


def account(name, port, user, password, tls='plain', mode='keep', extra=''):
    return ('name=%s server=127.0.0.1 port=%d tls=%s user=%s pass=%s rcpt=%s mode=%s %s'
            % (name, port, tls, user, password, RCPT, mode, extra)).strip()


def box(md):
    """The names of the messages in a Maildir (new/ and cur/)."""
    return [n for d in ('new', 'cur') for n in os.listdir(os.path.join(md, d))]


def delivered(inst):
    """(file name, content) of every message in the recipient's Maildir."""
    out = []
    for p in inst.maildir_files('fetched'):
        out.append((p, mrinst.read_file(p)))
    return out


def wait_delivered(inst, n, timeout=30):
    got, _ = inst.wait_for(n, timeout, user='fetched')
    return got


SEQ_CACHE = {}  # a delivered file never changes: its X-Seq is read once


def seqs(inst):
    out = []
    for p in inst.maildir_files('fetched'):
        if p not in SEQ_CACHE:
            m = re.search(rb'^X-Seq: (\S+)$', mrinst.read_file(p), re.M)
            SEQ_CACHE[p] = m.group(1).decode() if m else '?'
        out.append(SEQ_CACHE[p])
    return out


def make_ca(d, name):
    key, pem = os.path.join(d, name + '.key'), os.path.join(d, name + '.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                    '-days', '2', '-subj', '/CN=mailroom test CA ' + name, '-keyout', key, '-out', pem],
                   check=True, capture_output=True, timeout=60)
    return key, pem


def make_cert(d, cakey, capem):
    key, csr, pem, ext = (os.path.join(d, n) for n in ('srv.key', 'srv.csr', 'srv.pem', 'ext'))
    with open(ext, 'w') as f:
        f.write('subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n')
    subprocess.run(['openssl', 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                    '-subj', '/CN=localhost', '-keyout', key, '-out', csr], check=True, capture_output=True, timeout=60)
    subprocess.run(['openssl', 'x509', '-req', '-in', csr, '-CA', capem, '-CAkey', cakey, '-CAcreateserial',
                    '-days', '2', '-extfile', ext, '-out', pem], check=True, capture_output=True, timeout=60)
    return key, pem


# --- Dovecot -----------------------------------------------------------------------------------
class Dovecot:
    """A throw-away Dovecot (pop3 only) in d: passwd-file userdb, one user bob/secret whose
    Maildir is d/home/bob/Maildir, plain port and POP3S port on 127.0.0.1."""

    def __init__(self, d, key, pem):
        self.d = d
        self.port, self.sport = free_port(), free_port()
        self.maildir = os.path.join(d, 'home', 'bob', 'Maildir')
        self.proc = None
        for s in ('new', 'cur', 'tmp'):
            os.makedirs(os.path.join(self.maildir, s), exist_ok=True)
        uid = gid = 65534
        for root, dirs, files in os.walk(os.path.join(d, 'home')):
            os.chown(root, uid, gid)
        os.chmod(d, 0o755)
        with open(os.path.join(d, 'passwd'), 'w') as f:
            f.write('bob:{PLAIN}secret:%d:%d::%s\n' % (uid, gid, os.path.join(d, 'home', 'bob')))
        conf = """base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = mrtest-{port}
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{pem}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = {sport}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""".format(d=d, port=self.port, sport=self.sport, pem=pem, key=key)
        self.conf = os.path.join(d, 'dovecot.conf')
        with open(self.conf, 'w') as f:
            f.write(conf)

    def start(self, srv):
        self.proc = srv.start(['dovecot', '-F', '-c', self.conf], self.port, os.path.join(self.d, 'dovecot.out'))
        pop3inst.wait_port(self.sport, 10.0, self.proc)

    def put(self, name, data):
        p = os.path.join(self.maildir, 'new', name)
        with open(p, 'wb') as f:
            f.write(data)
        os.chown(p, 65534, 65534)

    def count(self):
        return sum(len(os.listdir(os.path.join(self.maildir, s))) for s in ('new', 'cur'))


# --- the checks --------------------------------------------------------------------------------
def byte_exact(inst, sent, label):
    """Every message of sent (tag -> bytes) arrived exactly once, byte-exact below the trace."""
    got = {}
    bad = []
    for p, data in delivered(inst):
        rec, body = strip_trace(data)
        m = re.search(rb'^X-Seq: (\S+)$', body, re.M)
        if not m:
            continue
        tag = m.group(1).decode()
        if tag not in sent:
            continue
        got[tag] = got.get(tag, 0) + 1
        if body != sent[tag]:
            bad.append(tag)
        if rec is None or b'(mailroom-fetch)' not in rec:
            bad.append(tag + ' (no Received line)')
    missing = [t for t in sent if t not in got]
    twice = [t for t, n in got.items() if n > 1]
    R.check(label + ': every message once, byte-exact below the trace lines', not missing and not twice and not bad,
            'missing %s twice %s different %s' % (missing, twice, bad))


def poll_lines(log, name):
    return [d for d in log if d['event'] == 'fetchpoll' and d.get('account') == name]


def combo(inst, fetch, name, port, user, password, tls, extra, put, count, label):
    """keep: N fetched byte-exact, the next poll nothing, the server keeps them; then delete:
    2 more fetched and the server box empty."""
    sent = {}
    for i in range(3):
        tag = '%s-%d' % (name, i)
        sent[tag] = test_message(tag, i)
        put('%d.M%dP%d.%s' % (1700000000 + i, i, os.getpid(), name), sent[tag])
    before = len(delivered(inst))
    fetch.accounts([account(name, port, user, password, tls, 'keep', extra)])
    rc, log, err = fetch.run()
    pl = poll_lines(log, name)
    R.check(label + ' keep: poll ok, 3 fetched', rc == 0 and pl and pl[-1].get('result') == 'ok'
            and pl[-1].get('fetched') == '3', '%d %s %s' % (rc, log, err))
    if tls != 'plain':
        R.check(label + ': the log names TLS', pl and pl[-1].get('tls', 'none').startswith('TLSv1'), pl)
    wait_delivered(inst, before + 3)
    byte_exact(inst, sent, label)
    rc, log, err = fetch.run()
    pl = poll_lines(log, name)
    R.check(label + ' keep: the next poll fetches nothing', rc == 0 and pl and pl[-1].get('fetched') == '0'
            and pl[-1].get('messages') == '3', log)
    R.check(label + ' keep: the server still has them', count() == 3, 'server has %d' % count())
    for i in range(3, 5):
        tag = '%s-%d' % (name, i)
        sent[tag] = test_message(tag, i)
        put('%d.M%dP%d.%s' % (1700000000 + i, i, os.getpid(), name), sent[tag])
    fetch.accounts([account(name, port, user, password, tls, 'delete', extra)])
    rc, log, err = fetch.run()
    pl = poll_lines(log, name)
    R.check(label + ' delete: 2 fetched, 5 deleted', rc == 0 and pl and pl[-1].get('fetched') == '2'
            and pl[-1].get('deleted') == '5', log)
    R.check(label + ' delete: the server box is empty', count() == 0, 'server has %d' % count())
    wait_delivered(inst, before + 5)
    byte_exact(inst, sent, label + ' delete')
    recs = [strip_trace(data)[0] for _, data in delivered(inst)]
    recs = [r for r in recs if r and (b'account ' + name.encode() + b',') in r]
    R.check(label + ': Received names server, account and TLS', len(recs) == 5 and all(
        b'from 127.0.0.1' in r and (b'TLSv1' in r if tls != 'plain' else b'no TLS' in r) for r in recs), recs[:1])


def wrong_password_and_cert(inst, fetch, dv, cadir, capem, otherpem):
    dv.put('1700000100.M1P1.wrong', test_message('wrong', 1))
    before = len(delivered(inst))
    fetch.accounts([account('dv-wrongpw', dv.sport, 'bob', 'nope', 'pop3s', 'keep', 'ca=' + capem)])
    for attempt in (1, 2):
        # Dovecot answers a repeated failure late (its auth penalty, up to 15 s)
        rc, log, err = fetch.run(('-1', '-t', '30'))
        pl = poll_lines(log, 'dv-wrongpw')
        R.check('wrong password (poll %d): nothing fetched, the log says why' % attempt,
                rc != 0 and pl and pl[-1].get('result') == 'failed' and 'login refused' in pl[-1].get('reason', '')
                and not [d for d in log if d['event'] == 'fetch'], log)
    R.check('wrong password: no message delivered', len(delivered(inst)) == before, 'delivered')
    fetch.accounts([account('dv-badcert', dv.sport, 'bob', 'secret', 'pop3s', 'keep', 'ca=' + otherpem),
                    account('dv-badname', dv.sport, 'bob', 'secret', 'pop3s', 'keep',
                            'ca=%s tlsname=pop.example.net' % capem),
                    account('dv-stlsbad', dv.port, 'bob', 'secret', 'stls', 'keep', 'ca=' + otherpem)])
    for attempt in (1, 2):
        rc, log, err = fetch.run()
        for name in ('dv-badcert', 'dv-badname', 'dv-stlsbad'):
            pl = poll_lines(log, name)
            R.check('certificate that does not verify: %s (poll %d): nothing fetched, the log says why' % (name, attempt),
                    pl and pl[-1].get('result') == 'failed' and 'TLS' in pl[-1].get('reason', '')
                    and ('verif' in pl[-1].get('reason', '') or 'name' in pl[-1].get('reason', '')), pl)
        R.check('bad certificates (poll %d): no message line' % attempt, not [d for d in log if d['event'] == 'fetch'], log)
    R.check('bad certificates: no message delivered', len(delivered(inst)) == before, 'delivered')
    info('a certificate that does not verify: %s' % poll_lines(log, 'dv-badcert')[-1].get('reason'))
    # the same account with the right CA file fetches on the next poll
    fetch.accounts([account('dv-badcert', dv.sport, 'bob', 'secret', 'pop3s', 'delete', 'ca=' + capem)])
    rc, log, err = fetch.run()
    pl = poll_lines(log, 'dv-badcert')
    R.check('the next poll (right CA) fetches', rc == 0 and pl and pl[-1].get('fetched') == '1', log)


def hostile_run(inst, fetch, good_port):
    md = inst.maildir('demo')
    for i in range(2):
        pop3inst.put_message(md, '1700000200.M%dP1.good' % i, test_message('good-%d' % i, i))
    cases = ['longline', 'badlist', 'neverend', 'dupuidl', 'retrerr', 'dropdele', 'nouidl']
    expect = {'longline': 'longer than 65536', 'badlist': 'LIST said', 'neverend': 'LIST said',
              'dupuidl': 'same UIDL', 'retrerr': 'RETR refused', 'dropdele': 'DELE', 'garbage': 'neither +OK nor -ERR',
              'stall': 'timed out'}
    with pop3hostile.Server() as h, pop3hostile.BadGreeting('garbage') as g, pop3hostile.BadGreeting('stall') as st:
        lines = [account('h-' + c, h.port, c, 'x', 'plain', 'delete' if c in ('dropdele', 'nouidl') else 'keep')
                 for c in cases]
        lines += [account('h-garbage', g.port, 'x', 'x'), account('h-stall', st.port, 'x', 'x'),
                  account('good', good_port, 'demo', 'demo', 'plain', 'keep')]
        fetch.accounts(lines)
        before = len(delivered(inst))
        t0 = time.monotonic()
        rc, log, err = fetch.run(('-1', '-t', '3'))
        el = time.monotonic() - t0
        info('hostile run: %.1f s' % el)
        for c in cases + ['garbage', 'stall']:
            pl = poll_lines(log, 'h-' + c)
            if c == 'nouidl':
                ok = pl and pl[-1].get('result') == 'ok' and pl[-1].get('fetched') == '2'
                R.check('hostile nouidl: fetched by the hash of the headers, said in the log',
                        ok and any(d['event'] == 'fetchinfo' and 'hash' in d.get('text', '') for d in log), log)
                continue
            R.check('hostile %s: the poll ends with a clear log line' % c,
                    pl and pl[-1].get('result') == 'failed' and expect[c] in pl[-1].get('reason', ''), pl)
        pl = poll_lines(log, 'good')
        R.check('hostile: the good account is fetched in the same run', pl and pl[-1].get('result') == 'ok'
                and pl[-1].get('fetched') == '2', log)
        wait_delivered(inst, before + 2 + 2 + 2)
        time.sleep(0.5)
        got = seqs(inst)
        cases_got = {}
        for _, data in delivered(inst):
            m = re.search(rb'^X-Case: (\S+)$', data, re.M)
            if m:
                cases_got[m.group(1).decode()] = cases_got.get(m.group(1).decode(), 0) + 1
        R.check('hostile: nothing half-delivered (only dropdele and nouidl messages, 2 each)',
                cases_got == {'dropdele': 2, 'nouidl': 2}, cases_got)
        R.check('hostile: the good messages delivered', got.count('good-0') == 1 and got.count('good-1') == 1, got)
        R.check('hostile dropdele: nothing deleted (no QUIT)', ('dropdele', 1) not in h.deleted, h.deleted)
        R.check('hostile nouidl: deleted at QUIT', sorted(x for x in h.deleted if x[0] == 'nouidl')
                == [('nouidl', 1), ('nouidl', 2)], h.deleted)
        # second run: dropdele's messages are not fetched again, their DELE is sent again
        n0 = len(h.log)
        rc, log, err = fetch.run(('-1', '-t', '3'))
        pl = poll_lines(log, 'h-dropdele')
        again = [x for x in h.log[n0:] if x[0] == 'dropdele']
        R.check('hostile dropdele: the next poll fetches nothing and sends DELE again',
                pl and 'DELE' in pl[-1].get('reason', '') and ('dropdele', 'DELE') in again
                and ('dropdele', 'RETR') not in again, (pl, again))
        pl = poll_lines(log, 'h-nouidl')
        R.check('hostile nouidl: the next poll fetches nothing (hash state)', pl and pl[-1].get('fetched') == '0', pl)
        time.sleep(0.3)
        cases_got2 = {}
        for _, data in delivered(inst):
            m = re.search(rb'^X-Case: (\S+)$', data, re.M)
            if m:
                cases_got2[m.group(1).decode()] = cases_got2.get(m.group(1).decode(), 0) + 1
        R.check('hostile: no duplicate after the second run', cases_got2 == cases_got, cases_got2)


def limits_and_loops(inst, fetch, port):
    """A message over maxsize stays on the server and is said once; a Delivered-To loop is not injected."""
    md = inst.maildir('demo')
    for n in os.listdir(os.path.join(md, 'new')) + os.listdir(os.path.join(md, 'cur')):
        pass
    big = test_message('big', 0) + b'B' * 20000 + b'\n'
    loop = b'Delivered-To: ' + RCPT.encode() + b'\n' + test_message('loop', 0)
    rp = b'Return-Path: <bounce-me@example.org>\n' + test_message('rp', 0)
    pop3inst.put_message(md, '1700000300.M1P1.big', big)
    pop3inst.put_message(md, '1700000301.M1P1.loop', loop)
    pop3inst.put_message(md, '1700000302.M1P1.rp', rp)
    fetch.accounts([account('limits', port, 'demo', 'demo', 'plain', 'delete', 'maxsize=10000')])
    rc, log, err = fetch.run()
    msgs = [d for d in log if d['event'] == 'fetch' and d.get('account') == 'limits']
    res = sorted(d.get('result') for d in msgs)
    R.check('size limit and loop: one skipped, one refused, one fetched', res == ['fetched', 'refused', 'skipped'], log)
    R.check('size limit: said in the log', any(d.get('result') == 'skipped' and 'size limit' in d.get('reason', '')
                                               for d in msgs), msgs)
    R.check('loop: said in the log', any(d.get('result') == 'refused' and 'loop' in d.get('reason', '') for d in msgs), msgs)
    fetched = [d for d in msgs if d.get('result') == 'fetched']
    R.check('envelope sender from Return-Path', fetched and fetched[0].get('from') == 'bounce-me@example.org', fetched)
    rc, log, err = fetch.run()
    msgs = [d for d in log if d['event'] == 'fetch' and d.get('account') == 'limits']
    R.check('size limit and loop: said once (the next poll is silent)', not msgs, msgs)
    left = box(md)
    R.check('size limit and loop: both left on the server', len(left) == 2, left)
    for n in list(os.listdir(os.path.join(md, 'new'))):
        os.unlink(os.path.join(md, 'new', n))
    for n in list(os.listdir(os.path.join(md, 'cur'))):
        os.unlink(os.path.join(md, 'cur', n))


def crash_test(inst, fetch, port):
    md = inst.maildir('demo')
    for n in list(os.listdir(os.path.join(md, 'new'))) + list(os.listdir(os.path.join(md, 'cur'))):
        pass
    tags = ['crash-%d' % i for i in range(CRASH_MESSAGES)]
    names = {}
    for i, t in enumerate(tags):
        names[t] = '%d.M%dP1.crash' % (1700001000 + i, i)
        pop3inst.put_message(md, names[t], b'From: c@example.org\nSubject: crash %d\nX-Seq: %s\n\nbody %d\n' % (i, t.encode(), i))
    fetch.accounts([account('crash', port, 'demo', 'demo', 'plain', 'delete')])
    rng = random.Random(int(os.environ.get('FETCH_CRASH_SEED', str(os.getpid()))))
    kills = 0
    violations = []
    t0 = time.monotonic()
    while kills < CRASH_KILLS and time.monotonic() - t0 < 60:
        p = fetch.spawn()
        time.sleep(rng.uniform(0.02, 0.5))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        # none deleted from the server before it is queued: what is gone from the server box
        # is delivered or in the queue
        on_server = set(n.split(':')[0] for n in box(md))
        gone = [t for t in tags if names[t] not in on_server]
        if gone:
            have = set(seqs(inst)) | queued_seqs(inst)
            lost = [t for t in gone if t not in have]
            if lost:
                violations.append(lost[:5])
        if not on_server:
            break
    # then polls without kills until the box is empty
    for _ in range(5):
        if not box(md):
            break
        fetch.run(timeout=120)
    el = time.monotonic() - t0
    inst.wait_queue_empty(60)
    got = seqs(inst)
    counts = {}
    for t in got:
        if t.startswith('crash-'):
            counts[t] = counts.get(t, 0) + 1
    missing = [t for t in tags if t not in counts]
    dups = sum(n - 1 for n in counts.values())
    info('crash test: %d messages, %d SIGKILLs, %d duplicates, %.1f s' % (CRASH_MESSAGES, kills, dups, el))
    print('crash test: duplicates %d (kills %d)' % (dups, kills))
    R.check('crash: >= %d SIGKILLs' % CRASH_KILLS, kills >= CRASH_KILLS, 'only %d' % kills)
    R.check('crash: every message delivered at least once', not missing, '%d missing: %s' % (len(missing), missing[:5]))
    R.check('crash: none deleted from the server before it was queued', not violations, violations[:3])
    R.check('crash: duplicates at most the messages in flight (1 per kill)', dups <= kills, '%d > %d' % (dups, kills))
    R.check('crash: the server box is empty at the end', not box(md), '%d left' % len(box(md)))


def queued_seqs(inst):
    out = set()
    mess = inst.path('queue', 'mess')
    for root, dirs, files in os.walk(mess):
        for f in files:
            try:
                data = mrinst.read_file(os.path.join(root, f))
            except OSError:
                continue
            m = re.search(rb'^X-Seq: (\S+)$', data, re.M)
            if m:
                out.add(m.group(1).decode())
    return out


def setup_and_modes(inst):
    env = mrinst._make_env()
    env['POP3_PORT'] = str(free_port())
    r = subprocess.run(['bash', os.path.join(mrinst.CHECKOUT, 'lib/sh/setup.sh'), inst.home, inst.build], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    R.check('setup.sh with control/fetchaccounts', r.returncode == 0, (r.stdout + r.stderr)[-400:])
    for sup in ('service', 'runit'):
        p = inst.path(sup, 'fetch', 'run')
        run = mrinst.read_file(p).decode() if os.path.exists(p) else ''
        R.check('setup writes %s/fetch/run' % sup, 'mailroom-fetch' in run and (not IS_ROOT or 'setuidgid mrfetch' in run),
                run)
    if IS_ROOT:
        uid = pwd.getpwnam('mrfetch').pw_uid
        st = os.stat(inst.path('control', 'fetchaccounts'))
        R.check('control/fetchaccounts: mrfetch 0600', st.st_uid == uid and st.st_mode & 0o777 == 0o600,
                '%d %o' % (st.st_uid, st.st_mode & 0o777))
        st = os.stat(inst.path('fetch'))
        R.check('fetch/: mrfetch 0700', st.st_uid == uid and st.st_mode & 0o777 == 0o700,
                '%d %o' % (st.st_uid, st.st_mode & 0o777))
        r = subprocess.run(['setuidgid', 'mrsmtpd', 'cat', inst.path('control', 'fetchaccounts')],
                           capture_output=True, timeout=10)
        R.check('control/fetchaccounts: another role cannot read it', r.returncode != 0, r.stdout[:100])
        r = subprocess.run([inst.bin('mailroom-fetch'), '-1'], cwd=inst.home, capture_output=True, timeout=10)
        R.check('mailroom-fetch refuses to run as root', r.returncode == 100 and b'root' in r.stderr, r.stderr)


def no_service_without_accounts(inst):
    R.check('no service/fetch before control/fetchaccounts exists', not os.path.exists(inst.path('service', 'fetch')),
            'service/fetch exists')


def bad_accounts(inst, fetch, port):
    fetch.accounts(['name=x server=192.0.2.1 tls=plain user=u pass=p rcpt=%s' % RCPT,
                    'name=y server=127.0.0.1 user=u rcpt=%s' % RCPT,
                    'name=../z server=127.0.0.1 tls=plain user=u pass=p rcpt=%s' % RCPT,
                    'name=w server=127.0.0.1 tls=plain user=u pass=p rcpt=%s bogus=1' % RCPT])
    rc, log, err = fetch.run()
    R.check('bad accounts file: each line refused with its reason, nothing polled',
            rc == 100 and 'only to a loopback' in err and 'pass=' in err and 'name=' in err and 'unknown key' in err
            and not log, err)


def report(inst):
    r = subprocess.run([inst.bin('mailroom-report'), inst.path('fetch.log')], capture_output=True, timeout=30)
    out = r.stdout.decode(errors='replace')
    R.check('mailroom-report counts fetched/skipped/refused/failed', r.returncode == 0 and 'fetched' in out
            and re.search(r'fetched[^\n]*[1-9]', out) is not None, out[-800:])
    r = subprocess.run([inst.bin('mailroom-report'), '--json', inst.path('fetch.log')], capture_output=True, timeout=30)
    R.check('mailroom-report --json has the fetch counts', r.returncode == 0 and b'"fetch"' in r.stdout, r.stdout[-400:])


def main():
    if not shutil.which('dovecot'):
        R.fail('dovecot', 'dovecot is not installed (Debian package dovecot-pop3d, lib/sh/deps.sh)')
    tmp = tempfile.mkdtemp(prefix='mrfetch-ca.', dir='/tmp')
    os.chmod(tmp, 0o755)
    try:
        cakey, capem = make_ca(tmp, 'ca')
        _, otherpem = make_ca(tmp, 'other')
        key, pem = make_cert(tmp, cakey, capem)
        for f in (capem, otherpem, pem):
            os.chmod(f, 0o644)
        with mrinst.Instance(prefix='mrfetch.') as inst, pop3inst.Servers() as srv:
            no_service_without_accounts(inst)
            inst.add_mailbox('fetched')
            inst.start()
            fetch = Fetch(inst)
            fetch.accounts([account('first', 1, 'u', 'p')])
            setup_and_modes(inst)
            shutil.copy(pem, inst.path('control', 'servercert.pem'))
            shutil.copy(key, inst.path('control', 'serverkey.pem'))
            os.chmod(inst.path('control', 'serverkey.pem'), 0o600)
            # mailroom's own pop3d: plain, STLS (tlsd), POP3S (tlsd -i)
            md = inst.maildir('demo')
            tlsd = [inst.bin('mailroom-tlsd')]
            if IS_ROOT:
                u, g = pop3inst.user_ids('mrtlsd')
                tlsd += ['-u', str(u), '-g', str(g)]
            chain = [inst.bin('mailroom-popup'), 'localhost', inst.bin('mailroom-checkpassword'),
                     inst.bin('mailroom-pop3d'), 'Maildir']
            p_plain, p_stls, p_pops = free_port(), free_port(), free_port()
            srv.start(['tcpserver', '-R', '-H', '-l0', '127.0.0.1', str(p_plain)] + chain, p_plain, inst.path('pop3.log'))
            srv.start(['tcpserver', '-R', '-H', '-l0', '127.0.0.1', str(p_stls)] + tlsd + chain, p_stls,
                      inst.path('stls.log'))
            srv.start(['tcpserver', '-R', '-H', '-l0', '127.0.0.1', str(p_pops)] + tlsd + ['-i'] + chain, p_pops,
                      inst.path('pop3s.log'))

            def mr_put(name, data):
                pop3inst.put_message(md, name, data)

            def mr_count():
                return len(box(md))

            R.run('bad accounts', bad_accounts, inst, fetch, p_plain)
            R.run('mailroom pop3d plain', combo, inst, fetch, 'mr-plain', p_plain, 'demo', 'demo', 'plain', '', mr_put,
                  mr_count, 'mailroom pop3d plain')
            R.run('mailroom pop3d STLS', combo, inst, fetch, 'mr-stls', p_stls, 'demo', 'demo', 'stls', 'ca=' + capem,
                  mr_put, mr_count, 'mailroom pop3d STLS')
            R.run('mailroom pop3d POP3S', combo, inst, fetch, 'mr-pop3s', p_pops, 'demo', 'demo', 'pop3s',
                  'ca=' + capem, mr_put, mr_count, 'mailroom pop3d POP3S')
            dvd = tempfile.mkdtemp(prefix='mrfetch-dovecot.', dir='/tmp')
            try:
                dv = Dovecot(dvd, key, pem)
                dv.start(srv)
                R.run('dovecot plain', combo, inst, fetch, 'dv-plain', dv.port, 'bob', 'secret', 'plain', '', dv.put,
                      dv.count, 'dovecot plain')
                R.run('dovecot STLS', combo, inst, fetch, 'dv-stls', dv.port, 'bob', 'secret', 'stls', 'ca=' + capem,
                      dv.put, dv.count, 'dovecot STLS')
                R.run('dovecot POP3S', combo, inst, fetch, 'dv-pop3s', dv.sport, 'bob', 'secret', 'pop3s',
                      'ca=' + capem, dv.put, dv.count, 'dovecot POP3S')
                R.run('wrong password and certificate', wrong_password_and_cert, inst, fetch, dv, tmp, capem, otherpem)
                srv.stop(dv.proc)
                R.check('dovecot stopped', dv.proc.poll() is not None, 'still running')
            finally:
                shutil.rmtree(dvd, ignore_errors=True)
            R.run('limits and loops', limits_and_loops, inst, fetch, p_plain)
            R.run('hostile server', hostile_run, inst, fetch, p_plain)
            R.run('crash', crash_test, inst, fetch, p_plain)
            R.run('report', report, inst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    R.exit()


main()
