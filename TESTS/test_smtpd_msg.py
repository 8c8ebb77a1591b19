#!/usr/bin/env python3
"""mailroom-smtpd's DATA, one mailroom-smtpd per session on a socketpair (as mrsmtpd when
root), with mailroom-send delivering: byte-exact storage below the trace lines, the
Received: line, bare LF / bare CR / NUL / databytes / hops refused with the session going
on, the SMTP smuggling variants (never a second message), a client that goes away or
falls silent mid-DATA (nothing queued), the MAILROOM_QUEUE filter and the queue id on
fd 3, and the peak memory of one mailroom-smtpd during a 10 MB DATA.
"""

import functools
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import info, read_file  # noqa: E402
from smtpinst import crlf, ok_after, strip_trace  # noqa: E402

R = mrinst.Results()


expect = functools.partial(smtpinst.expect, R)


def deliver_and_wait(inst, n):
    return inst.wait_for(n, 20.0, 'demo')[0]


def test_bytes(inst):
    """What is sent is what is stored, with LF line ends, below the trace lines."""
    body = (b'Subject: bytes\nX-8bit: \xe4\xf6\xfc \xff\x80\n\n.leading dot\n..two dots\n.\n. \n' +
            b'y' * 998 + b'\n' + b'z' * 5000 + b'\nlast line\n')
    before = set(inst.maildir_files())
    with inst.session() as c:
        c.cmd('EHLO x')
        got = c.transaction('b@example.org', ['demo@localhost'], crlf(body))
        R.check('8-bit, dot-stuffed, 998-byte and long lines: 250', got[0] == 250, repr(got))
        m = re.match(r'2\.0\.0 Ok: queued as (\d{10}\.\d{6}\.(\d+)) \(qp (\d+)\)$', got[1][0])
        R.check('250 text names the queue id mailroom-queue reported, and the qp', bool(m) and m.group(2) == m.group(3)
                and abs(int(m.group(1).split('.')[0]) - time.time()) < 120, got[1][0])
    inst.wait_for(len(before) + 1, 20)
    if m:
        qid = m.group(1)
        log = ''
        for _ in range(50):
            log = inst.log()
            if ' ' + qid + ' ' in log or ' ' + qid + '\n' in log:
                break
            time.sleep(0.1)
        R.check('the id in the 250 is the one mailroom-send logs for that message', qid in log, log[-500:])
    new = sorted(set(inst.maildir_files()) - before)
    if R.check('delivered once', len(new) == 1, 'got %d' % len(new)):
        data = read_file(new[0])
        R.check('stored byte for byte below the trace lines', strip_trace(data) == body,
                'differs: %r' % strip_trace(data)[:300])
        _, rest = mrinst.split_delivered(data)
        R.check('Received: line with IP, HELO, me and a date', re.match(
            rb'Received: from x \(\[127\.0\.0\.1\]\)\n\tby localhost \(mailroom-smtpd, qp \d+\) with ESMTP;\n\t'
            rb'\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n', rest) is not None, rest[:200])


def bad_data(inst, label, data, code, enh, word):
    before = inst.maildir_count()
    with inst.session() as c:
        c.cmd('EHLO x')
        got = c.transaction('b@example.org', ['demo@localhost'], data)
        R.check(label + ': %d %s naming the cause' % (code, enh), got[0] == code and got[1][0].startswith(enh) and
                word in got[1][0], repr(got))
        got = c.transaction('b@example.org', ['demo@localhost'], crlf('Subject: after %s\n\nok\n' % label))
        R.check(label + ': the next message is accepted', got[0] == 250, repr(got))
    R.check(label + ': only that one is delivered', deliver_and_wait(inst, before + 1) == before + 1 and
            (time.sleep(0.3) or inst.maildir_count() == before + 1), 'count %d' % (inst.maildir_count() - before))


def test_data_errors(inst):
    bad_data(inst, 'bare LF in DATA', b'Subject: lf\r\n\r\nline one\nline two\r\n', 554, '5.6.0', 'bare LF')
    bad_data(inst, 'bare CR in DATA', b'Subject: cr\r\n\r\nline one\rline two\r\n', 554, '5.6.0', 'bare CR')
    bad_data(inst, 'NUL in DATA', b'Subject: nul\r\n\r\nnul \x00 here\r\n', 554, '5.6.0', 'NUL')
    bad_data(inst, 'too many hops', b''.join(b'Received: from hop%d\r\n' % i for i in range(101)) +
             b'Subject: loop\r\n\r\nx\r\n', 554, '5.4.6', 'loop')
    inst.control('databytes', 3000)
    try:
        bad_data(inst, 'message over databytes', b'Subject: big\r\n\r\n' + (b'x' * 78 + b'\r\n') * 40, 552, '5.3.4',
                 'size')
        with inst.session() as c:
            code, text = c.cmd('EHLO x')
            R.check('EHLO SIZE says databytes', 'SIZE 3000' in text, repr(text))
            expect('MAIL SIZE over databytes: 552', c.cmd('MAIL FROM:<a@example.org> SIZE=3001'), 552, '5.3.4',
                   ok_after(c))
    finally:
        inst.control('databytes', 52428800)


