#!/usr/bin/env python3
"""TLS and submission for mailroom-smtpd (issue 9), through mailroom-tlsd under tcpserver:
STARTTLS with swaks, curl and openssl s_client (TLS 1.3; TLS 1.1 refused); the session
reset and the pipelined-command injection (CVE-2011-0411) refused; the key file's mode and
who runs what; the submission service that lib/sh/setup.d/tls.sh writes: AUTH PLAIN and
LOGIN with swaks after STARTTLS, relaying to a remote domain only after AUTH, AUTH refused
before TLS, a wrong password refused after the delay, the cap on failures, the
authenticated name and the TLS version in the Received line; the AUTH verifier runs as
mrauth and never as root, mrsmtpd cannot open users/password.cdb, mailroom-checkpassword's
verify-only mode (MAILROOM_VERIFYONLY) runs nothing, and mailroom-tlsd as root refuses -a
without -v/-V.
"""

import grp
import os
import pwd
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, info, read_file  # noqa: E402
from smtpinst import free_port  # noqa: E402

R = mrinst.Results()
MSG = b'From: tester@example.org\r\nTo: demo@localhost\r\nSubject: tls %s\r\n\r\nover TLS\r\n'


def ids(name):
    pw = pwd.getpwnam(name)
    return ['%d' % pw.pw_uid, '%d' % pw.pw_gid]


def tlsd_argv(inst, extra=()):
    argv = [inst.bin('mailroom-tlsd')]
    if IS_ROOT:
        u, g = ids('mrtlsd')
        su, sg = ids('mrsmtpd')
        argv += ['-u', u, '-g', g, '-U', su, '-G', sg]
    return argv + list(extra) + [inst.bin('mailroom-smtpd')]


def cafile(inst):
    return inst.path('control', 'servercert.pem')


def new_files(inst, before, n=1, timeout=30):
    inst.wait_for(len(before) + n, timeout)
    return sorted(set(inst.maildir_files()) - before)


def tls_client(sock):
    ctx = ssl.create_default_context(cafile=None)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(sock, server_hostname='localhost')


def test_setup(inst):
    key = inst.path('control', 'serverkey.pem')
    R.check('setup: a certificate and a key', os.path.exists(key) and os.path.exists(cafile(inst)))
    st = os.stat(key)
    R.check('setup: the key is 0600', (st.st_mode & 0o777) == 0o600, oct(st.st_mode))
    if IS_ROOT:
        R.check('setup: the key is root\'s', st.st_uid == 0, st.st_uid)


