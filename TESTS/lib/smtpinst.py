"""smtpinst: SMTP helpers over mrinst for mailroom-smtpd's tests.

    import mrinst, smtpinst
    with smtpinst.SmtpInstance() as inst:
        inst.start()                          # mailroom-send, as mrinst
        with inst.session() as c:             # one mailroom-smtpd on a socketpair
            code, text = c.reply()            # the greeting
            code, text = c.cmd('EHLO me')
        port = inst.start_service()           # lib/sh/setup.d/smtpd.sh's tcpserver service

A session runs bin/mailroom-smtpd as mrsmtpd (as root) with one end of a socketpair on its
fds 0 and 1 and its log in a file, so a test drives it byte by byte; the service is the run
script setup.d/smtpd.sh writes, started in its own process group and stopped by the
instance. Every read has a deadline.
"""

import os
import pwd
import re
import select
import signal
import socket
import subprocess
import time

import mrinst
from mrinst import IS_ROOT, CHECKOUT

def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_port(port, timeout=10.0, host='127.0.0.1'):
    """True once something accepts connections on host:port (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0) as s:
                s.settimeout(2.0)
                try:
                    s.recv(512)  # the greeting; then we just go
                except OSError:
                    pass
                return True
        except OSError:
            time.sleep(0.05)
    return False


def ok_after(c):
    """The session goes on: NOOP answers 250."""
    code, _ = c.cmd('NOOP')
    return code == 250


def expect(results, label, got, code, enh=None, also=None):
    """got = (code, lines): checks the code and the enhanced status code of the text."""
    c, lines = got
    good = c == code and (enh is None or (lines and lines[-1].startswith(enh + ' ')))
    if also is not None:
        good = good and also
    results.check(label, good, 'got %s %s, want %s %s' % (c, lines, code, enh or ''))


class Client:
    """One SMTP conversation over a socket, with a deadline on every read."""

    def __init__(self, sock, timeout=20.0):
        self.sock = sock
        self.timeout = timeout
        self.buf = b''

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        while b'\r\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no reply line within %.1f s (have %r)' % (timeout, self.buf[:200]))
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError('connection closed (have %r)' % self.buf[:200])
            self.buf += chunk
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def reply(self, timeout=None):
        """The next reply: (code, [text lines]). Checks the multi-line form."""
        lines = []
        while True:
            line = self._line(timeout or self.timeout)
            if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3:4] not in (b' ', b'-')):
                raise ValueError('malformed reply line %r' % line)
            if lines and line[:3] != lines[0][:3]:
                raise ValueError('code changed inside a multi-line reply: %r' % line)
            lines.append(line)
            if len(line) == 3 or line[3:4] == b' ':
                return int(line[:3]), [x[4:].decode(errors='replace') for x in lines]

    def cmd(self, line, timeout=None):
        self.send(line + '\r\n' if isinstance(line, str) else line + b'\r\n')
        return self.reply(timeout)

    def closed(self, timeout=5.0):
        """True if the server closes the connection within timeout (after what it sent)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.sock], [], [], deadline - time.monotonic())
            if r:
                try:
                    chunk = self.sock.recv(65536)
                except OSError:
                    return True
                if not chunk:
                    return True
                self.buf += chunk
        return False

    def transaction(self, sender, rcpts, data, ehlo=True):
        """MAIL, RCPTs, DATA with data (bytes, CRLF lines, already dot-stuffed, without
        the final dot line). Returns the final reply (code, text)."""
        code, text = self.cmd('MAIL FROM:<%s>' % sender)
        if code != 250:
            return code, text
        ok = 0
        for r in rcpts:
            code, text = self.cmd('RCPT TO:<%s>' % r)
            ok += code == 250
        if not ok:
            return code, text
        code, text = self.cmd('DATA')
        if code != 354:
            return code, text
        self.send(data + b'.\r\n')
        return self.reply(120)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Session(Client):
    """A mailroom-smtpd process on a socketpair (see SmtpInstance.session)."""

    def __init__(self, proc, sock, logpath, timeout):
        super().__init__(sock, timeout)
        self.proc = proc
        self.logpath = logpath

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finish()
        return False

    def finish(self, timeout=10.0):
        """Closes our end and waits (bounded) for the process; returns its exit code."""
        self.close()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def log(self):
        try:
            with open(self.logpath, 'rb') as f:
                return f.read().decode(errors='replace')
        except FileNotFoundError:
            return ''