SMUGGLING = [b'\n.\n', b'\r.\r', b'\r\n.\n', b'\n.\r\n', b'\r.\r\n', b'\r\n.\r', b'\n.\r', b'\r.\n',
             b'\r\n.\r\r\n', b'\r\n.\n\r\n', b'\r\r\n.\r\r\n', b'\n\n.\n\n', b'\r\n\x00.\r\n', b'\r\n .\r\n']


def test_smuggling(inst):
    """Each variant, then a whole second transaction: the data must end only at the real
    CRLF.CRLF, so there is exactly one reply to it and never a second message."""
    before = set(inst.maildir_files())
    accepted = 0
    all_one = True
    for i, v in enumerate(SMUGGLING):
        second = (b'MAIL FROM:<evil@example.org>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\n'
                  b'Subject: smuggled %d\r\n\r\nsecond message\r\n' % i)
        with inst.session() as c:
            c.cmd('EHLO attacker.example')
            c.cmd('MAIL FROM:<a@example.org>')
            c.cmd('RCPT TO:<demo@localhost>')
            c.cmd('DATA')
            c.send(b'Subject: carrier %d\r\n\r\nbody' % i + v + second + b'.\r\n')
            got = c.reply()
            noop = c.cmd('NOOP')
            want = 250 if v == b'\r\n .\r\n' else 554
            accepted += got[0] == 250
            one = got[0] == want and noop[0] == 250
            all_one = all_one and one
            R.check('smuggling %r: one reply %d to the whole data, then the session is in sync' % (v, want), one,
                    '%s then %s' % (got, noop))
    time.sleep(0.5)
    inst.wait_for(len(before) + accepted, 20)
    time.sleep(0.5)
    new = sorted(set(inst.maildir_files()) - before)
    smuggled = [f for f in new if strip_trace(read_file(f)).startswith(b'Subject: smuggled')]
    R.check('smuggling: no second message ever appears (%d messages, %d accepted)' % (len(new), accepted),
            len(new) == accepted == 1 and not smuggled, 'new %d, smuggled %d' % (len(new), len(smuggled)))


def test_drop_and_timeout(inst):
    before = inst.maildir_count()
    c = inst.session()
    c.cmd('EHLO x')
    c.cmd('MAIL FROM:<a@example.org>')
    c.cmd('RCPT TO:<demo@localhost>')
    c.cmd('DATA')
    c.send(b'Subject: dropped\r\n\r\n' + b'x' * 100000)
    time.sleep(0.3)
    rc = c.finish()
    time.sleep(0.5)
    q = inst.queue_files()
    R.check('client gone mid-DATA: nothing in the queue', not q['tmp'] and not q['new'], repr(q))
    R.check('client gone mid-DATA: nothing delivered, exit 111', inst.maildir_count() == before and rc == 111,
            'rc %s' % rc)
    R.check('client gone mid-DATA: logged', 'result=drop' in c.log() and 'end=drop' in c.log(), c.log())

    inst.control('timeoutsmtpd', 1)
    try:
        c = inst.session()
        t0 = time.monotonic()
        got = c.reply(10)
        R.check('idle client: 421 4.4.2 after timeoutsmtpd', got[0] == 421 and got[1][0].startswith('4.4.2') and
                c.closed() and time.monotonic() - t0 < 5, repr(got))
        c.finish()
        c = inst.session()
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        c.cmd('RCPT TO:<demo@localhost>')
        c.cmd('DATA')
        c.send(b'Subject: slow\r\n\r\nand then nothing')
        got = c.reply(10)
        rc = c.finish()
        time.sleep(0.3)
        q = inst.queue_files()
        R.check('client silent mid-DATA: 421, nothing queued', got[0] == 421 and not q['tmp'] and not q['new'] and
                inst.maildir_count() == before, '%s %s' % (got, q))
    finally:
        inst.control('timeoutsmtpd', None)

    with inst.session() as c:
        codes = [c.cmd('BAD%d' % i)[0] for i in range(20)]
        got = c.reply()
        R.check('20 errors: 421 after the 20th and the connection closes', codes == [500] * 20 and got[0] == 421 and
                c.closed(), '%s %s' % (codes, got))


