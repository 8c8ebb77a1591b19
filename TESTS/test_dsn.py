#!/usr/bin/env python3
"""DSN (RFC 3461) and AUTH= (RFC 4954 5) end to end, through the real programs:

client --SMTP--> mailroom-smtpd (instance A) -> queue -> mailroom-send -> rspawn ->
mailroom-remote --SMTP--> a second mailroom instance (B, its smtpd under tcpserver, its queue
manager not running, so the envelope it wrote can be read in its queue) or python peers that
record every command (one offering DSN and AUTH, one offering neither, one refusing every
recipient). Routes are control/smtproutes literals on 127.0.0.1: no DNS at all.

Checked: EHLO offers DSN; NOTIFY, ORCPT, RET, ENVID arrive at B with the same values (B's
queue file) and on the DSN peer's MAIL/RCPT lines, with AUTH=<> for an unauthenticated
client; a peer without DSN gets none and the sender gets the "relayed" notice; a local
NOTIFY=SUCCESS delivery gets a "delivered" notice; a NOTIFY=NEVER failure no bounce; a
NOTIFY=FAILURE RET=HDRS bounce only headers, RET=FULL the whole message; every report parses
with Python's email package as multipart/report; report-type=delivery-status and carries
Original-Envelope-Id and Original-Recipient (decoded). Bad input for every parameter gets its
501/555 and changes nothing; old envelopes still deliver and bad parameter records are
refused by mailroom-queue and the queue writer. Every wait is bounded; every server started
here is stopped here.
"""

import email
import email.policy
import os
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpfake  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import read_file  # noqa: E402
from smtpinst import crlf, expect  # noqa: E402

R = mrinst.Results()


def wait(cond, timeout):
    return mrinst.wait_until(cond, timeout, 0.05)


def peer(ehlo, rcpt=None):
    """A recording SMTP sink (TESTS/lib/smtpfake.py) on 127.0.0.1, a free port."""
    srv = smtpfake.Server('127.0.0.1', 0, ehlo=list(ehlo) + ['PIPELINING'], rcpt=rcpt).start()
    srv.port = srv.sock.getsockname()[1]
    return srv


def commands(srv, prefix):
    with srv.lock:
        return [ln.decode(errors='replace') for s in srv.sessions for ln in s['cmds']
                if ln.upper().startswith(prefix.encode())]


def new_since(inst, box, before):
    return sorted(set(inst.maildir_files(box)) - set(before))


def parse_report(path):
    """A delivered report -> (message, {content type: part}, per-message fields, [per-recipient fields])."""
    msg = email.message_from_bytes(read_file(path), policy=email.policy.compat32)
    parts = {}
    if msg.is_multipart():
        for p in msg.get_payload():
            parts[p.get_content_type()] = p
    ds = parts.get('message/delivery-status')
    blocks = ds.get_payload() if ds is not None else []
    permsg = {k.lower(): v for k, v in blocks[0].items()} if blocks else {}
    rcpts = [{k.lower(): v for k, v in b.items()} for b in blocks[1:]]
    return msg, parts, permsg, rcpts


def is_report(msg):
    return msg.get_content_type() == 'multipart/report' and msg.get_param('report-type') == 'delivery-status'


def envelope_of(path):
    """A queue message file -> its envelope records [(letter, value)]."""
    data = read_file(path)
    t = data[-32:]
    mlen, elen = int(t[5:21], 16), int(t[21:31], 16)
    env = data[mlen:mlen + elen]
    return [(r[:1].decode(), r[1:].decode()) for r in env.split(b'\0')[:-2]]


def smtp_send(inst, mail, rcpts, body, env=None):
    """One transaction through A's smtpd; returns the list of replies."""
    out = []
    with inst.session(env=env or {'RELAYCLIENT': ''}) as c:
        out.append(c.cmd('EHLO client.test'))
        out.append(c.cmd('MAIL FROM:' + mail))
        for r in rcpts:
            out.append(c.cmd('RCPT TO:' + r))
        out.append(c.cmd('DATA'))
        c.send(crlf(body) + b'.\r\n')
        out.append(c.reply(60))
        c.cmd('QUIT')
    return out


