"""The POP3 side with real clients and real neighbours (issue 5): mail delivered through
the instance's sendmail (the SMTP receiver is not used here yet) is fetched by Python's
poplib, curl, mpop and fetchmail, byte-exact against the Maildir files; mailroom-popup
runs Debian's checkpw (any checkpassword program works); mailroom-checkpassword takes
system users from the shadow file only when control/popshadow says so; everything runs
under xinetd as it does under tcpserver."""

import glob
import os
import poplib
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import pop3inst  # noqa: E402
from pop3inst import Client  # noqa: E402

R = mrinst.Results()

MESSAGES = [
    b'Subject: plain\n\nhello\n',
    b'Subject: dots\n\n.\n..\n.leading dot\nmiddle . dot\n.\n',
    b'Subject: big\n\n' + b''.join(b'line %06d of a longer message, with some text to fill it\n' % i for i in range(3000)),
]


def deliver(inst):
    """Three messages through SMTP (tcpserver + mailroom-smtpd, smtplib) and the queue;
    returns {uidl: file bytes}. smtplib sends CRLF and dot-stuffs; the Maildir keeps LF."""
    import pwd
    import smtplib
    import socket
    inst.start()
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    argv = ['tcpserver', '-R', '-H', '-l0']
    if os.getuid() == 0:
        pw = pwd.getpwnam('mrsmtpd')
        argv += ['-u', str(pw.pw_uid), '-g', str(pw.pw_gid)]
    argv += ['127.0.0.1', str(port), os.path.join(inst.home, 'bin', 'mailroom-smtpd')]
    srv = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        c = smtplib.SMTP('127.0.0.1', port, timeout=30)
        for m in MESSAGES:
            c.sendmail('sender@localhost', ['demo@localhost'], m.replace(b'\n', b'\r\n'))
        c.quit()
    finally:
        os.killpg(srv.pid, 15)
        srv.wait(timeout=10)
    n, secs = inst.wait_for(len(MESSAGES), 30.0)
    R.check('SMTP delivered the test messages', n == len(MESSAGES), 'got %d' % n)
    inst.stop()
    # keyed by UIDL: the unique part of the name without its last ",W=" (mailroom-pop3d(8))
    return {re.sub(r',W=\d+$', '', os.path.basename(p).split(':')[0]): mrinst.read_file(p)
            for p in inst.maildir_files('demo')}


def with_poplib(port, files):
    p = poplib.POP3('127.0.0.1', port, timeout=20)
    try:
        p.user('demo')
        p.pass_('demo')
        count, size = p.stat()
        R.check('poplib STAT', count == len(files) and size == sum(len(pop3inst.wire(d)) for d in files.values()),
                (count, size))
        uidls = {int(ln.split()[0]): ln.split()[1].decode() for ln in p.uidl()[1]}
        R.check('poplib UIDL = Maildir unique names', sorted(uidls.values()) == sorted(files), uidls)
        sizes = {int(ln.split()[0]): int(ln.split()[1]) for ln in p.list()[1]}
        ok = True
        for num, u in uidls.items():
            resp, lines, octets = p.retr(num)
            got = b'\r\n'.join(lines) + b'\r\n'
            if got != pop3inst.wire(files[u]) or sizes[num] != len(pop3inst.wire(files[u])):
                ok = False
                mrinst.info('poplib message %d differs: %r' % (num, got[:200]))
        R.check('poplib RETR byte-exact (CRLF-normalized)', ok, 'see above')
        resp, lines, octets = p.top(min(uidls), 0)
        hdr = pop3inst.wire(files[uidls[min(uidls)]]).split(b'\r\n\r\n', 1)[0]
        R.check('poplib TOP 0 is the header', b'\r\n'.join(lines) == hdr + b'\r\n', lines)
    finally:
        p.quit()


def with_curl(port, files):
    ok = True
    for num in range(1, len(files) + 1):
        r = subprocess.run(['curl', '-s', '--max-time', '20', '-u', 'demo:demo', 'pop3://127.0.0.1:%d/%d' % (port, num)],
                           capture_output=True, timeout=30)
        if r.returncode != 0 or r.stdout not in [pop3inst.wire(d) for d in files.values()]:
            ok = False
            mrinst.info('curl message %d: exit %d, %r' % (num, r.returncode, r.stdout[:200]))
    R.check('curl pop3:// RETR byte-exact', ok, 'see above')


