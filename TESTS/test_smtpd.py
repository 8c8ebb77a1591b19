#!/usr/bin/env python3
"""mailroom-smtpd's conversation, one mailroom-smtpd per session on a socketpair (as
mrsmtpd when root), with mailroom-send delivering: every reply and error path of the
commands, each followed by proof that the session still works; strict CRLF on command
lines; PIPELINING; recipients (users/assign, system users, control/recipients, rcpthosts,
RELAYCLIENT, the cap); SMTPUTF8; the log lines; root refused. DATA: test_smtpd_msg.py;
real clients over tcpserver and xinetd: test_smtp_clients.py.
"""

import functools
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, read_file  # noqa: E402
from smtpinst import crlf, ok_after, strip_trace  # noqa: E402

R = mrinst.Results()


expect = functools.partial(smtpinst.expect, R)


def deliver_and_wait(inst, n):
    return inst.wait_for(n, 20.0, 'demo')[0]


def test_basics(inst):
    with inst.session() as c:
        code, text = c.cmd('EHLO client.example.org')
        R.check('EHLO multi-line reply with the extensions', code == 250 and text[0] == 'localhost' and
                set(text[1:]) == {'PIPELINING', '8BITMIME', 'SIZE 52428800', 'ENHANCEDSTATUSCODES', 'CHUNKING',
                                   'DSN', 'SMTPUTF8'},
                repr(text))
        expect('HELO', c.cmd('helo x.example'), 250)
        expect('NOOP', c.cmd('noop'), 250, '2.0.0')
        expect('NOOP with an argument', c.cmd('NOOP anything'), 250, '2.0.0')
        expect('RSET', c.cmd('RSET'), 250, '2.0.0')
        expect('RSET with an argument: 501', c.cmd('RSET x'), 501, '5.5.4', ok_after(c))
        expect('VRFY: 252', c.cmd('VRFY demo'), 252, '2.5.0')
        expect('VRFY without argument: 501', c.cmd('VRFY'), 501, '5.5.4', ok_after(c))
        expect('EXPN: 502', c.cmd('EXPN list'), 502, '5.5.1', ok_after(c))
        code, text = c.cmd('HELP')
        R.check('HELP: 214 multi-line', code == 214 and len(text) == 3 and all(t.startswith('2.0.0 ') for t in text),
                repr(text))
        expect('unknown command: 500', c.cmd('FOO bar'), 500, '5.5.2', ok_after(c))
        expect('STARTTLS not offered: 502', c.cmd('STARTTLS'), 502, '5.5.1', ok_after(c))
        expect('BDAT outside a transaction: 503 (its 3 octets read, not taken for a command)',
               (c.send(b'BDAT 3 LAST\r\nabc'), c.reply())[1], 503, '5.5.1', ok_after(c))
        expect('empty line: 500', c.cmd(''), 500, '5.5.2', ok_after(c))
        expect('EHLO without argument: 501', c.cmd('EHLO'), 501, '5.5.4', ok_after(c))
        expect('HELO over 255 bytes: 501', c.cmd('HELO ' + 'a' * 256), 501, '5.5.4', ok_after(c))
        expect('QUIT: 221', c.cmd('QUIT'), 221, '2.0.0', c.closed())
        R.check('exit 0 after QUIT', c.finish() == 0, 'exit code')


