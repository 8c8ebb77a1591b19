#!/usr/bin/env python3
"""Smarthost AUTH (issue 16), end to end: a sending instance (sendmail -> mailroom-send ->
mailroom-rspawn -> mailroom-remote) relays through a second, receiving mailroom instance whose
submission services require AUTH: mailroom-tlsd + mailroom-smtpd with MAILROOM_SUBMISSION (the
service lib/sh/setup.d/tls.sh writes: STARTTLS, then AUTH, as on 587) and the same under
`mailroom-tlsd -i` (implicit TLS, as on 465), with a certificate for 127.0.0.1 signed by a test
CA that the sender's mailroom-remote is given in control/tlscafile.

- `far.test:127.0.0.1:SUB auth=good` (STARTTLS, AUTH PLAIN): delivered into the receiver's
  Maildir, its Received line says ESMTPSA and the user;
- `imp.test:127.0.0.1:SMTPS smtps auth=good` (implicit TLS): delivered;
- `wrong.test:... auth=bad`, sent right after far.test while a kept, authenticated session to the
  same relay is open: deferred (the kept session is keyed on the credentials), the log and
  mailroom-qread say the relay refused the credentials (535, 4.7.8); bounced at the queue
  lifetime, and the bounce says why;
- never in clear and never to an unchecked certificate: a python sink (TESTS/lib/smtpfake.py)
  offering AUTH without STARTTLS, and one whose certificate is not from the test CA: deferred,
  and not one AUTH command reaches them;
- a route naming credentials that control/smtproutes-auth lacks: deferred, the log says so;
- the passwords (as written, in base64, and the AUTH PLAIN blob) never appear in any log file
  of either instance, the bounce, qread's output, or /proc/*/cmdline and /proc/*/environ while
  the deliveries run (a thread reads them all the time);
- control/smtproutes-auth readable by others is refused (its routes defer, the log says why).
Root only (role users, tcpserver as root for mailroom-tlsd): SKIP otherwise.
"""

import base64
import glob
import os
import random
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpfake  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, read_file, wait_until  # noqa: E402
from smtpinst import free_port  # noqa: E402

R = mrinst.Results()
GOOD = 'S3cr3t-Pw:%d x' % random.randint(10 ** 8, 10 ** 9)   # a ':' and a blank, as passwords have
BAD = 'Wr0ngPw-%d' % random.randint(10 ** 8, 10 ** 9)
SECRETS = [GOOD, BAD] + [base64.b64encode(x.encode()).decode() for x in (GOOD, BAD)] + \
          [base64.b64encode(b'\0demo\0' + x.encode()).decode() for x in (GOOD, BAD)]