def test_swaks(inst, port):
    if not shutil.which('swaks'):
        R.skip('swaks --tls', 'swaks is not installed')
        return
    before = set(inst.maildir_files())
    r = subprocess.run(['swaks', '--tls', '--server', '127.0.0.1', '--port', str(port), '--to', 'demo@localhost',
                        '--from', 'tester@example.org', '--helo', 'swaks.example', '--timeout', '30',
                        '--header', 'Subject: swaks tls'], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    out = r.stdout.decode(errors='replace')
    R.check('swaks --tls: exit 0', r.returncode == 0, out[-600:])
    R.check('swaks --tls: STARTTLS offered and taken', '220 2.0.0 Ready to start TLS' in out and 'TLS started' in out, out[-600:])
    new = new_files(inst, before)
    if R.check('swaks --tls: delivered', len(new) == 1, 'got %d' % len(new)):
        data = read_file(new[0])
        m = re.search(rb'with ESMTPS \((TLSv1\.[23]) [A-Z0-9_-]+\);', data)
        R.check('swaks --tls: Received says ESMTPS and the TLS version', m is not None, data[:400])


def test_curl(inst, port):
    if not shutil.which('curl'):
        R.skip('curl --ssl-reqd', 'curl is not installed')
        return
    before = set(inst.maildir_files())
    f = inst.path('curl-tls.msg')
    with open(f, 'wb') as fh:
        fh.write(MSG % b'curl')
    r = subprocess.run(['curl', '-sS', '--ssl-reqd', '--cacert', cafile(inst), '--max-time', '60',
                        'smtp://127.0.0.1:%d' % port, '--mail-from', 'tester@example.org',
                        '--mail-rcpt', 'demo@localhost', '-T', f], capture_output=True, timeout=90,
                       stdin=subprocess.DEVNULL)
    R.check('curl --ssl-reqd smtp://: exit 0 (certificate verified against the instance\'s)', r.returncode == 0,
            r.stderr.decode(errors='replace'))
    new = new_files(inst, before)
    R.check('curl --ssl-reqd: delivered', len(new) == 1 and b'over TLS' in read_file(new[0]), 'got %d' % len(new))


def test_openssl(inst, port):
    if not shutil.which('openssl'):
        R.skip('openssl s_client', 'openssl is not installed')
        return
    r = subprocess.run(['openssl', 's_client', '-starttls', 'smtp', '-connect', '127.0.0.1:%d' % port,
                        '-CAfile', cafile(inst), '-verify_return_error'], input=b'QUIT\r\n',
                       capture_output=True, timeout=60)
    out = r.stdout.decode(errors='replace')
    R.check('openssl s_client -starttls smtp: TLS 1.3', 'New, TLSv1.3' in out or 'Protocol  : TLSv1.3' in out, out[-800:])
    R.check('openssl s_client: certificate verified', 'Verify return code: 0 (ok)' in out, out[-400:])
    r = subprocess.run(['openssl', 's_client', '-starttls', 'smtp', '-connect', '127.0.0.1:%d' % port, '-tls1_1'],
                       input=b'QUIT\r\n', capture_output=True, timeout=60)
    out = (r.stdout + r.stderr).decode(errors='replace')
    R.check('openssl s_client -tls1_1: refused (TLS 1.2 and 1.3 only)', 'Cipher is (NONE)' in out or r.returncode != 0
            and 'TLSv1.1' not in re.findall(r'Protocol *: *(\S+)', out), out[-400:])


def starttls(c):
    """EHLO, STARTTLS on an smtpinst.Client; returns the TLS-wrapped client."""
    code, text = c.cmd('EHLO a.example')
    assert code == 250 and 'STARTTLS' in text, text
    code, text = c.cmd('STARTTLS')
    assert code == 220, (code, text)
    c.sock = tls_client(c.sock)
    return c


def test_injection(inst, port):
    # one write: STARTTLS and commands after it, more than mailroom-smtpd's 4 KiB buffer,
    # so some wait in its buffer and some in the pipe from mailroom-tlsd
    c = inst.connect(port)
    try:
        c.reply()
        code, text = c.cmd('EHLO a.example')
        c.send(b'STARTTLS\r\n' + b'MAIL FROM:<injected@example.org>\r\n' * 300)
        code, text = c.reply()
        R.check('injection: 220 to STARTTLS', code == 220, (code, text))
        c.sock = tls_client(c.sock)
        c.buf = b''
        code, text = c.cmd('EHLO b.example')
        R.check('injection: the first reply under TLS answers EHLO (no reply to a pipelined MAIL)',
                code == 250 and len(text) > 3 and 'PIPELINING' in text and not any('Sender' in t for t in text),
                (code, text))
        R.check('injection: STARTTLS not offered again, AUTH not without a verifier',
                not any('STARTTLS' in t for t in text) and not any(t.startswith('AUTH') for t in text), text)
        code, text = c.cmd('RCPT TO:<demo@localhost>')
        R.check('injection: the pipelined MAIL was not executed (RCPT gets 503 MAIL first)', code == 503, (code, text))
        code, text = c.cmd('STARTTLS')
        R.check('injection: STARTTLS again is 503', code == 503, (code, text))
        code, text = c.cmd('QUIT')
        R.check('injection: QUIT', code == 221, (code, text))
    finally:
        c.close()
    log = inst.service_log() if hasattr(inst, 'service_log') else ''
    info('service log tail:', log[-300:].replace('\n', ' | '))


def test_reset(inst, port):
    c = inst.connect(port)
    try:
        c.reply()
        c.cmd('EHLO a.example')
        code, _ = c.cmd('MAIL FROM:<x@example.org>')
        c.sock.sendall(b'STARTTLS\r\n')
        code, text = c.reply()
        R.check('reset: STARTTLS inside a transaction is accepted', code == 220, (code, text))
        c.sock = tls_client(c.sock)
        code, text = c.cmd('MAIL FROM:<x@example.org>')
        R.check('reset: after STARTTLS the HELO is forgotten (503)', code == 503, (code, text))
        c.cmd('EHLO a.example')
        code, text = c.cmd('RCPT TO:<demo@localhost>')
        R.check('reset: the old transaction is gone', code == 503, (code, text))
        c.cmd('QUIT')
    finally:
        c.close()
    # a client that says STARTTLS and then speaks clear text: the handshake fails, the
    # session ends, and nothing it sent is a command
    c = inst.connect(port)
    try:
        c.reply()
        c.cmd('EHLO a.example')
        code, _ = c.cmd('STARTTLS')
        c.send(b'MAIL FROM:<clear@example.org>\r\nRCPT TO:<demo@localhost>\r\n')
        R.check('clear text after STARTTLS: the connection ends', c.closed(20))
        R.check('clear text after STARTTLS: no reply to those commands', b'250' not in c.buf, c.buf[:200])
    finally:
        c.close()


def test_noctl(inst):
    # without mailroom-tlsd: STARTTLS and AUTH are not implemented
    with inst.session() as s:
        code, text = s.cmd('EHLO a.example')
        R.check('plain smtpd: no STARTTLS, no AUTH in EHLO', not any('STARTTLS' in t or t.startswith('AUTH') for t in text), text)
        code, _ = s.cmd('STARTTLS')
        R.check('plain smtpd: STARTTLS 502', code == 502, code)
        code, _ = s.cmd('AUTH PLAIN AGRlbW8AZGVtbw==')
        R.check('plain smtpd: AUTH 502', code == 502, code)


def setup_tls_services(inst, sub, pops):
    env = mrinst._make_env()
    env['SUBMISSION_PORT'] = str(sub)
    env['POP3S_PORT'] = str(pops)
    env['SMTP_PORT'] = str(inst.service_port or free_port())
    r = subprocess.run(['bash', os.path.join(mrinst.CHECKOUT, 'lib/sh/setup.sh'), inst.home, inst.build],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError('setup.sh: %s' % (r.stdout + r.stderr).decode(errors='replace')[-1500:])


def swaks_auth(port, mech, user, password, to, extra=()):
    r = subprocess.run(['swaks', '--tls', '--server', '127.0.0.1', '--port', str(port), '--auth', mech,
                        '--auth-user', user, '--auth-password', password, '--to', to,
                        '--from', 'demo@localhost', '--timeout', '30', '--header', 'Subject: submit ' + mech]
                       + list(extra), capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(errors='replace')


def queued_for(inst, qid, rcpt, timeout=10):
    """True when the message qid is in the queue (or send's log) with rcpt."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in ('new', 'mess'):
            p = inst.path('queue', d, qid)
            if os.path.exists(p) and rcpt.encode() in read_file(p):
                return True
        if qid in inst.log() and rcpt in inst.log():
            return True
        time.sleep(0.1)
    return False


def test_submission(inst, sub):
    if not shutil.which('swaks'):
        R.skip('submission', 'swaks is not installed')
        return
    R.check('submission: banner written', os.path.exists(inst.path('service', 'submission', 'banner')))
    for mech in ('PLAIN', 'LOGIN'):
        rc, out = swaks_auth(sub, mech, 'demo', 'demo', 'someone@remote.example')
        R.check('submission: swaks --tls --auth %s to a remote domain: accepted' % mech, rc == 0 and '235 2.7.0' in out,
                out[-700:])
        m = re.search(r'250 2\.0\.0 Ok: queued as ([0-9.]+)', out)
        R.check('submission: %s: queued for the remote recipient' % mech,
                m is not None and queued_for(inst, m.group(1), 'someone@remote.example'),
                (m.group(1) if m else out[-300:]))
    # the authenticated name and TLS in the Received line of a message to a local user
    before = set(inst.maildir_files())
    rc, out = swaks_auth(sub, 'PLAIN', 'demo', 'demo', 'demo@localhost')
    new = new_files(inst, before)
    if R.check('submission: local delivery', rc == 0 and len(new) == 1,
               (rc, len(new), [read_file(f)[:600] for f in new], out[-300:])):
        data = read_file(new[0])
        R.check('submission: Received says ESMTPSA, TLS and the user',
                re.search(rb'with ESMTPSA \(TLSv1\.[23] [A-Z0-9_-]+, authenticated as demo\);', data) is not None,
                data[:400])
    # no AUTH: refused; AUTH before TLS: refused
    c = inst.connect(sub)
    try:
        c.reply()
        code, text = c.cmd('EHLO a.example')
        R.check('submission: no AUTH offered before TLS', not any(t.startswith('AUTH') for t in text), text)
        code, text = c.cmd('AUTH PLAIN AGRlbW8AZGVtbw==')
        R.check('submission: AUTH before TLS refused (538)', code == 538, (code, text))
        code, text = c.cmd('MAIL FROM:<demo@localhost>')
        R.check('submission: MAIL before AUTH refused (530)', code == 530, (code, text))
        c.cmd('STARTTLS')
        c.sock = tls_client(c.sock)
        code, text = c.cmd('EHLO a.example')
        R.check('submission: AUTH PLAIN LOGIN offered under TLS', 'AUTH PLAIN LOGIN' in text, text)
        code, text = c.cmd('MAIL FROM:<demo@localhost>')
        R.check('submission: MAIL under TLS without AUTH refused (530)', code == 530, (code, text))
        t0 = time.monotonic()
        code, text = c.cmd('AUTH PLAIN AGRlbW8Ad3Jvbmc=', timeout=30)  # demo / wrong
        el = time.monotonic() - t0
        R.check('submission: wrong password refused (535)', code == 535, (code, text))
        R.check('submission: wrong password delayed (>= 1.5 s)', el >= 1.5, '%.2f s' % el)
        code, text = c.cmd('AUTH PLAIN AGRlbW8AZGVtbw==YQ==')
        R.check('submission: malformed base64 refused (501)', code == 501, (code, text))
        code, text = c.cmd('AUTH PLAIN AHJvb3QAZGVtbw==', timeout=30)  # root / demo
        R.check('submission: unknown user refused (535)', code == 535, (code, text))
        code, text = c.cmd('AUTH CRAM-MD5')
        R.check('submission: unknown mechanism (504)', code == 504, (code, text))
        code, text = c.cmd('AUTH LOGIN')
        code2, text2 = c.cmd('*')
        R.check('submission: LOGIN cancelled with * (334 then 501)', code == 334 and code2 == 501, (code, code2))
        code, text = c.cmd('AUTH PLAIN AGRlbW8Abm9wZQ==', timeout=30)
        R.check('submission: the third wrong password ends the session (421)', code == 421, (code, text))
        R.check('submission: closed after too many failures', c.closed(10))
    finally:
        c.close()
    # relaying after AUTH: RCPT to a remote domain without AUTH on the same port is refused
    c = inst.connect(sub)
    try:
        c.reply()
        c.cmd('EHLO a.example')
        c.cmd('STARTTLS')
        c.sock = tls_client(c.sock)
        c.cmd('EHLO a.example')
        code, text = c.cmd('AUTH LOGIN ZGVtbw==')  # initial response: the user name
        code2, text2 = c.cmd('ZGVtbw==', timeout=30)
        R.check('submission: AUTH LOGIN with an initial response', code == 334 and code2 == 235, (code, text, code2, text2))
        code, text = c.cmd('AUTH PLAIN AGRlbW8AZGVtbw==')
        R.check('submission: AUTH twice is 503', code == 503, (code, text))
        code, _ = c.cmd('MAIL FROM:<demo@localhost>')
        code2, _ = c.cmd('RCPT TO:<x@remote.example>')
        R.check('submission: after AUTH, MAIL and a remote RCPT are accepted', code == 250 and code2 == 250, (code, code2))
        c.cmd('QUIT')
    finally:
        c.close()


def test_who(inst, port):
    if not IS_ROOT:
        R.skip('processes: who runs what', 'needs root')
        return
    c = inst.connect(port)
    try:
        c.reply()
        starttls(c)
        c.cmd('EHLO a.example')
        tl = [p for p in inst.pids_of('mailroom-tlsd')] if hasattr(inst, 'pids_of') else []
        smt = []
        for d in os.listdir('/proc'):
            if not d.isdigit():
                continue
            exe = mrinst.proc_exe(int(d))
            if exe == inst.bin('mailroom-tlsd'):
                tl.append(int(d))
            elif exe == inst.bin('mailroom-smtpd'):
                smt.append(int(d))
        tlsd_uids = set(mrinst.proc_ids(p)[0] for p in set(tl))
        smtpd_uids = set(mrinst.proc_ids(p)[0] for p in smt)
        tu = pwd.getpwnam('mrtlsd').pw_uid
        su = pwd.getpwnam('mrsmtpd').pw_uid
        R.check('processes: mailroom-tlsd runs as mrtlsd', tlsd_uids == {(tu, tu, tu, tu)}, tlsd_uids)
        R.check('processes: mailroom-smtpd runs as mrsmtpd', smtpd_uids == {(su, su, su, su)}, smtpd_uids)
        for p in smt:
            fds = os.listdir('/proc/%d/fd' % p)
            keyed = [f for f in fds if os.readlink('/proc/%d/fd/%s' % (p, f)).endswith('serverkey.pem')]
            R.check('processes: mailroom-smtpd holds no key file', not keyed, keyed)
        c.cmd('QUIT')
    finally:
        c.close()


def proc_groups(pid):
    """Supplementary groups of a process, from /proc/PID/status."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('Groups:'):
                return set(int(x) for x in line.split()[1:])
    return None


def run_checkpw(inst, user, password, prefix=(), env_verify=True, prog=None):
    """mailroom-checkpassword with user\\0password\\0stamp\\0 on fd 3: (exit code, stderr)."""
    rec = user + b'\0' + password + b'\0<1.2@test>\0'
    r, w = os.pipe()
    os.write(w, rec)
    os.close(w)
    env = mrinst._make_env()
    env.pop('MAILROOM_VERIFYONLY', None)
    if env_verify:
        env['MAILROOM_VERIFYONLY'] = '1'
    # the record arrives on stdin, and the shell moves it to fd 3
    argv = list(prefix) + ['sh', '-c', 'exec 3<&0 </dev/null; exec "$@"', 'sh',
                           inst.bin('mailroom-checkpassword')] + (prog or [])
    try:
        p = subprocess.run(argv, env=env, stdin=r, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    finally:
        os.close(r)
    return p.returncode, p.stderr.decode(errors='replace')


def test_verify_only(inst):
    """mailroom-checkpassword's verify-only mode, as the verifier runs it (as mrauth under root)."""
    marker = inst.path('verify-only.ran')
    prog = ['/bin/sh', '-c', 'echo ran > %s' % marker]
    pre = []
    if IS_ROOT:
        au = pwd.getpwnam('mrauth')
        pre = inst.as_user(au.pw_uid, au.pw_gid)
    who = 'as mrauth' if IS_ROOT else 'as this user'
    rc, err = run_checkpw(inst, b'demo', b'demo', pre, prog=prog)
    R.check('verify-only %s: right password, exit 0' % who, rc == 0, (rc, err))
    rc, err = run_checkpw(inst, b'demo', b'wrong', pre, prog=prog)
    R.check('verify-only %s: wrong password, exit 1' % who, rc == 1, (rc, err))
    rc, err = run_checkpw(inst, b'nosuchuser', b'demo', pre)
    R.check('verify-only %s: unknown user, exit 1 (no program needed)' % who, rc == 1, (rc, err))
    rc, err = run_checkpw(inst, b'demo\xff/..', b'x' * 300, pre)
    R.check('verify-only %s: hostile name and overlong password, exit 1' % who, rc == 1, (rc, err))
    if IS_ROOT:
        # as root and verify-only: still runs nothing, switches to nobody
        rc, err = run_checkpw(inst, b'demo', b'demo', prog=prog)
        R.check('verify-only as root: right password, exit 0', rc == 0, (rc, err))
        # without the variable, as mrauth: the checkpassword interface as before, which a
        # non-root caller cannot use for another user (no switch): not a success
        rc, err = run_checkpw(inst, b'demo', b'demo', pre, prog=prog, env_verify=False)
        R.check('mrauth without MAILROOM_VERIFYONLY: no session for demo (exit != 0)', rc != 0, (rc, err))
        su = pwd.getpwnam('mrsmtpd')
        rc, err = run_checkpw(inst, b'demo', b'demo', inst.as_user(su.pw_uid, su.pw_gid))
        R.check('verify-only as mrsmtpd: cannot read password.cdb (exit 111)',
                rc == 111 and 'password.cdb' in err, (rc, err))
        # control/popshadow: root verifies a system user; mrauth cannot read the shadow file,
        # refuses (exit 1, as for a wrong password) and says why in the log
        name, _, _ = inst.system_user('mra')
        subprocess.run(['chpasswd'], input=('%s:open sesame\n' % name).encode(), check=True, timeout=30)
        inst.control('popshadow', '1')
        try:
            rc, err = run_checkpw(inst, name.encode(), b'open sesame')
            R.check('verify-only as root, popshadow: a system user, exit 0', rc == 0, (rc, err))
            rc, err = run_checkpw(inst, name.encode(), b'open sesame', pre)
            R.check('verify-only as mrauth, popshadow: a system user refused (exit 1), and logged why',
                    rc == 1 and 'cannot read the shadow file' in err, (rc, err))
        finally:
            inst.control('popshadow', None)
    R.check('verify-only: the program was never run', not os.path.exists(marker))


def test_root_refusal(inst):
    if not IS_ROOT:
        R.skip('tlsd -a as root without -v/-V', 'needs root')
        return
    r = subprocess.run([inst.bin('mailroom-tlsd'), '-a', inst.bin('mailroom-checkpassword'), inst.bin('mailroom-smtpd')],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    err = r.stderr.decode(errors='replace')
    R.check('tlsd -a as root without -v/-V: refused (exit 100)', r.returncode == 100 and '-v uid -V gid' in err,
            (r.returncode, err))
    r = subprocess.run([inst.bin('mailroom-tlsd'), '-v', '1', '-V', '1', inst.bin('mailroom-smtpd')],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    R.check('tlsd -v without -a: usage (exit 100)', r.returncode == 100, r.stderr[-200:])
    r = subprocess.run([inst.bin('mailroom-tlsd'), '-a', inst.bin('mailroom-checkpassword'), '-v', '0', '-V', '0',
                        inst.bin('mailroom-smtpd')], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    R.check('tlsd -v 0 -V 0 (root): refused (exit 100)', r.returncode == 100, r.stderr[-200:])


def test_verifier(inst, sub):
    """Who runs the AUTH verifier, and who can read the password database."""
    if not IS_ROOT:
        R.skip('verifier: runs as mrauth', 'needs root')
        return
    cdb = inst.path('users', 'password.cdb')
    st = os.stat(cdb)
    ag = grp.getgrnam('mrauth').gr_gid
    R.check('verifier: password.cdb is root:mrauth 0640', (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, ag, 0o640),
            (st.st_uid, st.st_gid, oct(st.st_mode)))
    au = pwd.getpwnam('mrauth')
    tu = pwd.getpwnam('mrtlsd').pw_uid
    su = pwd.getpwnam('mrsmtpd')
    for name in ('mrsmtpd', 'mrtlsd'):
        ent = pwd.getpwnam(name)
        R.check('verifier: %s is not in group mrauth' % name, ag not in os.getgrouplist(name, ent.pw_gid),
                os.getgrouplist(name, ent.pw_gid))
    # mrsmtpd (as mailroom-tlsd makes it: its own gid, no other group) cannot open the cdb
    r = subprocess.run(inst.as_user(su.pw_uid, su.pw_gid) + ['head', '-c', '1', cdb], capture_output=True, timeout=30)
    R.check('verifier: mrsmtpd cannot open password.cdb', r.returncode != 0 and b'Permission denied' in r.stderr,
            (r.returncode, r.stderr))
    r = subprocess.run(inst.as_user(au.pw_uid, au.pw_gid) + ['head', '-c', '1', cdb], capture_output=True, timeout=30)
    R.check('verifier: mrauth can read password.cdb', r.returncode == 0 and len(r.stdout) == 1, (r.returncode, r.stderr))
    c = inst.connect(sub)
    try:
        c.reply()
        starttls(c)
        code, text = c.cmd('EHLO a.example')
        R.check('verifier: AUTH offered under TLS', 'AUTH PLAIN LOGIN' in text, text)
        tl = inst.instance_procs('mailroom-tlsd')
        sm = inst.instance_procs('mailroom-smtpd')
        uids = {}
        for p in tl:
            try:
                uids[p] = (mrinst.proc_ids(p)[0], proc_groups(p))
            except FileNotFoundError:
                pass
        ver = [p for p, (u, g) in uids.items() if u[0] == au.pw_uid]
        R.check('verifier: a mailroom-tlsd process runs as mrauth', len(ver) >= 1, uids)
        R.check('verifier: it is mrauth in all four uids and only in group mrauth',
                all(uids[p][0] == (au.pw_uid,) * 4 and uids[p][1] == {au.pw_gid} and
                    mrinst.proc_ids(p)[1] == (au.pw_gid,) * 4 for p in ver), {p: uids[p] for p in ver})
        R.check('verifier: no mailroom-tlsd process runs as root',
                all(0 not in u for u, g in uids.values()) and set(u[0] for u, g in uids.values()) <= {au.pw_uid, tu},
                uids)
        R.check('verifier: mailroom-smtpd runs as mrsmtpd, not in group mrauth',
                sm and all(mrinst.proc_ids(p)[0] == (su.pw_uid,) * 4 and ag not in (proc_groups(p) or set()) for p in sm),
                [(p, mrinst.proc_ids(p), proc_groups(p)) for p in sm])
        # right and wrong passwords through the mrauth verifier, both mechanisms
        t0 = time.monotonic()
        code, text = c.cmd('AUTH LOGIN ZGVtbw==')  # demo
        code2, text2 = c.cmd('bm9wZQ==', timeout=30)  # nope
        el = time.monotonic() - t0
        R.check('verifier: AUTH LOGIN, wrong password: 535 after the delay', code == 334 and code2 == 535 and el >= 1.5,
                (code, code2, text2, '%.2f s' % el))
        code, text = c.cmd('AUTH PLAIN AGRlbW8AZGVtbw==', timeout=30)
        R.check('verifier: then AUTH PLAIN, right password: 235', code == 235, (code, text))
        c.cmd('QUIT')
    finally:
        c.close()
    c = inst.connect(sub)
    try:
        c.reply()
        starttls(c)
        c.cmd('EHLO a.example')
        code, text = c.cmd('AUTH PLAIN AGRlbW8Ad3Jvbmc=', timeout=30)  # demo / wrong
        R.check('verifier: AUTH PLAIN, wrong password: 535', code == 535, (code, text))
        code, text = c.cmd('AUTH LOGIN')
        code2, _ = c.cmd('ZGVtbw==')
        code3, text3 = c.cmd('ZGVtbw==', timeout=30)
        R.check('verifier: then AUTH LOGIN, right password: 235', (code, code2, code3) == (334, 334, 235),
                (code, code2, code3, text3))
        c.cmd('QUIT')
    finally:
        c.close()


def main():
    with smtpinst.SmtpInstance(prefix='mrtls.') as inst:
        inst.start()
        R.run('setup', test_setup, inst)
        R.run('no tlsd', test_noctl, inst)
        port = free_port()
        inst.start_daemon(['tcpserver', '-R', '-H', '-l0', '127.0.0.1', str(port)] + tlsd_argv(inst), port,
                          logname='tlsd.log')
        inst.service_log = lambda: open(inst.path('tlsd.log'), errors='replace').read()
        R.run('swaks', test_swaks, inst, port)
        R.run('curl', test_curl, inst, port)
        R.run('openssl', test_openssl, inst, port)
        R.run('injection', test_injection, inst, port)
        R.run('reset', test_reset, inst, port)
        R.run('who', test_who, inst, port)
        sub, pops = free_port(), free_port()
        # mail relayed to remote.example goes to a loopback address where nothing listens:
        # deferred, never a query to the machine's resolver, never a bounce into demo's Maildir
        # racing the local-delivery check
        inst.control('smtproutes', 'remote.example:[127.%d.%d.%d]:%d\n' % (
            random.randint(1, 254), random.randint(1, 254), random.randint(2, 254), free_port()))
        setup_tls_services(inst, sub, pops)
        inst.start_daemon(['sh', inst.path('service', 'submission', 'run')], sub, logname='submission.log')
        R.run('submission', test_submission, inst, sub)
        R.run('verifier', test_verifier, inst, sub)
        R.run('verify-only', test_verify_only, inst)
        R.run('tlsd as root', test_root_refusal, inst)
        log = open(inst.path('submission.log'), errors='replace').read()
        R.check('submission log: no password in it', 'wrong' not in log and 'AGRlbW8' not in log, log[-300:])
    R.exit()


main()
