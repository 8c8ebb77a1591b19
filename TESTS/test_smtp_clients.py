#!/usr/bin/env python3
"""mailroom-smtpd as an admin runs it: the instance's service (lib/sh/setup.d/smtpd.sh:
tcpserver with a tcprules cdb, mailroom-smtpd as mrsmtpd) and real clients nobody here
wrote: Python's smtplib, curl smtp:// and swaks each deliver to demo@localhost, and the
Maildir copy is what was sent, byte for byte below the trace lines (dot lines, 8-bit
bytes, 998-byte lines, 10 MB); 20 concurrent sessions of 25 messages each; RELAYCLIENT
from the rules cdb; and the same conversation under xinetd.
"""

import hashlib
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, info, read_file  # noqa: E402
from smtpinst import free_port, strip_trace  # noqa: E402

R = mrinst.Results()

# What every client sends (LF line ends here; each client makes CRLF of them): leading
# dots, 8-bit bytes, a 998-byte line.
BODY = (b'From: tester@example.org\nTo: demo@localhost\nSubject: %s\n\n.leading dot\n..two dots\n.\n'
        b'8-bit: \xe4\xf6\xfc\xdf \xc3\xa9\xe2\x82\xac\n' + b'w' * 998 + b'\nend\n')


def body(tag):
    return BODY.replace(b'%s', tag.encode())


def new_delivery(inst, before, timeout=30):
    inst.wait_for(len(before) + 1, timeout)
    return sorted(set(inst.maildir_files()) - before)


def check_delivered(inst, label, before, sent, timeout=30):
    new = new_delivery(inst, before, timeout)
    if not R.check(label + ': delivered once', len(new) == 1, 'got %d files' % len(new)):
        return None
    data = read_file(new[0])
    got = strip_trace(data)
    R.check(label + ': byte for byte below the trace lines', got == sent,
            'sent %d bytes (sha1 %s), stored %d (sha1 %s): %r' % (
                len(sent), hashlib.sha1(sent).hexdigest()[:10], len(got), hashlib.sha1(got).hexdigest()[:10],
                got[:200]))
    return data


def test_smtplib(inst, port):
    before = set(inst.maildir_files())
    msg = body('smtplib')
    with smtplib.SMTP('127.0.0.1', port, timeout=30) as s:
        s.ehlo('smtplib.example')
        R.check('smtplib: EHLO features', all(s.has_extn(x) for x in ('pipelining', '8bitmime', 'size',
                                                                    'enhancedstatuscodes', 'smtputf8')), repr(s.esmtp_features))
        refused = s.sendmail('tester@example.org', ['demo@localhost'], msg.replace(b'\n', b'\r\n'),
                             mail_options=['BODY=8BITMIME'])
        R.check('smtplib: accepted', refused == {}, repr(refused))
    data = check_delivered(inst, 'smtplib', before, msg)
    if data:
        R.check('smtplib: Received: line with the client IP from TCPREMOTEIP and the HELO name',
                b'Received: from smtplib.example ([127.0.0.1])\n' in data, data[:300])


def test_curl(inst, port):
    if not shutil.which('curl'):
        R.skip('curl', 'curl is not installed')
        return
    before = set(inst.maildir_files())
    msg = body('curl')
    f = inst.path('curl.msg')
    mrinst.write_file(f, msg.replace(b'\n', b'\r\n'))  # curl dot-stuffs, but sends the line ends as they are
    r = subprocess.run(['curl', '-sS', '--max-time', '60', 'smtp://127.0.0.1:%d' % port, '--mail-from',
                        'tester@example.org', '--mail-rcpt', 'demo@localhost', '--upload-file', f],
                       capture_output=True, timeout=90)
    R.check('curl smtp://: exit 0', r.returncode == 0, r.stderr.decode(errors='replace'))
    check_delivered(inst, 'curl', before, msg)


def test_swaks(inst, port):
    if not shutil.which('swaks'):
        R.skip('swaks', 'swaks is not installed')
        return
    before = set(inst.maildir_files())
    msg = body('swaks')
    f = inst.path('swaks.msg')
    mrinst.write_file(f, msg[:-1])  # swaks ends the data with CRLF . CRLF after the file's own bytes
    r = subprocess.run(['swaks', '--server', '127.0.0.1', '--port', str(port), '--from', 'tester@example.org',
                        '--to', 'demo@localhost', '--helo', 'swaks.example', '--data', '@' + f, '--timeout', '60'],
                       capture_output=True, timeout=90)
    out = r.stdout.decode(errors='replace')
    R.check('swaks: exit 0 and 250 after the data', r.returncode == 0 and re.search(r'<- +250 2\.0\.0 Ok: queued', out),
            out[-800:])
    check_delivered(inst, 'swaks', before, msg)


