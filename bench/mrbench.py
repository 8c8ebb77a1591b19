"""mrbench: helpers of bench/run.py: timing, Maildir counting, queue files, a POP3 reader.

Every wait here is bounded in time; every loop in count.
"""

import os
import random
import socket
import subprocess
import time

CHECKOUT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
TOOLS = os.path.join(CHECKOUT, 'build', 'bench')


def tool(name):
    return os.path.join(TOOLS, name)


def uptime():
    try:
        with open('/proc/loadavg') as f:
            return ' '.join(f.read().split()[:3])
    except OSError:
        return '?'


def random_loopback():
    """A random 127.x.y.z (not 127.0.0.x) and a free TCP port on it."""
    for _ in range(50):
        ip = '127.%d.%d.%d' % (random.randint(1, 254), random.randint(1, 254), random.randint(2, 254))
        port = random.randint(20000, 60000)
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, port))
            return ip, port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError('no free loopback address and port found in 50 tries')


def wait_port(ip, port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError('server exited %s before listening on %s:%d' % (proc.returncode, ip, port))
        try:
            socket.create_connection((ip, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('nothing listens on %s:%d after %.0f s' % (ip, port, timeout))


def count_dir(path):
    n = 0
    try:
        with os.scandir(path) as it:
            for _ in it:
                n += 1
    except FileNotFoundError:
        return 0
    return n


def wait_count(path, want, timeout, interval=0.05):
    """Polls folder PATH until it holds want entries or timeout s pass. Returns (n, secs)
    measured from the call."""
    t0 = time.monotonic()
    n = 0
    while True:
        n = count_dir(path)
        el = time.monotonic() - t0
        if n >= want or el >= timeout:
            return n, el
        time.sleep(interval)


def empty_dir(path):
    """Removes every plain file in PATH (bounded by what the listing returned)."""
    try:
        with os.scandir(path) as it:
            for e in it:
                if e.is_file(follow_symlinks=False):
                    try:
                        os.unlink(e.path)
                    except FileNotFoundError:
                        pass
    except FileNotFoundError:
        pass


def message_2k(size=2048, tag='bench'):
    """A message with LF line ends of about size bytes."""
    head = 'From: <bench@bench.test>\nTo: <demo@localhost>\nSubject: %s\n\n' % tag
    line = 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwx\n'
    body = line * max(1, (size - len(head)) // len(line))
    return (head + body).encode()


def queue_file(message, sender, rcpts):
    """A queue message file (INTERNALS.md "A message file"): message, envelope, trailer."""
    env = b'F' + sender.encode() + b'\0' + b''.join(b'T' + r.encode() + b'\0' for r in rcpts) + b'\0'
    trailer = b'MRQ1 %016x%010x\n' % (len(message), len(env))
    assert len(trailer) == 32
    return message + env + trailer


def info_file(arrival, rcpts, nexttry):
    """An info file (INTERNALS.md) with every recipient to do, tried once, next at nexttry."""
    hdr = ('MRI1 %010d %08x %08d' % (arrival, 0, len(rcpts))).ljust(63) + '\n'
    recs = []
    for _ in rcpts:
        text = 'deferred by the benchmark'.ljust(231)
        recs.append('T L %8d %010d %s\n' % (1, nexttry, text))
    out = (hdr + ''.join(recs)).encode()
    assert len(out) == 64 + 256 * len(rcpts)
    return out


def write_queue(home, count, message, sender, rcpts, where='new', deferred_until=None,
                uid=None, gid=None, base=None, info_uid=None):
    """Writes count message files straight into HOME/queue/WHERE (and, with deferred_until,
    their info files: messages already picked up and waiting for a retry). The files are
    not fsynced one by one: the caller syncs once before it starts a clock. Returns the ids."""
    data = queue_file(message, sender, rcpts)
    now = int(time.time())
    base = base if base is not None else random.randint(1000000, 8000000)
    info = info_file(now, rcpts, deferred_until) if deferred_until else None
    ids = []
    qdir = os.path.join(home, 'queue', where)
    idir = os.path.join(home, 'queue', 'info')
    for i in range(count):
        qid = '%d.%06d.%d' % (now, i % 1000000, base + i // 1000000)
        for d, content, mode, u in ((qdir, data, 0o640, uid),) + (((idir, info, 0o600, info_uid),) if info else ()):
            p = os.path.join(d, qid)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                os.write(fd, content)
                if u is not None:
                    os.fchown(fd, u, gid)
            finally:
                os.close(fd)
        ids.append(qid)
    return ids


def vmhwm(pid):
    """Peak resident set (KB) of a live process, from /proc/PID/status; None if gone."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class LineConn:
    """A socket with a deadline on every read; reads replies and multi-line answers fast
    (a LIST of 100,000 lines must measure the server, not this reader)."""

    def __init__(self, ip, port, timeout=60.0, sock=None):
        self.sock = sock or socket.create_connection((ip, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) if sock is None else None
        self.buf = b''

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError('connection closed (have %r)' % self.buf[:200])
        self.buf += chunk

    def line(self):
        for _ in range(100000):
            i = self.buf.find(b'\r\n')
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + 2:]
                return out
            self._fill()
        raise RuntimeError('no line end')

    def multi(self, limit=1 << 31):
        """A POP3 multi-line answer after its status line: returns its bytes."""
        start = 0
        chunks = []
        total = 0
        first = True
        for _ in range(1 << 22):
            if first and len(self.buf) >= 3:
                first = False
                if self.buf.startswith(b'.\r\n'):
                    self.buf = self.buf[3:]
                    return b''
            i = self.buf.find(b'\r\n.\r\n', max(0, start - 4))
            if i >= 0:
                chunks.append(self.buf[:i + 2])
                self.buf = self.buf[i + 5:]
                return b''.join(chunks)
            # keep the tail that may hold the start of the terminator
            if len(self.buf) > 8:
                chunks.append(self.buf[:-4])
                total += len(self.buf) - 4
                self.buf = self.buf[-4:]
            if total > limit:
                raise RuntimeError('answer over %d bytes' % limit)
            start = len(self.buf)
            self._fill()
        raise RuntimeError('answer never ended')

    def cmd(self, text):
        self.sock.sendall(text.encode() + b'\r\n')
        return self.line()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run(argv, timeout, **kw):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, **kw)


def smtpload(target, count, conc, perconn, size=2048, rcpts=1, rcpt='demo@localhost', timeout=900, prefix=()):
    """Runs build/bench/smtpload against target.ip:target.port; returns (ok, fail, secs).
    prefix: an argv prefix (a counting pass runs the client under strace)."""
    argv = list(prefix) + [tool('smtpload'), '-c', str(conc), '-m', str(perconn), '-s', str(size), '-r', str(rcpts),
            target.ip, str(target.port), str(count), 'bench@bench.test', rcpt]
    r = run(argv, timeout=timeout)
    out = r.stdout.decode(errors='replace').strip()
    if not out.startswith('smtpload '):
        raise RuntimeError('smtpload: %s %s' % (out, r.stderr.decode(errors='replace')))
    f = dict(kv.split('=') for kv in out.split()[1:])
    return int(f['ok']), int(f['fail']), float(f['secs'])
