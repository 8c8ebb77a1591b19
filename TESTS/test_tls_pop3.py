#!/usr/bin/env python3
"""POP3 over TLS (issue 9) through mailroom-tlsd: STLS on a plain port (CAPA lists it, the
state starts afresh after it, USER/PASS refused before it for a client that is not on the
loopback interface or with -T), POP3S on the service lib/sh/setup.d/tls.sh writes, and real
clients: curl --ssl-reqd pop3:// (STLS), curl pop3s://, mpop --tls=on and fetchmail --ssl,
each trusting the instance's certificate explicitly.
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import pop3inst  # noqa: E402
from mrinst import IS_ROOT, info  # noqa: E402
from pop3inst import free_port  # noqa: E402

R = mrinst.Results()
MSG = b'From: a@example.org\nTo: demo@localhost\nSubject: pop over tls\n\nthe body %d\n'


def tlsd(inst, extra=()):
    argv = [inst.bin('mailroom-tlsd')]
    if IS_ROOT:
        u, g = pop3inst.user_ids('mrtlsd')
        argv += ['-u', str(u), '-g', str(g)]
    return argv + list(extra)


def popup_chain(inst, popup_args=()):
    return ([inst.bin('mailroom-popup')] + list(popup_args) + ['localhost', inst.bin('mailroom-checkpassword'),
            inst.bin('mailroom-pop3d'), 'Maildir'])


class TlsClient:
    """A raw POP3 client that can switch to TLS."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=20)
        self.buf = b''
        self.greeting = self.line()

    def line(self):
        while b'\r\n' not in self.buf:
            c = self.sock.recv(65536)
            if not c:
                raise EOFError(self.buf)
            self.buf += c
        ln, self.buf = self.buf.split(b'\r\n', 1)
        return ln

    def cmd(self, c):
        self.sock.sendall(c + b'\r\n')
        return self.line()

    def multi(self):
        out = []
        while True:
            ln = self.line()
            if ln == b'.':
                return out
            out.append(ln)

    def tls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname='localhost')
        self.buf = b''

    def close(self):
        self.sock.close()


def test_stls(inst, port):
    c = TlsClient(port)
    try:
        capa = c.cmd(b'CAPA') and c.multi()
        R.check('STLS: listed in CAPA before TLS', b'STLS' in capa, capa)
        c.sock.sendall(b'USER demo\r\nSTLS\r\n' + b'PASS demo\r\n' * 3)
        r1, r2 = c.line(), c.line()
        R.check('STLS: +OK after a USER', r1.startswith(b'+OK') and r2.startswith(b'+OK begin TLS'), (r1, r2))
        c.tls()
        capa = c.cmd(b'CAPA') and c.multi()
        R.check('STLS: CAPA under TLS does not list STLS', b'STLS' not in capa and b'USER' in capa, capa)
        r = c.cmd(b'PASS demo')
        R.check('STLS: the state starts afresh (PASS needs USER again)', r.startswith(b'-ERR USER first'), r)
        r = c.cmd(b'STLS')
        R.check('STLS: twice is -ERR', r.startswith(b'-ERR'), r)
        c.cmd(b'USER demo')
        r = c.cmd(b'PASS demo')
        R.check('STLS: login under TLS', r.startswith(b'+OK'), r)
        r = c.cmd(b'STAT')
        R.check('STLS: STAT', r.startswith(b'+OK 2 '), r)
        c.cmd(b'QUIT')
    finally:
        c.close()


def test_needtls(inst, port):
    c = TlsClient(port)
    try:
        r = c.cmd(b'USER demo')
        R.check('-T: USER before STLS refused', r.startswith(b'-ERR [AUTH]') and b'STLS' in r, r)
        r = c.cmd(b'PASS demo')
        R.check('-T: PASS before STLS refused', r.startswith(b'-ERR [AUTH]'), r)
        c.cmd(b'STLS')
        c.tls()
        c.cmd(b'USER demo')
        r = c.cmd(b'PASS demo')
        R.check('-T: login after STLS', r.startswith(b'+OK'), r)
        c.cmd(b'QUIT')
    finally:
        c.close()


def test_nonloopback(inst, port):
    # tcpserver's TCPREMOTEIP says where the client is: a rules cdb sets it here (the test
    # only talks to 127.0.0.1) to a non-loopback address, as a remote client would have
    c = TlsClient(port)
    try:
        r = c.cmd(b'USER demo')
        R.check('non-loopback client: USER refused before TLS by default', r.startswith(b'-ERR [AUTH]'), r)
        c.cmd(b'QUIT')
    finally:
        c.close()


