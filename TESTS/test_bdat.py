#!/usr/bin/env python3
"""CHUNKING/BDAT (RFC 3030) in mailroom-smtpd, one mailroom-smtpd per session on a socketpair
(as mrsmtpd when root) and the tcpserver service, with mailroom-send delivering: messages in
several chunks (a CR LF split between two, a LAST chunk of 0 octets, a chunk in many TCP
writes, everything pipelined in one write) stored byte for byte below the trace lines with
no dot removed; BDAT mixed with DATA, without MAIL or RCPT, malformed sizes, oversized
messages, bare LF/CR and a client that goes away mid-chunk refused with nothing in the queue
and the session going on.
"""

import functools
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import read_file  # noqa: E402
from smtpinst import ok_after, strip_trace  # noqa: E402

R = mrinst.Results()
expect = functools.partial(smtpinst.expect, R)


def lf(data):
    return data.replace(b'\r\n', b'\n')


def bdat(c, chunk, last=False):
    """One BDAT with its octets; the reply."""
    c.send(b'BDAT %d%s\r\n' % (len(chunk), b' LAST' if last else b'') + chunk)
    return c.reply(60)


def start(c, rcpt='demo@localhost'):
    c.cmd('EHLO x')
    c.cmd('MAIL FROM:<b@example.org>')
    return c.cmd('RCPT TO:<%s>' % rcpt)