def test_sequence(inst):
    with inst.session() as c:
        expect('MAIL before EHLO: 503', c.cmd('MAIL FROM:<a@example.org>'), 503, '5.5.1')
        c.cmd('EHLO x')
        expect('RCPT before MAIL: 503', c.cmd('RCPT TO:<demo@localhost>'), 503, '5.5.1', ok_after(c))
        expect('DATA before MAIL: 503', c.cmd('DATA'), 503, '5.5.1', ok_after(c))
        expect('MAIL', c.cmd('mAiL fRoM:<a@example.org>'), 250, '2.1.0')
        expect('nested MAIL: 503', c.cmd('MAIL FROM:<b@example.org>'), 503, '5.5.1', ok_after(c))
        expect('DATA without recipient: 554', c.cmd('DATA'), 554, '5.5.1', ok_after(c))
        expect('RCPT case-insensitive verb', c.cmd('rcpt to:<demo@localhost>'), 250, '2.1.5')
        expect('DATA with an argument: 501', c.cmd('DATA now'), 501, '5.5.4', ok_after(c))
        before = inst.maildir_count()
        code, text = c.cmd('DATA')
        c.send(b'Subject: sequence\r\n\r\nafter all the errors\r\n.\r\n')
        got = c.reply()
        R.check('a message after every sequence error is queued', code == 354 and got[0] == 250 and
                got[1][0].startswith('2.0.0 '), '%s %s' % (code, got))
        R.check('... and delivered', deliver_and_wait(inst, before + 1) == before + 1, 'not delivered')
        expect('RSET ends the transaction', c.cmd('RSET'), 250)
        expect('RCPT after RSET: 503', c.cmd('RCPT TO:<demo@localhost>'), 503, '5.5.1')


def test_syntax(inst):
    with inst.session() as c:
        c.cmd('EHLO x')
        expect('MAIL without brackets: 501', c.cmd('MAIL FROM:a@example.org'), 501, '5.5.4', ok_after(c))
        expect('MAIL bad address: 501', c.cmd('MAIL FROM:<a..b@example.org>'), 501, '5.1.7', ok_after(c))
        expect('MAIL address without domain: 501', c.cmd('MAIL FROM:<joe>'), 501, '5.1.7', ok_after(c))
        expect('MAIL unknown parameter: 555', c.cmd('MAIL FROM:<a@example.org> XVERP=1'), 555, '5.5.4', ok_after(c))
        expect('MAIL malformed SIZE: 501', c.cmd('MAIL FROM:<a@example.org> SIZE=big'), 501, '5.5.4', ok_after(c))
        expect('MAIL SIZE over databytes: 552', c.cmd('MAIL FROM:<a@example.org> SIZE=52428801'), 552, '5.3.4',
               ok_after(c))
        expect('MAIL SIZE within databytes', c.cmd('MAIL FROM:<a@example.org> SIZE=52428800 BODY=8BITMIME'), 250)
        expect('RCPT without brackets: 501', c.cmd('RCPT TO:demo@localhost'), 501, '5.5.4', ok_after(c))
        expect('RCPT without domain: 501', c.cmd('RCPT TO:<demo>'), 501, '5.1.3', ok_after(c))
        expect('RCPT parameter: 555', c.cmd('RCPT TO:<demo@localhost> XFOO=NEVER'), 555, '5.5.4', ok_after(c))
        expect('RCPT <postmaster> without domain', c.cmd('RCPT TO:<Postmaster>'), 250, '2.1.5')
        expect('RCPT with a source route', c.cmd('RCPT TO:<@relay.example:demo@localhost>'), 250, '2.1.5')
        expect('RCPT quoted local part that needs no quotes', c.cmd('RCPT TO:<"demo"@LOCALHOST>'), 250, '2.1.5')
        expect('RSET', c.cmd('RSET'), 250)
    with inst.session() as c:
        c.cmd('HELO x')
        expect('MAIL parameter after HELO: 555', c.cmd('MAIL FROM:<a@example.org> SIZE=10'), 555, '5.5.4', ok_after(c))
        expect('MAIL without parameter after HELO', c.cmd('MAIL FROM:<>'), 250)