def openssl(args, cwd):
    r = subprocess.run(['openssl'] + args, cwd=cwd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError('openssl %s: %s' % (args[0], r.stderr.decode(errors='replace')[-500:]))


def make_pki(d):
    """A test CA, a certificate for 127.0.0.1 signed by it, and a self-signed one (not the CA's)."""
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
    openssl(['req', '-x509'] + ec + ['-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
                                     '-subj', '/CN=mailroom smarthost test CA %d' % random.randint(1, 10 ** 9)], d)
    openssl(['req'] + ec + ['-keyout', 'key.pem', '-out', 'req.csr', '-subj', '/CN=127.0.0.1'], d)
    with open(os.path.join(d, 'ext.cnf'), 'w') as f:
        f.write('subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
    openssl(['x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
             '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf'], d)
    openssl(['req', '-x509'] + ec + ['-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=127.0.0.1',
                                     '-addext', 'subjectAltName=IP:127.0.0.1'], d)
    return {k: os.path.join(d, v) for k, v in (('ca', 'ca.pem'), ('cert', 'cert.pem'), ('key', 'key.pem'),
                                                ('ocert', 'other.pem'), ('okey', 'other.key'))}


class ProcWatch(threading.Thread):
    """Reads every /proc/*/cmdline and environ until stopped; remembers where a secret was."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.hits, self.scans = [], 0

    def run(self):
        while not self.stopping.is_set():
            for p in glob.glob('/proc/[0-9]*'):
                for what in ('cmdline', 'environ'):
                    try:
                        with open(os.path.join(p, what), 'rb') as f:
                            data = f.read().decode(errors='replace')
                    except OSError:
                        continue
                    for s in SECRETS:
                        if s in data:
                            self.hits.append((p, what))
            self.scans += 1
            time.sleep(0.02)

    def stop(self):
        self.stopping.set()
        self.join(10)


def qread(inst):
    r = subprocess.run([inst.bin('mailroom-qread')], cwd=inst.home, capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return r.stdout.decode(errors='replace') + r.stderr.decode(errors='replace')


def start_receiver(recv, pki, sub, smtps):
    shutil.copy(pki['cert'], recv.path('control', 'servercert.pem'))
    shutil.copy(pki['key'], recv.path('control', 'serverkey.pem'))
    os.chmod(recv.path('control', 'servercert.pem'), 0o644)
    os.chmod(recv.path('control', 'serverkey.pem'), 0o600)
    recv.control('locals', 'localhost\nfar.test\nimp.test\nwrong.test')
    recv.control('rcpthosts', 'localhost\nfar.test\nimp.test\nwrong.test')
    env = mrinst._make_env()
    env['SUBMISSION_PORT'] = str(sub)
    env['POP3S_PORT'] = str(free_port())
    env['SMTP_PORT'] = str(free_port())
    r = subprocess.run(['bash', os.path.join(mrinst.CHECKOUT, 'lib/sh/setup.sh'), recv.home, recv.build],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError('setup.sh: %s' % (r.stdout + r.stderr).decode(errors='replace')[-1500:])
    # setup keeps an admin's certificate: ours
    assert read_file(recv.path('control', 'servercert.pem')) == read_file(pki['cert'])
    p = subprocess.run([recv.bin('mailroom-passwd'), 'change', 'demo'], cwd=recv.home, input=(GOOD + '\n').encode(),
                       capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError('mailroom-passwd: %s' % p.stderr.decode(errors='replace'))
    run = open(recv.path('service', 'submission', 'run')).read()
    # the same service with implicit TLS, as an admin writes it for 465
    imp = run.replace('127.0.0.1 %d ' % sub, '127.0.0.1 %d ' % smtps).replace('/bin/mailroom-tlsd ', '/bin/mailroom-tlsd -i ')
    assert imp != run and ' -i ' in imp
    os.makedirs(recv.path('service', 'submissions'), exist_ok=True)
    with open(recv.path('service', 'submissions', 'run'), 'w') as f:
        f.write(imp)
    os.chmod(recv.path('service', 'submissions', 'run'), 0o755)
    recv.start()
    recv.start_daemon(['sh', recv.path('service', 'submission', 'run')], sub, logname='submission.log')
    recv.start_daemon(['sh', recv.path('service', 'submissions', 'run')], smtps, logname='submissions.log')


def delivered(recv, before, word, timeout=30):
    def f():
        for p in set(recv.maildir_files()) - before:
            d = read_file(p)
            if word in d:
                return d
        return None
    return wait_until(f, timeout)


def t_deliver(inst, recv):
    before = set(recv.maildir_files())
    r = inst.sendmail(['-f', 'alice@localhost', 'demo@far.test'], b'Subject: via smarthost\n\nmarker-587\n')
    d = delivered(recv, before, b'marker-587')
    R.check('587 (STARTTLS + AUTH): delivered into the receiver\'s Maildir', r.returncode == 0 and d,
            inst.log()[-800:])
    if d:
        R.check('587: the receiver\'s Received line says ESMTPSA, TLS and the user',
                b'with ESMTPSA (TLSv1.' in d and b'authenticated as demo' in d, d[:400])
    # right after: the wrong credentials to the same relay, while the kept session is open
    r = inst.sendmail(['-f', 'alice@localhost', 'demo@wrong.test'], b'Subject: wrong pw\n\nmarker-wrong\n')
    ok = wait_until(lambda: 'demo@wrong.test' in inst.log() and '4.7.8' in inst.log(), 30)
    R.check('wrong password: deferred, the log says the relay refused the credentials (535, 4.7.8)',
            ok and 'refused the credentials' in inst.log(), inst.log()[-800:])
    R.check('wrong password: not delivered over the kept session of other credentials',
            not delivered(recv, before, b'marker-wrong', timeout=1), '')
    q = qread(inst)
    R.check('wrong password: stays in the queue, qread says why', 'demo@wrong.test' in q and '4.7.8' in q, q[-600:])

    before = set(recv.maildir_files())
    r = inst.sendmail(['-f', 'alice@localhost', 'demo@imp.test'], b'Subject: via 465\n\nmarker-465\n')
    d = delivered(recv, before, b'marker-465')
    R.check('465 (implicit TLS + AUTH): delivered', r.returncode == 0 and d, inst.log()[-800:])
    if d:
        R.check('465: ESMTPSA in the Received line', b'with ESMTPSA' in d and b'authenticated as demo' in d, d[:400])


def t_never_clear(inst, clear, untrusted):
    for dom, srv, what in (('clear.test', clear, 'a relay without STARTTLS'),
                           ('untrusted.test', untrusted, 'a certificate not from the CA')):
        inst.sendmail(['-f', 'alice@localhost', 'x@' + dom], b'Subject: no\n\nnever\n')
        ok = wait_until(lambda: ('x@' + dom) in qread(inst) and srv.sessions, 30)
        cmds = [c for s in srv.sessions for c in s['cmds']]
        R.check('%s: deferred, and no AUTH (nor MAIL) ever sent to it' % what,
                ok and not any(c.upper().startswith((b'AUTH', b'MAIL')) for c in cmds), cmds)
    time.sleep(0.3)
    q = qread(inst)
    R.check('no STARTTLS: qread says TLS is required for the route (4.7.10)',
            'TLS is required for this route' in q and '4.7.10' in q, q[-800:])
    inst.sendmail(['-f', 'alice@localhost', 'y@nocred.test'], b'Subject: no cred\n\nnocred\n')
    ok = wait_until(lambda: 'has no credentials named missing' in inst.log(), 20)
    R.check('a route naming credentials the file lacks: deferred, the log says which', ok, inst.log()[-600:])


def t_bounce(inst):
    before = set(inst.maildir_files('alice'))
    inst.control('queuelifetime', 1)
    inst.send.send_signal(1)
    ok = wait_until(lambda: [p for p in set(inst.maildir_files('alice')) - before if b'demo@wrong.test' in read_file(p)],
                    40)
    R.check('wrong password: bounced at the queue lifetime, the bounce says the credentials were refused',
            ok and b'refused the credentials' in read_file(ok[0]), inst.log()[-500:])
    return ok


def t_secrets(inst, recv, watch):
    files = []
    for home in (inst.home, recv.home):
        for dirpath, _, names in os.walk(home):
            if '/.build' in dirpath or '/control' in dirpath or '/users' in dirpath:
                continue
            files += [os.path.join(dirpath, n) for n in names if n.endswith('.log') or '/log/' in dirpath or
                      '/Maildir/' in dirpath or '/queue/' in dirpath]
    hits = []
    files = [p for p in files if os.path.isfile(p) and stat.S_ISREG(os.lstat(p).st_mode)]  # not the trigger FIFO
    for p in files:
        try:
            d = read_file(p).decode(errors='replace')
        except OSError:
            continue
        hits += [(p, s) for s in SECRETS if s in d]
    R.check('no password in any log file, queue file, bounce or Maildir of either instance (%d files)' % len(files),
            not hits and len(files) > 5, hits[:5])
    q = qread(inst)
    R.check('no password in qread\'s output', not any(s in q for s in SECRETS), '')
    watch.stop()
    R.check('no password in /proc/*/cmdline or environ during the deliveries (%d scans)' % watch.scans,
            not watch.hits and watch.scans > 10, watch.hits[:5])


def t_mode(inst):
    # a credentials file others can read: refused at the next start, its routes defer
    os.chmod(inst.path('control', 'smtproutes-auth'), 0o644)
    inst.stop()
    inst.start(writer=False)
    inst.sendmail(['-f', 'alice@localhost', 'z@far.test'], b'Subject: mode\n\nmode\n')
    ok = wait_until(lambda: 'readable or writable by others' in inst.log(), 20)
    R.check('control/smtproutes-auth mode 0644: refused, the route defers and the log says why', ok,
            inst.log()[-500:])


def main():
    if not IS_ROOT:
        R.skip('smarthost', 'needs root (role users, mailroom-tlsd under tcpserver as root)')
        R.exit()
    tmp = tempfile.mkdtemp(prefix='mrsmhpki.')
    clear = untrusted = None
    watch = ProcWatch()
    try:
        pki = make_pki(tmp)
        sub, smtps, pclear, puntr = free_port(), free_port(), free_port(), free_port()
        with smtpinst.SmtpInstance('mrsmhr.') as recv, mrinst.Instance('mrsmhs.') as inst:
            start_receiver(recv, pki, sub, smtps)
            clear = smtpfake.Server('127.0.0.1', pclear, ehlo=['PIPELINING', 'AUTH PLAIN LOGIN']).start()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(pki['ocert'], pki['okey'])
            untrusted = smtpfake.Server('127.0.0.1', puntr, ehlo=['STARTTLS', 'AUTH PLAIN LOGIN'], tls=ctx).start()
            inst.add_mailbox('alice')
            inst.control('retrybase', 1)
            inst.control('retrymax', 2)
            inst.control('remotecacheidle', 30)
            shutil.copy(pki['ca'], inst.path('control', 'testca.pem'))
            os.chmod(inst.path('control', 'testca.pem'), 0o644)
            inst.control('tlscafile', inst.path('control', 'testca.pem'))
            inst.control('smtproutes', '\n'.join([
                'far.test:127.0.0.1:%d auth=good' % sub,
                'wrong.test:127.0.0.1:%d auth=bad' % sub,
                'imp.test:127.0.0.1:%d smtps auth=good' % smtps,
                'clear.test:127.0.0.1:%d auth=good' % pclear,
                'untrusted.test:127.0.0.1:%d auth=good' % puntr,
                'nocred.test:127.0.0.1:%d auth=missing' % sub,
            ]) + '\n')
            p = inst.path('control', 'smtproutes-auth')
            with open(p, 'w') as f:
                f.write('# smarthost credentials\ngood:demo:%s\nbad:demo:%s\n' % (GOOD, BAD))
            os.chmod(p, 0o600)
            watch.start()
            inst.start()
            R.run('deliver', t_deliver, inst, recv)
            R.run('never in clear', t_never_clear, inst, clear, untrusted)
            R.run('bounce', t_bounce, inst)
            R.run('secrets', t_secrets, inst, recv, watch)
            R.run('mode', t_mode, inst)
    finally:
        if watch.is_alive():
            watch.stop()
        for s in (clear, untrusted):
            if s:
                s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    R.exit()


main()