# --- cases ------------------------------------------------------------------------------------
def t_ehlo(inst):
    with inst.session() as c:
        code, lines = c.cmd('EHLO client.test')
        R.check('ehlo: DSN offered', code == 250 and 'DSN' in lines, lines)
        c.cmd('QUIT')


def t_bad_input(inst):
    long_orcpt = 'rfc822;' + 'x' * 494
    cases = [
        ('MAIL FROM:<a@localhost> RET=BOTH', 501, 'RET'),
        ('MAIL FROM:<a@localhost> RET', 501, 'RET'),
        ('MAIL FROM:<a@localhost> RET=HDRS RET=HDRS', 501, 'twice'),
        ('MAIL FROM:<a@localhost> ENVID=' + 'e' * 101, 501, 'ENVID'),
        ('MAIL FROM:<a@localhost> ENVID=a+zz', 501, 'ENVID'),
        ('MAIL FROM:<a@localhost> ENVID=a+2', 501, 'ENVID'),
        ('MAIL FROM:<a@localhost> ENVID=x ENVID=y', 501, 'twice'),
        ('MAIL FROM:<a@localhost> ENVID=a=b', 501, 'Malformed'),
        ('MAIL FROM:<a@localhost> AUTH=a+20b', 501, 'AUTH'),
        ('MAIL FROM:<a@localhost> AUTH=<> AUTH=<>', 501, 'twice'),
        ('MAIL FROM:<a@localhost> AUTH=' + 'a' * 501, 501, 'AUTH'),
        ('MAIL FROM:<a@localhost> NOTIFY=NEVER', 555, 'Unsupported'),
        ('MAIL FROM:<a@localhost> XDSN=1', 555, 'Unsupported'),
    ]
    rcases = [
        ('RCPT TO:<demo@localhost> NOTIFY=NEVER,SUCCESS', 501, 'NOTIFY'),
        ('RCPT TO:<demo@localhost> NOTIFY=SUCCESS,SUCCESS', 501, 'NOTIFY'),
        ('RCPT TO:<demo@localhost> NOTIFY=SOMETIMES', 501, 'NOTIFY'),
        ('RCPT TO:<demo@localhost> NOTIFY=SUCCESS,', 501, 'NOTIFY'),
        ('RCPT TO:<demo@localhost> NOTIFY=DELAY NOTIFY=DELAY', 501, 'twice'),
        ('RCPT TO:<demo@localhost> ORCPT=demo@localhost', 501, 'ORCPT'),
        ('RCPT TO:<demo@localhost> ORCPT=rfc822;a+4', 501, 'ORCPT'),
        ('RCPT TO:<demo@localhost> ORCPT=' + long_orcpt, 501, 'ORCPT'),
        ('RCPT TO:<demo@localhost> ORCPT=rfc822;a ORCPT=rfc822;a', 501, 'twice'),
        ('RCPT TO:<demo@localhost> RET=HDRS', 555, 'Unsupported'),
        ('RCPT TO:<demo@localhost> FOO=bar', 555, 'Unsupported'),
    ]
    with inst.session() as c:
        c.cmd('EHLO client.test')
        for line, code, word in cases:
            got = c.cmd(line)
            R.check('bad MAIL %s -> %d' % (line[24:60], code), got[0] == code and word in ' '.join(got[1]), got)
        expect(R, 'bad input: the session goes on, MAIL still works', c.cmd('MAIL FROM:<a@localhost>'), 250)
        c.cmd('QUIT')
    with inst.session() as c:  # a new session: 20 refused commands end one (421)
        c.cmd('EHLO client.test')
        c.cmd('MAIL FROM:<a@localhost>')
        for line, code, word in rcases:
            got = c.cmd(line)
            R.check('bad RCPT %s -> %d' % (line[25:60], code), got[0] == code and word in ' '.join(got[1]), got)
        got = c.cmd(b'RCPT TO:<demo@localhost> ORCPT=rfc822;\xff\xfe')
        R.check('bad RCPT: 8-bit ORCPT refused', got[0] == 501, got)
        expect(R, 'bad input: RCPT still works', c.cmd('RCPT TO:<demo@localhost>'), 250)
        c.cmd('QUIT')
    with inst.session() as c:
        c.cmd('HELO client.test')
        expect(R, 'HELO session: no DSN parameter', c.cmd('MAIL FROM:<a@localhost> RET=HDRS'), 555)
        c.cmd('QUIT')
    R.check('bad input: nothing queued', not any(inst.queue_files().values()), inst.queue_files())