def queue_empty(inst, timeout=5.0):
    """The queue's tmp/ and new/ are empty (the writer removes an abandoned message's
    tmp/ file when it sees the hang-up: bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        q = inst.queue_files()
        if (not q['tmp'] and not q['new']) or time.monotonic() > deadline:
            return not q['tmp'] and not q['new'], repr(q)
        time.sleep(0.05)


def delivered_one(inst, before, label, want):
    """Waits for one new message and checks it equals want (LF) below the trace lines."""
    inst.wait_for(len(before) + 1, 20)
    new = sorted(set(inst.maildir_files()) - before)
    if R.check(label + ': delivered once', len(new) == 1, 'got %d' % len(new)):
        data = read_file(new[0])
        R.check(label + ': stored byte for byte below the trace lines', strip_trace(data) == want,
                'differs: %r' % strip_trace(data)[:300])
        _, rest = mrinst.split_delivered(data)
        R.check(label + ': a Received: line with ESMTP', rest.startswith(b'Received: from x (') and
                b'(mailroom-smtpd, qp ' in rest.split(b'\n\n')[0] and b'with ESMTP;' in rest.split(b'\n\n')[0],
                repr(rest[:200]))


BODY = (b'Subject: chunks\r\nX-8bit: \xe4\xf6\xfc \xff\x80\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n'
        b'a line ended in the next chunk\r\n' + b'y' * 998 + b'\r\n' + b'z' * 9000 + b'\r\nlast line\r\n')


def test_chunks(inst):
    with inst.session() as c:
        code, text = c.cmd('EHLO x')
        R.check('EHLO offers CHUNKING', code == 250 and 'CHUNKING' in text, repr(text))
        c.cmd('RSET')
    before = set(inst.maildir_files())
    with inst.session() as c:
        start(c)
        cut = BODY.index(b'next chunk\r\n') + len(b'next chunk\r')
        parts = [BODY[:20], BODY[20:cut], BODY[cut:cut + 4000], BODY[cut + 4000:]]
        codes = [bdat(c, p) for p in parts]
        R.check('each chunk: 250 2.0.0', all(x[0] == 250 and x[1][0].startswith('2.0.0') for x in codes), repr(codes))
        got = bdat(c, b'', True)
        R.check('BDAT 0 LAST: 250 queued', got[0] == 250 and 'queued as' in got[1][0], repr(got))
        R.check('session goes on after the message', ok_after(c))
    delivered_one(inst, before, 'several chunks, CR LF split, LAST of 0', lf(BODY))

    before = set(inst.maildir_files())
    body = b'Subject: one\r\n\r\n.no dot is removed\r\nno final line end'
    with inst.session() as c:
        start(c)
        got = bdat(c, body, True)
        R.check('one LAST chunk: 250', got[0] == 250, repr(got))
    delivered_one(inst, before, 'one chunk, no final CR LF (a LF is added)', lf(body) + b'\n')


def test_tcp(inst):
    """The service over TCP: a chunk written a few bytes at a time, then all pipelined."""
    port = inst.service_port
    before = set(inst.maildir_files())
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = smtpinst.Client(s)
    try:
        c.reply()
        start(c)
        chunk = BODY
        c.send(b'BDAT %d LAST\r\n' % len(chunk))
        for i in range(0, len(chunk), 997):
            c.send(chunk[i:i + 997])
            time.sleep(0.002)
        got = c.reply(60)
        R.check('a chunk in %d TCP writes: 250' % ((len(chunk) + 996) // 997), got[0] == 250, repr(got))
    finally:
        c.close()
    delivered_one(inst, before, 'chunk in many TCP writes', lf(BODY))

    before = set(inst.maildir_files())
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    c = smtpinst.Client(s)
    try:
        c.reply()
        a, b = BODY[:5000], BODY[5000:]
        c.send(b'EHLO x\r\nMAIL FROM:<p@example.org>\r\nRCPT TO:<demo@localhost>\r\n' +
               b'BDAT %d\r\n' % len(a) + a + b'BDAT %d LAST\r\n' % len(b) + b + b'NOOP\r\nQUIT\r\n')
        codes = [c.reply(60)[0] for _ in range(7)]
        R.check('pipelined EHLO MAIL RCPT BDAT BDAT-LAST NOOP QUIT in one write: replies in order',
                codes == [250, 250, 250, 250, 250, 250, 221], repr(codes))
    finally:
        c.close()
    delivered_one(inst, before, 'pipelined', lf(BODY))


def test_refused(inst):
    before = inst.maildir_count()
    with inst.session() as c:
        c.cmd('EHLO x')
        got = bdat(c, b'QUIT\r\n')
        expect('BDAT without MAIL: 503, its octets are not a command', got, 503, '5.5.1', ok_after(c))
        c.cmd('MAIL FROM:<a@example.org>')
        expect('BDAT without RCPT: 554', bdat(c, b'RSET\r\n', True), 554, '5.5.1', ok_after(c))
        c.cmd('RCPT TO:<demo@localhost>')
        expect('first chunk: 250', bdat(c, b'Subject: mixed\r\n\r\n'), 250, '2.0.0')
        expect('DATA after BDAT: 503', c.cmd('DATA'), 503, '5.5.1', ok_after(c))
        R.check('DATA after BDAT: nothing queued', *queue_empty(inst))
        expect('the transaction was abandoned: BDAT gets 503', bdat(c, b'x\r\n', True), 503, '5.5.1')
        expect('RSET', c.cmd('RSET'), 250)
    with inst.session() as c:  # a fresh session: under the 20 errors that end one
        c.cmd('EHLO x')
        for arg in ('', ' x', ' -5', ' +5', ' 5x', ' 0x10', ' 1' + '0' * 19, ' 5 LASTX', ' 5 FIRST', ' 5 LAST 6',
                    ' 5,LAST', ' \t5'):
            expect('BDAT%r: 501' % arg, c.cmd('BDAT' + arg), 501, '5.5.4', ok_after(c))
        expect('BDAT of 19 digits parses (0000000000000000003): 503 outside a transaction',
               (c.send(b'BDAT 0000000000000000003 last\r\nabc'), c.reply())[1], 503, '5.5.1', ok_after(c))
        expect('BODY=BINARYMIME still refused', c.cmd('MAIL FROM:<a@example.org> BODY=BINARYMIME'), 555, '5.5.4')
    with inst.session() as c:
        start(c)
        bdat(c, b'Subject: open\r\n\r\n')
        expect('a malformed BDAT inside a message: 501', c.cmd('BDAT 1O'), 501, '5.5.4')
        expect('... and the message is gone: BDAT gets 503', bdat(c, b'x\r\n', True), 503, '5.5.1', ok_after(c))
        for label, chunk, word in (('bare LF', b'Subject: x\r\n\r\nbare\nLF\r\n', '5.6.0'),
                                   ('bare CR', b'Subject: x\r\n\r\nbare\rCR\r\n', '5.6.0'),
                                   ('NUL', b'Subject: x\r\n\r\nnul\0\r\n', '5.6.0'),
                                   ('CR at the very end', b'Subject: x\r\n\r\nend\r', '5.6.0')):
            start(c)
            expect('%s in a chunk: 554' % label, bdat(c, chunk, True), 554, word, ok_after(c))
        start(c)
        expect('bare LF in a first chunk: 554 at once', bdat(c, b'a\nb\r\n'), 554, '5.6.0')
        expect('... and its next chunk too', bdat(c, b'more\r\n'), 554, '5.6.0')
        expect('... and LAST', bdat(c, b'', True), 554, '5.6.0', ok_after(c))
        start(c)
        expect('a refused chunk', bdat(c, b'a\0b\r\n'), 554, '5.6.0')
        expect('RSET after it', c.cmd('RSET'), 250, '2.0.0')
        expect('RSET ended the refused transaction: BDAT gets 503', bdat(c, b'x\r\n', True), 503, '5.5.1')
    time.sleep(0.3)
    R.check('refusals: nothing queued', *queue_empty(inst))
    R.check('refusals: nothing delivered', inst.maildir_count() == before, '%d' % inst.maildir_count())


def test_big(inst):
    before = inst.maildir_count()
    inst.control('databytes', 3000)
    try:
        with inst.session() as c:
            code, text = c.cmd('EHLO x')
            start(c)
            expect('under databytes: 250', bdat(c, b'Subject: big\r\n\r\n' + b'a' * 1500 + b'\r\n'), 250, '2.0.0')
            expect('past databytes: 552', bdat(c, b'b' * 2000 + b'\r\n'), 552, '5.3.4')
            expect('the next chunk: 552 again (read and discarded)', bdat(c, b'c' * 100000), 552, '5.3.4')
            expect('LAST: 552', bdat(c, b'end\r\n', True), 552, '5.3.4', ok_after(c))
            R.check('oversized: nothing queued', *queue_empty(inst))
            start(c)
            expect('one chunk past databytes: 552', bdat(c, b'x' * 5000, True), 552, '5.3.4', ok_after(c))
            start(c)
            got = bdat(c, b'Subject: small\r\n\r\nfits\r\n', True)
            expect('then a message that fits: 250', got, 250, '2.0.0')
            log = c.log()
        R.check('oversized: logged as 552', 'result=552 reason="larger than databytes"' in log, log[-600:])
        inst.wait_for(before + 1, 20)
        R.check('oversized: only the small message delivered', inst.maildir_count() == before + 1)
    finally:
        inst.control('databytes', None)


def test_drop(inst):
    before = inst.maildir_count()
    for label, first in (('in the first chunk', b''), ('in a later chunk', b'Subject: dropped\r\n\r\n')):
        c = inst.session()
        start(c)
        if first:
            bdat(c, first)
        c.send(b'BDAT 100000 LAST\r\n' + b'x' * 3000)
        time.sleep(0.3)
        rc = c.finish()
        time.sleep(0.3)
        R.check('client gone mid-chunk (%s): nothing in the queue' % label, *queue_empty(inst))
        R.check('client gone mid-chunk (%s): nothing delivered, exit 111' % label,
                inst.maildir_count() == before and rc == 111, 'rc %s' % rc)
        R.check('client gone mid-chunk (%s): logged' % label,
                'result=drop reason="during BDAT"' in c.log() and 'end=drop' in c.log(), c.log())
    inst.control('timeoutsmtpd', 1)
    try:
        c = inst.session()
        start(c)
        c.send(b'BDAT 1000 LAST\r\nSubject: slow\r\n\r\nand then nothing')
        got = c.reply(10)
        rc = c.finish()
        R.check('client silent mid-chunk: 421 4.4.2, exit 111', got[0] == 421 and got[1][0].startswith('4.4.2') and
                rc == 111, '%s rc %s' % (got, rc))
        R.check('client silent mid-chunk: nothing queued or delivered', queue_empty(inst)[0] and
                inst.maildir_count() == before)
        R.check('client silent mid-chunk: logged', 'result=timeout reason="during BDAT"' in c.log(), c.log())
    finally:
        inst.control('timeoutsmtpd', None)
    c = inst.session()
    start(c)
    bdat(c, b'Subject: rset\r\n\r\n')
    expect('RSET between chunks', c.cmd('RSET'), 250, '2.0.0')
    expect('QUIT', c.cmd('QUIT'), 221)
    c.finish()
    time.sleep(0.3)
    R.check('RSET between chunks: nothing queued or delivered', queue_empty(inst)[0] and
            inst.maildir_count() == before)


def main():
    with smtpinst.SmtpInstance() as inst:
        inst.start()
        inst.service_port = inst.start_service()
        for fn in (test_chunks, test_tcp, test_refused, test_big, test_drop):
            R.run(fn.__name__, fn, inst)
    R.exit()


if __name__ == '__main__':
    main()
