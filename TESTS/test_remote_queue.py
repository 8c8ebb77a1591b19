#!/usr/bin/env python3
"""The send side of remote delivery, end to end through the real programs:
sendmail -> mailroom-send -> mailroom-rspawn (as mrremote) -> mailroom-remote -> receivers.

Receivers: a second mailroom instance (mailroom-smtpd under tcpserver) for ok.test, and small
python SMTP servers (451 then accept, 550, slow, counting) for the other test domains, each
on its own random 127.a.b.c port 25; DNS from dnsmasq on a random 127.x.y.z, DNSCACHEIP in
mailroom-send's environment (mailroom-remote inherits it). Without bin/mailroom-remote (the
remote branch not merged yet) the end-to-end cases say SKIP, and what can be shown without
it is: rspawn's uid and fill-in rule, the queue closed to mrremote, DSN bounces, double
bounces and delay warnings of local failures (the same DSN code). Root only. Every wait is
bounded; every server started here is stopped here.
"""

import email
import email.policy
import os
import pwd
import random
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, info, read_file  # noqa: E402
from smtpsink import Peer  # noqa: E402

R = mrinst.Results()


def rand_ip():
    return '127.%d.%d.%d' % (random.randint(1, 254), random.randint(0, 255), random.randint(2, 254))