def t_queue_formats(inst):
    before = inst.maildir_files('demo')
    code, err = inst.queue_direct(b'Subject: old\n\nold\n', b'Falice@localhost\0Tdemo@localhost\0\0')
    code2, err2 = inst.queue_direct(b'Subject: new\n\nnew\n',
                                    b'Falice@localhost\0Eq1\0RHDRS\0Tdemo@localhost\0NFAILURE\0Orfc822;d\0\0')
    R.check('queue: an old envelope and one with parameter records are accepted', code == 0 and code2 == 0,
            (code, err, code2, err2))
    R.check('queue: both delivered', wait(lambda: len(new_since(inst, 'demo', before)) >= 2, 15), inst.log()[-500:])
    for env, what in ((b'Fa@localhost\0Tdemo@localhost\0NSOMETIMES\0\0', 'bad NOTIFY'),
                      (b'Fa@localhost\0Tdemo@localhost\0NNEVER\0NNEVER\0\0', 'repeated record'),
                      (b'Fa@localhost\0Ea=b\0Tdemo@localhost\0\0', 'bad ENVID'),
                      (b'Fa@localhost\0Tdemo@localhost\0Eabc\0\0', 'ENVID after a recipient')):
        code, err = inst.queue_direct(b'Subject: bad\n\nbad\n', env)
        R.check('queue: mailroom-queue refuses %s' % what, code == 91, (code, err))
    # the writer too (sendmail tries it first; a refusal by the writer is the same code)
    R.check('queue: nothing bad queued', not inst.queue_files()['new'] and not inst.queue_files()['tmp'],
            inst.queue_files())


def t_to_mailroom(inst, recv):
    replies = smtp_send(inst, '<alice@localhost> RET=HDRS ENVID=abc AUTH=joe+40client.test',
                        ['<x@dsn.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@dsn.test',
                         '<y@dsn.test> NOTIFY=NEVER'],
                        'Subject: to B\n\nhello B\n')
    R.check('to B: accepted by A', [r[0] for r in replies[1:]] == [250, 250, 250, 354, 250], replies)
    got = wait(lambda: recv.queue_files()['new'], 30)
    if not got:
        R.fail('to B: the message reaches B\'s queue', inst.log()[-1000:])
        return
    recs = envelope_of(recv.path('queue', 'new', got[0]))
    R.check('to B: RET and ENVID arrive as sent', ('R', 'HDRS') in recs and ('E', 'abc') in recs, recs)
    R.check('to B: no AUTH= (B offers no AUTH without TLS)', not [r for r in recs if r[0] == 'A'], recs)
    i = recs.index(('T', 'x@dsn.test')) if ('T', 'x@dsn.test') in recs else -1
    R.check('to B: NOTIFY=SUCCESS,FAILURE and ORCPT=rfc822;x@dsn.test arrive with x',
            i >= 0 and ('N', 'SUCCESS,FAILURE') in recs[i + 1:i + 3] and ('O', 'rfc822;x@dsn.test') in recs[i + 1:i + 3],
            recs)
    j = recs.index(('T', 'y@dsn.test')) if ('T', 'y@dsn.test') in recs else -1
    R.check('to B: NOTIFY=NEVER arrives with y', j >= 0 and recs[j + 1:j + 2] == [('N', 'NEVER')], recs)
    time.sleep(1)
    R.check('to B: no "relayed" notice from A (B offers DSN)', not [
        ln for ln in inst.log().splitlines() if ln.startswith('notify ') and 'kind=relayed' in ln], inst.log()[-500:])


