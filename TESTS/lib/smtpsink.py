"""A small SMTP server on IP:25 with a policy, for the remote-delivery tests
(test_remote_queue.py, test_dkim_sign.py): records each transaction."""

import socketserver
import threading
import time


class Peer:
    """An SMTP server on ip:25. rcpt(addr) -> reply line; data_delay: seconds before the
    250 after DATA. Records one (sender, [rcpts], data) per transaction."""

    def __init__(self, ip, rcpt=None, data_delay=0.0):
        self.ip = ip
        self.rcpt = rcpt or (lambda a: '250 2.1.5 ok')
        self.data_delay = data_delay
        self.transactions = []
        self.lock = threading.Lock()
        peer = self

        class H(socketserver.StreamRequestHandler):
            timeout = 30

            def handle(self):
                peer.session(self.rfile, self.wfile)

        class S(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = S((ip, 25), H)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def session(self, r, w):
        def out(s):
            w.write(s.encode() + b'\r\n')
            w.flush()
        out('220 peer ESMTP')
        sender, rcpts = None, []
        while True:
            line = r.readline(2000)
            if not line:
                return
            cmd = line.decode(errors='replace').rstrip('\r\n')
            u = cmd.upper()
            if u.startswith('EHLO'):
                out('250-peer')
                out('250-8BITMIME')
                out('250 PIPELINING')
            elif u.startswith('HELO'):
                out('250 peer')
            elif u.startswith('MAIL FROM:'):
                sender, rcpts = cmd[10:].strip(), []
                out('250 2.1.0 ok')
            elif u.startswith('RCPT TO:'):
                a = cmd[8:].strip().strip('<>')
                rep = self.rcpt(a)
                if rep.startswith('250'):
                    rcpts.append(a)
                out(rep)
            elif u == 'DATA':
                if not rcpts:
                    out('554 5.5.1 no valid recipients')
                    continue
                out('354 go')
                data = b''
                while True:
                    ln = r.readline(10000)
                    if not ln or ln in (b'.\r\n', b'.\n'):
                        break
                    data += ln
                if self.data_delay:
                    time.sleep(self.data_delay)
                with self.lock:
                    self.transactions.append((sender, list(rcpts), data))
                out('250 2.0.0 queued')
            elif u == 'RSET':
                sender, rcpts = None, []
                out('250 ok')
            elif u == 'QUIT':
                out('221 bye')
                return
            else:
                out('250 ok')

    def rcpt_count(self, addr):
        with self.lock:
            return sum(1 for t in self.transactions if addr in t[1])

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