def wait(cond, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# the SMTP server with a policy: TESTS/lib/smtpsink.py (Peer)


def dsn_parts(path):
    """A delivered file -> (message, {content-type: part})."""
    msg = email.message_from_bytes(read_file(path), policy=email.policy.compat32)
    parts = {}
    if msg.is_multipart():
        for p in msg.get_payload():
            parts[p.get_content_type()] = p
    return msg, parts


def status_fields(part):
    """The message/delivery-status part -> list of per-recipient dicts (lowercase keys)."""
    out = []
    for blk in part.get_payload()[1:]:
        out.append({k.lower(): v for k, v in blk.items()})
    return out


def new_since(inst, box, before):
    return sorted(set(inst.maildir_files(box)) - set(before))


# --- cases without mailroom-remote ----------------------------------------------------------
def t_uids(inst, uid, gid):
    pids = wait(lambda: inst.instance_procs('mailroom-rspawn'), 5)
    if not pids:
        R.fail('uid: mailroom-rspawn runs', 'no mailroom-rspawn process; send.log: %s' % inst.log()[-600:])
        return
    pw = pwd.getpwnam('mrremote')
    uids, gids = mrinst.proc_ids(pids[0])
    R.check('uid: mailroom-rspawn runs as mrremote', set(uids) == {pw.pw_uid} and set(gids) == {pw.pw_gid},
            'uids %s gids %s' % (uids, gids))
    groups = [g for g in os.getgrouplist('mrremote', pw.pw_gid)]
    import grp
    bad = [grp.getgrgid(g).gr_name for g in groups if grp.getgrgid(g).gr_name in ('mrsend', 'mrqueue')]
    R.check('uid: mrremote is in neither mrsend nor mrqueue', not bad, 'groups %s' % bad)
    # A message held in the queue for a few seconds: its local delivery sleeps.
    inst.user_home('sleeper', uid, gid, dotqmail='|sleep 4\n')
    r = inst.sendmail(['-f', 'alice@localhost', 'sleeper@localhost'], b'Subject: held\n\nheld\n')
    ok = wait(lambda: inst.queue_files()['mess'], 5)
    if r.returncode != 0 or not ok:
        R.fail('uid: mrremote cannot open queue/mess/*', 'no message in queue/mess to try')
        return
    mid = inst.queue_files()['mess'][0]
    p = subprocess.run(inst.as_user(pw.pw_uid, pw.pw_gid) + ['cat', inst.path('queue', 'mess', mid)],
                       capture_output=True, timeout=10)
    R.check('uid: mrremote cannot open queue/mess/*', p.returncode != 0 and b'denied' in p.stderr,
            'cat exited %d: %r' % (p.returncode, p.stderr[:200]))
    p = subprocess.run(inst.as_user(pw.pw_uid, pw.pw_gid) + ['ls', inst.path('queue')], capture_output=True, timeout=10)
    R.check('uid: mrremote cannot list queue/', p.returncode != 0, 'ls exited %d' % p.returncode)
    return mid


def t_fillin(inst):
    """No bin/mailroom-remote: rspawn's child cannot exec it, exits 111: the recipient is
    deferred with rspawn's fill-in text, and the message stays queued."""
    inst.sendmail(['-f', 'alice@localhost', 'x@held.invalid'], b'Subject: held\n\nheld\n')
    ok = wait(lambda: 'mailroom-remote exited 111' in inst.log(), 10)
    R.check('fill-in: without mailroom-remote the recipient is deferred with rspawn\'s text',
            ok and any(l.startswith('defer ') and 'to=<x@held.invalid>' in l for l in inst.log().splitlines()),
            inst.log()[-800:])
    R.check('fill-in: the defer line names the domain', 'domain=held.invalid' in inst.log(), inst.log()[-400:])


def t_bounce_local(inst):
    before = inst.maildir_files('alice')
    r = inst.sendmail(['-f', 'alice@localhost', 'nosuchuser@localhost'],
                      b'Subject: to nobody\nX-Marker: bounce-me\n\nsecret body line\n')
    if r.returncode:
        R.fail('dsn: sendmail', r.stderr)
        return
    files = wait(lambda: new_since(inst, 'alice', before), 10)
    if not files:
        R.fail('dsn: a bounce reaches the sender within 10 s', inst.log()[-800:])
        return
    msg, parts = dsn_parts(files[0])
    R.check('dsn: multipart/report; report-type=delivery-status',
            msg.get_content_type() == 'multipart/report' and msg.get_param('report-type') == 'delivery-status',
            msg.get('Content-Type'))
    ds = parts.get('message/delivery-status')
    fields = status_fields(ds) if ds else []
    R.check('dsn: Final-Recipient, Action failed, Status 5.1.1',
            fields and fields[0].get('final-recipient') == 'rfc822; nosuchuser@localhost' and
            fields[0].get('action') == 'failed' and fields[0].get('status') == '5.1.1', fields)
    R.check('dsn: Diagnostic-Code carries the failure text',
            fields and 'no such user' in fields[0].get('diagnostic-code', ''), fields)
    hdr = parts.get('text/rfc822-headers')
    R.check('dsn: the original header as text/rfc822-headers, not the body',
            hdr is not None and 'X-Marker: bounce-me' in hdr.get_payload() and 'secret body' not in hdr.get_payload(),
            hdr.get_payload()[:300] if hdr else 'no part')
    R.check('dsn: from MAILER-DAEMON with envelope sender <>',
            'MAILER-DAEMON@' in msg.get('From', '') and read_file(files[0]).startswith(b'Return-Path: <>'),
            msg.get('From'))


def t_double_bounce(inst):
    before_pm = inst.maildir_files('demo')  # postmaster is demo's mailbox
    # From an unknown local sender to an unknown user: the bounce fails, goes to postmaster.
    r = inst.sendmail(['-f', 'ghost@localhost', 'nosuchuser2@localhost'], b'Subject: double\n\nx\n')
    got = wait(lambda: new_since(inst, 'demo', before_pm), 15)
    R.check('double bounce: the undeliverable bounce reaches postmaster', r.returncode == 0 and got, inst.log()[-800:])
    time.sleep(2)
    R.check('double bounce: postmaster gets it once', len(new_since(inst, 'demo', before_pm)) == 1,
            '%d files' % len(new_since(inst, 'demo', before_pm)))
    # A failing message from #@[] (a double bounce itself) is dropped and logged.
    code, err = inst.queue_direct(b'Subject: dbl\n\nx\n', b'F#@[]\0Tnosuchuser3@localhost\0\0')
    ok = wait(lambda: 'result=dropped reason="double bounce"' in inst.log(), 10)
    R.check('double bounce: a failed double bounce is dropped and logged', code == 0 and ok, inst.log()[-600:])
    time.sleep(1)
    R.check('double bounce: nothing more for postmaster', len(new_since(inst, 'demo', before_pm)) == 1,
            '%d files' % len(new_since(inst, 'demo', before_pm)))


def t_delaywarn_local(inst, uid, gid):
    inst.control('delaywarn', 2)
    inst.control('retrybase', 1)
    inst.control('retrymax', 1)
    inst.send.send_signal(1)  # SIGHUP: reread
    time.sleep(0.3)
    home = inst.user_home('slowpoke', uid, gid, dotqmail='|echo "busy, later"; exit 111\n')
    before = inst.maildir_files('alice')
    r = inst.sendmail(['-f', 'alice@localhost', 'slowpoke@localhost'], b'Subject: slow\n\nwait\n')
    files = wait(lambda: new_since(inst, 'alice', before), 12)
    if r.returncode or not files:
        R.fail('delaywarn: one delay DSN after control/delaywarn', inst.log()[-800:])
        return
    msg, parts = dsn_parts(files[0])
    fields = status_fields(parts['message/delivery-status']) if 'message/delivery-status' in parts else []
    R.check('delaywarn: Action delayed, Status 4.x.x', fields and fields[0].get('action') == 'delayed' and
            fields[0].get('status', '').startswith('4.'), fields)
    time.sleep(4)  # several more retries
    R.check('delaywarn: exactly once', len(new_since(inst, 'alice', before)) == 1,
            '%d files' % len(new_since(inst, 'alice', before)))
    R.check('delaywarn: logged', inst.log().count('delaywarn msg=') == 1, inst.log()[-400:])
    inst.control('delaywarn', None)
    inst.control('retrymax', 2)
    inst.send.send_signal(1)
    mrinst.write_file(os.path.join(home, '.qmail'), './Maildir/\n', 0o600, uid, gid)
    R.check('delaywarn: delivered once the program accepts; the queue empties', inst.wait_queue_empty(10),
            inst.queue_files())


# --- end to end with mailroom-remote ----------------------------------------------------------
class World:
    def __init__(self):
        self.dns = None
        self.peers = {}
        self.dnsip = rand_ip()
        self.recv = None

    def start_dns(self, hosts, log):
        args = ['dnsmasq', '--keep-in-foreground', '--port=53', '--listen-address=' + self.dnsip,
                '--bind-interfaces', '--no-resolv', '--no-hosts', '--log-facility=' + log,
                '--pid-file=']
        for dom, ip in hosts.items():
            args += ['--mx-host=%s,mx.%s,10' % (dom, dom), '--host-record=mx.%s,%s' % (dom, ip)]
        self.dns = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        ok = wait(lambda: subprocess.run(['bash', '-c', 'exec 3<>/dev/udp/%s/53' % self.dnsip]).returncode == 0
                  and self.dns.poll() is None, 5)
        time.sleep(0.3)
        return ok

    def stop(self):
        for p in self.peers.values():
            p.stop()
        if self.dns and self.dns.poll() is None:
            self.dns.terminate()
            try:
                self.dns.wait(5)
            except subprocess.TimeoutExpired:
                self.dns.kill()


def start_receiver(recv, ip):
    """The receiving mailroom instance's smtpd under tcpserver on ip:25."""
    env_ip = os.environ.get('SMTP_IP')
    os.environ['SMTP_IP'] = ip
    try:
        recv.setup_smtpd(25)
    finally:
        if env_ip is None:
            os.environ.pop('SMTP_IP', None)
        else:
            os.environ['SMTP_IP'] = env_ip
    log = open(recv.path('smtpd.service.log'), 'ab')
    p = subprocess.Popen([recv.path('service', 'smtpd', 'run')], cwd=recv.path('service', 'smtpd'),
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    recv.services.append(p)
    return smtpinst.wait_port(25, 10, host=ip)


def e2e(inst, recv, w):
    peers = w.peers
    # ok.test: the real mailroom-smtpd
    before = recv.maildir_files('bob')
    r = inst.sendmail(['-f', 'alice@localhost', 'bob@ok.test'], b'Subject: hello remote\n\nover the wire\n')
    files = wait(lambda: new_since(recv, 'bob', before), 45)
    R.check('e2e: mail to bob@ok.test arrives in the receiving instance\'s Maildir', r.returncode == 0 and files,
            inst.log()[-800:])
    if files:
        data = read_file(files[0])
        R.check('e2e: with a Received line of the receiver', b'Received:' in data and b'over the wire' in data, data[:300])
    R.check('e2e: the message leaves the queue', inst.wait_queue_empty(10), inst.queue_files())

    # many recipients, one connection, one transaction
    n = 12
    rcpts = ['u%d@many.test' % k for k in range(n)]
    r = inst.sendmail(['-f', 'alice@localhost'] + rcpts, b'Subject: many\n\nmany\n')
    ok = wait(lambda: peers['many.test'].transactions, 40)
    tr = peers['many.test'].transactions
    R.check('batch: %d recipients of one domain in one transaction' % n,
            ok and len(tr) == 1 and sorted(tr[0][1]) == sorted(rcpts), [(t[0], len(t[1])) for t in tr])

    # 451 then accept
    state = {'n': 0}

    def greylist(a):
        state['n'] += 1
        return '451 4.7.1 greylisted, come back' if state['n'] <= 2 else '250 2.1.5 ok'
    peers['grey.test'].rcpt = greylist
    t0 = time.monotonic()
    r = inst.sendmail(['-f', 'alice@localhost', 'g@grey.test'], b'Subject: grey\n\ngrey\n')
    ok = wait(lambda: peers['grey.test'].rcpt_count('g@grey.test'), 45)
    R.check('451: retried on the short schedule and delivered when accepted',
            ok and state['n'] == 3 and inst.log().count('to=<g@grey.test>') >= 3,
            'attempts %d after %.1f s; %s' % (state['n'], time.monotonic() - t0, inst.log()[-600:]))

    # 550: a DSN within seconds
    peers['fail.test'].rcpt = lambda a: '550 5.1.1 <%s>: no such user here' % a
    before = inst.maildir_files('alice')
    r = inst.sendmail(['-f', 'alice@localhost', 'nobody@fail.test'], b'Subject: to fail\nX-Marker: remote550\n\nx\n')
    files = wait(lambda: new_since(inst, 'alice', before), 40)
    if files:
        msg, parts = dsn_parts(files[0])
        f = status_fields(parts['message/delivery-status']) if 'message/delivery-status' in parts else []
        R.check('550: a DSN in the sender\'s Maildir: multipart/report, failed recipient, remote text',
                msg.get_content_type() == 'multipart/report' and f and
                f[0].get('final-recipient') == 'rfc822; nobody@fail.test' and
                'no such user here' in f[0].get('diagnostic-code', '') and f[0].get('status') == '5.1.1', f)
    else:
        R.fail('550: a DSN in the sender\'s Maildir', inst.log()[-800:])

    # mixed: local ok, remote ok, remote failing, local failing
    before = inst.maildir_files('alice')
    before_demo = inst.maildir_files('demo')
    r = inst.sendmail(['-f', 'alice@localhost', 'demo@localhost', 'm1@many.test', 'x@fail.test', 'nosuch9@localhost'],
                      b'Subject: mixed\n\nmixed\n')
    ok = wait(lambda: new_since(inst, 'alice', before) and new_since(inst, 'demo', before_demo) and
              peers['many.test'].rcpt_count('m1@many.test'), 40)
    files = new_since(inst, 'alice', before)
    failed = []
    if files:
        _, parts = dsn_parts(files[0])
        failed = sorted(f.get('final-recipient') for f in status_fields(parts.get('message/delivery-status')))
    R.check('mixed: each recipient its own fate, one DSN with the two failures',
            ok and failed == ['rfc822; nosuch9@localhost', 'rfc822; x@fail.test'], failed)
    R.check('mixed: the message leaves the queue when all are done', inst.wait_queue_empty(10), inst.queue_files())

    # per-domain concurrency: slow.test holds its slots, fast.test still goes
    inst.control('concurrencydomain', 1)
    inst.send.send_signal(1)
    time.sleep(0.3)
    for k in range(3):
        inst.sendmail(['-f', 'alice@localhost', 's%d@slow.test' % k], b'Subject: slow\n\nslow\n')
    time.sleep(0.5)
    t0 = time.monotonic()
    inst.sendmail(['-f', 'alice@localhost', 'f@fast.test'], b'Subject: fast\n\nfast\n')
    ok = wait(lambda: peers['fast.test'].rcpt_count('f@fast.test'), 12)
    secs = time.monotonic() - t0
    slow_done = len(peers['slow.test'].transactions)
    R.check('concurrency: a slow domain does not block another domain', ok and slow_done <= 1,
            'fast after %.1f s, slow transactions done %d' % (secs, slow_done))
    wait(lambda: len(peers['slow.test'].transactions) == 3, 60)
    inst.control('concurrencydomain', None)

    # remote uid
    pids = inst.instance_procs('mailroom-remote')
    info('mailroom-remote processes seen at the end: %d' % len(pids))


def main():
    if not IS_ROOT:
        R.skip('remote queue', 'needs root (role users, port 25 on loopback, dnsmasq on port 53)')
        R.exit()
    w = World()
    try:
        with mrinst.Instance('mrrq.') as inst:
            inst.add_mailbox('alice')
            inst.control('retrybase', 1)
            inst.control('retrymax', 2)
            have_remote = os.access(inst.bin('mailroom-remote'), os.X_OK)
            hosts = {'ok.test': rand_ip(), 'many.test': rand_ip(), 'grey.test': rand_ip(), 'fail.test': rand_ip(),
                     'slow.test': rand_ip(), 'fast.test': rand_ip()}
            os.environ['DNSCACHEIP'] = w.dnsip  # inherited: send -> rspawn -> remote
            if have_remote:
                if not w.start_dns(hosts, inst.path('dnsmasq.log')):
                    R.fail('dns', 'dnsmasq did not start on %s' % w.dnsip)
                    R.exit()
            inst.start()
            name, uid, gid = inst.system_user('mrrq')
            R.run('uid checks', t_uids, inst, uid, gid)
            R.run('dsn bounce', t_bounce_local, inst)
            R.run('double bounce', t_double_bounce, inst)
            R.run('delaywarn', t_delaywarn_local, inst, uid, gid)
            if not have_remote:
                R.run('fill-in', t_fillin, inst)
            if not have_remote:
                for c in ('e2e delivery to a mailroom-smtpd', '451 retried', '550 DSN', 'mixed recipients',
                          'per-domain concurrency', 'one transaction, many recipients', 'uid of mailroom-remote'):
                    R.skip(c, 'no bin/mailroom-remote yet (remote branch)')
                R.exit()
            with smtpinst.SmtpInstance('mrrqr.') as recv:
                recv.control('me', 'ok.test')
                recv.control('locals', 'ok.test')
                recv.add_mailbox('bob')
                recv.start()  # its queue manager: what smtpd accepts goes on into bob's Maildir
                if not start_receiver(recv, hosts['ok.test']):
                    R.fail('e2e receiver', recv.service_log()[-600:])
                    R.exit()
                w.peers = {d: Peer(hosts[d]) for d in ('many.test', 'grey.test', 'fail.test', 'fast.test')}
                w.peers['slow.test'] = Peer(hosts['slow.test'], data_delay=10)
                R.run('e2e', e2e, inst, recv, w)
    finally:
        w.stop()
    R.exit()


main()
