"""pop3inst: helpers for the POP3 tests, beside mrinst.

    import mrinst, pop3inst
    with mrinst.Instance() as inst, pop3inst.Servers() as srv:
        port = srv.service(inst)                 # the instance's own service/pop3d/run
        c = pop3inst.Client(port); c.login('demo', 'demo'); c.cmd(b'STAT')

Every server started here runs in its own process group and is stopped (SIGTERM, then
SIGKILL, bounded waits) when the `with` ends; every socket read has a timeout.
"""

import os
import pwd
import signal
import socket
import subprocess
import time

import mrinst

IS_ROOT = os.geteuid() == 0


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_port(port, timeout=10.0, proc=None):
    """Waits until 127.0.0.1:port accepts a connection (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError('server exited %s before listening on %d' % (proc.returncode, port))
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('nothing listens on 127.0.0.1:%d after %.0f s' % (port, timeout))


class Servers:
    """Servers (tcpserver, xinetd, a service's run script) started for a test."""

    def __init__(self):
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()
        return False

    def start(self, argv, port, logpath, cwd='/', env=None, probe=True):
        """Starts argv in its own process group with output in logpath; waits for port."""
        log = open(logpath, 'ab')
        try:
            p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True, env=env)
        finally:
            log.close()
        self.procs.append(p)
        if probe:
            wait_port(port, 10.0, p)
        return p

    def tcpserver(self, inst, port, popup_args=(), check=None, pop3d_args=('Maildir',), log='pop3.log'):
        """tcpserver on 127.0.0.1:port running the instance's popup, a checkpassword program
        (the instance's by default) and mailroom-pop3d."""
        check = check or [inst.bin('mailroom-checkpassword')]
        argv = (['tcpserver', '-R', '-H', '-l0', '127.0.0.1', str(port), inst.bin('mailroom-popup')]
                + list(popup_args) + ['localhost'] + list(check) + [inst.bin('mailroom-pop3d')] + list(pop3d_args))
        return self.start(argv, port, inst.path(log))

    def service(self, inst, port):
        """Runs the instance's service/pop3d/run (written by lib/sh/setup.d/pop3d.sh)."""
        return self.start(['sh', inst.path('service', 'pop3d', 'run')], port, inst.path('pop3-service.log'))

    def stop(self, p, timeout=5.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # what the server started: popup, pop3d
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self):
        for p in self.procs:
            self.stop(p)
        self.procs = []


class Client:
    """A raw POP3 client: bytes in, lines out, every read bounded by a timeout."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.f = self.sock.makefile('rb')
        self.greeting = self.f.readline()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        return self.f.readline()

    def cmd(self, c):
        self.sock.sendall(c + b'\r\n')
        return self.f.readline()

    def multi(self):
        """The lines of a multi-line response up to its '.', still dot-stuffed, CRLF kept."""
        out = []
        while True:
            ln = self.f.readline()
            if not ln:
                raise EOFError('connection closed inside a multi-line response')
            if ln == b'.\r\n':
                return out
            out.append(ln)

    def login(self, user, password):
        r1 = self.cmd(b'USER ' + user.encode())
        r2 = self.cmd(b'PASS ' + password.encode())
        if not r1.startswith(b'+OK') or not r2.startswith(b'+OK'):
            raise RuntimeError('login %s failed: %r %r' % (user, r1, r2))
        return r2

    def closed(self, timeout=5.0):
        """True if the server closes the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            rest = self.sock.recv(65536)
            while rest:
                rest = self.sock.recv(65536)
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.f.close()
        finally:
            self.sock.close()


def unstuff(lines):
    """Multi-line response lines (CRLF kept) to the bytes the client gets."""
    return b''.join(ln[1:] if ln.startswith(b'.') else ln for ln in lines)


def wire(data):
    """A Maildir file as RETR sends it, without the final '.': CRLF line ends."""
    data = data.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    if data and not data.endswith(b'\r\n'):
        data += b'\r\n'
    return data


def passwd(inst, args, password=None, check=True):
    """Runs the instance's mailroom-passwd ARGS with password (a line) on stdin."""
    stdin = (password + '\n').encode() if password is not None else b''
    r = subprocess.run([inst.bin('mailroom-passwd')] + list(args), input=stdin,
                       capture_output=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError('mailroom-passwd %s exited %d: %s' % (' '.join(args), r.returncode,
                                                                 r.stderr.decode(errors='replace')))
    return r


def mailbox_owner(inst):
    """(uid, gid) of the demo mailbox, the virtual mailboxes' owner."""
    st = os.stat(inst.path('mail', 'demo', 'Maildir'))
    return st.st_uid, st.st_gid


def add_pop_user(inst, name, password, sha512=True):
    """A virtual mailbox mail/NAME/Maildir (users/assign, like demo's) and its POP3 user.
    sha512-crypt by default: a test logs in many times, and yescrypt costs ~0.3 s here."""
    md = inst.add_mailbox(name)
    uid, gid = mailbox_owner(inst)
    args = ['-u', str(uid), '-g', str(gid), '-d', inst.path('mail', name)]
    if sha512:
        args = ['-6'] + args
    passwd(inst, args + ['add', name], password)
    return md


def put_message(maildir, name, data, sub='new', mtime=None):
    """Writes a message file straight into a Maildir (owned like the Maildir)."""
    st = os.stat(maildir)
    path = os.path.join(maildir, sub, name)
    mrinst.write_file(path, data, 0o600, st.st_uid, st.st_gid)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def listing(maildir):
    """{'new': [...], 'cur': [...], 'tmp': [...]}: names, sorted."""
    return {d: sorted(os.listdir(os.path.join(maildir, d))) for d in ('new', 'cur', 'tmp')}


def procs_running(exe):
    """Pids of live processes whose /proc/PID/exe is exe."""
    return [pid for pid in (int(d) for d in os.listdir('/proc') if d.isdigit())
            if mrinst.proc_exe(pid) == exe and mrinst.proc_state(pid) not in (None, 'Z')]


def user_ids(name):
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid
