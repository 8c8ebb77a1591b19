#!/usr/bin/env python3
"""DKIM signing (issue 16), end to end: keys made by bin/mailroom-dkimkey, mail sent with
sendmail (and over SMTP) to remote.test, routed by smtproutes to a python SMTP sink on a
random 127.x address, and each arriving message checked by dkimpy (Debian's python3-dkim,
which nobody here wrote) against the TXT records served by the test's own dnsmasq on a
loopback address: never the machine's resolver. RSA and Ed25519; a message changed in
transit fails; mail received from the network without AUTH is not signed, whether relayed
or forwarded by a local user, while a local user's forward of local mail is. The key files'
owners and modes, and that no other role can read a key. Then relaxed canonicalisation of
hostile inputs (overlong, folded, binary, empty) compared with dkimpy's on the same bytes,
through build/test/test_dkim's canon mode. Root only. Every wait bounded, every server
stopped.
"""

import os
import pwd
import random
import re
import shutil
import socket
import stat
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from smtpsink import Peer  # noqa: E402
from mrinst import IS_ROOT, CHECKOUT  # noqa: E402

try:
    import dkim
except ImportError:
    sys.path.append('/usr/lib/python3/dist-packages')  # Debian's python3-dkim beside pyenv's python
    try:
        import dkim
    except ImportError:
        dkim = None

R = mrinst.Results()


def rand_ip():
    return '127.%d.%d.%d' % (random.randint(1, 254), random.randint(0, 255), random.randint(2, 254))


def txt_query(server, name, timeout=3.0):
    """One TXT query over UDP to server:53: the strings of the first answer, joined."""
    qid = random.randint(0, 65535)
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip('.').split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\0' + struct.pack('>HH', 16, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (server, 53))
        data, _ = s.recvfrom(4096)
    finally:
        s.close()
    _, flags, qd, an = struct.unpack('>HHHH', data[:8])
    pos = 12
    for _ in range(qd):
        while data[pos]:
            pos += data[pos] + 1
        pos += 5
    for _ in range(an):
        while True:  # the owner name (a pointer, or labels)
            if data[pos] & 0xc0 == 0xc0:
                pos += 2
                break
            if not data[pos]:
                pos += 1
                break
            pos += data[pos] + 1
        typ, _, _, rdlen = struct.unpack('>HHIH', data[pos:pos + 10])
        pos += 10
        rd = data[pos:pos + rdlen]
        pos += rdlen
        if typ == 16:
            out, i = b'', 0
            while i < len(rd):
                out += rd[i + 1:i + 1 + rd[i]]
                i += 1 + rd[i]
            return out
    return None


def parse_record(out):
    """mailroom-dkimkey's zone line -> (name, [strings])."""
    m = re.match(r'(\S+)\. IN TXT \( (.*) \)$', out.strip())
    return m.group(1), re.findall(r'"([^"]*)"', m.group(2))


def sig_tags(msg):
    m = re.search(rb'^DKIM-Signature:(.*?)\r?\n(?![ \t])', msg, re.S | re.M)
    if not m:
        return None
    v = re.sub(rb'\s+', b'', m.group(1)).decode()
    return dict(kv.split('=', 1) for kv in v.split(';') if kv)


def main():
    if not IS_ROOT:
        R.skip('dkim signing', 'needs root (role users, port 25 and 53 on loopback)')
        R.exit()
    if dkim is None:
        R.fail('dkimpy', 'python3-dkim is not installed (lib/sh/deps.sh)')
        R.exit()
    dnsip, sinkip = rand_ip(), rand_ip()
    dns = None
    peer = None
    try:
        with smtpinst.SmtpInstance('mrdk.') as inst:
            keys = {}
            for typ, sel, dom in (('rsa', 'rsa1', 'example.test'), ('ed25519', 'ed1', 'ed.test')):
                r = subprocess.run([inst.bin('mailroom-dkimkey'), '-t', typ, '-s', sel, dom],
                                   capture_output=True, timeout=60)
                R.check('dkimkey %s' % typ, r.returncode == 0, r.stderr.decode(errors='replace'))
                keys[dom] = parse_record(r.stdout.decode())
            r = subprocess.run([inst.bin('mailroom-dkimkey'), '-t', 'rsa', '-s', 'rsa2', 'example.test'],
                               capture_output=True, timeout=60)
            R.check('dkimkey refuses to replace a key without -f', r.returncode == 100, r.stderr.decode())
            r = subprocess.run([inst.bin('mailroom-dkimkey'), '-t', 'rsa', '../etc'], capture_output=True, timeout=60)
            R.check('dkimkey refuses a bad domain', r.returncode == 100, r.stderr.decode())
            t_modes(inst)
            args = ['dnsmasq', '--keep-in-foreground', '--port=53', '--listen-address=' + dnsip, '--bind-interfaces',
                    '--no-resolv', '--no-hosts', '--log-facility=' + inst.path('dnsmasq.log'), '--pid-file=']
            for name, strings in keys.values():
                args.append('--txt-record=%s,%s' % (name, ','.join(strings)))
            dns = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
            name0 = keys['example.test'][0]
            got = mrinst.wait_until(lambda: _try(lambda: txt_query(dnsip, name0, 0.5)), 5)
            if not got:
                R.fail('dns', 'dnsmasq did not answer on %s' % dnsip)
                R.exit()

            def dnsfunc(name, timeout=5):
                return txt_query(dnsip, name.decode() if isinstance(name, bytes) else name)

            peer = Peer(sinkip)
            inst.control('smtproutes', 'remote.test:[%s]\nrelay.test:[%s]' % (sinkip, sinkip))
            inst.control('rcpthosts', 'localhost\nrelay.test')
            subprocess.run([inst.bin('mailroom-newcontrol'), 'rcpthosts'], cwd=inst.home, capture_output=True, timeout=30)
            name, uid, gid = inst.system_user('mrdk')
            inst.user_home('fwd', uid, gid, dotqmail='&fwd-out@remote.test\n')
            inst.start()
            pids = inst.instance_procs('mailroom-dkimsign')
            dkuid = pwd.getpwnam('mrdkim').pw_uid
            R.check('signer runs as mrdkim', len(pids) == 1 and mrinst.proc_ids(pids[0])[0] == (dkuid,) * 4,
                    str([mrinst.proc_ids(p) for p in pids]))

            def arrive(rcpt, timeout=20):
                ok = mrinst.wait_until(lambda: peer.rcpt_count(rcpt) > 0, timeout)
                if not ok:
                    return None
                with peer.lock:
                    return [t for t in peer.transactions if rcpt in t[1]][-1][2]

            def msg(frm, to, subj, body='Hello,\n\n  this  is\ta test.  \n\n\n'):
                return ('From: Someone <%s>\nTo: %s\nSubject: %s\nDate: Mon, 7 Dec 2026 14:00:00 +0000\n'
                        'Message-ID: <%s.%d@example.test>\nMIME-Version: 1.0\nContent-Type: text/plain\n\n%s'
                        % (frm, to, subj, subj.replace(' ', '-'), random.randint(1, 10**9), body))

            # RSA
            r = inst.sendmail(['-f', 'alice@example.test', 'rsa@remote.test'], msg('alice@example.test', 'rsa@remote.test', 'rsa test'))
            R.check('sendmail rsa', r.returncode == 0, r.stderr.decode())
            d = arrive('rsa@remote.test')
            t = sig_tags(d or b'')
            R.check('rsa: signed', t is not None, (d or b'no message')[:300])
            if t:
                R.check('rsa: tags', t.get('a') == 'rsa-sha256' and t.get('d') == 'example.test' and t.get('s') == 'rsa1'
                        and t.get('c') == 'relaxed/relaxed' and 't' in t and 'l' not in t
                        and t.get('h', '').startswith('from:from:to:subject:date:message-id'), str(t))
                R.check('rsa: dkimpy verifies', dkim.verify(d, dnsfunc=dnsfunc), '')
                R.check('rsa: a changed body fails', not dkim.verify(d.replace(b'this  is', b'this was'), dnsfunc=dnsfunc), '')
                R.check('rsa: a changed Subject fails', not dkim.verify(d.replace(b'Subject: rsa test', b'Subject: rsa tests'), dnsfunc=dnsfunc), '')
                R.check('rsa: an added From fails (oversigned)', not dkim.verify(d.replace(b'\r\n\r\n', b'\r\nFrom: evil@evil.test\r\n\r\n', 1), dnsfunc=dnsfunc), '')
            # Ed25519, and an empty body
            r = inst.sendmail(['-f', 'carol@ed.test', 'ed@remote.test'], msg('carol@ed.test', 'ed@remote.test', 'ed test', body=''))
            d = arrive('ed@remote.test')
            t = sig_tags(d or b'')
            R.check('ed25519: signed', t is not None and t.get('a') == 'ed25519-sha256' and t.get('d') == 'ed.test', str(t))
            if t:
                R.check('ed25519: dkimpy verifies (empty body)', dkim.verify(d, dnsfunc=dnsfunc), '')
                R.check('ed25519: a changed message fails', not dkim.verify(d.replace(b'ed test', b'ed tost'), dnsfunc=dnsfunc), '')
            # long folded headers, 8-bit body, long lines
            body = ('x' * 900 + '\n' + 'caf\u00e9 \t \n' * 50 + '\n\n')
            m = msg('alice@example.test', 'long@remote.test', 'long ' + 'word ' * 60, body=body)
            m = m.replace('To: long@remote.test', 'To: long@remote.test,\n\t   other@remote.test ,\n  third@remote.test')
            r = inst.sendmail(['-f', 'alice@example.test', 'long@remote.test'], m.encode())
            d = arrive('long@remote.test')
            R.check('folded and 8-bit: dkimpy verifies', d is not None and dkim.verify(d, dnsfunc=dnsfunc), (d or b'')[:200])
            # a header section of 60 KB (the injector's limit is 64 KiB; the signer reads it in 16 KiB steps), and a message with no body at all
            m = msg('alice@example.test', 'bighead@remote.test', 'big header')
            m = m.replace('MIME-Version', ''.join('Comments: %05d %s\n' % (i, 'y' * 70) for i in range(750)) + 'MIME-Version')
            r = inst.sendmail(['-f', 'alice@example.test', 'bighead@remote.test'], m.encode())
            R.check('60 KB header: sendmail', r.returncode == 0, r.stderr.decode(errors='replace'))
            d = arrive('bighead@remote.test')
            R.check('60 KB header: dkimpy verifies', d is not None and sig_tags(d) is not None and dkim.verify(d, dnsfunc=dnsfunc),
                    (d or b'')[:200])
            m = msg('alice@example.test', 'nobody@remote.test', 'no body').split('\n\n')[0] + '\n'
            inst.sendmail(['-f', 'alice@example.test', 'nobody@remote.test'], m.encode())
            d = arrive('nobody@remote.test')
            R.check('no body: dkimpy verifies', d is not None and sig_tags(d) is not None and dkim.verify(d, dnsfunc=dnsfunc),
                    (d or b'')[:200])
            # no key for the domain: sent unsigned
            inst.sendmail(['-f', 'x@nokey.test', 'nokey@remote.test'], msg('x@nokey.test', 'nokey@remote.test', 'nokey'))
            d = arrive('nokey@remote.test')
            R.check('no key: delivered unsigned', d is not None and sig_tags(d) is None, (d or b'')[:200])
            # a local user's forward of local mail: signed
            inst.sendmail(['-f', 'alice@example.test', 'fwd@localhost'], msg('alice@example.test', 'fwd@localhost', 'local fwd'))
            d = arrive('fwd-out@remote.test')
            R.check('forward of local mail: signed and verifies', d is not None and sig_tags(d) is not None
                    and dkim.verify(d, dnsfunc=dnsfunc), (d or b'')[:300])
            with peer.lock:
                peer.transactions.clear()
            # from the network, no AUTH: forwarded by a local user, and relayed (rcpthosts)
            for rcpt, out in (('fwd@localhost', 'fwd-out@remote.test'), ('bob@relay.test', 'bob@relay.test')):
                with inst.session(env={'TCPREMOTEIP': '127.0.0.9'}) as s:
                    s.cmd('HELO outside.test')
                    code, text = s.transaction('alice@example.test', [rcpt],
                                               smtpinst.crlf(msg('alice@example.test', rcpt, 'from outside')))
                    s.cmd('QUIT')
                R.check('smtp to %s accepted' % rcpt, code == 250, '%s %s' % (code, text))
                d = arrive(out)
                R.check('smtp without AUTH to %s: delivered unsigned' % rcpt, d is not None and sig_tags(d) is None,
                        (d or b'')[:300])
            # authenticated submission (mailroom-tlsd, AUTH PLAIN after STARTTLS, swaks): signed
            t_submission(inst, arrive, dnsfunc)
            R.check('one signer for all messages (no process per message)',
                    inst.instance_procs('mailroom-dkimsign') == pids, str(inst.instance_procs('mailroom-dkimsign')))
            # a broken key defers the delivery (never sent unsigned), and says why
            os.makedirs(inst.path('control', 'dkim', 'bad.test'), exist_ok=True)
            mrinst.write_file(inst.path('control', 'dkim', 'bad.test', 'selector'), 'b1\n')
            mrinst.write_file(inst.path('control', 'dkim', 'bad.test', 'key.pem'), 'not a key\n', 0o400,
                              pwd.getpwnam('mrdkim').pw_uid, pwd.getpwnam('mrdkim').pw_gid)
            inst.sendmail(['-f', 'x@bad.test', 'bad@remote.test'], msg('x@bad.test', 'bad@remote.test', 'bad key'))
            ok = mrinst.wait_until(lambda: 'DKIM signing failed' in inst.log(), 15)
            R.check('broken key: deferred with a reason', ok and peer.rcpt_count('bad@remote.test') == 0,
                    inst.log()[-500:])
            t_canon()
    finally:
        if peer:
            peer.stop()
        if dns:
            dns.terminate()
            try:
                dns.wait(5)
            except subprocess.TimeoutExpired:
                dns.kill()
    R.exit()


