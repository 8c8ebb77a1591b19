"""smtpfake: scripted SMTP servers for mailroom-remote's tests: well-behaved sinks and
hostile peers.

    srv = smtpfake.Server('127.3.4.5', 25, ehlo=['PIPELINING', '8BITMIME'], rcpt=lambda a: '250 ok')
    srv.start(); ...; srv.stop()
    srv.sessions -> [{'cmds': [b'EHLO x', ...], 'pipelined': {...}, 'messages': [bytes]}]

Replies are strings (a '\\r\\n' is added; '\\n' inside separates lines) or one of the hostile
actions: '@silent' (never answer), '@close' (close the connection), '@closemid' (half a
multi-line reply, then close), '@bigline' (a 10 MB reply line). Hooks: greeting, ehlo (a
list of keywords, or a reply string such as '500 no'), helo, mail, rcpt (a function of the
address), data, end (the reply to the final dot), starttls (the reply to STARTTLS: a string,
or '@tlsjunk' (220, then bytes that are not TLS, then close) or '@tlssilent' (220, then
nothing until the client goes); default 502 as for any other unknown verb). tls: an
ssl.SSLContext (server side): STARTTLS is answered 220 (plus the line tlsinject in the same
write, in clear, when given) and the session goes on under TLS; s['tls'] has the version. A message is stored as received, without
the final dot line and with dot-stuffing removed. `python3 smtpfake.py IP PORT OUTDIR` runs a
sink that writes each message to OUTDIR (the netns tests run it inside a namespace).
Every socket read has a timeout.
"""

import os
import select
import socket
import sys
import threading
import time

BIG = 10 * 1024 * 1024