def t_to_dsnpeer(inst, srv):
    smtp_send(inst, '<alice@localhost> RET=FULL ENVID=env+2B1 AUTH=joe+40client.test',
              ['<p@peer.test> NOTIFY=DELAY,SUCCESS ORCPT=rfc822;P+40peer.test', '<q@peer.test>'],
              'Subject: to the DSN peer\n\nhello\n')
    ok = wait(lambda: commands(srv, 'DATA'), 30)
    mail = commands(srv, 'MAIL')
    rcpt = commands(srv, 'RCPT')
    R.check('dsn peer: MAIL carries RET, ENVID and AUTH=<> verbatim',
            ok and mail == ['MAIL FROM:<alice@localhost> RET=FULL ENVID=env+2B1 AUTH=<>'], mail)
    R.check('dsn peer: RCPT carries NOTIFY and ORCPT, none for a recipient without them',
            sorted(rcpt) == ['RCPT TO:<p@peer.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;P+40peer.test',
                             'RCPT TO:<q@peer.test>'], rcpt)


def t_relayed(inst, srv):
    before = inst.maildir_files('alice')
    smtp_send(inst, '<alice@localhost> ENVID=rel1 AUTH=<>',
              ['<r@nodsn.test> NOTIFY=SUCCESS ORCPT=rfc822;r@nodsn.test', '<s@nodsn.test>'],
              'Subject: to a peer without DSN\n\nhello\n')
    files = wait(lambda: new_since(inst, 'alice', before), 30)
    mail, rcpt = commands(srv, 'MAIL'), commands(srv, 'RCPT')
    R.check('no-dsn peer: no DSN or AUTH parameter sent',
            mail == ['MAIL FROM:<alice@localhost>'] and sorted(rcpt) == ['RCPT TO:<r@nodsn.test>', 'RCPT TO:<s@nodsn.test>'],
            (mail, rcpt))
    if not files:
        R.fail('relayed: the sender gets the "relayed" notice', inst.log()[-1000:])
        return
    msg, parts, pm, rc = parse_report(files[0])
    R.check('relayed: multipart/report; report-type=delivery-status', is_report(msg), msg.get('Content-Type'))
    R.check('relayed: Action relayed, Status 2.x, only r',
            len(rc) == 1 and rc[0].get('action') == 'relayed' and rc[0].get('status', '').startswith('2.') and
            rc[0].get('final-recipient') == 'rfc822; r@nodsn.test', rc)
    R.check('relayed: Original-Envelope-Id and Original-Recipient',
            pm.get('original-envelope-id') == 'rel1' and rc and rc[0].get('original-recipient') == 'rfc822; r@nodsn.test',
            (pm, rc))
    time.sleep(1)
    R.check('relayed: one notice (s asked for none)', len(new_since(inst, 'alice', before)) == 1,
            new_since(inst, 'alice', before))


def t_delivered(inst):
    before = inst.maildir_files('alice')
    replies = smtp_send(inst, '<alice@localhost> ENVID=loc+2B1',
                        ['<demo@localhost> NOTIFY=SUCCESS ORCPT=rfc822;Demo+40localhost'], 'Subject: local\n\nlocal\n')
    files = wait(lambda: new_since(inst, 'alice', before), 20)
    if not files:
        R.fail('delivered: the sender gets the "delivered" notice', (replies, inst.log()[-1000:]))
        return
    msg, parts, pm, rc = parse_report(files[0])
    R.check('delivered: a report with Action delivered, Status 2.x',
            is_report(msg) and rc and rc[0].get('action') == 'delivered' and rc[0].get('status', '').startswith('2.'), rc)
    R.check('delivered: Original-Envelope-Id decoded, Original-Recipient decoded',
            pm.get('original-envelope-id') == 'loc+1' and rc[0].get('original-recipient') == 'rfc822; Demo@localhost',
            (pm, rc))
    R.check('delivered: the original header only', 'text/rfc822-headers' in parts, list(parts))


