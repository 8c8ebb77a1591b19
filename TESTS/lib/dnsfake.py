"""dnsfake: a small DNS server (UDP and TCP) for mailroom-remote's tests, for the answers a
real server will not give: truncated UDP answers, CNAME loops, 100 MX hosts, garbage.

    srv = dnsfake.Server('127.45.6.7', zone)   # zone(qname, qtype, tcp) -> Answer or bytes
    srv.start(); ... srv.stop()

zone returns an Answer (rcode, list of (owner, type, rdata bytes)), raw response bytes
(garbage), or None (no reply). srv.log holds (qname, qtype, 'udp'|'tcp') per query.
UDP answers longer than 512 bytes are sent truncated (TC, no records), as RFC 1035 says,
so the client has to ask again over TCP. Every wait is bounded.
"""

import select
import socket
import struct
import threading

A, NS, CNAME, MX, AAAA = 1, 2, 5, 15, 28


def wire(name):
    out = b''
    for label in name.rstrip('.').split('.'):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b'\0'


def rr_mx(pref, host):
    return struct.pack('>H', pref) + wire(host)


def rr_a(ip):
    return socket.inet_aton(ip)


def rr_aaaa(ip):
    return socket.inet_pton(socket.AF_INET6, ip)


class Answer:
    def __init__(self, records=(), rcode=0, force_tc=False):
        self.records = list(records)  # (owner, type, rdata)
        self.rcode = rcode
        self.force_tc = force_tc  # truncated over UDP whatever the size


def parse_query(data):
    """(id, qname lowercased, qtype, question bytes) or None."""
    if len(data) < 12:
        return None
    qid = data[:2]
    pos = 12
    labels = []
    while pos < len(data):
        n = data[pos]
        if n == 0:
            pos += 1
            break
        if n >= 64:
            return None
        labels.append(data[pos + 1:pos + 1 + n].decode('ascii', 'replace'))
        pos += 1 + n
    if pos + 4 > len(data):
        return None
    qtype = struct.unpack('>H', data[pos:pos + 2])[0]
    return qid, '.'.join(labels).lower(), qtype, data[12:pos + 4]


def build(qid, question, ans, tc=False):
    flags = 0x8180 | (0x0200 if tc else 0) | (ans.rcode & 15)
    recs = [] if tc else ans.records
    out = qid + struct.pack('>HHHHH', flags, 1, len(recs), 0, 0) + question
    for owner, t, rdata in recs:
        out += wire(owner) + struct.pack('>HHIH', t, 1, 60, len(rdata)) + rdata
    return out


class Server:
    def __init__(self, ip, zone):
        self.ip = ip
        self.zone = zone
        self.log = []
        self.stopping = threading.Event()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((ip, 53))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((ip, 53))
        self.tcp.listen(16)
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.udp.close()
        self.tcp.close()

    def _answer(self, data, tcp):
        q = parse_query(data)
        if not q:
            return None
        qid, qname, qtype, question = q
        self.log.append((qname, qtype, 'tcp' if tcp else 'udp'))
        ans = self.zone(qname, qtype, tcp)
        if ans is None:
            return None
        if isinstance(ans, bytes):
            return qid + ans[2:] if len(ans) >= 2 else ans
        out = build(qid, question, ans)
        if not tcp and (len(out) > 512 or ans.force_tc):
            out = build(qid, question, ans, tc=True)
        return out

    def _tcp_conn(self, c):
        c.settimeout(5)
        try:
            buf = b''
            while len(buf) < 2:
                chunk = c.recv(2 - len(buf))
                if not chunk:
                    return
                buf += chunk
            n = struct.unpack('>H', buf)[0]
            data = b''
            while len(data) < n:
                chunk = c.recv(n - len(data))
                if not chunk:
                    return
                data += chunk
            out = self._answer(data, True)
            if out is not None:
                c.sendall(struct.pack('>H', len(out)) + out)
        except OSError:
            pass
        finally:
            c.close()

    def _loop(self):
        while not self.stopping.is_set():
            r, _, _ = select.select([self.udp, self.tcp], [], [], 0.1)
            for s in r:
                if s is self.udp:
                    try:
                        data, addr = self.udp.recvfrom(4096)
                    except OSError:
                        continue
                    out = self._answer(data, False)
                    if out is not None:
                        try:
                            self.udp.sendto(out, addr)
                        except OSError:
                            pass
                else:
                    try:
                        c, _ = self.tcp.accept()
                    except OSError:
                        continue
                    threading.Thread(target=self._tcp_conn, args=(c,), daemon=True).start()