class SmtpInstance(mrinst.Instance):
    """mrinst.Instance plus mailroom-smtpd: sessions, the service, its log."""

    def __init__(self, prefix='mrsmtp.'):
        super().__init__(prefix)
        self.services = []  # Popen of service run scripts and inetds, stopped at exit
        self.nsession = 0

    def cleanup(self):
        for p in self.services:
            self._stop_group(p)
        self.services = []
        super().cleanup()

    # --- who runs mailroom-smtpd ---------------------------------------------------------
    def smtpd_ids(self):
        """(uid, gid) of mrsmtpd as root, else ours."""
        if IS_ROOT:
            pw = pwd.getpwnam('mrsmtpd')
            return pw.pw_uid, pw.pw_gid
        return os.getuid(), os.getgid()

    def smtpd_prefix(self):
        return self.as_user(*self.smtpd_ids()) if IS_ROOT else []

    def session(self, env=None, timeout=20.0, prefix=None, greet=True):
        """Starts one mailroom-smtpd on a socketpair; returns a Session (with the greeting
        read when greet). env: extra environment (TCPREMOTEIP, RELAYCLIENT, ...)."""
        ours, theirs = socket.socketpair()
        self.nsession += 1
        logpath = self.path('smtpd.%d.log' % self.nsession)
        e = {'PATH': '/usr/bin:/bin', 'TCPREMOTEIP': '127.0.0.1'}
        if env:
            for k, v in env.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
        with open(logpath, 'wb') as log:
            p = subprocess.Popen((self.smtpd_prefix() if prefix is None else list(prefix)) + [self.bin('mailroom-smtpd')],
                                 stdin=theirs, stdout=theirs, stderr=log, cwd='/', env=e)
        theirs.close()
        s = Session(p, ours, logpath, timeout)
        if greet:
            code, text = s.reply()
            if code != 220:
                s.finish()
                raise RuntimeError('greeting %d %s' % (code, text))
        return s

    # --- the service -------------------------------------------------------------------
    def setup_smtpd(self, port, ip=None, timeout=120):
        """Runs lib/sh/setup.sh again with SMTP_PORT=port (and SMTP_IP=ip): its
        lib/sh/setup.d/smtpd.sh writes service/smtpd for that address (the rest of the
        instance is kept). The environment is the child's own, so two instances can be set up
        at once."""
        env = mrinst._make_env()
        env['SMTP_PORT'] = str(port)
        if ip:
            env['SMTP_IP'] = ip
        r = subprocess.run(['bash', os.path.join(CHECKOUT, 'lib/sh/setup.sh'), self.home, self.build],
                           env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError('setup.sh failed (%d): %s' % (r.returncode, (r.stdout + r.stderr).decode(errors='replace')[-2000:]))
        self.service_port, self.service_ip = port, ip or '127.0.0.1'
        return r.stdout.decode(errors='replace')

    def start_service(self, port=None, ready_timeout=10.0, ip=None):
        """Sets up (setup.d/smtpd.sh) unless already done for that address, and starts
        service/smtpd/run (tcpserver) in its own process group, its output (the smtpd log) in
        HOME/smtpd.service.log. Returns the port."""
        port = port or free_port()
        ip = ip or '127.0.0.1'
        if (not os.path.exists(self.path('service', 'smtpd', 'run')) or self.service_port != port
                or self.service_ip != ip):
            self.setup_smtpd(port, ip)
        log = open(self.path('smtpd.service.log'), 'ab')
        try:
            p = subprocess.Popen([self.path('service', 'smtpd', 'run')], cwd=self.path('service', 'smtpd'),
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        finally:
            log.close()
        self.services.append(p)
        if not wait_port(port, ready_timeout, host=ip):
            raise RuntimeError('service/smtpd did not listen on %s:%d in %.0f s: %s' % (
                ip, port, ready_timeout, self.service_log()[-1500:]))
        return port

    def service_limit(self):
        """tcpserver's -c in service/smtpd/run (None if it has none)."""
        m = re.search(r' -c (\d+)', mrinst.read_file(self.path('service', 'smtpd', 'run')).decode())
        return int(m.group(1)) if m else None

    # what service/smtpd was last written for (a test that runs setup.sh itself sets the port)
    service_port = None
    service_ip = '127.0.0.1'

    def start_daemon(self, argv, port, ready_timeout=10.0, logname='daemon.log'):
        """Any server (xinetd ...) in its own process group, stopped at exit."""
        log = open(self.path(logname), 'ab')
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, cwd='/')
        finally:
            log.close()
        self.services.append(p)
        if not wait_port(port, ready_timeout):
            raise RuntimeError('%s did not listen on 127.0.0.1:%d' % (argv[0], port))
        return p

    def stop_service(self, p=None):
        for q in ([p] if p else list(self.services)):
            self._stop_group(q)
            if q in self.services:
                self.services.remove(q)

    def _stop_group(self, p):
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            self._kill_group(p.pid)
            p.wait(5)
        self._wait_group(p.pid, 5)

    def service_log(self):
        return self.read_log('smtpd.service.log')

    def connect(self, port, timeout=20.0):
        s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        c = Client(s, timeout)
        return c


def crlf(text):
    """A message with LF line ends (str or bytes) as SMTP sends it: CRLF, dot-stuffed."""
    if isinstance(text, str):
        text = text.encode()
    out = []
    for line in text.split(b'\n')[:-1] if text.endswith(b'\n') else text.split(b'\n'):
        if line.startswith(b'.'):
            line = b'.' + line
        out.append(line + b'\r\n')
    return b''.join(out)


def strip_trace(data):
    """A delivered file without the lines mailroom-local added and the Received: line
    mailroom-smtpd added (its continuation lines included)."""
    _, rest = mrinst.split_delivered(data)
    if rest.startswith(b'Received: '):
        i = rest.find(b'\n')
        while i >= 0 and rest[i + 1:i + 2] in (b'\t', b' '):
            i = rest.find(b'\n', i + 1)
        rest = rest[i + 1:]
    return rest