def test_strict_lines(inst):
    with inst.session() as c:
        c.cmd('EHLO x')
        c.send(b'NOOP\n')
        expect('bare LF ends a command line: 500', c.reply(), 500, '5.5.2', ok_after(c))
        c.send(b'NO\rOP\r\n')
        expect('bare CR in a command line: 500', c.reply(), 500, '5.5.2', ok_after(c))
        c.send(b'NO\x00OP\r\n')
        expect('NUL in a command line: 500', c.reply(), 500, '5.5.2', ok_after(c))
        c.send(b'NOOP ' + b'x' * 993 + b'\r\n')
        expect('command line of 1000 bytes with CRLF', c.reply(), 250, '2.0.0')
        c.send(b'NOOP ' + b'x' * 994 + b'\r\n')
        expect('command line of 1001 bytes: 500', c.reply(), 500, '5.5.2', ok_after(c))
        c.send(b'NOOP ' + b'x' * 100000 + b'\r\n')
        expect('command line of 100 kB: one 500, no crash', c.reply(), 500, '5.5.2', ok_after(c))
        c.send(b'RSET\r\nMAIL FROM:<a@example.org>\nRCPT TO:<demo@localhost>\r\n')
        a, b, d = c.reply(), c.reply(), c.reply()
        R.check('a bare-LF command is refused whole, the next line is read as sent',
                a[0] == 250 and b[0] == 500 and d[0] == 503, '%s %s %s' % (a, b, d))


def test_pipelining(inst):
    before = inst.maildir_count()
    with inst.session() as c:
        c.send(b'EHLO x\r\nMAIL FROM:<p@example.org>\r\nRCPT TO:<demo@localhost>\r\nRCPT TO:<nosuchuser@localhost>\r\n'
               b'RCPT TO:<postmaster@localhost>\r\nNOOP\r\nDATA\r\n')
        codes = [c.reply()[0] for _ in range(7)]
        R.check('pipelined group answered in order', codes == [250, 250, 250, 550, 250, 250, 354], repr(codes))
        c.send(crlf('Subject: pipelined 1\n\nbody\n') + b'.\r\nMAIL FROM:<p@example.org>\r\nRCPT TO:<demo@localhost>\r\n'
               b'DATA\r\n')
        codes = [c.reply()[0] for _ in range(4)]
        R.check('data end and the next group in one write', codes == [250, 250, 250, 354], repr(codes))
        c.send(crlf('Subject: pipelined 2\n\nbody\n') + b'.\r\nQUIT\r\n')
        codes = [c.reply()[0] for _ in range(2)]
        R.check('data end and QUIT in one write', codes == [250, 221] and c.closed(), repr(codes))
    # 2 messages: the first to demo and postmaster (the same mailbox), the second to demo
    R.check('pipelined messages delivered', deliver_and_wait(inst, before + 3) == before + 3,
            'have %d' % (inst.maildir_count() - before))