def t_submission(inst, arrive, dnsfunc):
    if not shutil.which('swaks'):
        R.skip('submission', 'swaks is not installed')
        return
    sub, pops = smtpinst.free_port(), smtpinst.free_port()
    env = mrinst._make_env()
    env.update(SUBMISSION_PORT=str(sub), POP3S_PORT=str(pops), SMTP_PORT=str(smtpinst.free_port()))
    r = subprocess.run(['bash', os.path.join(CHECKOUT, 'lib/sh/setup.sh'), inst.home, inst.build],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if not R.check('setup.sh again (submission)', r.returncode == 0, (r.stdout + r.stderr).decode(errors='replace')[-800:]):
        return
    st = os.stat(inst.path('control', 'dkim', 'example.test', 'key.pem'))
    R.check('setup.sh again keeps key.pem mrdkim 0400', st.st_uid == pwd.getpwnam('mrdkim').pw_uid
            and stat.S_IMODE(st.st_mode) == 0o400, oct(st.st_mode))
    inst.start_daemon(['sh', inst.path('service', 'submission', 'run')], sub, logname='submission.log')
    r = subprocess.run(['swaks', '--tls', '--server', '127.0.0.1', '--port', str(sub), '--auth', 'PLAIN',
                        '--auth-user', 'demo', '--auth-password', 'demo', '--to', 'auth@remote.test',
                        '--from', 'alice@example.test', '--timeout', '30', '--header', 'Subject: submitted'],
                       capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
    R.check('submission: accepted', r.returncode == 0, r.stdout.decode(errors='replace')[-500:])
    d = arrive('auth@remote.test', 30)
    t = sig_tags(d or b'')
    R.check('submission with AUTH: signed and dkimpy verifies', t is not None and t.get('d') == 'example.test'
            and dkim.verify(d, dnsfunc=dnsfunc), (d or b'')[:400])


def _try(f):
    try:
        return f()
    except OSError:
        return None


def t_modes(inst):
    dk = pwd.getpwnam('mrdkim')
    key = inst.path('control', 'dkim', 'example.test', 'key.pem')
    st = os.stat(key)
    R.check('key.pem is mrdkim 0400', st.st_uid == dk.pw_uid and stat.S_IMODE(st.st_mode) == 0o400,
            '%d %o' % (st.st_uid, st.st_mode))
    for d in (inst.path('control', 'dkim'), inst.path('control', 'dkim', 'example.test')):
        st = os.stat(d)
        R.check('%s is root:mrdkim 0750' % os.path.relpath(d, inst.home),
                st.st_uid == 0 and st.st_gid == dk.pw_gid and stat.S_IMODE(st.st_mode) == 0o750, '%o' % st.st_mode)
    for role in ('mrremote', 'mrsmtpd', 'mrqueue', 'mrsend', 'mrauth'):
        pw = pwd.getpwnam(role)
        r = subprocess.run(['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid,
                            '--init-groups', '--', 'cat', key], capture_output=True, timeout=10)
        R.check('%s cannot read the key' % role, r.returncode != 0 and b'BEGIN' not in r.stdout, r.stderr.decode())


def t_canon():
    """build/test/test_dkim canon (body|header) on hostile inputs, against dkimpy."""
    from dkim.canonicalization import Relaxed
    prog = os.path.join(CHECKOUT, 'build', 'test', 'test_dkim')
    if not os.access(prog, os.X_OK):
        R.fail('canon vs dkimpy', 'no build/test/test_dkim (make unit)')
        return
    rnd = random.Random(16)

    def binary(n):
        # bytes with CR only before LF: dkimpy's input is the wire form
        b = bytes(rnd.choice(b'ab \t\x00\x7f\xff\xc3\xa9\n.') for _ in range(n))
        return b.replace(b'\n', b'\r\n')
    bodies = [b'', b'\r\n', b'\r\n\r\n\r\n', b'a', b'a  \t\r\n\r\n \r\n', b' lead\r\n\t\ttabs  mid \r\nend',
              b'x' * 100000 + b'\r\n', b'\r\n' * 5000 + b'z', binary(5000), binary(300)]
    for i, b in enumerate(bodies):
        r = subprocess.run([prog, 'canon', 'body'], input=b, capture_output=True, timeout=30)
        R.check('canon body %d vs dkimpy' % i, r.returncode == 0 and r.stdout == Relaxed.canonicalize_body(b),
                repr(r.stdout[:80]) + ' / ' + repr(Relaxed.canonicalize_body(b)[:80]))
    headers = [(b'Subject', b'  hello   world  '), (b'SUBJECT', b'\r\n\tfolded\r\n   twice  '),
               (b'X-Long', b' ' + b'w ' * 20000), (b'To', b' a@b,\r\n c@d'), (b'Empty', b''),
               (b'X-Bin', b' \x01\xff\x80 z')]
    for i, (n, v) in enumerate(headers):
        r = subprocess.run([prog, 'canon', 'header'], input=n + b':' + v + b'\r\n', capture_output=True, timeout=30)
        want = b''.join(a + b':' + c for a, c in Relaxed.canonicalize_headers([(n, v)]))
        R.check('canon header %d vs dkimpy' % i, r.returncode == 0 and r.stdout == want,
                repr(r.stdout[:80]) + ' / ' + repr(want[:80]))


main()