class Server:
    def __init__(self, ip, port=25, greeting='220 fake.test ESMTP', ehlo=('PIPELINING', '8BITMIME', 'SIZE 10000000'),
                 helo='250 fake.test', mail='250 2.1.0 ok', rcpt=None, data='354 go ahead', end='250 2.0.0 ok queued',
                 outdir=None, family=socket.AF_INET, starttls=None, tls=None, tlsinject=None):
        self.ip, self.port = ip, port
        self.greeting, self.ehlo, self.helo, self.mail = greeting, ehlo, helo, mail
        self.rcpt = rcpt or (lambda a: '250 2.1.5 ok')
        self.data, self.end = data, end
        self.starttls = starttls
        self.tls, self.tlsinject = tls, tlsinject
        self.outdir = outdir
        self.sessions = []
        self.stopping = threading.Event()
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(32)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.lock = threading.Lock()

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()

    def messages(self):
        with self.lock:
            return [m for s in self.sessions for m in s['messages']]

    def _accept(self):
        while not self.stopping.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if r:
                try:
                    c, _ = self.sock.accept()
                except OSError:
                    continue
                threading.Thread(target=self._session, args=(c,), daemon=True).start()

    def _send(self, c, reply):
        """False if the session is over."""
        if reply == '@silent':
            # hold the connection until the client goes or the test ends (bounded)
            deadline = time.monotonic() + 60
            while not self.stopping.is_set() and time.monotonic() < deadline:
                r, _, _ = select.select([c], [], [], 0.1)
                if r:
                    try:
                        if not c.recv(65536):
                            break
                    except OSError:
                        break
            return False
        if reply == '@close':
            return False
        if reply == '@closemid':
            c.sendall(b'250-first line of a reply\r\n250-second')
            return False
        if reply == '@bigline':
            try:
                chunk = b'x' * 65536
                c.sendall(b'250-')
                for _ in range(BIG // len(chunk)):
                    c.sendall(chunk)
                c.sendall(b'\r\n250 ok\r\n')
            except OSError:
                pass
            return False
        c.sendall(reply.replace('\n', '\r\n').encode() + b'\r\n')
        return True

    def _session(self, c):
        s = {'cmds': [], 'pipelined': {}, 'messages': []}
        with self.lock:
            self.sessions.append(s)
        c.settimeout(30)
        buf = b''

        def line():
            nonlocal buf
            deadline = time.monotonic() + 30
            while b'\n' not in buf:
                if time.monotonic() > deadline or len(buf) > 100000:
                    return None
                chunk = c.recv(65536)
                if not chunk:
                    return None
                buf += chunk
            ln, buf = buf.split(b'\n', 1)
            return ln.rstrip(b'\r')

        try:
            if not self._send(c, self.greeting):
                return
            while True:
                ln = line()
                if ln is None:
                    return
                s['cmds'].append(ln)
                verb = ln.split(b' ', 1)[0].split(b':', 1)[0].upper()
                if verb in (b'MAIL', b'RCPT'):
                    # what else had arrived with it: PIPELINING's one write shows here
                    time.sleep(0.05)
                    try:
                        c.setblocking(False)
                        more = c.recv(65536)
                        buf += more
                    except (BlockingIOError, OSError):
                        pass
                    finally:
                        c.setblocking(True)
                        c.settimeout(30)
                    s['pipelined'].setdefault(verb.decode(), b'DATA\r\n' in buf)
                if verb == b'EHLO':
                    if isinstance(self.ehlo, str):
                        reply = self.ehlo
                    else:
                        reply = '\n'.join(['250-fake.test hello'] + ['250-' + k for k in self.ehlo[:-1]] +
                                          ['250 ' + self.ehlo[-1]]) if self.ehlo else '250 fake.test hello'
                elif verb == b'HELO':
                    reply = self.helo
                elif verb == b'MAIL':
                    reply = self.mail
                    s['accepted'] = 0
                elif verb == b'RCPT':
                    a = ln[ln.find(b'<') + 1:ln.rfind(b'>')].decode(errors='replace')
                    reply = self.rcpt(a)
                    if reply.startswith('2'):
                        s['accepted'] = s.get('accepted', 0) + 1
                elif verb == b'DATA':
                    reply = self.data if s.get('accepted') else '554 5.5.1 no valid recipients'
                    if reply.startswith('354'):
                        if not self._send(c, reply):
                            return
                        lines = []
                        while True:
                            dl = line()
                            if dl is None:
                                return
                            if dl == b'.':
                                break
                            lines.append(dl[1:] if dl.startswith(b'.') else dl)
                        msg = b''.join(x + b'\n' for x in lines)
                        s['messages'].append(msg)
                        if self.outdir:
                            p = os.path.join(self.outdir, '%d.%d.eml' % (time.time() * 1000000, threading.get_ident()))
                            with open(p + '.tmp', 'wb') as f:
                                f.write(msg)
                            os.rename(p + '.tmp', p)
                        reply = self.end
                elif verb == b'QUIT':
                    self._send(c, '221 bye')
                    return
                elif verb == b'STARTTLS' and self.starttls in ('@tlsjunk', '@tlssilent'):
                    c.sendall(b'220 2.0.0 go ahead\r\n')
                    if self.starttls == '@tlsjunk':
                        c.sendall(b'this is not a TLS record\r\n' * 4)
                        return
                    self._send(c, '@silent')
                    return
                elif verb == b'STARTTLS' and self.tls is not None and 'tls' not in s:
                    c.sendall(b'220 2.0.0 go ahead\r\n' + (self.tlsinject.encode() + b'\r\n' if self.tlsinject else b''))
                    buf = b''
                    c = self.tls.wrap_socket(c, server_side=True)
                    c.settimeout(30)
                    s['tls'] = c.version()
                    continue
                elif verb == b'STARTTLS' and self.starttls:
                    reply = self.starttls
                elif verb == b'RSET' or verb == b'NOOP':
                    reply = '250 ok'
                else:
                    reply = '502 unknown'
                if not self._send(c, reply):
                    return
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass


if __name__ == '__main__':
    ip, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    srv = Server(ip, port, outdir=outdir, family=socket.AF_INET6 if ':' in ip else socket.AF_INET).start()
    print('listening', flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