def curl(args):
    r = subprocess.run(['curl', '-sS', '--max-time', '60'] + args, capture_output=True, timeout=90,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr.decode(errors='replace')


def test_clients(inst, stls_port, pops_port):
    ca = inst.path('control', 'servercert.pem')
    if shutil.which('curl'):
        rc, out, err = curl(['--ssl-reqd', '--cacert', ca, '-u', 'demo:demo', 'pop3://127.0.0.1:%d/1' % stls_port])
        R.check('curl --ssl-reqd pop3:// (STLS): message 1', rc == 0 and b'the body 1' in out, err or out[:200])
        rc, out, err = curl(['--cacert', ca, '-u', 'demo:demo', 'pop3s://127.0.0.1:%d/2' % pops_port])
        R.check('curl pop3s://: message 2', rc == 0 and b'the body 2' in out, err or out[:200])
        rc, out, err = curl(['--cacert', ca, '-u', 'demo:wrong', 'pop3s://127.0.0.1:%d/1' % pops_port])
        R.check('curl pop3s:// with a wrong password fails', rc != 0, rc)
    else:
        R.skip('curl pop3', 'curl is not installed')
    if shutil.which('mpop'):
        home = inst.path('mpop')
        os.makedirs(home, exist_ok=True)
        out_md = os.path.join(home, 'out')
        for d in ('', 'tmp', 'new', 'cur'):
            os.makedirs(os.path.join(out_md, d), exist_ok=True)
        pw = os.path.join(home, 'pw')
        with open(pw, 'w') as f:
            f.write('echo demo\n')
        rc_file = os.path.join(home, 'mpoprc')
        with open(rc_file, 'w') as f:
            f.write('account t\nhost 127.0.0.1\nport %d\nuser demo\npasswordeval sh %s\ntls on\ntls_starttls off\n'
                    'tls_trust_file %s\ndelivery maildir %s\nkeep on\nuidls_file %s/uidls\nauth user\n'
                    % (pops_port, pw, ca, out_md, home))
        os.chmod(rc_file, 0o600)
        r = subprocess.run(['mpop', '-C', rc_file, '--tls=on', 't'], capture_output=True, timeout=90,
                           stdin=subprocess.DEVNULL)
        got = os.listdir(os.path.join(out_md, 'new'))
        R.check('mpop --tls=on (POP3S, the instance certificate trusted): 2 messages', r.returncode == 0 and len(got) == 2,
                (r.returncode, r.stderr.decode(errors='replace')[-300:], got))
    else:
        R.skip('mpop', 'mpop is not installed')
    if shutil.which('fetchmail'):
        home = inst.path('fm')
        os.makedirs(home, exist_ok=True)
        rc_file = os.path.join(home, 'fetchmailrc')
        mbox = os.path.join(home, 'mbox')
        with open(rc_file, 'w') as f:
            f.write('poll 127.0.0.1 with proto POP3 port %d\n user "demo" there with password "demo" is "root" here\n'
                    ' sslproto TLS1.2+ ssl sslcertfile "%s" sslcertck sslcommonname "localhost" keep\n mda "/bin/sh -c \'cat >> %s\'"\n'
                    % (pops_port, ca, mbox))
        os.chmod(rc_file, 0o600)
        env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
        r = subprocess.run(['fetchmail', '-f', rc_file, '--nodetach', '--nosyslog', '-v'], capture_output=True,
                           timeout=90, stdin=subprocess.DEVNULL, env=env)
        data = open(mbox, 'rb').read() if os.path.exists(mbox) else b''
        R.check('fetchmail --ssl (POP3S, sslcertck): both messages', r.returncode == 0 and data.count(b'the body') == 2,
                (r.returncode, (r.stdout + r.stderr).decode(errors='replace')[-400:]))
    else:
        R.skip('fetchmail', 'fetchmail is not installed')


def main():
    with mrinst.Instance(prefix='mrtlspop.') as inst, pop3inst.Servers() as srv:
        md = inst.maildir('demo')
        for i in (1, 2):
            pop3inst.put_message(md, '17000000%02d.M1P1.test' % i, MSG % i, mtime=1700000000 + i)
        p1 = free_port()
        srv.start(['tcpserver', '-R', '-H', '-l0', '127.0.0.1', str(p1)] + tlsd(inst) + popup_chain(inst), p1,
                  inst.path('stls.log'))
        R.run('stls', test_stls, inst, p1)
        p2 = free_port()
        srv.start(['tcpserver', '-R', '-H', '-l0', '127.0.0.1', str(p2)] + tlsd(inst) + popup_chain(inst, ['-T']), p2,
                  inst.path('needtls.log'))
        R.run('needtls', test_needtls, inst, p2)
        p3 = free_port()
        srv.start(['tcpserver', '-R', '-H', '-l0', '127.0.0.1', str(p3), 'env', 'TCPREMOTEIP=192.0.2.7'] + tlsd(inst)
                  + popup_chain(inst), p3, inst.path('nonloop.log'))
        R.run('nonloopback', test_nonloopback, inst, p3)
        # the POP3S service of setup.d/tls.sh
        sub, pops = free_port(), free_port()
        env = mrinst._make_env()
        env.update(SUBMISSION_PORT=str(sub), POP3S_PORT=str(pops), POP3_PORT=str(free_port()))
        r = subprocess.run(['bash', os.path.join(mrinst.CHECKOUT, 'lib/sh/setup.sh'), inst.home, inst.build],
                           env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        R.check('setup.sh with the TLS services', r.returncode == 0, (r.stdout + r.stderr)[-400:])
        banner = open(inst.path('service', 'pop3s', 'banner')).read()
        R.check('POP3S banner', ('127.0.0.1:%d' % pops) in banner, banner)
        srv.start(['sh', inst.path('service', 'pop3s', 'run')], pops, inst.path('pop3s.log'))
        R.run('clients', test_clients, inst, p1, pops)
    R.exit()


main()
