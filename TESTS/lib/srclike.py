"""srclike: an SMTP client that writes the bytes smtp-source writes, in the same write pattern
(issue 18), and times one message per connection against a kept connection.

What Postfix's smtp-source (`-4 -m N -s 1 -l 2048 [-d] -f a@localhost -t demo@localhost
-M localhost`) does on the wire, from `strace -tt` of it: one write per command (HELO, MAIL
FROM, RCPT TO, DATA: no pipelining), then after 354 the whole message (headers, body of
X lines, the final dot line) in one write of 2,183 bytes, and it reads each reply with
read() into a large buffer, waiting again while the reply line is incomplete. It sets no
TCP_NODELAY, nor does this client. Without -d every message has its own connection
(greeting, HELO, the transaction, QUIT); with -d one connection carries them all.

Besides the time, the client counts replies that arrived in more than one read: with the
server writing each group of replies in one write(), a reply never arrives in pieces on
loopback, and a piece waiting behind Nagle's algorithm for the client's delayed ACK is
exactly issue 18's 40 ms stall.
"""

import socket
import time

MAX_REPLY = 1 << 16


def message(size=2048, sender='a@localhost', rcpt='demo@localhost'):
    """smtp-source's message: From, To, Date, Message-Id headers, then lines of X, then
    the dot line; CRLF line ends."""
    head = ('From: <%s>\r\nTo: <%s>\r\nDate: Mon, 7 Dec 2026 01:47:04 +0000\r\n'
            'Message-Id: <srclike.%d@localhost>\r\n\r\n' % (sender, rcpt, size)).encode()
    body = b''
    n = 0
    while len(head) + len(body) < size:
        body += (b'%d' % (n % 10)) + b'X' * 77 + b'\r\n'
        n += 1
    return head + body + b'.\r\n'


class Conn:
    """One SMTP connection; every read has a deadline."""

    def __init__(self, ip, port, timeout=30.0):
        self.sock = socket.create_connection((ip, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b''
        self.split = 0    # replies that needed more than one read
        self.worst = 0.0  # longest wait between the first piece of a reply and its end

    def reply(self):
        """One reply (all its lines); returns (code, text)."""
        pieces = 0
        first = None
        while True:
            end = self._complete()
            if end is not None:
                break
            chunk = self.sock.recv(131072)
            if not chunk:
                raise EOFError('connection closed after %r' % self.buf[:200])
            pieces += 1
            if first is None:
                first = time.monotonic()
            self.buf += chunk
            if len(self.buf) > MAX_REPLY:
                raise RuntimeError('reply over %d bytes' % MAX_REPLY)
        if pieces > 1:
            self.split += 1
            self.worst = max(self.worst, time.monotonic() - first)
        text, self.buf = self.buf[:end], self.buf[end:]
        return int(text[:3]), text.decode(errors='replace').strip()

    def _complete(self):
        """The end offset of the first complete reply in buf, or None."""
        pos = 0
        while True:
            i = self.buf.find(b'\r\n', pos)
            if i < 0:
                return None
            line = self.buf[pos:i]
            if len(line) >= 4 and line[3:4] == b'-':
                pos = i + 2
                continue
            return i + 2

    def cmd(self, line, want):
        self.sock.sendall(line)
        code, text = self.reply()
        if code != want:
            raise RuntimeError('%r: %d %s' % (line, code, text))
        return text

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def transaction(c, msg, sender, rcpt):
    c.cmd(b'MAIL FROM:<%s>\r\n' % sender.encode(), 250)
    c.cmd(b'RCPT TO:<%s>\r\n' % rcpt.encode(), 250)
    c.cmd(b'DATA\r\n', 354)
    c.cmd(msg, 250)


def session(ip, port, count, kept, sender='a@localhost', rcpt='demo@localhost', size=2048, timeout=30.0):
    """count messages, over one connection (kept) or one connection each. Returns
    (seconds, replies that arrived in pieces, the longest such wait in seconds)."""
    msg = message(size, sender, rcpt)
    split = 0
    worst = 0.0
    t0 = time.monotonic()
    c = None
    try:
        for i in range(count):
            if c is None:
                c = Conn(ip, port, timeout)
                code, text = c.reply()
                if code != 220:
                    raise RuntimeError('greeting %d %s' % (code, text))
                c.cmd(b'HELO localhost\r\n', 250)
            transaction(c, msg, sender, rcpt)
            if not kept or i == count - 1:
                c.cmd(b'QUIT\r\n', 221)
                split += c.split
                worst = max(worst, c.worst)
                c.close()
                c = None
    finally:
        if c is not None:
            split += c.split
            worst = max(worst, c.worst)
            c.close()
    return time.monotonic() - t0, split, worst