def test_big(inst, port):
    before = set(inst.maildir_files())
    line = b'0123456789' * 99 + b'abcdefg\n'  # 998 bytes and LF
    msg = b'Subject: ten megabytes\n\n' + line * (10 * 1024 * 1024 // len(line)) + b'.\n..\nlast\n'
    t0 = time.monotonic()
    with smtplib.SMTP('127.0.0.1', port, timeout=60) as s:
        refused = s.sendmail('tester@example.org', ['demo@localhost'], msg.replace(b'\n', b'\r\n'))
    info('10 MB through smtplib in %.1f s' % (time.monotonic() - t0))
    R.check('10 MB message: accepted', refused == {}, repr(refused))
    check_delivered(inst, '10 MB message', before, msg, 60)


def test_concurrent(inst, port, nsess=20, nmsg=25):
    before = set(inst.maildir_files())
    errors = []

    def one(k):
        try:
            with smtplib.SMTP('127.0.0.1', port, timeout=60) as s:
                s.ehlo('c%d.example' % k)
                for i in range(nmsg):
                    m = b'Subject: concurrent %d-%d\r\n\r\nsession %d message %d\r\n' % (k, i, k, i)
                    refused = s.sendmail('c%d@example.org' % k, ['demo@localhost'], m)
                    if refused:
                        errors.append((k, i, refused))
        except Exception as e:  # noqa: BLE001 - any failure is reported
            errors.append((k, repr(e)))

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(nsess)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    secs = time.monotonic() - t0
    R.check('%d concurrent sessions x %d messages: all accepted' % (nsess, nmsg),
            not errors and not any(t.is_alive() for t in threads), repr(errors[:5]))
    total = nsess * nmsg
    inst.wait_for(len(before) + total, 120)
    time.sleep(0.5)
    new = sorted(set(inst.maildir_files()) - before)
    seen = {}
    for f in new:
        m = re.search(rb'^Subject: concurrent (\d+-\d+)$', read_file(f), re.M)
        key = m.group(1).decode() if m else '?'
        seen[key] = seen.get(key, 0) + 1
    want = {'%d-%d' % (k, i) for k in range(nsess) for i in range(nmsg)}
    info('%d messages in %d sessions accepted in %.1f s' % (total, nsess, secs))
    R.check('%d distinct messages arrive, each exactly once' % total,
            set(seen) == want and all(v == 1 for v in seen.values()) and len(new) == total,
            'files %d, distinct %d, duplicates %d, missing %d' % (len(new), len(seen),
                                                                   sum(1 for v in seen.values() if v > 1),
                                                                   len(want - set(seen))))


def tcprules(inst, text):
    mrinst.write_file(inst.path('control', 'smtp.rules'), text)
    subprocess.run(['tcprules', inst.path('control', 'smtp.cdb'), inst.path('control', 'smtp.tmp')],
                   input=text.encode(), check=True, timeout=30)


def test_rules(inst, port):
    orig = read_file(inst.path('control', 'smtp.rules')).decode()
    try:
        c = inst.connect(port)
        c.reply()
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        got = c.cmd('RCPT TO:<x@elsewhere.example>')
        R.check('tcprules 127.0.0.1 RELAYCLIENT: relay accepted', got[0] == 250, repr(got))
        c.cmd('QUIT')
        c.close()
        tcprules(inst, ':allow\n')
        c = inst.connect(port)
        c.reply()
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        got = c.cmd('RCPT TO:<x@elsewhere.example>')
        R.check('tcprules without RELAYCLIENT: relay refused 550 5.7.1', got[0] == 550 and
                got[1][0].startswith('5.7.1'), repr(got))
        got = c.cmd('RCPT TO:<demo@localhost>')
        R.check('tcprules without RELAYCLIENT: local recipient accepted', got[0] == 250, repr(got))
        c.cmd('QUIT')
        c.close()
        tcprules(inst, '127.0.0.1:deny\n:allow\n')
        c = inst.connect(port)
        R.check('tcprules deny: closed without a greeting', c.closed(5) and c.buf == b'', repr(c.buf))
        c.close()
    finally:
        tcprules(inst, orig)


# The conversation compared between tcpserver and xinetd: every line and the replies.
CONVERSATION = [b'EHLO same.example', b'NOOP', b'VRFY demo', b'FOO', b'MAIL FROM:<a@example.org>',
                b'RCPT TO:<nosuchuser@localhost>', b'RCPT TO:<demo@localhost>', b'DATA',
                b'Subject: same\r\n\r\nsame conversation\r\n.', b'HELP', b'QUIT']


def converse(c):
    out = [c.reply()]
    for line in CONVERSATION:
        out.append(c.cmd(line))
    # the queue id or qp differs from one run to the next
    return [(code, [re.sub(r'(queued as|qp) \S+.*', r'\1 ID', t) for t in text]) for code, text in out]


def under_superserver(inst, name, port, ref):
    """The checks for mailroom-smtpd under an inetd on port: the conversation as under
    tcpserver (ref), the peer address from getpeername, and a real client's message."""
    time.sleep(0.2)
    before = set(inst.maildir_files())
    c = inst.connect(port)
    got = converse(c)
    c.close()
    # the tcpserver service runs mailroom-smtpd behind mailroom-tlsd (STARTTLS, setup.d/smtpd.sh),
    # the inetd here runs it bare: apart from that EHLO line, every reply is the same
    ref = [(code, [t for t in text if t != 'STARTTLS']) for code, text in ref]
    R.check('%s: the same conversation, reply for reply, as under tcpserver' % name, got == ref,
            '%s %r / tcpserver %r' % (name, got, ref))
    new = new_delivery(inst, before)
    if R.check('%s: message delivered' % name, len(new) == 1, 'got %d' % len(new)):
        data = read_file(new[0])
        R.check('%s: Received: has the peer address (getpeername, no TCPREMOTEIP)' % name,
                b'Received: from same.example ([127.0.0.1])\n' in data, data[:300])
    before = set(inst.maildir_files())
    with smtplib.SMTP('127.0.0.1', port, timeout=30) as s:
        refused = s.sendmail('tester@example.org', ['demo@localhost'], body(name).replace(b'\n', b'\r\n'))
    R.check('%s: smtplib accepted' % name, refused == {}, repr(refused))
    check_delivered(inst, '%s smtplib' % name, before, body(name))


def test_xinetd(inst, port):
    xinetd = shutil.which('xinetd') or '/usr/sbin/xinetd'
    if not os.path.exists(xinetd):
        R.skip('xinetd', 'xinetd is not installed (Debian package xinetd)')
        return
    c = inst.connect(port)
    ref = converse(c)
    c.close()
    xport = free_port()
    conf = inst.path('xinetd.conf')
    user, group = ('mrsmtpd', 'mrsmtpd') if IS_ROOT else (None, None)
    lines = ['defaults', '{', '}', 'service mailroom-smtp', '{', '  type = UNLISTED', '  port = %d' % xport,
             '  socket_type = stream', '  protocol = tcp', '  wait = no', '  bind = 127.0.0.1', '  flags = IPv4',
             '  server = %s' % inst.bin('mailroom-smtpd'), '  instances = 50',
             '  log_type = FILE %s' % inst.path('xinetd.log')]
    if user:
        lines += ['  user = %s' % user, '  group = %s' % group]
    lines.append('}')
    mrinst.write_file(conf, '\n'.join(lines) + '\n')
    before = set(inst.maildir_files())
    p = inst.start_daemon([xinetd, '-dontfork', '-f', conf, '-pidfile', inst.path('xinetd.pid')], xport,
                          logname='xinetd.out')
    try:
        under_superserver(inst, 'xinetd', xport, ref)
    finally:
        inst.stop_service(p)


def test_openbsd_inetd(inst, port):
    """The same conversation under Debian's openbsd-inetd (the inetd.conf line of the man page)."""
    # lib/sh/deps.sh unpacks it there: it cannot be installed beside xinetd
    inetd = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'inetd', 'usr', 'sbin', 'inetd')
    if not os.access(inetd, os.X_OK):
        R.skip('openbsd-inetd', 'build/inetd/usr/sbin/inetd missing (lib/sh/deps.sh unpacks Debian\'s openbsd-inetd)')
        return
    c = inst.connect(port)
    ref = converse(c)
    c.close()
    iport = free_port()
    conf = inst.path('inetd.conf')
    user = 'mrsmtpd' if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name
    mrinst.write_file(conf, '127.0.0.1:%d stream tcp nowait %s %s mailroom-smtpd\n' %
                      (iport, user, inst.bin('mailroom-smtpd')))
    p = inst.start_daemon([inetd, '-d', conf], iport, logname='inetd.out')
    try:
        under_superserver(inst, 'openbsd-inetd', iport, ref)
    finally:
        inst.stop_service(p)


def main():
    with smtpinst.SmtpInstance() as inst:
        inst.start()
        port = inst.start_service()
        info('service/smtpd (tcpserver) on 127.0.0.1:%d' % port)
        R.check('service banner', read_file(inst.path('service', 'smtpd', 'banner')).strip() ==
                b'SMTP: 127.0.0.1:%d, STARTTLS' % port, read_file(inst.path('service', 'smtpd', 'banner')))
        for fn in (test_smtplib, test_curl, test_swaks, test_big, test_concurrent, test_rules, test_xinetd,
                   test_openbsd_inetd):
            R.run(fn.__name__, fn, inst, port)
        log = inst.service_log()
        R.check('service log: session and msg lines from mailroom-smtpd, tcpserver status lines',
                re.search(r'^smtpd session ip=127\.0\.0\.1 ', log, re.M) and
                re.search(r'^smtpd msg ip=127\.0\.0\.1 .* result=250$', log, re.M) and 'tcpserver: status:' in log,
                log[-1000:])
    R.exit()


if __name__ == '__main__':
    main()
