#!/usr/bin/env python3
"""Exact POP3 sizes (RFC 1939 section 11: each line end counted as CR LF, byte-stuffed dots
not counted): messages delivered by mailroom (DATA and BDAT, through smtpd, send and local)
carry ",S=<octets on disk>,W=<octets with CR LF>" in their names; files dropped into the
Maildir by hand (LF and CR LF line ends, no final line end, lines starting with a dot, a bare
CR, an empty file, a stale ",S=") are counted. For every message LIST n, the "+OK N octets"
of RETR n and the octets RETR n sends before its terminator (dots unstuffed) are one number,
STAT is their sum, over a raw socket and with poplib; at QUIT the counted sizes are added to
the names as ",W=" and the UIDLs do not change.
"""

import os
import poplib
import re
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import pop3inst  # noqa: E402
import smtpinst  # noqa: E402
from smtpinst import crlf  # noqa: E402

R = mrinst.Results()
poplib._MAXLINE = 1 << 16  # message 1007 has a 10000-octet line
USER, PASSWORD = 'sizes', 'sizes-pw'

HAND = [  # (name, sub, bytes)
    ('1000.M1P1Q1.hand', 'new', b'Subject: lf\n\nline one\n.dot line\n..two dots\n'),
    ('1001.M1P1Q1.hand', 'new', b'Subject: crlf\r\n\r\nline one\r\n.dot line\r\n'),
    ('1002.M1P1Q1.hand', 'new', b'Subject: no final newline\n\nlast line without LF'),
    ('1003.M1P1Q1.hand:2,S', 'cur', b'Subject: mixed\r\n\nlf\ncrlf\r\nbare\rCR\n.\n'),
    ('1004.M1P1Q1.hand', 'new', b''),
    ('1005.M1P1Q1.hand', 'new', b'Subject: held CR at the end\n\nx\r'),
    ('1006.M1P1Q1.hand,S=3,W=4', 'new', b'Subject: stale S= and W=: counted\n\n.\n'),
    ('1007.M1P1Q1.hand', 'new', b'.\n' * 50 + b'x' * 10000 + b'\n'),
]


def rfc_size(data):
    """RFC 1939's size of a stored message, counted here on its own: every LF-ended line
    (a CR before the LF is part of the line end) plus CR LF; a last line without LF is
    ended the same way (a CR at its very end taken as the start of that CR LF)."""
    lines = data.split(b'\n')
    size = 0
    for i, ln in enumerate(lines):
        if i == len(lines) - 1 and not ln:
            break
        size += len(ln[:-1] if ln.endswith(b'\r') else ln) + 2
    return size


def retr_raw(c, n):
    """RETR n over the raw socket: (size in the +OK line, octets sent before the '.' line,
    dots unstuffed), or None."""
    first = c.cmd(b'RETR %d' % n)
    m = re.match(rb'\+OK (\d+) octets\r\n$', first)
    if not m:
        return None
    return int(m.group(1)), pop3inst.unstuff(c.multi())


def check_session(port, label):
    """One raw session: LIST, every LIST n and RETR n, STAT; returns the UIDL listing."""
    c = pop3inst.Client(port)
    try:
        c.login(USER, PASSWORD)
        stat = c.cmd(b'STAT')
        m = re.match(rb'\+OK (\d+) (\d+)\r\n$', stat)
        R.check(label + ': STAT', bool(m), repr(stat))
        first = c.cmd(b'LIST')
        lst = {}
        if R.check(label + ': LIST', first.startswith(b'+OK'), repr(first)):
            for ln in c.multi():
                num, size = ln.split()
                lst[int(num)] = int(size)
        bad = []
        for n in sorted(lst):
            one = c.cmd(b'LIST %d' % n)
            got = retr_raw(c, n)
            if one != b'+OK %d %d\r\n' % (n, lst[n]) or got is None or got[0] != lst[n] or len(got[1]) != lst[n]:
                bad.append((n, lst[n], one, got and (got[0], len(got[1]))))
        R.check(label + ': LIST n, LIST, RETR\'s +OK and the octets RETR sends agree on all %d messages' % len(lst),
                not bad and len(lst) >= len(HAND) + 3, repr(bad)[:800])
        if m:
            R.check(label + ': STAT is their count and sum', int(m.group(1)) == len(lst) and
                    int(m.group(2)) == sum(lst.values()), '%r vs %d %d' % (stat, len(lst), sum(lst.values())))
        c.cmd(b'UIDL')
        uidls = c.multi()
        c.cmd(b'QUIT')
        return lst, uidls
    finally:
        c.close()