def t_sendmail(inst):
    before = inst.maildir_files('alice')
    r = inst.sendmail(['-f', 'alice@localhost', '-N', 'success,failure', '-R', 'hdrs', '-V', 'my id+1', 'demo@localhost'],
                      b'Subject: sendmail dsn\n\nbody\n')
    files = wait(lambda: new_since(inst, 'alice', before), 20)
    if r.returncode or not files:
        R.fail('sendmail -N -R -V: a delivered notice', (r.returncode, r.stderr, inst.log()[-600:]))
    else:
        msg, parts, pm, rc = parse_report(files[0])
        R.check('sendmail -N success -V: delivered notice with the id decoded as given',
                is_report(msg) and rc and rc[0].get('action') == 'delivered' and
                pm.get('original-envelope-id') == 'my id+1', (pm, rc))
    before = inst.maildir_files('alice')
    r = inst.sendmail(['-f', 'alice@localhost', '-N', 'never', 'nosuchuser@localhost'], b'Subject: never\n\nx\n')
    ok = wait(lambda: inst.log().count('kind=failed result=suppressed') >= 2, 20)
    time.sleep(1)
    R.check('sendmail -N never: no bounce', r.returncode == 0 and ok and not new_since(inst, 'alice', before),
            (r.returncode, new_since(inst, 'alice', before)))
    for args in (['-N', 'never,success'], ['-N', 'sometimes'], ['-R', 'both'], ['-V', 'x' * 101], ['-V', '']):
        r = inst.sendmail(['-f', 'alice@localhost'] + args + ['demo@localhost'], b'Subject: bad\n\nx\n')
        R.check('sendmail %s: refused, exit 100' % ' '.join(args)[:30], r.returncode == 100, (r.returncode, r.stderr))


def t_delay(inst):
    """Delay warnings obey NOTIFY: a recipient whose NOTIFY leaves out DELAY gets none."""
    name, uid, gid = inst.system_user('mrdsn')
    home = inst.user_home('slowpoke', uid, gid, dotqmail='|echo "busy, later"; exit 111\n')
    inst.control('delaywarn', 1)
    inst.send.send_signal(1)  # SIGHUP: reread
    time.sleep(0.3)
    before = inst.maildir_files('alice')
    smtp_send(inst, '<alice@localhost>', ['<slowpoke@localhost> NOTIFY=FAILURE'], 'Subject: no delay notice\n\nx\n')
    ok = wait(lambda: inst.log().count('to=<slowpoke@localhost> attempts=') >= 2, 15)
    time.sleep(0.5)
    R.check('delay: NOTIFY=FAILURE gets no delay warning', ok and not new_since(inst, 'alice', before),
            (new_since(inst, 'alice', before), inst.log()[-500:]))
    smtp_send(inst, '<alice@localhost> ENVID=d1', ['<slowpoke@localhost> NOTIFY=DELAY ORCPT=rfc822;slowpoke@localhost'],
              'Subject: delay notice\n\nx\n')
    files = wait(lambda: new_since(inst, 'alice', before), 15)
    if files:
        msg, _, pm, rc = parse_report(files[0])
        R.check('delay: NOTIFY=DELAY gets one, Action delayed, with ENVID and ORCPT',
                is_report(msg) and rc and rc[0].get('action') == 'delayed' and pm.get('original-envelope-id') == 'd1'
                and rc[0].get('original-recipient') == 'rfc822; slowpoke@localhost', (pm, rc))
    else:
        R.fail('delay: NOTIFY=DELAY gets a delay warning', inst.log()[-600:])
    inst.control('delaywarn', None)
    inst.send.send_signal(1)
    mrinst.write_file(os.path.join(home, '.qmail'), './Maildir/\n', 0o600, uid, gid)
    R.check('delay: both delivered once the program accepts', inst.wait_queue_empty(15), inst.queue_files())