def test_recipients(inst):
    with inst.session() as c:
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        expect('unknown local user: 550', c.cmd('RCPT TO:<nosuchuser@localhost>'), 550, '5.1.1', ok_after(c))
        expect('local user, any case', c.cmd('RCPT TO:<DEMO@LocalHost>'), 250, '2.1.5')
        expect('wildcard users/assign entry takes an extension', c.cmd('RCPT TO:<demo-lists@localhost>'), 250)
        expect('relay to another domain: 550', c.cmd('RCPT TO:<x@elsewhere.example>'), 550, '5.7.1', ok_after(c))
        expect('root is no mail user', c.cmd('RCPT TO:<root@localhost>'), 550, '5.1.1', ok_after(c))
        expect('non-ASCII without SMTPUTF8: 553', c.cmd('RCPT TO:<d\xc3\xa9mo@localhost>'.encode('latin-1')), 553,
               '5.6.7', ok_after(c))
    with inst.session(env={'RELAYCLIENT': ''}) as c:
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        expect('RELAYCLIENT: another domain accepted', c.cmd('RCPT TO:<x@elsewhere.example>'), 250, '2.1.5')
        expect('RELAYCLIENT: unknown local user still 550', c.cmd('RCPT TO:<nosuchuser@localhost>'), 550, '5.1.1')
    with open(inst.path('control', 'rcpthosts'), 'a') as f:
        f.write('hosted.example\n.sub.example\n')
    with inst.session() as c:
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        expect('rcpthosts domain accepted', c.cmd('RCPT TO:<x@hosted.example>'), 250)
        expect('rcpthosts .domain: a subdomain accepted', c.cmd('RCPT TO:<x@a.b.sub.example>'), 250)
        expect('rcpthosts .domain: not the domain itself', c.cmd('RCPT TO:<x@sub.example>'), 550, '5.7.1')
    r = subprocess.run([inst.bin('mailroom-newcontrol'), 'rcpthosts'], capture_output=True, timeout=30)
    R.check('mailroom-newcontrol compiles rcpthosts', r.returncode == 0 and os.path.exists(
        inst.path('control', 'rcpthosts.cdb')), r.stderr.decode(errors='replace'))
    with inst.session() as c:
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        expect('rcpthosts.cdb: domain accepted', c.cmd('RCPT TO:<x@HOSTED.example>'), 250)
        expect('rcpthosts.cdb: other domain refused', c.cmd('RCPT TO:<x@other.example>'), 550, '5.7.1')
    os.unlink(inst.path('control', 'rcpthosts.cdb'))

    inst.control('maxrcpt', 3)
    try:
        with inst.session() as c:
            c.cmd('EHLO x')
            c.cmd('MAIL FROM:<a@example.org>')
            codes = [c.cmd('RCPT TO:<demo-%d@localhost>' % i)[0] for i in range(3)]
            expect('recipient cap: the 4th is 452', c.cmd('RCPT TO:<demo-3@localhost>'), 452, '4.5.3')
            got = c.cmd('DATA')
            c.send(b'Subject: capped\r\n\r\nx\r\n.\r\n')
            got2 = c.reply()
            R.check('recipient cap: the message goes to the first 3', codes == [250] * 3 and got[0] == 354 and
                    got2[0] == 250, '%s %s %s' % (codes, got, got2))
    finally:
        inst.control('maxrcpt', None)


def test_system_user(inst):
    """A real system user with a home of its own: the bare name is accepted, an
    extension only when control/recipients lists it."""
    if not IS_ROOT:
        R.skip('system user', 'needs root to create a user')
        return
    name = mrinst.random_name('mrs')
    home = inst.path('home', name)
    os.makedirs(inst.path('home'), exist_ok=True)
    os.chmod(inst.path('home'), 0o755)
    r = subprocess.run(['useradd', '--create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', name],
                       capture_output=True, timeout=30)
    if r.returncode:
        R.fail('system user', r.stderr.decode(errors='replace'))
        return
    inst.sysusers.append(name)
    os.chmod(home, 0o700)
    with inst.session() as c:
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        expect('system user accepted', c.cmd('RCPT TO:<%s@localhost>' % name), 250)
        expect('system user extension not listed: 550', c.cmd('RCPT TO:<%s-news@localhost>' % name), 550, '5.1.1')
    with open(inst.path('control', 'recipients'), 'w') as f:
        f.write('# extensions of system users\n%s-news@localhost\n' % name.upper())
    with inst.session() as c:
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<a@example.org>')
        expect('system user extension listed in control/recipients', c.cmd('RCPT TO:<%s-news@localhost>' % name), 250)
        expect('other extension still refused', c.cmd('RCPT TO:<%s-other@localhost>' % name), 550, '5.1.1')
    os.unlink(inst.path('control', 'recipients'))