def test_queue_filter(inst):
    filt = inst.path('filter.sh')
    mrinst.write_file(filt, '#!/bin/sh\n{ printf "X-Filtered: yes\\n"; cat; } | %s\n' % inst.bin('mailroom-queue'),
                      0o755)
    refuse = inst.path('refuse.sh')
    mrinst.write_file(refuse, '#!/bin/sh\ncat >/dev/null; cat <&1 >/dev/null; exit 71\n', 0o755)
    before = set(inst.maildir_files())
    with inst.session(env={'MAILROOM_QUEUE': filt}) as c:
        c.cmd('EHLO x')
        got = c.transaction('a@example.org', ['demo@localhost'], crlf('Subject: filtered\n\nbody\n'))
        R.check('MAILROOM_QUEUE: a filter in front of mailroom-queue', got[0] == 250, repr(got))
    inst.wait_for(len(before) + 1, 20)
    new = sorted(set(inst.maildir_files()) - before)
    R.check('MAILROOM_QUEUE: the filter saw and changed the message',
            len(new) == 1 and b'\nX-Filtered: yes\nReceived: from x ' in read_file(new[0]), repr(new))
    idq = inst.path('idqueue.sh')
    mrinst.write_file(idq, '#!/bin/sh\nprintf "not an id\\n1763893836.042117.4711\\n" >&3\nexec %s\n' %
                      inst.bin('mailroom-queue'), 0o755)
    with inst.session(env={'MAILROOM_QUEUE': idq}) as c:
        c.cmd('EHLO x')
        got = c.transaction('a@example.org', ['demo@localhost'], crlf('Subject: with an id\n\nbody\n'))
        c.cmd('QUIT')
        c.finish()
        m = re.match(r'2\.0\.0 Ok: queued as (\S+) \(qp \d+\)$', got[1][0]) if got[0] == 250 else None
        R.check('a filter that writes its own id line on fd 3, then mailroom-queue: the 250 names the real '
                'injector\'s id, the last well-formed line', m is not None and m.group(1) != '1763893836.042117.4711'
                and re.match(r'\d{10}\.\d{6}\.\d+$', m.group(1)) is not None
                and (' qid=%s result=250' % m.group(1)) in c.log(), '%s %s' % (got, c.log()))
    mrinst.write_file(idq, '#!/bin/sh\nprintf "not an id\\n1763893836.042117.4711\\n" >&3\nexec 3>&-\nexec %s\n' %
                      inst.bin('mailroom-queue'), 0o755)
    with inst.session(env={'MAILROOM_QUEUE': idq}) as c:
        c.cmd('EHLO x')
        got = c.transaction('a@example.org', ['demo@localhost'], crlf('Subject: with an id\n\nbody\n'))
        c.cmd('QUIT')
        c.finish()
        R.check('a filter that reports an id and hides fd 3 from mailroom-queue: the 250 names the filter\'s id',
                got[0] == 250 and re.match(r'2\.0\.0 Ok: queued as 1763893836\.042117\.4711 \(qp \d+\)$', got[1][0])
                and ' qid=1763893836.042117.4711 result=250' in c.log(), '%s %s' % (got, c.log()))
    with inst.session(env={'MAILROOM_QUEUE': refuse}) as c:
        c.cmd('EHLO x')
        got = c.transaction('a@example.org', ['demo@localhost'], crlf('Subject: refused\n\nbody\n'))
        expect('injector exit 71: 451 4.3.0', got, 451, '4.3.0', ok_after(c))
    with inst.session(env={'MAILROOM_QUEUE': inst.path('nonexistent')}) as c:
        c.cmd('EHLO x')
        got = c.transaction('a@example.org', ['demo@localhost'], crlf('Subject: noqueue\n\nbody\n'))
        expect('injector that cannot run: 451', got, 451, '4.3.0', ok_after(c))


def test_memory(inst):
    """Peak RSS of one mailroom-smtpd while a 10 MB message streams through it."""
    before = inst.maildir_count()
    line = b'm' * 998 + b'\r\n'
    chunk = line * 1000
    with inst.session() as c:
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        c.cmd('RCPT TO:<nosuchuser@localhost>')  # the passwd lookup path too
        c.cmd('RCPT TO:<demo@localhost>')
        c.cmd('DATA')
        c.send(b'Subject: ten megabytes\r\n\r\n')
        peak = 0
        for _ in range(10):
            c.send(chunk)
            with open('/proc/%d/status' % c.proc.pid) as f:
                for ln in f:
                    if ln.startswith('VmHWM:'):
                        peak = max(peak, int(ln.split()[1]))
        c.send(b'.\r\n')
        got = c.reply(60)
        with open('/proc/%d/status' % c.proc.pid) as f:
            for ln in f:
                if ln.startswith('VmHWM:'):
                    peak = max(peak, int(ln.split()[1]))
    info('peak RSS (VmHWM) of mailroom-smtpd during a 10 MB DATA: %d kB' % peak)
    R.check('10 MB message accepted', got[0] == 250, repr(got))
    if mrinst.SANITIZED:
        R.skip('peak RSS of mailroom-smtpd under 2 MB during 10 MB DATA', 'sanitizer build: ASan shadow memory (%d kB)' % peak)
    else:
        R.check('peak RSS of mailroom-smtpd under 2 MB during 10 MB DATA (%d kB)' % peak, 0 < peak < 2048, '%d kB' % peak)
    R.check('10 MB message delivered', inst.wait_for(before + 1, 60)[0] == before + 1, 'not delivered')


def main():
    with smtpinst.SmtpInstance() as inst:
        inst.start()
        for fn in (test_bytes,
                   test_data_errors,
                   test_smuggling,
                   test_drop_and_timeout,
                   test_queue_filter,
                   test_memory):
            R.run(fn.__name__, fn, inst)
    R.exit()


if __name__ == '__main__':
    main()