def check_poplib(port, label):
    p = poplib.POP3('127.0.0.1', port, timeout=20)
    try:
        p.user(USER)
        p.pass_(PASSWORD)
        count, total = p.stat()
        _, lines, _ = p.list()
        sizes = {int(a): int(b) for a, b in (ln.split() for ln in lines)}
        bad = []
        for n, size in sorted(sizes.items()):
            resp, body, octets = p.retr(n)
            # poplib counts each line with its CR LF and the dot-stuffing taken out
            if octets != size or not resp.startswith(b'+OK %d octets' % size) or \
                    sum(len(x) + 2 for x in body) != size:
                bad.append((n, size, resp, octets))
        R.check(label + ': poplib: RETR octets == LIST for every message', not bad, repr(bad)[:600])
        R.check(label + ': poplib: STAT agrees with LIST', count == len(sizes) and total == sum(sizes.values()),
                '%d %d vs %d %d' % (count, total, len(sizes), sum(sizes.values())))
        p.rset()
    finally:
        p.quit()


def test_sizes(inst, srv):
    md = pop3inst.add_pop_user(inst, USER, PASSWORD)
    rcpt = '%s@localhost' % USER
    msgs = [b'Subject: by DATA\n\n.dot line\nline\n' + b'y' * 998 + b'\n',
            b'Subject: 8bit \xe4\xf6\n\nbody\n\n\n']
    with inst.session() as c:
        c.cmd('EHLO x')
        for m in msgs:
            got = c.transaction('a@example.org', [rcpt], crlf(m))
            R.check('delivered by DATA: 250', got[0] == 250, repr(got))
        c.cmd('MAIL FROM:<a@example.org>')
        c.cmd('RCPT TO:<%s>' % rcpt)
        body = b'Subject: by BDAT\r\n\r\n.dot kept\r\nno final line end'
        c.send(b'BDAT %d LAST\r\n' % len(body) + body)
        got = c.reply(60)
        R.check('delivered by BDAT: 250', got[0] == 250, repr(got))
    inst.wait_for(3, 20, USER)
    files = inst.maildir_files(USER)
    R.check('3 delivered', len(files) == 3, repr(files))
    bad = []
    for f in files:
        data = mrinst.read_file(f)
        m = re.search(r',S=(\d+),W=(\d+)$', os.path.basename(f))
        want_w = rfc_size(data)
        if not m or int(m.group(1)) != len(data) or int(m.group(2)) != want_w:
            bad.append((os.path.basename(f), len(data), want_w))
    R.check('mailroom-local names carry ,S=<size on disk>,W=<size with CR LF>', not bad and files, repr(bad))

    for name, sub, data in HAND:
        pop3inst.put_message(md, name, data, sub)
    port = pop3inst.free_port()
    srv.tcpserver(inst, port)
    lst1, uidl1 = check_session(port, 'first session')
    check_poplib(port, 'after the first QUIT')
    after = pop3inst.listing(md)
    names = after['cur'] + after['new']
    hand = [x for x in names if '.hand' in x]
    withw = [x for x in hand if re.search(r',W=\d+(:|$)', x)]
    R.check('at QUIT the counted sizes went into the names (,W=)', len(withw) == len(HAND), repr(hand))
    stale = [x for x in hand if x.startswith('1006.')]
    R.check('a name whose S= is not its size keeps its name (counted each time)',
            stale == ['1006.M1P1Q1.hand,S=3,W=4:2,'], repr(stale))
    ok = True
    for x in withw:
        m = re.search(r',W=(\d+)', x)
        with open(os.path.join(md, 'cur' if x in after['cur'] else 'new', x), 'rb') as f:
            data = f.read()
        if x.startswith('1006.'):
            continue
        ok = ok and int(m.group(1)) == rfc_size(data)
    R.check('the added W= is the size RETR sends', ok, repr(withw))
    lst2, uidl2 = check_session(port, 'second session (sizes from the names)')
    R.check('the same sizes and UIDLs in both sessions', lst1 == lst2 and uidl1 == uidl2,
            '%r\n%r' % (uidl1[:5], uidl2[:5]))


def main():
    with smtpinst.SmtpInstance('mrtest.pop3sizes.') as inst, pop3inst.Servers() as srv:
        inst.start()
        R.run('sizes', test_sizes, inst, srv)
    R.exit()


if __name__ == '__main__':
    socket.setdefaulttimeout(30)
    main()
