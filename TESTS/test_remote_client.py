#!/usr/bin/env python3
"""mailroom-remote, run directly as rspawn runs it (cwd a home with control/, fd 0 the
message file with bytes after msglen, records on fd 1), against:
- dnsmasq on a random 127.x.y.z port 53 (DNSCACHEIP) and a real mailroom-smtpd instance
  under tcpserver on another 127.a.b.c port 25: several recipients in one transaction, the
  mail in their Maildirs byte for byte below the Received line;
- scripted SMTP peers (TESTS/lib/smtpfake.py): 451/550 to RCPT, a 10 MB reply line, a
  server that never answers, one that closes mid-reply, no EHLO, no PIPELINING, no
  8BITMIME with an 8-bit body, SMTPUTF8, SIZE, 4xx/5xx greetings (passed over), self MX,
  A fallback, smtproutes, remoteport, IPv6;
- a scripted DNS server (TESTS/lib/dnsfake.py): truncated UDP answers (TCP retry), CNAME
  loops, garbage, NXDOMAIN, null MX, 100 MX hosts;
- two network namespaces as primary and backup MX (veth, 10.x.y.z/30): primary stopped or
  its link cut -> the backup; primary back -> the primary.
Root only (ports 25 and 53, namespaces): SKIP otherwise.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
import dnsfake  # noqa: E402
import smtpfake  # noqa: E402
from mrinst import IS_ROOT, CHECKOUT, info, read_file  # noqa: E402

R = mrinst.Results()
BIN = os.path.join(CHECKOUT, 'build', 'bin', 'mailroom-remote')
NOBODY = 65534


def rand_ip():
    return '127.%d.%d.%d' % (random.randint(20, 250), random.randint(1, 250), random.randint(2, 250))


def records(out):
    """The records of stdout: [(code, text)], or raises on a malformed stream."""
    if out and not out.endswith(b'\0'):
        raise ValueError('output does not end with NUL: %r' % out[-100:])
    recs = []
    for r in out.split(b'\0')[:-1]:
        if not r or r[:1] not in (b'K', b'Z', b'D'):
            raise ValueError('malformed record %r' % r[:200])
        text = r[1:].decode('ascii')
        if len(text) > 900 or any(ord(ch) < 32 or ord(ch) > 126 for ch in text):
            raise ValueError('text not one printable line of <= 900 bytes: %r' % text[:200])
        recs.append((r[:1].decode(), text))
    return recs


class Home:
    """A temporary home for mailroom-remote: control/, the message file, the binary."""

    def __init__(self, **control):
        self.dir = tempfile.mkdtemp(prefix='mrremote.', dir='/tmp')
        os.chmod(self.dir, 0o755)
        os.makedirs(os.path.join(self.dir, 'control'))
        self.bin = os.path.join(self.dir, 'mailroom-remote')
        shutil.copy(BIN, self.bin)
        os.chmod(self.bin, 0o755)
        base = {'me': 'sender.test', 'timeoutconnect': 2, 'timeoutremote': 3}
        base.update(control)
        for k, v in base.items():
            self.control(k, v)

    def control(self, name, value):
        p = os.path.join(self.dir, 'control', name)
        if value is None:
            if os.path.exists(p):
                os.unlink(p)
            return
        mrinst.write_file(p, str(value) + '\n', 0o644)

    def run(self, dnsip, domain, rcpts, msg, sender='sender@sender.test', extra=b'TENVELOPE\0junk', timeout=90,
            msglen=None):
        p = os.path.join(self.dir, 'msg')
        mrinst.write_file(p, msg + extra, 0o644)
        argv = [self.bin, domain, sender, str(len(msg) if msglen is None else msglen)] + rcpts
        pre = ['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups']
        t0 = time.monotonic()
        with open(p, 'rb') as f:
            r = subprocess.run(pre + argv, stdin=f, capture_output=True, cwd=self.dir, timeout=timeout,
                               env={'PATH': '/usr/bin:/bin', 'DNSCACHEIP': dnsip})
        el = time.monotonic() - t0
        if r.stderr:
            sys.stderr.write(r.stderr.decode(errors='replace'))
        return records(r.stdout), r.returncode, el

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def dns_ready(ip, timeout=5.0):
    q = b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00' + dnsfake.wire('ready.test') + b'\x00\x01\x00\x01'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.3)
        try:
            s.sendto(q, (ip, 53))
            s.recvfrom(512)
            return True
        except OSError:
            time.sleep(0.1)
        finally:
            s.close()
    return False


class Dnsmasq:
    def __init__(self, args):
        self.ip = rand_ip()
        self.p = subprocess.Popen(['dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=53',
                                   '--listen-address=' + self.ip, '--bind-interfaces', '--no-resolv', '--no-hosts',
                                   # answer NODATA / NXDOMAIN for what it lacks, not REFUSED
                                   '--local=/test/',
                                   '--pid-file=', '--log-facility=-'] + args,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)
        if not dns_ready(self.ip):
            self.stop()
            raise RuntimeError('dnsmasq did not answer on %s' % self.ip)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


def expect(label, got, codes, words=()):
    """got: (records, rc, secs); codes: 'KZD' string, one per recipient; words: texts every
    record must contain."""
    recs, rc, el = got
    ok = rc == 0 and ''.join(c for c, _ in recs) == codes and all(
        all(w in t for w in words) for _, t in recs)
    R.check(label, ok, 'exit %d after %.1f s, records %r' % (rc, el, recs))
    return ok


# --- the happy path: a real mailroom-smtpd ------------------------------------------------------
MSG = (b'Received: from client.sender.test by sender.test; Sun, 23 Nov 2025 10:00:00 +0000\n'
       b'From: sender@sender.test\nTo: demo@example.test\nSubject: remote\n\n'
       b'.leading dot\n..two dots\n.\n8-bit: \xc3\xa4\xc3\xb6\nlast line\n')


def test_real_receiver():
    rip = rand_ip()
    with smtpinst.SmtpInstance(prefix='mrrecv.') as inst:
        inst.control('locals', 'example.test')
        inst.control('rcpthosts', 'example.test')
        maildirs = {u: inst.add_mailbox(u) for u in ('alice', 'bob')}
        maildirs['demo'] = inst.maildir('demo')
        os.environ['SMTP_IP'] = rip
        try:
            inst.setup_smtpd(25)
        finally:
            del os.environ['SMTP_IP']
        log = open(inst.path('smtpd.service.log'), 'ab')
        p = subprocess.Popen([inst.path('service', 'smtpd', 'run')], cwd=inst.path('service', 'smtpd'),
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        inst.services.append(p)
        if not smtpinst.wait_port(25, 10, host=rip):
            R.fail('real receiver: tcpserver up', inst.service_log()[-500:])
            return
        inst.start()
        dns = Dnsmasq(['--mx-host=example.test,mx.example.test,10', '--host-record=mx.example.test,' + rip])
        home = Home(helohost='client.sender.test')
        try:
            got = home.run(dns.ip, 'example.test',
                           ['demo@example.test', 'alice@example.test', 'nosuch@example.test', 'bob@example.test'], MSG)
            expect('real receiver: K K D K, one record per recipient, exit 0', got, 'KKDK', ['mx.example.test', rip])
            R.check('real receiver: the refused one carries the remote text',
                    '550' in got[0][2][1] and 'RCPT' in got[0][2][1], repr(got[0][2:3]))
            for u, md in maildirs.items():
                n, _ = inst.wait_for(1, 20, user=md)
                files = inst.maildir_files(md)
                if not R.check('real receiver: %s got one copy' % u, len(files) == 1, 'got %d' % len(files)):
                    continue
                data = read_file(files[0])
                R.check('real receiver: %s byte for byte below the new Received line' % u,
                        smtpinst.strip_trace(data) == MSG, repr(data[:400]))
                _, rest = mrinst.split_delivered(data)
                first = rest.split(b'\n', 1)[0]
                R.check('real receiver: %s Received chain (smtpd\'s line names our HELO, then ours)' % u,
                        rest.startswith(b'Received: ') and b'client.sender.test' in rest[:300]
                        and rest.count(b'Received: ') == 2, repr(first))
        finally:
            home.cleanup()
            dns.stop()


# --- scripted peers ----------------------------------------------------------------------------
def test_peers():
    servers = {}
    mx = []

    def peer(name, **kw):
        ip = rand_ip()
        servers[name] = smtpfake.Server(ip, 25, **kw).start()
        mx.append('--host-record=%s.peer.test,%s' % (name, ip))
        return ip

    def route(domain, *hosts):
        for pref, h in hosts:
            mx.append('--mx-host=%s,%s,%d' % (domain, h if '.' in h else h + '.peer.test', pref))

    rcptmap = {'ok': '250 2.1.5 ok', 'temp': '451 4.2.0 mailbox busy, try later', 'perm': '550 5.1.1 no such user'}
    peer('mixed', rcpt=lambda a: rcptmap.get(a.split('@')[0], '250 ok'))
    route('mixed.test', (10, 'mixed'))
    peer('allbad', rcpt=lambda a: '550 5.1.1 nobody here')
    route('allbad.test', (10, 'allbad'))
    peer('bigline', greeting='@bigline')
    route('bigline.test', (10, 'bigline'))
    peer('bigehlo', ehlo='@bigline')
    route('bigehlo.test', (10, 'bigehlo'))
    peer('silent', greeting='@silent')
    route('silent.test', (10, 'silent'))
    peer('closemid', mail='@closemid')
    route('closemid.test', (10, 'closemid'))
    peer('noehlo', ehlo='500 5.5.1 what is EHLO')
    route('noehlo.test', (10, 'noehlo'))
    peer('nopipe', ehlo=['8BITMIME', 'SIZE'])
    route('nopipe.test', (10, 'nopipe'))
    peer('no8bit', ehlo=['PIPELINING'])
    route('no8bit.test', (10, 'no8bit'))
    peer('utf8', ehlo=['PIPELINING', '8BITMIME', 'SMTPUTF8'])
    route('utf8.test', (10, 'utf8'))
    route('noutf8.test', (10, 'no8bit'))
    peer('small', ehlo=['PIPELINING', '8BITMIME', 'SIZE 100'])
    route('small.test', (10, 'small'))
    peer('busy', greeting='421 4.3.2 too busy')
    peer('gone', greeting='554 5.3.2 no service')
    peer('good')
    route('backup.test', (10, 'busy'), (20, 'gone'), (30, 'good'))
    route('self.test', (5, 'good'), (10, 'localhost.self.test'), (20, 'busy'))
    route('selfbest.test', (10, 'localhost.self.test'), (20, 'good'))
    mx.append('--host-record=localhost.self.test,127.0.0.1')
    aip = peer('afallback')
    mx.append('--host-record=afallback.test,' + aip)

    dns = Dnsmasq(mx)
    home = Home()
    body = b'Subject: x\n\n.dot\nbare\rCR\nno final newline'
    wire = b'Subject: x\n\n.dot\nbare\rCR\nno final newline\n'
    try:
        got = home.run(dns.ip, 'mixed.test', ['ok@mixed.test', 'temp@mixed.test', 'perm@mixed.test', 'ok2@mixed.test'], body)
        expect('451/550 to RCPT: K Z D K, each with its own fate', got, 'KZDK', ['mixed.peer.test ['])
        recs = got[0]
        R.check('451/550 to RCPT: the remote texts', '451 4.2.0 mailbox busy' in recs[1][1]
                and '550 5.1.1 no such user' in recs[2][1] and 'accepted' in recs[0][1], repr(recs))
        s = servers['mixed']
        msgs = s.messages()
        R.check('one transaction for all recipients', len(s.sessions) == 1 and len(msgs) == 1,
                '%d sessions, %d messages' % (len(s.sessions), len(msgs)))
        R.check('message: CRLF, dot-stuffing undone by the peer, bare CR kept, final newline added, '
                'nothing past msglen', msgs and msgs[0] == wire, repr(msgs[:1]))
        cmds = s.sessions[0]['cmds'] if s.sessions else []
        R.check('PIPELINING: MAIL, RCPTs and DATA in one write', s.sessions and s.sessions[0]['pipelined'].get('MAIL'),
                repr(s.sessions[0]['pipelined'] if s.sessions else None))
        R.check('EHLO names control/me; MAIL carries SIZE=, QUIT at the end',
                cmds and cmds[0] == b'EHLO sender.test' and cmds[1].startswith(b'MAIL FROM:<sender@sender.test> SIZE=')
                and b'BODY' not in cmds[1] and cmds[-1] == b'QUIT', repr(cmds))

        got = home.run(dns.ip, 'allbad.test', ['a@allbad.test', 'b@allbad.test'], body)
        expect('550 to every RCPT: D D', got, 'DD', ['550 5.1.1 nobody here'])
        R.check('550 to every RCPT: no message sent', not servers['allbad'].messages(), 'sent anyway')

        got = home.run(dns.ip, 'bigline.test', ['a@bigline.test'], body)
        expect('10 MB greeting line: Z naming the host', got, 'Z', ['bigline.peer.test', 'longer than 2048'])
        R.check('10 MB greeting line: ends at once', got[2] < 10, '%.1f s' % got[2])
        got = home.run(dns.ip, 'bigehlo.test', ['a@bigehlo.test'], body)
        expect('10 MB EHLO reply line: Z', got, 'Z', ['longer than 2048'])

        got = home.run(dns.ip, 'silent.test', ['a@silent.test', 'b@silent.test'], body)
        expect('a server that never answers: Z after timeoutremote', got, 'ZZ', ['did not reply within 3 s'])
        R.check('a server that never answers: bounded', got[2] < 15, '%.1f s' % got[2])

        got = home.run(dns.ip, 'closemid.test', ['a@closemid.test', 'b@closemid.test'], body)
        expect('a server closing mid-reply: Z Z', got, 'ZZ', ['closed the connection in the middle of a reply'])

        got = home.run(dns.ip, 'noehlo.test', ['a@noehlo.test'], b'plain\n')
        expect('EHLO refused: HELO, delivered', got, 'K')
        cmds = servers['noehlo'].sessions[-1]['cmds'] if servers['noehlo'].sessions else []
        R.check('EHLO refused: HELO sent, MAIL without extensions',
                len(cmds) > 2 and cmds[1] == b'HELO sender.test' and cmds[2] == b'MAIL FROM:<sender@sender.test>', repr(cmds))

        got = home.run(dns.ip, 'nopipe.test', ['a@nopipe.test', 'b@nopipe.test'], MSG)
        expect('no PIPELINING: delivered', got, 'KK')
        s = servers['nopipe']
        R.check('no PIPELINING: one command at a time', s.sessions and s.sessions[-1]['pipelined'].get('MAIL') is False,
                repr(s.sessions[-1]['pipelined'] if s.sessions else None))
        R.check('8-bit body to an 8BITMIME server: BODY=8BITMIME',
                s.sessions and any(c.startswith(b'MAIL') and b'BODY=8BITMIME' in c for c in s.sessions[-1]['cmds']),
                repr(s.sessions[-1]['cmds'][:3] if s.sessions else None))

        got = home.run(dns.ip, 'no8bit.test', ['a@no8bit.test'], MSG)
        expect('8-bit body, no 8BITMIME: a permanent failure saying so', got, 'D', ['8BITMIME', 'no8bit.peer.test'])
        R.check('8-bit body, no 8BITMIME: no MAIL sent',
                not any(c.startswith(b'MAIL') for ss in servers['no8bit'].sessions for c in ss['cmds']), 'MAIL sent')

        got = home.run(dns.ip, 'utf8.test', ['jörg@utf8.test'], b'hi\n')
        expect('UTF-8 address to an SMTPUTF8 server: delivered', got, 'K')
        cmds = servers['utf8'].sessions[-1]['cmds'] if servers['utf8'].sessions else []
        R.check('UTF-8 address: MAIL ... SMTPUTF8', any(c.startswith(b'MAIL') and c.endswith(b' SMTPUTF8') for c in cmds),
                repr(cmds))
        got = home.run(dns.ip, 'utf8.test', ['plain@utf8.test'], b'hi\n')
        cmds = servers['utf8'].sessions[-1]['cmds'] if servers['utf8'].sessions else []
        R.check('ASCII addresses: no SMTPUTF8 even when offered',
                got[0] == [got[0][0]] and got[0][0][0] == 'K' and not any(b'SMTPUTF8' in c for c in cmds), repr((got, cmds)))
        got = home.run(dns.ip, 'noutf8.test', ['jörg@noutf8.test'], b'hi\n')
        expect('UTF-8 address, no SMTPUTF8: a permanent failure', got, 'D', ['SMTPUTF8'])

        got = home.run(dns.ip, 'small.test', ['a@small.test'], b'x' * 500 + b'\n')
        expect('message larger than the server\'s SIZE: D 5.3.4', got, 'D', ['at most 100 bytes', '5.3.4'])

        got = home.run(dns.ip, 'backup.test', ['a@backup.test'], b'hi\n')
        expect('421 and 554 greetings passed over: the third MX takes it', got, 'K', ['good.peer.test'])
        R.check('421 and 554 greetings: both were tried', servers['busy'].sessions and servers['gone'].sessions, '')

        before = len(servers['good'].messages())
        got = home.run(dns.ip, 'self.test', ['a@self.test'], b'hi\n')
        expect('self MX at pref 10: pref 5 used', got, 'K', ['good.peer.test'])
        got = home.run(dns.ip, 'selfbest.test', ['a@selfbest.test'], b'hi\n')
        expect('self as the best MX: a permanent failure', got, 'D', ['this host'])
        R.check('self as the best MX: the worse MX was not used', len(servers['good'].messages()) == before + 1,
                '%d messages' % len(servers['good'].messages()))

        got = home.run(dns.ip, 'afallback.test', ['a@afallback.test'], b'hi\n')
        expect('no MX: the A record', got, 'K', ['afallback.test [' + aip + ']'])

        # smtproutes and remoteport: a peer on a random port
        rp = smtpinst.free_port()
        rip = rand_ip()
        routed = smtpfake.Server(rip, rp).start()
        try:
            home.control('smtproutes', 'routed.test:[%s]:%d\n.sub.test:%s:%d\n:[192.0.2.1]:9' % (rip, rp, 'good.peer.test', 25))
            got = home.run(dns.ip, 'routed.test', ['a@routed.test'], b'hi\n')
            expect('smtproutes domain:[ip]:port', got, 'K', ['[%s]' % rip])
            got = home.run(dns.ip, 'x.sub.test', ['a@x.sub.test'], b'hi\n')
            expect('smtproutes .sub.domain:host', got, 'K', ['good.peer.test'])
            home.control('smtproutes', 'bad.test:[999.1.1.1]')
            got = home.run(dns.ip, 'bad.test', ['a@bad.test'], b'hi\n')
            expect('smtproutes: a malformed line is a temporary failure', got, 'Z', ['smtproutes'])
            home.control('smtproutes', None)
            mx6 = Dnsmasq(['--mx-host=port.test,p.port.test,10', '--host-record=p.port.test,' + rip])
            try:
                home.control('remoteport', rp)
                got = home.run(mx6.ip, 'port.test', ['a@port.test'], b'hi\n')
                expect('control/remoteport', got, 'K', ['p.port.test [%s]' % rip])
            finally:
                mx6.stop()
        finally:
            routed.stop()
        # IPv6: AAAA ::1 on a random port (::1 is this host: reached through smtproutes, which
        # is not subject to the self-MX rule)
        home.control('remoteport', None)
        try:
            v6 = smtpfake.Server('::1', rp, family=socket.AF_INET6).start()
        except OSError as e:
            R.skip('IPv6 MX host', 'no ::1 here: %s' % e)
        else:
            d6 = Dnsmasq(['--host-record=h.v6.test,::1'])
            try:
                home.control('smtproutes', 'v6.test:h.v6.test:%d' % rp)
                got = home.run(d6.ip, 'v6.test', ['a@v6.test'], b'hi\n')
                expect('IPv6: AAAA address used', got, 'K', ['h.v6.test [::1]'])
            finally:
                home.control('smtproutes', None)
                d6.stop()
                v6.stop()

        # bad input from our side: the arguments and the message file
        got = home.run(dns.ip, 'mixed.test', ['a@mixed.test\r\nRSET'], b'hi\n')
        expect('a recipient with CR LF: D, nothing sent', got, 'D', ['malformed'])
        got = home.run(dns.ip, 'mixed.test', ['a@mixed.test', 'b@mixed.test'], b'hi\n', msglen=100, extra=b'')
        expect('msglen past the end of the file: Z', got, 'ZZ', ['shorter than msglen'])
    finally:
        home.cleanup()
        dns.stop()
        for s in servers.values():
            s.stop()


# --- scripted DNS ---------------------------------------------------------------------------
def test_dns():
    sink_ip = rand_ip()
    dead = '127.%d.%d' % (random.randint(20, 250), random.randint(1, 250))
    sink = smtpfake.Server(sink_ip, 25).start()

    def zone(q, t, tcp):
        if q == 'trunc.test' and t == dnsfake.MX:
            return dnsfake.Answer([('trunc.test', dnsfake.MX, dnsfake.rr_mx(10, 'sink.trunc.test'))], force_tc=True)
        if q == 'sink.trunc.test' and t == dnsfake.A:
            return dnsfake.Answer([(q, dnsfake.A, dnsfake.rr_a(sink_ip))])
        if q == 'loop.test':
            return dnsfake.Answer([('loop.test', dnsfake.CNAME, dnsfake.wire('a.loop.test')),
                                   ('a.loop.test', dnsfake.CNAME, dnsfake.wire('loop.test'))])
        if q in ('chain.test', 'x.chain.test'):  # a loop across answers
            return dnsfake.Answer([(q, dnsfake.CNAME, dnsfake.wire('x.chain.test' if q == 'chain.test' else 'chain.test'))])
        if q == 'garbage.test':
            return bytes(2) + b'\x81\x80\x00\x01\x00\x05\x00\x00\x00\x00' + dnsfake.wire(q) + b'\x00\x0f\x00\x01' + \
                bytes(random.getrandbits(8) for _ in range(200))
        if q == 'nx.test':
            return dnsfake.Answer(rcode=3)
        if q == 'null.test' and t == dnsfake.MX:
            return dnsfake.Answer([(q, dnsfake.MX, b'\0\0\0')])
        if q == 'big.test' and t == dnsfake.MX:
            return dnsfake.Answer([(q, dnsfake.MX, dnsfake.rr_mx(10 + i % 3, 'mx%d.big.test' % i)) for i in range(100)])
        if q.endswith('.big.test') and t == dnsfake.A:
            return dnsfake.Answer([(q, dnsfake.A, dnsfake.rr_a('%s.%d' % (dead, int(q[2:q.index('.')]) + 2)))])
        return dnsfake.Answer()

    dip = rand_ip()
    srv = dnsfake.Server(dip, zone).start()
    home = Home()
    try:
        got = home.run(dip, 'trunc.test', ['a@trunc.test'], b'hi\n')
        expect('truncated UDP answer: asked again over TCP, delivered', got, 'K', ['sink.trunc.test'])
        R.check('truncated UDP answer: a TCP query was made', ('trunc.test', dnsfake.MX, 'tcp') in srv.log, repr(srv.log[:6]))
        got = home.run(dip, 'loop.test', ['a@loop.test'], b'hi\n')
        expect('CNAME loop in one answer: Z', got, 'Z', ['CNAME'])
        n0 = len(srv.log)
        got = home.run(dip, 'chain.test', ['a@chain.test'], b'hi\n')
        expect('CNAME loop across answers: Z, a bounded number of queries', got, 'Z', ['CNAME'])
        R.check('CNAME loop across answers: at most 5 queries', len(srv.log) - n0 <= 5, '%d' % (len(srv.log) - n0))
        got = home.run(dip, 'garbage.test', ['a@garbage.test'], b'hi\n')
        expect('garbage DNS answer: Z', got, 'Z', ['malformed answer'])
        got = home.run(dip, 'nx.test', ['a@nx.test', 'b@nx.test'], b'hi\n')
        expect('NXDOMAIN: D', got, 'DD', ['does not exist'])
        got = home.run(dip, 'null.test', ['a@null.test'], b'hi\n')
        expect('null MX (RFC 7505): D', got, 'D', ['null MX'])
        n0 = len(srv.log)
        got = home.run(dip, 'big.test', ['a@big.test'], b'hi\n')
        expect('100 MX hosts, none answering: Z', got, 'Z', ['big.test'])
        aq = [x for x in srv.log[n0:] if x[1] == dnsfake.A]
        R.check('100 MX hosts: bounded (<= 16 hosts looked up, < 30 s)', len(aq) <= 16 and got[2] < 30,
                '%d A queries, %.1f s' % (len(aq), got[2]))
        R.check('100 MX hosts: only hosts of the best preference looked up',
                aq and all(int(q[2:q.index('.')]) % 3 == 0 for q, _, _ in aq), repr(aq[:5]))
    finally:
        home.cleanup()
        srv.stop()
        sink.stop()


# --- backup MX across hosts: two network namespaces ---------------------------------------------
def sh(*argv, check=True):
    r = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(argv), r.stderr.decode(errors='replace')))
    return r


class Netns:
    """A namespace joined to the host by a veth pair on a random 10.x.y.z/30."""

    def __init__(self):
        self.name = mrinst.random_name('mrr')
        self.vh, self.vn = self.name + 'h', self.name + 'n'
        a, b, c = random.randint(100, 250), random.randint(0, 255), random.randint(0, 63) * 4
        self.net = '10.%d.%d' % (a, b)
        self.hostip, self.ip = '%s.%d' % (self.net, c + 1), '%s.%d' % (self.net, c + 2)
        self.sink = None
        sh('ip', 'netns', 'add', self.name)
        try:
            sh('ip', 'link', 'add', self.vh, 'type', 'veth', 'peer', 'name', self.vn)
            sh('ip', 'link', 'set', self.vn, 'netns', self.name)
            sh('ip', 'addr', 'add', self.hostip + '/30', 'dev', self.vh)
            sh('ip', 'link', 'set', self.vh, 'up')
            sh('ip', 'netns', 'exec', self.name, 'ip', 'addr', 'add', self.ip + '/30', 'dev', self.vn)
            sh('ip', 'netns', 'exec', self.name, 'ip', 'link', 'set', self.vn, 'up')
            sh('ip', 'netns', 'exec', self.name, 'ip', 'link', 'set', 'lo', 'up')
            # never out to the real network, even when the link is down
            sh('ip', 'route', 'add', 'blackhole', self.net + '.0/24')
        except BaseException:
            self.cleanup()
            raise
        self.outdir = tempfile.mkdtemp(prefix='mrrsink.', dir='/tmp')

    def start_sink(self):
        self.sink = subprocess.Popen(['ip', 'netns', 'exec', self.name, sys.executable, '-u',
                                      os.path.join(CHECKOUT, 'TESTS', 'lib', 'smtpfake.py'), self.ip, '25', self.outdir],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        line = b''
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b'listening' not in line:
            line = self.sink.stdout.readline()
            if not line:
                break
        if b'listening' not in line:
            raise RuntimeError('sink in %s did not start' % self.name)

    def stop_sink(self):
        if self.sink and self.sink.poll() is None:
            os.killpg(self.sink.pid, signal.SIGTERM)
            try:
                self.sink.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.sink.pid, signal.SIGKILL)
                self.sink.wait(5)
        self.sink = None

    def count(self):
        return len([n for n in os.listdir(self.outdir) if n.endswith('.eml')])

    def link(self, up):
        sh('ip', 'netns', 'exec', self.name, 'ip', 'link', 'set', self.vn, 'up' if up else 'down')
        if up:
            # the host remembers the failed neighbour lookups: forget them, wait for the link
            sh('ip', 'neigh', 'flush', 'dev', self.vh, check=False)
            if not smtpinst.wait_port(25, 10, host=self.ip):
                raise RuntimeError('%s: %s:25 not reachable after the link came back' % (self.name, self.ip))

    def cleanup(self):
        try:
            self.stop_sink()
        except Exception:  # noqa: BLE001 - keep cleaning
            pass
        sh('ip', 'route', 'del', 'blackhole', self.net + '.0/24', check=False)
        sh('ip', 'link', 'del', self.vh, check=False)
        sh('ip', 'netns', 'del', self.name, check=False)
        if getattr(self, 'outdir', None):
            shutil.rmtree(self.outdir, ignore_errors=True)


def test_backup_mx():
    nets = []
    dns = home = None
    try:
        prim, back = Netns(), None
        nets.append(prim)
        back = Netns()
        nets.append(back)
        prim.start_sink()
        back.start_sink()
        dns = Dnsmasq(['--mx-host=bk.test,primary.bk.test,10', '--mx-host=bk.test,backup.bk.test,20',
                       '--host-record=primary.bk.test,' + prim.ip, '--host-record=backup.bk.test,' + back.ip])
        home = Home()

        def send(label, expect_prim, expect_back, host):
            p0, b0 = prim.count(), back.count()
            got = home.run(dns.ip, 'bk.test', ['a@bk.test'], b'Subject: %s\n\nhi\n' % label.encode())
            expect('backup MX: %s: delivered via %s' % (label, host), got, 'K', [host + '.bk.test'])
            R.check('backup MX: %s: stored on the right host' % label,
                    prim.count() - p0 == expect_prim and back.count() - b0 == expect_back,
                    'primary +%d, backup +%d' % (prim.count() - p0, back.count() - b0))
            return got

        send('both up', 1, 0, 'primary')
        prim.stop_sink()
        send('primary server stopped', 0, 1, 'backup')
        prim.start_sink()
        send('primary back', 1, 0, 'primary')
        prim.link(False)
        got = send('primary link cut', 0, 1, 'backup')
        R.check('backup MX: link cut: within timeoutconnect + a little', got[2] < 10, '%.1f s' % got[2])
        prim.link(True)
        send('primary link back', 1, 0, 'primary')
    finally:
        if home:
            home.cleanup()
        if dns:
            dns.stop()
        for n in nets:
            n.cleanup()


def main():
    if not IS_ROOT:
        R.skip('mailroom-remote client tests', 'need root (ports 25 and 53, network namespaces)')
        R.exit()
    for tool in ('dnsmasq', 'setpriv', 'ip', 'tcpserver'):
        if not shutil.which(tool) and not os.path.exists('/usr/sbin/' + tool):
            R.fail('mailroom-remote client tests', '%s is not installed (lib/sh/deps.sh)' % tool)
            R.exit()
    if not os.path.exists(BIN):
        R.fail('mailroom-remote built', BIN + ' is missing')
        R.exit()
    R.run('real receiver', test_real_receiver)
    R.run('scripted peers', test_peers)
    R.run('scripted DNS', test_dns)
    R.run('backup MX in namespaces', test_backup_mx)
    R.exit()


if __name__ == '__main__':
    main()
