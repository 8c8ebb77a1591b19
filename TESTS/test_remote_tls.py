#!/usr/bin/env python3
"""STARTTLS in mailroom-remote (issue 9), run directly as rspawn runs it, with dnsmasq on a
random 127.x.y.z port 53 (DNSCACHEIP) as in test_remote_client.py:
- a real receiving instance (mailroom-tlsd in front of mailroom-smtpd under tcpserver on
  another 127.a.b.c port 25) with a certificate for mx.tls.test signed by a test CA:
  opportunistic STARTTLS is used (the result says "over TLSv1.3", the Received line "with
  ESMTPS (TLSv1.3 ..."); control/tlsdomains "tls.test:verify" with the test CA in
  control/tlscafile: delivered over TLS; the same with the system bundle (the test CA is not
  in it), or under an MX name the certificate does not carry: Z and nothing delivered;
  "tls.test" (no verify): delivered; a malformed tlsdomains line and an unreadable CA file: Z;
- scripted peers (TESTS/lib/smtpfake.py): with TLS required, a server that offers no
  STARTTLS, or refuses it, or whose handshake fails: Z and no MAIL seen; without the
  requirement: a refused STARTTLS goes on in clear, and a failed or stalled handshake is
  followed by a second connection without STARTTLS that delivers; a server that sends a
  reply line in clear right after its 220 to STARTTLS: that line is dropped, the EHLO under
  TLS gets the real answer (PIPELINING is used).
Root only (ports 25 and 53): SKIP otherwise.
"""

import os
import pwd
import random
import re
import shutil
import ssl
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
import smtpfake  # noqa: E402
import test_remote_client as trc  # noqa: E402  (its Home and Dnsmasq; main() runs only as a script)
from mrinst import IS_ROOT, read_file  # noqa: E402

R = mrinst.Results()
MSG = b'From: sender@sender.test\nTo: alice@tls.test\nSubject: %s\n\nover TLS, we hope\n'


def expect(label, got, codes, words=(), nowords=()):
    recs, rc, el = got
    ok = rc == 0 and ''.join(c for c, _ in recs) == codes and all(
        all(w in t for w in words) and not any(w in t for w in nowords) for _, t in recs)
    R.check(label, ok, 'exit %d after %.1f s, records %r' % (rc, el, recs))
    return ok