def t_auth_trusted(inst, srv):
    """AUTH= from a client that authenticated (submission: STARTTLS through mailroom-tlsd,
    AUTH PLAIN) is kept and passed on to a peer that offers AUTH."""
    sub, pops = smtpinst.free_port(), smtpinst.free_port()
    env = mrinst._make_env()
    env.update({'SUBMISSION_PORT': str(sub), 'POP3S_PORT': str(pops), 'SMTP_PORT': str(smtpinst.free_port())})
    r = subprocess.run(['bash', os.path.join(mrinst.CHECKOUT, 'lib/sh/setup.sh'), inst.home, inst.build], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if r.returncode:
        R.fail('auth: setup of the submission service', (r.stdout + r.stderr)[-600:])
        return
    inst.start_daemon(['sh', inst.path('service', 'submission', 'run')], sub, logname='submission.log')
    c = inst.connect(sub)
    try:
        c.reply()
        c.cmd('EHLO a.example')
        c.cmd('STARTTLS')
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c.sock = ctx.wrap_socket(c.sock, server_hostname='localhost')
        c.cmd('EHLO a.example')
        auth = c.cmd('AUTH PLAIN AGRlbW8AZGVtbw==', timeout=30)  # demo / demo
        mail = c.cmd('MAIL FROM:<demo@localhost> AUTH=demo+40localhost')
        rcpt = c.cmd('RCPT TO:<t@peer.test>')
        c.cmd('DATA')
        c.send(crlf('Subject: authenticated\n\nhello\n') + b'.\r\n')
        end = c.reply(60)
        c.cmd('QUIT')
    finally:
        c.close()
    R.check('auth: an authenticated client\'s MAIL with AUTH= accepted',
            (auth[0], mail[0], rcpt[0], end[0]) == (235, 250, 250, 250), (auth, mail, rcpt, end))
    ok = wait(lambda: [m for m in commands(srv, 'MAIL') if 'demo@localhost>' in m], 30)
    R.check('auth: AUTH=demo+40localhost passed on as sent to a peer offering AUTH',
            ok == ['MAIL FROM:<demo@localhost> AUTH=demo+40localhost'], commands(srv, 'MAIL'))


def t_failures(inst, failpeer):
    before = inst.maildir_files('alice')
    smtp_send(inst, '<alice@localhost>', ['<n@fail.test> NOTIFY=NEVER'], 'Subject: never\n\nnever\n')
    ok = wait(lambda: 'kind=failed result=suppressed reason="NOTIFY"' in inst.log(), 30)
    time.sleep(1.5)
    R.check('NOTIFY=NEVER: the failure is logged, no bounce', ok and not new_since(inst, 'alice', before),
            (new_since(inst, 'alice', before), inst.log()[-600:]))
    R.check('NOTIFY=NEVER: the message leaves the queue', inst.wait_queue_empty(10), inst.queue_files())

    before = inst.maildir_files('alice')
    smtp_send(inst, '<alice@localhost> RET=HDRS ENVID=hdrs1',
              ['<h@fail.test> NOTIFY=FAILURE ORCPT=rfc822;h@fail.test'],
              'Subject: headers only\nX-Marker: hdrs\n\nsecret body line\n')
    files = wait(lambda: new_since(inst, 'alice', before), 30)
    if not files:
        R.fail('RET=HDRS: a bounce', inst.log()[-800:])
    else:
        msg, parts, pm, rc = parse_report(files[0])
        hdr = parts.get('text/rfc822-headers')
        R.check('RET=HDRS: multipart/report; report-type=delivery-status, Action failed 5.1.1',
                is_report(msg) and rc and rc[0].get('action') == 'failed' and rc[0].get('status') == '5.1.1', rc)
        R.check('RET=HDRS: only the header comes back',
                hdr is not None and 'X-Marker: hdrs' in hdr.get_payload() and b'secret body line' not in read_file(files[0]),
                list(parts))
        R.check('RET=HDRS: Original-Envelope-Id and Original-Recipient',
                pm.get('original-envelope-id') == 'hdrs1' and rc[0].get('original-recipient') == 'rfc822; h@fail.test',
                (pm, rc))

    before = inst.maildir_files('alice')
    smtp_send(inst, '<alice@localhost> RET=FULL', ['<f@fail.test>'], 'Subject: full\nX-Marker: full\n\nthe whole body\n')
    files = wait(lambda: new_since(inst, 'alice', before), 30)
    if not files:
        R.fail('RET=FULL: a bounce', inst.log()[-800:])
    else:
        msg, parts, pm, rc = parse_report(files[0])
        full = parts.get('message/rfc822')
        R.check('RET=FULL: the whole message as message/rfc822',
                is_report(msg) and full is not None and b'the whole body' in read_file(files[0]), list(parts))
        R.check('RET=FULL: no ENVID, no Original-Envelope-Id; no ORCPT, no Original-Recipient',
                'original-envelope-id' not in pm and rc and 'original-recipient' not in rc[0], (pm, rc))

    before = inst.maildir_files('alice')
    smtp_send(inst, '<alice@localhost>', ['<s1@fail.test> NOTIFY=SUCCESS', '<d1@fail.test> NOTIFY=DELAY,FAILURE'],
              'Subject: mixed\n\nmixed\n')
    files = wait(lambda: new_since(inst, 'alice', before), 30)
    if files:
        _, _, _, rc = parse_report(files[0])
        R.check('NOTIFY=SUCCESS alone: no bounce for that one; the other bounces',
                [r.get('final-recipient') for r in rc] == ['rfc822; d1@fail.test'], rc)
    else:
        R.fail('NOTIFY mixed: a bounce for d1', inst.log()[-800:])


def timed(label, fn, *args):
    t0 = time.monotonic()
    R.run(label, fn, *args)
    mrinst.info('%s: %.1f s' % (label, time.monotonic() - t0))


def main():
    peers = []
    try:
        with smtpinst.SmtpInstance('mrdsn.') as inst, smtpinst.SmtpInstance('mrdsnb.') as recv:
            inst.add_mailbox('alice')
            inst.control('retrybase', 1)
            inst.control('retrymax', 2)
            recv.control('me', 'dsn.test')
            recv.control('locals', 'dsn.test')
            recv.add_mailbox('x')
            recv.add_mailbox('y')
            bport = recv.start_service()  # its smtpd only: what it accepts stays in its queue/new
            dsnpeer = peer(['DSN', 'AUTH PLAIN', '8BITMIME'])
            peers.append(dsnpeer)
            nodsn = peer(['8BITMIME'])
            peers.append(nodsn)
            failpeer = peer(['DSN'], rcpt=lambda a: '550 5.1.1 <%s>: no such user here' % a)
            peers.append(failpeer)
            inst.control('smtproutes', 'dsn.test:[127.0.0.1]:%d\npeer.test:[127.0.0.1]:%d\nnodsn.test:[127.0.0.1]:%d\n'
                         'fail.test:[127.0.0.1]:%d\n' % (bport, dsnpeer.port, nodsn.port, failpeer.port))
            inst.start()
            timed('ehlo', t_ehlo, inst)
            timed('bad input', t_bad_input, inst)
            timed('queue formats', t_queue_formats, inst)
            timed('to a mailroom with DSN', t_to_mailroom, inst, recv)
            timed('to a peer with DSN', t_to_dsnpeer, inst, dsnpeer)
            timed('relayed', t_relayed, inst, nodsn)
            timed('delivered', t_delivered, inst)
            timed('failures', t_failures, inst, failpeer)
            timed('sendmail', t_sendmail, inst)
            timed('auth', t_auth_trusted, inst, dsnpeer)
            timed('delay', t_delay, inst)
    finally:
        for srv in peers:
            srv.stop()
    R.exit()


main()
