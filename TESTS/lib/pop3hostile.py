"""pop3hostile: a scripted POP3 server that lies, for mailroom-fetch's tests (issue 17).

    with pop3hostile.Server() as h:        # 127.0.0.1:h.port, one thread per connection
        ... an account with user=CASE logs in and meets that case ...

The case is the USER name; the password is ignored. Every message the server offers is
MSG % (case, n). Cases:
  good      two messages, everything right
  longline  RETR sends a 10 MB line with no end
  badlist   LIST says 100 bytes, RETR sends 5,000
  neverend  RETR sends lines for ever, never the final "."
  dupuidl   two messages with the same UIDL
  retrerr   RETR answers -ERR
  dropdele  RETR fine, the connection is dropped at the first DELE
  nouidl    UIDL answers -ERR, TOP works: the hash of the headers names the messages
BadGreeting('garbage') greets with binary garbage, BadGreeting('stall') never greets.
h.log lists (case, command) pairs, h.deleted the (case, n) the server deleted at QUIT.
Every socket has a timeout; the server stops (and closes every connection) when the `with` ends.
"""

import socket
import threading

MSG = b'From: hostile@example.org\nTo: someone@example.org\nSubject: %s %d\nX-Case: %s\n\nbody of %s %d\n.dotted line\n'


def message(case, n):
    c = case.encode()
    return MSG % (c, n, c, c, n)


def wire(data):
    out = []
    for line in data.split(b'\n')[:-1]:
        out.append((b'.' + line if line.startswith(b'.') else line) + b'\r\n')
    return b''.join(out)


class Server:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.log = []
        self.deleted = []
        self.conns = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass
        self.sock.close()
        return False

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(10)
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            self._session(c)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _session(self, c):
        f = c.makefile('rb')
        case = None
        dele = []

        def send(b):
            c.sendall(b)

        send(b'+OK hostile ready\r\n')
        while not self.stop.is_set():
            line = f.readline(1000)
            if not line:
                return
            words = line.strip().split(b' ')
            cmd = words[0].upper()
            with self.lock:
                self.log.append((case, cmd.decode(errors='replace')))
            if cmd == b'USER':
                case = words[1].decode() if len(words) > 1 else ''
                send(b'+OK\r\n')
            elif cmd == b'PASS':
                send(b'+OK logged in\r\n')
            elif cmd == b'LIST':
                n = 1 if case in ('retrerr', 'longline', 'neverend', 'badlist') else 2
                send(b'+OK\r\n')
                for i in range(1, n + 1):
                    size = 100 if case == 'badlist' else len(wire(message(case, i)))
                    if case in ('longline', 'neverend'):
                        size = 20000
                    send(b'%d %d\r\n' % (i, size))
                send(b'.\r\n')
            elif cmd == b'UIDL':
                if case == 'nouidl':
                    send(b'-ERR no UIDL here\r\n')
                    continue
                n = 1 if case in ('retrerr', 'longline', 'neverend', 'badlist') else 2
                send(b'+OK\r\n')
                for i in range(1, n + 1):
                    uid = b'same' if case == 'dupuidl' else ('%s-%d' % (case, i)).encode()
                    send(b'%d %s\r\n' % (i, uid))
                send(b'.\r\n')
            elif cmd == b'TOP':
                i = int(words[1])
                m = message(case, i)
                send(b'+OK\r\n' + wire(m[:m.index(b'\n\n') + 2]) + b'.\r\n')
            elif cmd == b'RETR':
                i = int(words[1])
                if case == 'retrerr':
                    send(b'-ERR no such message today\r\n')
                elif case == 'longline':
                    send(b'+OK\r\n')
                    chunk = b'x' * 65536
                    for _ in range(160):  # 10 MB, no LF
                        send(chunk)
                    send(b'\r\n.\r\n')
                elif case == 'neverend':
                    send(b'+OK\r\n')
                    while not self.stop.is_set():
                        send(b'and on and on and on\r\n' * 50)
                    return
                elif case == 'badlist':
                    send(b'+OK\r\n' + wire(message(case, i) + b'y' * 5000 + b'\n') + b'.\r\n')
                else:
                    send(b'+OK\r\n' + wire(message(case, i)) + b'.\r\n')
            elif cmd == b'DELE':
                if case == 'dropdele':
                    return
                dele.append(int(words[1]))
                send(b'+OK deleted\r\n')
            elif cmd == b'QUIT':
                with self.lock:
                    self.deleted += [(case, i) for i in dele]
                send(b'+OK bye\r\n')
                return
            else:
                send(b'-ERR what\r\n')


class BadGreeting:
    """A server whose greeting is garbage (mode 'garbage') or never comes ('stall')."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()
        return False

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            if self.mode == 'garbage':
                try:
                    c.sendall(b'\x00\xff\x1b[2J garbage \x80\x81\r\n')
                except OSError:
                    pass