def openssl(args, cwd):
    r = subprocess.run(['openssl'] + args, cwd=cwd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError('openssl %s: %s' % (args[0], r.stderr.decode(errors='replace')[-500:]))


def make_pki(d):
    """A test CA and a certificate for mx.tls.test signed by it (EC P-256, two days)."""
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
    openssl(['req', '-x509'] + ec + ['-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
                                     '-subj', '/CN=mailroom test CA %d' % random.randint(1, 10 ** 9)], d)
    openssl(['req'] + ec + ['-keyout', 'key.pem', '-out', 'req.csr', '-subj', '/CN=mx.tls.test'], d)
    with open(os.path.join(d, 'ext.cnf'), 'w') as f:
        f.write('subjectAltName=DNS:mx.tls.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
    openssl(['x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
             '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf'], d)
    return os.path.join(d, 'ca.pem'), os.path.join(d, 'cert.pem'), os.path.join(d, 'key.pem')


def tlsd_argv(inst):
    ids = lambda n: ['%d' % pwd.getpwnam(n).pw_uid, '%d' % pwd.getpwnam(n).pw_gid]  # noqa: E731
    u, g = ids('mrtlsd')
    su, sg = ids('mrsmtpd')
    return [inst.bin('mailroom-tlsd'), '-u', u, '-g', g, '-U', su, '-G', sg, inst.bin('mailroom-smtpd')]


def test_real_receiver(pki):
    ca, cert, key = pki
    rip = trc.rand_ip()
    with smtpinst.SmtpInstance(prefix='mrrtls.') as inst:
        inst.control('locals', 'tls.test\nwrong.test')
        inst.control('rcpthosts', 'tls.test\nwrong.test')
        md = inst.add_mailbox('alice')
        inst.start()
        # the receiver's own pair, replacing the self-signed one setup wrote
        shutil.copy(cert, inst.path('control', 'servercert.pem'))
        shutil.copy(key, inst.path('control', 'serverkey.pem'))
        os.chown(inst.path('control', 'serverkey.pem'), 0, 0)
        os.chmod(inst.path('control', 'serverkey.pem'), 0o600)
        os.chmod(inst.path('control', 'servercert.pem'), 0o644)
        inst.start_daemon_log = open(inst.path('tlsd.log'), 'ab')
        p = subprocess.Popen(['tcpserver', '-R', '-H', '-l0', rip, '25'] + tlsd_argv(inst), cwd='/',
                             stdin=subprocess.DEVNULL, stdout=inst.start_daemon_log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        inst.start_daemon_log.close()
        inst.services.append(p)
        if not smtpinst.wait_port(25, 10, host=rip):
            R.fail('receiver: tcpserver up', read_file(inst.path('tlsd.log'))[-500:])
            return
        dns = trc.Dnsmasq(['--mx-host=tls.test,mx.tls.test,10', '--host-record=mx.tls.test,' + rip,
                           '--mx-host=wrong.test,mx.wrong.test,10', '--host-record=mx.wrong.test,' + rip])
        # a handshake with tlsd (fork, key, privileges) may take seconds on a loaded machine
        home = trc.Home(helohost='client.sender.test', timeoutremote=30)
        cafile = os.path.join(home.dir, 'control', 'test-ca.pem')
        shutil.copy(ca, cafile)
        os.chmod(cafile, 0o644)
        delivered = 0

        def deliver(label, domain, codes, words=(), nowords=()):
            nonlocal delivered
            got = home.run(dns.ip, domain, ['alice@' + domain], MSG % label.encode())
            ok = expect('%s: %s' % (label, codes), got, codes, words, nowords)
            if codes == 'K':
                delivered += 1
                n, _ = inst.wait_for(delivered, 20, user=md)
                files = sorted(inst.maildir_files(md), key=os.path.getmtime)
                if R.check('%s: stored' % label, len(files) == delivered, 'got %d' % len(files)):
                    data = read_file(files[-1])
                    R.check('%s: the Received line says ESMTPS and TLSv1.3' % label,
                            re.search(rb'with ESMTPS \(TLSv1\.3 [A-Z0-9_-]+\);', data) is not None, data[:500])
            else:
                inst.wait_for(delivered + 1, 1, user=md)
                R.check('%s: nothing stored' % label, len(inst.maildir_files(md)) == delivered,
                        'got %d' % len(inst.maildir_files(md)))
            return ok, got

        try:
            deliver('opportunistic', 'tls.test', 'K', ['mx.tls.test', 'accepted the message over TLSv1.3: 250'])
            home.control('tlsdomains', 'tls.test:verify\nwrong.test:verify')
            home.control('tlscafile', cafile)
            deliver('required+verify, test CA', 'tls.test', 'K', ['accepted the message over TLSv1.3: 250'])
            deliver('required+verify, a name the certificate lacks', 'wrong.test', 'Z',
                    ['mx.wrong.test', 'during the TLS handshake', 'name', 'tlsdomains', '#4.7.5'], ['accepted'])
            home.control('tlscafile', None)
            deliver('required+verify, system bundle without the test CA', 'tls.test', 'Z',
                    ['during the TLS handshake', 'certificate', '#4.7.5'], ['accepted'])
            home.control('tlsdomains', '.other.test\ntls.test')
            deliver('required without verify', 'tls.test', 'K', ['accepted the message over TLSv1.3: 250'])
            home.control('tlsdomains', 'tls.test:verify')
            home.control('tlscafile', os.path.join(home.dir, 'control', 'nosuch.pem'))
            deliver('required+verify, CA file missing', 'tls.test', 'Z', ['CA bundle', 'nosuch.pem', '#4.3.0'])
            home.control('tlsdomains', 'tls.test:verfy')
            deliver('tlsdomains: a malformed line', 'tls.test', 'Z', ['control/tlsdomains', 'malformed', '#4.3.5'])
            home.control('tlsdomains', 'x' * 2000 + '\n\x01\xff:verify\n.test:verify:more')
            deliver('tlsdomains: hostile lines', 'tls.test', 'Z', ['control/tlsdomains', 'malformed'])
            home.control('tlsdomains', None)
            home.control('tlscafile', None)
        finally:
            home.cleanup()
            dns.stop()


def test_peers(pki):
    ip = trc.rand_ip()
    dns = trc.Dnsmasq(['--mx-host=peer.test,mx.peer.test,10', '--host-record=mx.peer.test,' + ip])
    home = trc.Home()
    tlsctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tlsctx.load_cert_chain(pki[1], pki[2])
    cases = [
        # label, smtpfake arguments, tlsdomains, codes, words, sessions, MAIL expected
        ('required, no STARTTLS offered', {}, 'peer.test', 'Z',
         ['does not offer STARTTLS', 'tlsdomains', '#4.7.10'], 1, False),
        ('required, STARTTLS refused', {'ehlo': ['PIPELINING', 'STARTTLS'], 'starttls': '454 4.7.0 not now'},
         'peer.test', 'Z', ['454 4.7.0 not now', 'tlsdomains'], 1, False),
        ('required, handshake fails', {'ehlo': ['PIPELINING', 'STARTTLS'], 'starttls': '@tlsjunk'},
         'peer.test:verify', 'Z', ['during the TLS handshake', 'tlsdomains', '#4.7.5'], 1, False),
        ('opportunistic, STARTTLS refused: on in clear', {'ehlo': ['PIPELINING', 'STARTTLS'],
                                                           'starttls': '454 4.7.0 not now'},
         None, 'K', ['accepted the message: 250'], 1, True),
        ('opportunistic, handshake fails: again without STARTTLS',
         {'ehlo': ['PIPELINING', 'STARTTLS'], 'starttls': '@tlsjunk'}, None, 'K', ['accepted the message: 250'], 2, True),
        ('opportunistic, handshake stalls: again without STARTTLS',
         {'ehlo': ['PIPELINING', 'STARTTLS'], 'starttls': '@tlssilent'}, None, 'K', ['accepted the message: 250'], 2, True),
        ('opportunistic, no STARTTLS: clear', {}, None, 'K', ['accepted the message: 250'], 1, True),
        ('fake TLS server, a line injected after 220', {'ehlo': ['PIPELINING', 'STARTTLS'], 'tls': tlsctx,
                                                        'tlsinject': '250 injected'},
         'peer.test', 'K', ['accepted the message over TLSv1.3: 250'], 1, True),
    ]
    try:
        for label, kw, tlsdomains, codes, words, nsess, mail in cases:
            srv = smtpfake.Server(ip, 25, **kw).start()
            try:
                home.control('tlsdomains', tlsdomains)
                got = home.run(dns.ip, 'peer.test', ['a@peer.test'], MSG % label.encode())
                expect(label, got, codes, words)
                cmds = [s['cmds'] for s in srv.sessions]
                R.check('%s: %d session(s)' % (label, nsess), len(cmds) == nsess, repr(cmds))
                sent = any(c.upper().startswith(b'MAIL') for s in cmds for c in s)
                R.check('%s: %s' % (label, 'MAIL sent' if mail else 'no MAIL sent in clear'), sent == mail, repr(cmds))
                if nsess == 2 and len(cmds) == 2:
                    R.check('%s: the second session has no STARTTLS' % label,
                            b'STARTTLS' in cmds[0] and b'STARTTLS' not in cmds[1], repr(cmds))
                if 'tls' in kw:
                    ss = srv.sessions[0] if srv.sessions else {}
                    R.check('%s: TLS 1.3, EHLO again under TLS, MAIL pipelined (the EHLO reply was the real one)'
                            % label, ss.get('tls') == 'TLSv1.3' and ss.get('pipelined', {}).get('MAIL') is True
                            and sum(1 for c in ss['cmds'] if c.startswith(b'EHLO')) == 2, repr(ss))
                if label.startswith('opportunistic, handshake stalls'):
                    R.check('%s: within the handshake bound (timeoutremote 3 s) + a little' % label, got[2] < 12,
                            '%.1f s' % got[2])
            finally:
                srv.stop()
    finally:
        home.cleanup()
        dns.stop()


def main():
    if not IS_ROOT:
        R.skip('mailroom-remote STARTTLS tests', 'need root (ports 25 and 53)')
        R.exit()
    for tool in ('dnsmasq', 'setpriv', 'tcpserver', 'openssl'):
        if not shutil.which(tool) and not os.path.exists('/usr/sbin/' + tool):
            R.fail('mailroom-remote STARTTLS tests', '%s is not installed (lib/sh/deps.sh)' % tool)
            R.exit()
    if not os.path.exists(trc.BIN):
        R.fail('mailroom-remote built', trc.BIN + ' is missing')
        R.exit()
    d = tempfile.mkdtemp(prefix='mrrtls-pki.', dir='/tmp')
    try:
        pki = make_pki(d)
        R.run('real receiver over STARTTLS', test_real_receiver, pki)
        R.run('scripted peers', test_peers, pki)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    R.exit()


if __name__ == '__main__':
    main()
