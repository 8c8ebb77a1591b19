#!/usr/bin/env python3
"""control/virtualdomains end to end (issue 15): two virtual domains whose info@ and sales@
go to four different users, a .subdomain rule, a user@domain rule over its domain's, qmail's
exception (domain:), the catch-all; the alias user's dot files for postmaster and abuse.
Messages go in over SMTP (smtplib through the tcpserver service, and smtpd sessions without
RELAYCLIENT) and through sendmail; each must land in its own Maildir. Unknown virtual users
are refused at RCPT with 550 and nothing is queued; qread and qstat show the virtual
recipients while they wait; mailroom-newcontrol refuses bad virtualdomains files line by
line and leaves the cdb as it was; the text works without a cdb; a corrupt cdb gives 451.
"""

import json
import os
import smtplib
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, read_file  # noqa: E402

R = mrinst.Results()
expect = lambda *a, **k: smtpinst.expect(R, *a, **k)  # noqa: E731

VDOMAINS = """# test rules
a.example:a
B.Example:b
.c.example:c
d.example:d
boss@d.example:vip
e.example:
:catch
"""

# mailbox -> the local parts (after the rewrite) users/assign sends to it
BOXES = {
    'alice': ['a-info'], 'bob': ['a-sales'], 'carol': ['b-info'], 'dave': ['b-sales'],
    'sub': ['c-info'], 'vip': ['vip-boss'], 'pm': [],
}


def setup(inst):
    d = inst.assign_entry('demo')
    for box, locals_ in BOXES.items():
        inst.add_mailbox(box, newu=False)
        for lp in locals_:
            inst.add_user(lp, d['user'], d['uid'], d['gid'], inst.path('mail', box), newu=False)
    inst.add_mailbox('catchall', newu=False)
    # every address the catch-all takes: catch-LOCAL, a wildcard entry
    inst.add_user('catch-', d['user'], d['uid'], d['gid'], inst.path('mail', 'catchall'), dash='-', wildcard=True,
                  newu=False)
    inst.newu()
    # catch-ANYTHING has an extension: the catch-all's home says what to do with every one
    mrinst.write_file(inst.path('mail', 'catchall', '.qmail-default'), './Maildir/\n', 0o600, d['uid'], d['gid'])
    mrinst.write_file(inst.path('control', 'virtualdomains'), VDOMAINS, 0o644)
    r = newcontrol(inst, 'virtualdomains')
    R.check('mailroom-newcontrol virtualdomains: 7 rules', r.returncode == 0 and b'7 rules' in r.stderr, r.stderr)