def test_utf8(inst):
    box = inst.add_mailbox('j\u00f6rg', home=inst.path('mail', 'joerg'))
    before = inst.maildir_count(box)
    body = 'Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\nFrom: j\u00f6rg@localhost\n\nh\u00e9llo \u4e16\u754c\n'.encode()
    with inst.session() as c:
        c.cmd('EHLO x')
        expect('UTF-8 sender without SMTPUTF8: 553', c.cmd('MAIL FROM:<j\u00f6rg@b\u00fccher.example>'.encode()), 553,
               '5.6.7', ok_after(c))
        expect('UTF-8 sender with SMTPUTF8', c.cmd('MAIL FROM:<j\u00f6rg@b\u00fccher.example> SMTPUTF8'.encode()), 250)
        expect('unknown UTF-8 recipient: 550', c.cmd('RCPT TO:<\u00fcnbekannt@localhost>'.encode()), 550, '5.1.1')
        expect('UTF-8 local user', c.cmd('RCPT TO:<j\u00f6rg@localhost>'.encode()), 250, '2.1.5')
        expect('invalid UTF-8: 501', c.cmd(b'RCPT TO:<j\xc3rg@localhost>'), 501, '5.6.7', ok_after(c))
        c.cmd('DATA')
        c.send(crlf(body) + b'.\r\n')
        expect('SMTPUTF8 message accepted', c.reply(), 250)
    if R.check('SMTPUTF8 message delivered', inst.wait_for(before + 1, 20, box)[0] == before + 1, 'not delivered'):
        data = read_file(inst.maildir_files(box)[-1])
        R.check('SMTPUTF8: byte-exact, Received says UTF8SMTP', strip_trace(data) == body and
                b'with UTF8SMTP;' in data, data[:300])


def test_log(inst):
    with inst.session(env={'TCPREMOTEIP': '192.0.2.7'}) as c:
        c.cmd('EHLO log.example')
        c.cmd('MAIL FROM:<logger@example.org>')
        c.cmd('RCPT TO:<demo@localhost>')
        c.cmd('RCPT TO:<ghost@localhost>')
        c.cmd('DATA')
        c.send(b'Subject: log\r\n\r\nx\r\n.\r\n')
        got = c.reply()
        c.cmd('QUIT')
        c.finish()
        log = c.log()
    R.check('log: refused recipient line', re.search(
        r'^smtpd rcpt ip=192\.0\.2\.7 helo=log\.example from=<logger@example\.org> to=<ghost@localhost> '
        r'result=550 reason="no such user"$', log, re.M) is not None, log)
    R.check('log: transaction line with verdicts, size, qp, result', re.search(
        r'^smtpd msg ip=192\.0\.2\.7 helo=log\.example from=<logger@example\.org> '
        r'rcpt=<demo@localhost>:250,<ghost@localhost>:550 nrcpt=1 refused=1 size=\d+ qp=\d+ (qid=\S+ )?result=250$',
        log, re.M) is not None and got[0] == 250, log)
    R.check('log: session line', re.search(
        r'^smtpd session ip=192\.0\.2\.7 helo=log\.example trans=1 msgs=1 errors=1 end=quit$', log, re.M)
        is not None, log)
    with inst.session(env={'TCPREMOTEIP': None}) as c:
        c.cmd('HELO we"ird<>')
        c.cmd('MAIL FROM:<"a b"@example.org>')
        c.cmd('RCPT TO:<nosuch@localhost>')
        c.cmd('QUIT')
        c.finish()
        log = c.log()
    R.check('log: client bytes escaped, unknown IP without TCPREMOTEIP on a socketpair', re.search(
        r'^smtpd rcpt ip=unknown helo=we\\x22ird\\x3c\\x3e from=<\\x22a\\x20b\\x22@example\.org> '
        r'to=<nosuch@localhost> result=550', log, re.M) is not None, log)


def test_root_refused(inst):
    if not IS_ROOT:
        R.skip('root refused', 'not root')
        return
    c = inst.session(prefix=[], greet=False)
    got = c.reply()
    rc = c.finish()
    R.check('run as root: 421 and exit 111', got[0] == 421 and rc == 111 and 'refusing to run as root' in c.log(),
            '%s rc %s %s' % (got, rc, c.log()))


def main():
    with smtpinst.SmtpInstance() as inst:
        inst.start()
        for fn in (test_basics,
                   test_sequence,
                   test_syntax,
                   test_strict_lines,
                   test_pipelining,
                   test_recipients,
                   test_system_user,
                   test_utf8,
                   test_log,
                   test_root_refused):
            R.run(fn.__name__, fn, inst)
    R.exit()


if __name__ == '__main__':
    main()