def with_mpop(port, files, tmp):
    rc = os.path.join(tmp, 'mpoprc')
    out = os.path.join(tmp, 'mpop')
    os.makedirs(out)
    with open(rc, 'w') as f:
        f.write('account t\nhost 127.0.0.1\nport %d\nuser demo\npassword demo\nauth user\ntls off\nkeep on\n'
                'only_new off\nreceived_header off\nuidls_file %s/uidls\ndelivery mda "cat > %s/msg.$$"\n' % (port, tmp, out))
    os.chmod(rc, 0o600)
    r = subprocess.run(['mpop', '-C', rc, '-a', '-q'], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    got = sorted(mrinst.read_file(p) for p in glob.glob(out + '/msg.*'))
    want = sorted(d.replace(b'\r\n', b'\n') for d in files.values())
    R.check('mpop fetches every message byte-exact (LF, as it delivers)', r.returncode == 0 and got == want,
            'exit %d, %d messages: %s' % (r.returncode, len(got), r.stderr.decode(errors='replace')))


def strip_received(data):
    """fetchmail adds one Received: header (with continuation lines), after any leading
    Return-Path/Delivered-To lines: remove the one that names fetchmail."""
    pos = 0
    while True:
        i = data.find(b'Received:', pos)
        if i < 0 or (i and data[i - 1:i] != b'\n'):
            return data
        end = data.index(b'\n', i) + 1
        while data[end:end + 1] in (b'\t', b' '):
            end = data.index(b'\n', end) + 1
        if b'(fetchmail-' in data[i:end]:
            return data[:i] + data[end:]
        pos = end


def with_fetchmail(port, files, tmp):
    rc = os.path.join(tmp, 'fetchmailrc')
    out = os.path.join(tmp, 'fetchmail')
    os.makedirs(out)
    with open(rc, 'w') as f:
        f.write('set no bouncemail\npoll 127.0.0.1 service %d protocol pop3 auth password:\n'
                '  user "demo" there with password "demo" is "root" here\n'
                '  keep fetchall sslproto ""\n  mda "cat > %s/msg.$$"\n' % (port, out))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=tmp)
    r = subprocess.run(['fetchmail', '-f', rc, '-i', os.path.join(tmp, 'fetchids'), '--nodetach', '-s'],
                       capture_output=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    got = sorted(strip_received(mrinst.read_file(p)) for p in glob.glob(out + '/msg.*'))
    want = sorted(d.replace(b'\r\n', b'\n') for d in files.values())
    R.check('fetchmail fetches every message byte-exact (LF, its Received: line aside)', r.returncode == 0 and got == want,
            'exit %d, %d messages: %s' % (r.returncode, len(got), (r.stdout + r.stderr).decode(errors='replace')[-500:]))


def system_user(inst, prefix, home):
    """A system user (root only) with the given home, a Maildir in it; removed with inst."""
    name = mrinst.random_name(prefix)
    subprocess.run(['useradd', '--system', '--no-create-home', '--user-group', '--home-dir', home,
                    '--shell', '/usr/sbin/nologin', name], check=True, capture_output=True, timeout=30)
    inst.sysusers.append(name)
    uid, gid = pop3inst.user_ids(name)
    os.makedirs(home)
    os.chmod(home, 0o700)
    os.chown(home, uid, gid)
    mrinst.make_maildir(os.path.join(home, 'Maildir'), uid, gid)
    return name, uid, gid


def with_checkpw(inst, srv):
    """Debian's checkpw: a system user, the password in ~/Maildir/.password."""
    os.makedirs(inst.path('home'), exist_ok=True)
    os.chmod(inst.path('home'), 0o755)
    name, uid, gid = system_user(inst, 'cpw', inst.path('home', 'cpw'))
    md = inst.path('home', 'cpw', 'Maildir')
    mrinst.write_file(os.path.join(md, '.password'), 'sesame\n', 0o600, uid, gid)
    pop3inst.put_message(md, '1700000000.M1P1Q1.host', b'Subject: via checkpw\n\n.dot\nbody\n')
    port = pop3inst.free_port()
    srv.tcpserver(inst, port, popup_args=['-d', '100'], check=['/usr/bin/checkpw'], log='pop3-checkpw.log')
    c = Client(port)
    c.cmd(b'USER ' + name.encode())
    r = c.cmd(b'PASS wrong')
    R.check('checkpw: wrong password -ERR [AUTH]', r.startswith(b'-ERR [AUTH]'), r)
    c.cmd(b'USER ' + name.encode())
    r = c.cmd(b'PASS sesame')
    R.check('checkpw: login', r.startswith(b'+OK 1 messages'), r)
    pids = pop3inst.procs_running(inst.bin('mailroom-pop3d'))
    R.check('checkpw: pop3d runs as the user', [mrinst.proc_ids(p)[0][0] for p in pids] == [uid], pids)
    c.cmd(b'RETR 1')
    R.check('checkpw: RETR', pop3inst.unstuff(c.multi()) == b'Subject: via checkpw\r\n\r\n.dot\r\nbody\r\n', '')
    c.cmd(b'QUIT')
    c.close()


def with_shadow(inst, srv, port):
    """System users from /etc/shadow, only when control/popshadow says 1."""
    os.makedirs(inst.path('home'), exist_ok=True)
    name, uid, gid = system_user(inst, 'shd', inst.path('home', 'shd'))
    subprocess.run(['chpasswd'], input=('%s:open sesame\n' % name).encode(), check=True, timeout=30)
    pop3inst.put_message(inst.path('home', 'shd', 'Maildir'), '1700000000.M1P1Q1.host', b'Subject: shadow\n\nx\n')

    def login(password):
        c = Client(port)
        c.cmd(b'USER ' + name.encode())
        r = c.cmd(b'PASS ' + password.encode())
        ids = [mrinst.proc_ids(p)[0][0] for p in pop3inst.procs_running(inst.bin('mailroom-pop3d'))]
        c.cmd(b'QUIT')
        c.close()
        return r, ids

    inst.control('popshadow', None)
    r, _ = login('open sesame')
    R.check('shadow: system users refused without control/popshadow', r.startswith(b'-ERR [AUTH]'), r)
    inst.control('popshadow', '1')
    r, ids = login('open sesame')
    R.check('shadow: login with control/popshadow', r.startswith(b'+OK 1 messages'), r)
    R.check('shadow: pop3d runs as the system user', ids == [uid], ids)
    r, _ = login('open')
    R.check('shadow: wrong password refused', r.startswith(b'-ERR [AUTH]'), r)
    subprocess.run(['chage', '-E', '2000-01-01', name], check=True, timeout=30)
    r, _ = login('open sesame')
    R.check('shadow: expired account refused', r.startswith(b'-ERR [AUTH]'), r)
    inst.control('popshadow', None)


def with_xinetd(inst, srv, files, tmp):
    port = pop3inst.free_port()
    conf = os.path.join(tmp, 'xinetd.conf')
    with open(conf, 'w') as f:
        f.write('defaults\n{\n}\nservice mailroom-pop3-test\n{\n  type = UNLISTED\n  socket_type = stream\n'
                '  protocol = tcp\n  wait = no\n  user = root\n  bind = 127.0.0.1\n  port = %d\n'
                '  server = %s\n  server_args = -d 100 localhost %s %s Maildir\n}\n'
                % (port, inst.bin('mailroom-popup'), inst.bin('mailroom-checkpassword'), inst.bin('mailroom-pop3d')))
    p = srv.start(['xinetd', '-f', conf, '-dontfork', '-pidfile', os.path.join(tmp, 'xinetd.pid')], port,
                  inst.path('xinetd.log'))
    try:
        c = Client(port)
        c.cmd(b'USER demo')
        r = c.cmd(b'PASS nope')
        R.check('xinetd: wrong password is one -ERR line (no log line on the socket)', r.startswith(b'-ERR [AUTH]'), r)
        c.close()
        pp = poplib.POP3('127.0.0.1', port, timeout=20)
        pp.user('demo')
        pp.pass_('demo')
        ok = all(b'\r\n'.join(pp.retr(i)[1]) + b'\r\n' in [pop3inst.wire(d) for d in files.values()] for i in range(1, len(files) + 1))
        pp.quit()
        R.check('xinetd: poplib fetches byte-exact', ok, '')
    finally:
        srv.stop(p)


def main():
    port = pop3inst.free_port()
    os.environ['POP3_PORT'] = str(port)
    tmp = tempfile.mkdtemp(prefix='mrtest.pop3c.')
    try:
        with mrinst.Instance('mrtest.pop3c.') as inst, pop3inst.Servers() as srv:
            files = R.run('deliver', deliver, inst) or {}
            srv.service(inst, port)
            if files:
                R.run('poplib', with_poplib, port, files)
                R.run('curl', with_curl, port, files)
                R.run('mpop', with_mpop, port, files, tmp)
                R.run('fetchmail', with_fetchmail, port, files, tmp)
            if pop3inst.IS_ROOT:
                R.run('checkpw', with_checkpw, inst, srv)
                R.run('shadow', with_shadow, inst, srv, port)
                if files:
                    R.run('xinetd', with_xinetd, inst, srv, files, tmp)
            else:
                for t in ('checkpw', 'shadow', 'xinetd'):
                    R.skip(t, 'needs root (system users, a root superserver)')
            time.sleep(0.2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    R.exit()


if __name__ == '__main__':
    main()