def newcontrol(inst, *names):
    return subprocess.run([inst.bin('mailroom-newcontrol')] + list(names), capture_output=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def msg(tag, to):
    return ('From: tester@example.org\nTo: %s\nSubject: %s\n\nbody of %s\n' % (to, tag, tag)).encode()


def subjects(inst, box):
    out = []
    for f in inst.maildir_files(box):
        for line in read_file(f).split(b'\n'):
            if line.startswith(b'Subject: '):
                out.append(line[9:].strip().decode())
                break
    return sorted(out)


def test_setup_alias(inst):
    for a in ('postmaster', 'abuse', 'mailer-daemon'):
        p = inst.path('alias', '.qmail-' + a)
        R.check('setup: alias/.qmail-%s exists, names demo\'s Maildir' % a,
                os.path.isfile(p) and read_file(p).strip() == inst.path('mail', 'demo', 'Maildir').encode() + b'/',
                repr(read_file(p) if os.path.exists(p) else None))
        e = inst.assign_entry(a)
        R.check('setup: users/assign sends %s to the alias user' % a,
                e is not None and e['home'] == inst.path('alias') and e['dash'] == '-' and e['ext'] == a, repr(e))
    # postmaster now goes where the alias user's dot file says: a Maildir of its own
    mrinst.write_file(inst.path('alias', '.qmail-postmaster'), inst.path('mail', 'pm', 'Maildir') + '/\n', 0o644)


def test_queue_tools(inst):
    """Before mailroom-send runs: the messages wait in queue/new, as the tools show them."""
    r = inst.sendmail(['-f', 'tester@example.org', 'info@a.example', 'sales@B.EXAMPLE', 'someone@e.example',
                       'demo@localhost'], msg('qtools', 'info@a.example'))
    R.check('sendmail to two virtual, one remote, one local recipient: exit 0', r.returncode == 0, r.stderr)
    qr = subprocess.run([inst.bin('mailroom-qread')], capture_output=True, timeout=30)
    out = qr.stdout.decode()
    R.check('qread: info@a.example is local, virtual=<a-info@a.example>',
            qr.returncode == 0 and 'local new tries=0 next=now <info@a.example> virtual=<a-info@a.example>' in out, out)
    R.check('qread: sales@B.EXAMPLE is virtual=<b-sales@B.EXAMPLE> (keys any case, address as sent)',
            '<sales@B.EXAMPLE> virtual=<b-sales@B.EXAMPLE>' in out, out)
    R.check('qread: the exception\'s recipient (e.example:) is remote, not virtual',
            'remote new tries=0 next=now <someone@e.example>\n' in out, out)
    R.check('qread: a local recipient has no virtual=', '<demo@localhost>\n' in out, out)
    qj = subprocess.run([inst.bin('mailroom-qread'), '--json'], capture_output=True, timeout=30)
    try:
        rc = {x['address']: x for x in json.loads(qj.stdout)[0]['recipients']}
    except (ValueError, IndexError, KeyError) as e:
        rc = {'error': str(e)}
    R.check('qread --json: "virtual" of each virtual recipient, none for the others',
            rc.get('info@a.example', {}).get('virtual') == 'a-info@a.example' and
            rc.get('sales@B.EXAMPLE', {}).get('channel') == 'local' and
            'virtual' not in rc.get('someone@e.example', {'virtual': 1}) and
            'virtual' not in rc.get('demo@localhost', {'virtual': 1}), qj.stdout)
    qs = subprocess.run([inst.bin('mailroom-qstat')], capture_output=True, timeout=30)
    s = qs.stdout.decode()
    R.check('qstat: 3 local (2 of them virtual), 1 remote',
            'local channel (to do)                   1 messages        3 recipients' in s and
            'of local: virtual domains               1 messages        2 recipients' in s and
            'remote channel (to do)                  1 messages        1 recipients' in s, s)
    qsj = subprocess.run([inst.bin('mailroom-qstat'), '--json'], capture_output=True, timeout=30)
    try:
        j = json.loads(qsj.stdout)
    except ValueError:
        j = {}
    R.check('qstat --json: virtual 1 message, 2 recipients',
            j.get('virtual') == {'messages': 1, 'recipients': 2}, qsj.stdout)


def session_rcpt(inst, c, addr):
    return c.cmd('RCPT TO:<%s>' % addr)


def test_rcpt(inst):
    """smtpd without RELAYCLIENT: who is accepted and who is refused, and why."""
    with inst.session() as c:
        c.cmd('EHLO client.example')
        expect('MAIL', c.cmd('MAIL FROM:<x@example.org>'), 250)
        for a in ('info@a.example', 'SALES@A.EXAMPLE', 'info@b.example', 'sales@b.example', 'info@mx.c.example',
                  'info@deep.mx.c.example', 'boss@d.example'):
            expect('RCPT %s: a virtual user, 250' % a, session_rcpt(inst, c, a), 250, '2.1.5')
        for a in ('nobody@a.example', 'info@d.example', 'x@b.example'):
            expect('RCPT %s: unknown virtual user, 550 5.1.1' % a, session_rcpt(inst, c, a), 550, '5.1.1')
        # the catch-all takes no domain a stranger may not send to
        expect('RCPT elsewhere.example (catch-all only): 550 5.7.1 relaying denied',
               session_rcpt(inst, c, 'x@elsewhere.example'), 550, '5.7.1')
        expect('RCPT e.example (the exception "e.example:"): not virtual, 550 5.7.1',
               session_rcpt(inst, c, 'info@e.example'), 550, '5.7.1')
        expect('RCPT demo@localhost: locals win over the catch-all', session_rcpt(inst, c, 'demo@localhost'), 250)
        expect('RSET', c.cmd('RSET'), 250)
        expect('QUIT', c.cmd('QUIT'), 221)
    log = read_file(c.logpath).decode(errors='replace')
    R.check('smtpd log: the refused virtual user with its reason',
            'to=<nobody@a.example> result=550 reason="no such user"' in log, log[-1500:])
    before = inst.queue_files()
    with inst.session() as c:
        c.cmd('EHLO client.example')
        c.cmd('MAIL FROM:<x@example.org>')
        expect('only unknown virtual users: 550 each', session_rcpt(inst, c, 'ghost@b.example'), 550, '5.1.1')
        expect('then DATA: 554, nothing to deliver', c.cmd('DATA'), 554)
        c.cmd('QUIT')
    R.check('nothing queued for unknown virtual users (no backscatter)', inst.queue_files() == before, '')
    # with the domain in rcpthosts, the catch-all takes it
    with open(inst.path('control', 'rcpthosts'), 'a') as f:
        f.write('catchme.example\n')
    if os.path.exists(inst.path('control', 'rcpthosts.cdb')):
        newcontrol(inst, 'rcpthosts')
    with inst.session() as c:
        c.cmd('EHLO client.example')
        code, _ = c.transaction('x@example.org', ['anyone@catchme.example'], smtpinst.crlf(msg('catchall-smtp',
                                                                                            'anyone@catchme.example')))
        R.check('catch-all over SMTP, a domain of rcpthosts: accepted, 250', code == 250, code)
        c.cmd('QUIT')


def test_smtplib(inst, port):
    """Real client, through tcpserver (127.0.0.1 relays, RELAYCLIENT): each to its box."""
    sent = {'info@a.example': 'smtp-a-info', 'sales@a.example': 'smtp-a-sales', 'info@b.example': 'smtp-b-info',
            'sales@b.example': 'smtp-b-sales', 'info@www.c.example': 'smtp-sub', 'BOSS@d.example': 'smtp-vip',
            'whoever@nowhere.example': 'smtp-catchall', 'postmaster@localhost': 'smtp-pm',
            'abuse@localhost': 'smtp-abuse'}
    with smtplib.SMTP('127.0.0.1', port, timeout=30) as s:
        s.ehlo('smtplib.example')
        for to, tag in sent.items():
            refused = s.sendmail('tester@example.org', [to], msg(tag, to).decode())
            R.check('smtplib: %s accepted' % to, refused == {}, repr(refused))
        try:
            s.sendmail('tester@example.org', ['nobody@b.example'], msg('x', 'nobody@b.example').decode())
            R.fail('smtplib: unknown virtual user refused', 'accepted')
        except smtplib.SMTPRecipientsRefused as e:
            code = e.recipients['nobody@b.example'][0]
            R.check('smtplib: unknown virtual user refused at RCPT with 550', code == 550, repr(e.recipients))


def test_sendmail(inst):
    for to, tag in (('info@a.example', 'sm-a-info'), ('sales@a.example', 'sm-a-sales'),
                    ('info@b.example', 'sm-b-info'), ('sales@b.example', 'sm-b-sales'),
                    ('boss@d.example', 'sm-vip'), ('x@catch.example', 'sm-catchall')):
        r = inst.sendmail(['-f', 'tester@example.org', to], msg(tag, to))
        R.check('sendmail %s: exit 0' % to, r.returncode == 0, r.stderr)


def check_boxes(inst):
    want = {
        'alice': ['qtools', 'sm-a-info', 'smtp-a-info'], 'bob': ['sm-a-sales', 'smtp-a-sales'],
        'carol': ['sm-b-info', 'smtp-b-info'], 'dave': ['qtools', 'sm-b-sales', 'smtp-b-sales'],
        'sub': ['smtp-sub'], 'vip': ['sm-vip', 'smtp-vip'],
        'catchall': ['catchall-smtp', 'sm-catchall', 'smtp-catchall'], 'pm': ['smtp-pm'],
        'demo': ['qtools', 'smtp-abuse'],
    }
    total = sum(len(v) for v in want.values())
    # (the qtools message stays queued for someone@e.example: no DNS answers here)
    mrinst.wait_until(lambda: sum(inst.maildir_count(b) for b in want) >= total, 30 * mrinst.SLOW)
    for box, tags in want.items():
        got = subjects(inst, box)
        R.check('Maildir %s holds exactly %s' % (box, ', '.join(tags)), got == sorted(tags), 'got %s' % got)
    log = inst.log()
    R.check('send log: delivered to info@a.example', 'to=<info@a.example>' in log, log[-1500:])
    data = b''.join(read_file(f) for f in inst.maildir_files('alice'))
    R.check('Delivered-To of a virtual user: the rewritten address', b'Delivered-To: a-info@a.example' in data,
            data[:400])


def test_newcontrol_errors(inst):
    good = read_file(inst.path('control', 'virtualdomains.cdb'))
    src = inst.path('control', 'virtualdomains')
    cases = [
        ('overlong line', 'a.example:a\n' + 'x' * 2000 + '.example:p\n', 'line 2: line longer than 1024 bytes'),
        ('binary byte', 'a.example:a\nb\x00.example:b\n', 'line 2: binary byte'),
        ('blank inside', 'a.example :a\n', 'line 1: binary byte, control character or blank'),
        ('missing colon', 'a.example:a\n\nb.example b\n', "line 3: missing ':'"),
        ('empty domain after @', 'info@:x\n', 'line 1: empty domain'),
        ('empty subdomain', '.:x\n', 'line 1: empty domain'),
        ('double dot', 'a..example:x\n', 'line 1: empty label'),
        ('duplicate entry', 'a.example:a\nb.example:b\nA.EXAMPLE:c\n', 'line 3: duplicate entry'),
        ('two catch-alls', ':a\n:b\n', 'line 2: duplicate entry'),
        ('bad prefix', 'a.example:a/b\n', 'line 1: bad character in the prefix'),
        ('empty local part', '@a.example:a\n', 'line 1: empty local part'),
        ('label over 63', 'x' * 64 + '.example:a\n', 'line 1: label'),
    ]
    for label, text, want in cases:
        with open(src, 'wb') as f:
            f.write(text.encode('latin-1'))
        r = newcontrol(inst, 'virtualdomains')
        err = r.stderr.decode(errors='replace')
        R.check('newcontrol refuses %s: exit 100, names it' % label,
                r.returncode == 100 and ('control/virtualdomains ' + want) in err and 'not changed' in err, err)
    R.check('newcontrol: the cdb is unchanged after every refusal',
            read_file(inst.path('control', 'virtualdomains.cdb')) == good, '')
    mrinst.write_file(src, VDOMAINS, 0o644)
    r = newcontrol(inst, 'virtualdomains')
    R.check('newcontrol: the good file again', r.returncode == 0, r.stderr)


def test_text_and_corrupt(inst):
    cdb = inst.path('control', 'virtualdomains.cdb')
    good = read_file(cdb)
    os.unlink(cdb)
    with inst.session() as c:
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<x@example.org>')
        expect('without the cdb, from the text: info@b.example 250', session_rcpt(inst, c, 'info@b.example'), 250)
        expect('without the cdb: boss@d.example 250', session_rcpt(inst, c, 'boss@d.example'), 250)
        expect('without the cdb: nobody@b.example 550', session_rcpt(inst, c, 'nobody@b.example'), 550, '5.1.1')
        c.cmd('QUIT')
    mrinst.write_file(cdb, b'this is not a cdb', 0o644)
    with inst.session() as c:
        c.cmd('EHLO x')
        c.cmd('MAIL FROM:<x@example.org>')
        expect('a corrupt cdb: 451 4.3.0, not 550', session_rcpt(inst, c, 'info@b.example'), 451, '4.3.0')
        c.cmd('QUIT')
    # mailroom-send with a corrupt cdb: the message waits in queue/new, never set aside
    before = len(inst.maildir_files('carol'))
    r = inst.sendmail(['-f', 'tester@example.org', 'info@b.example'], msg('sm-corrupt', 'info@b.example'))
    R.check('sendmail with a corrupt cdb: accepted (exit 0)', r.returncode == 0, r.stderr)
    waited = mrinst.wait_until(lambda: 'will try again' in inst.log() or None, 10 * mrinst.SLOW)
    q = inst.queue_files()
    R.check('send with a corrupt cdb: "will try again", the message stays in queue/new, none in queue/bad',
            waited and len(q['new']) == 1 and not os.listdir(inst.path('queue', 'bad')) and
            len(inst.maildir_files('carol')) == before, '%s %s' % (q, inst.log()[-600:]))
    mrinst.write_file(cdb, good, 0o644)
    r = inst.sendmail(['-f', 'tester@example.org', 'sales@b.example'], msg('sm-after', 'sales@b.example'))
    n, _ = inst.wait_for(before + 1, 20 * mrinst.SLOW, 'carol')
    R.check('the cdb mended: the waiting message is delivered at the next pick-up', n == before + 1 and
            'sm-corrupt' in subjects(inst, 'carol'), subjects(inst, 'carol'))


def main():
    with smtpinst.SmtpInstance('mrvdom.') as inst:
        setup(inst)
        R.run('setup and the alias user', test_setup_alias, inst)
        R.run('queue tools', test_queue_tools, inst)
        inst.start()
        port = inst.start_service()
        R.run('RCPT checks', test_rcpt, inst)
        R.run('smtplib', test_smtplib, inst, port)
        R.run('sendmail', test_sendmail, inst)
        R.run('deliveries', check_boxes, inst)
        R.run('newcontrol errors', test_newcontrol_errors, inst)
        R.run('text and corrupt cdb', test_text_and_corrupt, inst)
    R.exit()


if __name__ == '__main__':
    if not IS_ROOT:
        print('SKIP test_vdomains: needs root (role users)')
    main()
