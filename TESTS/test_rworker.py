#!/usr/bin/env python3
"""Remote workers and the connection cache (issue 14, part 3), end to end through the real
programs: sendmail -> mailroom-send -> mailroom-rspawn (as mrremote) -> mailroom-remote -w
workers -> scripted SMTP sinks (TESTS/lib/smtpfake.py) on random 127.a.b.c port 25, found
through a loopback dnsmasq (MX) or control/smtproutes.

What is shown: many messages to one domain share few connections and few worker processes
(RSET between transactions, bytes exact); a sink that drops the connection between messages
costs no message anything, one that drops it inside a transaction or answers 4xx costs that
message alone a retry; an idle kept connection gets QUIT after control/remotecacheidle; a
STARTTLS session is reused; a kept session is never reused for a domain with another TLS
policy, but is shared by two domains routed to the same host under the same policy; a
SIGKILLed worker's recipient is deferred and delivered by its replacement; workers run as
mrremote. Root only. Every wait is bounded; every server started here is stopped here.
"""

import os
import pwd
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mrinst  # noqa: E402
import smtpfake  # noqa: E402
import test_remote_client as trc  # noqa: E402  (its Dnsmasq and rand_ip; main() runs only as a script)
import test_remote_tls as trt  # noqa: E402  (its make_pki)
from mrinst import IS_ROOT, info  # noqa: E402

R = mrinst.Results()
EHLO = ['PIPELINING', '8BITMIME', 'SIZE 10000000']


def wait(cond, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


class Sink(smtpfake.Server):
    """smtpfake with one more action for the reply to the final dot: '@okclose' answers 250
    and then closes the connection when drop(n) says so for the n-th message (from 1)."""

    def __init__(self, ip, drop=None, rset=None, **kw):
        self.drop = drop or (lambda n: False)
        self.rset = rset
        self.nend = 0
        super().__init__(ip, 25, ehlo=kw.pop('ehlo', EHLO), **kw)

    def _send(self, c, reply):
        if reply == '@okclose':
            with self.lock:
                self.nend += 1
                n = self.nend
            c.sendall(b'250 2.0.0 ok queued\r\n')
            return not self.drop(n)
        if reply == '250 ok' and self.rset:  # smtpfake's reply to RSET (and NOOP) alone
            c.sendall(self.rset.encode() + b'\r\n')
            return not self.rset.startswith('421')
        return super()._send(c, reply)

    def nsessions(self):
        with self.lock:
            return len([s for s in self.sessions if s['cmds']])

    def cmds(self):
        with self.lock:
            return [list(s['cmds']) for s in self.sessions]


class Procs:
    """Samples the pids of this instance's mailroom-remote processes every 20 ms."""

    def __init__(self, inst):
        self.inst, self.pids, self.stop_ = inst, set(), threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_.is_set():
            self.pids.update(self.inst.instance_procs('mailroom-remote'))
            time.sleep(0.02)

    def stop(self):
        self.stop_.set()
        self.t.join(5)
        return self.pids


def message(tag, n):
    """A message whose body exercises the DATA converter: leading dots, a long line. (No
    line of a lone dot: sendmail without -i ends its input there.)"""
    return (b'From: alice@localhost\nTo: someone\nSubject: %s %d\nX-Tag: %s-%d\n\n'
            b'.a line with a leading dot\n..two dots\nplain\n' % (tag.encode(), n, tag.encode(), n) +
            b'x' * 1500 + b'\n..\nend %d\n' % n)


def log_lines(inst, kind, rcpt):
    """send's log lines of this kind (ok, defer, start, ...) for the recipient."""
    return [ln for ln in inst.log().splitlines() if ln.startswith(kind + ' ') and 'to=<%s>' % rcpt in ln]


def got_tags(sink):
    out = []
    for m in sink.messages():
        for ln in m.split(b'\n'):
            if ln.startswith(b'X-Tag: '):
                out.append(ln[7:].decode())
    return out


# --- the cases -------------------------------------------------------------------------------
def t_reuse_serial(inst, sink):
    """One message after another (each waits for the previous): one connection, one worker."""
    procs = Procs(inst)
    n = 8
    sent = []
    for k in range(n):
        data = message('serial', k)
        sent.append(data)
        r = inst.sendmail(['-f', 'alice@localhost', 's%d@reuse.test' % k], data)
        if r.returncode or not wait(lambda: len(sink.messages()) == k + 1, 20):
            R.fail('serial: message %d delivered' % k, inst.log()[-800:])
            procs.stop()
            return
    pids = procs.stop()
    msgs = sink.messages()
    R.check('serial: %d messages, one connection at the sink' % n, sink.nsessions() == 1,
            '%d connections' % sink.nsessions())
    R.check('serial: one mailroom-remote process for all of them', len(pids) == 1, 'pids %s' % sorted(pids))
    cmds = sink.cmds()[0]
    verbs = [c.split(b' ')[0].split(b':')[0].upper() for c in cmds]
    R.check('serial: RSET before each transaction but the first', verbs.count(b'RSET') == n - 1 and
            verbs.count(b'EHLO') == 1 and verbs.count(b'MAIL') == n,
            'RSET %d EHLO %d MAIL %d' % (verbs.count(b'RSET'), verbs.count(b'EHLO'), verbs.count(b'MAIL')))
    R.check('serial: RSET comes right before MAIL', all(verbs[i + 1] == b'MAIL' for i, v in enumerate(verbs)
                                                         if v == b'RSET'), verbs[:20])
    exact = all(m.endswith(s.split(b'\n\n', 1)[1]) and s.split(b'\n\n', 1)[0] in m for m, s in zip(msgs, sent))
    R.check('serial: each message arrives byte for byte (header and body as sent)', exact and len(msgs) == n,
            msgs[0][-200:] if msgs else 'none')
    R.check('serial: the queue empties', inst.wait_queue_empty(10), inst.queue_files())


def t_reuse_burst(inst, sink):
    """30 messages injected at once: at most concurrencydomain connections and workers."""
    before_s, before_m = sink.nsessions(), len(sink.messages())
    procs = Procs(inst)
    n = 30
    for k in range(n):
        inst.sendmail(['-f', 'alice@localhost', 'b%d@reuse.test' % k], message('burst', k))
    ok = wait(lambda: len(sink.messages()) - before_m >= n, 60)
    pids = procs.stop()
    conns = sink.nsessions() - before_s
    tags = got_tags(sink)
    R.check('burst: %d messages arrive, each once' % n, ok and all(tags.count('burst-%d' % k) == 1 for k in range(n)),
            '%d arrived' % (len(sink.messages()) - before_m))
    R.check('burst: at most 10 connections (concurrencydomain) for %d messages' % n, 1 <= conns <= 10,
            '%d connections' % conns)
    R.check('burst: at most 10 mailroom-remote processes for %d messages' % n, 1 <= len(pids) <= 10,
            '%d processes' % len(pids))
    info('burst: %d messages, %d connections, %d mailroom-remote processes' % (n, conns, len(pids)))
    R.check('burst: the queue empties', inst.wait_queue_empty(10), inst.queue_files())


def t_drop_between(inst, sink):
    """The sink answers 250 and hangs up after every second message: the next message finds
    the kept connection dead at RSET and goes over a new one; nothing is deferred."""
    n = 6
    for k in range(n):
        inst.sendmail(['-f', 'alice@localhost', 'd%d@drop.test' % k], message('drop', k))
        wait(lambda: len(sink.messages()) == k + 1, 20)
    tags = got_tags(sink)
    R.check('drop between: every message arrives, each once', all(tags.count('drop-%d' % k) == 1 for k in range(n)),
            tags)
    R.check('drop between: a new connection after each drop', sink.nsessions() == n // 2,
            '%d connections' % sink.nsessions())
    defers = [ln for ln in inst.log().splitlines() if ln.startswith('defer ') and '@drop.test' in ln]
    R.check('drop between: no message deferred', not defers, defers[:3])


def t_rset_refused(inst, sink):
    """The sink answers RSET on the kept connection with 421 and hangs up: the worker
    connects afresh for that same message, which is not deferred."""
    n = 3
    for k in range(n):
        inst.sendmail(['-f', 'alice@localhost', 'r%d@rset.test' % k], message('rset', k))
        wait(lambda: len(sink.messages()) == k + 1, 20)
    tags = got_tags(sink)
    R.check('rset refused: every message arrives, each once', all(tags.count('rset-%d' % k) == 1 for k in range(n)),
            tags)
    cmds = sink.cmds()
    R.check('rset refused: RSET tried on the kept connection, then a new one', len(cmds) == n and
            all(c.count(b'RSET') == 1 for c in cmds[:-1]), cmds)
    defers = [ln for ln in inst.log().splitlines() if ln.startswith('defer ') and '@rset.test' in ln]
    R.check('rset refused: no message deferred', not defers, defers[:3])
    R.check('rset refused: the worker says why it connected afresh', 'connecting afresh' in inst.log() and
            '421 4.3.2' in inst.log(), inst.log()[-600:])


def t_drop_inside(inst, sink, state):
    """The sink hangs up inside one message's transaction (at its RCPT): that message alone
    is deferred and delivered on its retry; the messages around it are not retried."""
    state['drop'] = True
    for k, who in enumerate(['i0', 'victim', 'i2']):
        inst.sendmail(['-f', 'alice@localhost', '%s@inside.test' % who], message('inside', k))
        time.sleep(0.8)
    ok = wait(lambda: sorted(got_tags(sink)) == ['inside-0', 'inside-1', 'inside-2'], 30)
    R.check('drop inside: all three arrive, each once', ok, got_tags(sink))
    R.check('drop inside: the message whose transaction broke was deferred',
            len(log_lines(inst, 'defer', 'victim@inside.test')) == 1, log_lines(inst, 'defer', 'victim@inside.test'))
    R.check('drop inside: the others were neither deferred nor tried twice',
            all(not log_lines(inst, 'defer', '%s@inside.test' % w) and
                len(log_lines(inst, 'start', '%s@inside.test' % w)) == 1 for w in ('i0', 'i2')),
            [ln for ln in inst.log().splitlines() if '@inside.test' in ln][-8:])


def t_4xx(inst, sink, state):
    """A 451 to one message's RCPT: that message alone is deferred; the session stays up for
    the next (a refused transaction is followed by RSET, not by a new connection)."""
    before = sink.nsessions()
    for k, who in enumerate(['f0', 'later', 'f2', 'f3']):
        inst.sendmail(['-f', 'alice@localhost', '%s@four.test' % who], message('four', k))
        time.sleep(0.6)
    ok = wait(lambda: sorted(got_tags(sink)) == ['four-%d' % k for k in range(4)], 30)
    R.check('4xx: all four arrive, each once', ok, got_tags(sink))
    R.check('4xx: only the refused message was deferred',
            len(log_lines(inst, 'defer', 'later@four.test')) == 1 and
            all(not log_lines(inst, 'defer', '%s@four.test' % w) for w in ('f0', 'f2', 'f3')),
            [ln for ln in inst.log().splitlines() if '@four.test' in ln and ' defer ' in ln])
    after = []
    for c in sink.cmds():
        if b'RCPT TO:<later@four.test>' in c:
            after = c[c.index(b'RCPT TO:<later@four.test>') + 1:]
            break
    R.check('4xx: the refusal did not cost the connection: RSET and the next MAIL on it',
            b'RSET' in after and any(x.startswith(b'MAIL') for x in after[after.index(b'RSET'):] if b'RSET' in after),
            after[:8])
    info('4xx: %d connections for 5 transactions' % (sink.nsessions() - before))
    R.check('4xx: the refused recipient was tried twice', state['later'] == 2, state)


def t_idle(inst, sink):
    """control/remotecacheidle 1: the kept connection gets QUIT after about a second."""
    inst.control('remotecacheidle', 1)
    inst.sendmail(['-f', 'alice@localhost', 'x@idle.test'], message('idle', 0))
    if not wait(lambda: sink.messages(), 20):
        R.fail('idle: delivered', inst.log()[-600:])
        return
    t0 = time.monotonic()
    ok = wait(lambda: sink.cmds() and sink.cmds()[-1] and sink.cmds()[-1][-1] == b'QUIT', 10, 0.02)
    el = time.monotonic() - t0
    R.check('idle: QUIT sent on the idle kept connection', ok, sink.cmds())
    R.check('idle: after the idle bound (about 1 s), not at once', ok and 0.6 <= el <= 4, '%.2f s' % el)
    inst.control('remotecacheidle', None)


def t_tls(inst, sink):
    n = 4
    for k in range(n):
        inst.sendmail(['-f', 'alice@localhost', 't%d@tls.test' % k], message('tls', k))
        if not wait(lambda: len(sink.messages()) == k + 1, 20):
            break
    R.check('tls: %d messages over one STARTTLS connection' % n,
            len(sink.messages()) == n and sink.nsessions() == 1 and all(s.get('tls') for s in sink.sessions),
            '%d messages, %d connections, tls %s' % (len(sink.messages()), sink.nsessions(),
                                                   [s.get('tls') for s in sink.sessions]))
    cmds = sink.cmds()[0] if sink.cmds() else []
    R.check('tls: one STARTTLS, then RSET between the transactions under TLS',
            cmds.count(b'STARTTLS') == 1 and cmds.count(b'RSET') == n - 1, cmds[:12])
    ok = [ln for ln in inst.log().splitlines() if ' ok ' in ln and '@tls.test' in ln]
    R.check('tls: every report says TLS', len(ok) == n and all('over TLS' in ln for ln in ok), ok[:2])


def t_policy(inst, sink):
    """open.test and open2.test are routed to the same host, strict.test too, but tlsdomains
    requires TLS for strict.test and the host offers none: the kept session is shared by the
    two open domains and never used for strict.test."""
    inst.sendmail(['-f', 'alice@localhost', 'a@open.test'], message('open', 0))
    wait(lambda: len(sink.messages()) == 1, 20)
    inst.sendmail(['-f', 'alice@localhost', 'b@open2.test'], message('open2', 0))
    wait(lambda: len(sink.messages()) == 2, 20)
    R.check('policy: two domains routed to one host share the kept session', sink.nsessions() == 1,
            '%d connections, %d messages' % (sink.nsessions(), len(sink.messages())))
    inst.sendmail(['-f', 'alice@localhost', 'c@strict.test'], message('strict', 0))
    ok = wait(lambda: log_lines(inst, 'defer', 'c@strict.test'), 20)
    time.sleep(0.5)
    R.check('policy: a domain that requires TLS is not sent over the kept clear session',
            ok and 'strict-0' not in got_tags(sink) and 'tlsdomains' in ''.join(log_lines(inst, 'defer', 'c@strict.test')),
            log_lines(inst, 'defer', 'c@strict.test') or inst.log()[-600:])
    R.check('policy: the clear session was closed for it: a new connection, no MAIL on it',
            sink.nsessions() == 2 and not [c for c in sink.cmds()[1] if c.startswith(b'MAIL')], sink.cmds())
    inst.control('tlsdomains', None)  # let it go now
    R.check('policy: delivered once TLS is no longer required', wait(lambda: 'strict-0' in got_tags(sink), 20),
            got_tags(sink))


def t_kill(inst, sink, state):
    """SIGKILL of the workers while one waits for the sink's answer to RCPT: that recipient
    gets Z, is retried, and a new worker delivers it."""
    inst.sendmail(['-f', 'alice@localhost', 'victim@kill.test'], message('kill', 0))
    if not wait(lambda: state['holding'], 20):
        R.fail('kill: the worker is in its transaction', inst.log()[-600:])
        return
    pids = inst.instance_procs('mailroom-remote')
    for p in pids:
        os.kill(p, signal.SIGKILL)
    ok = wait(lambda: 'kill-0' in got_tags(sink), 30)
    defers = log_lines(inst, 'defer', 'victim@kill.test')
    R.check('kill: the recipient of the killed worker is deferred with a text saying so',
            len(defers) == 1 and 'signal 9' in defers[0], defers or inst.log()[-600:])
    R.check('kill: delivered once the worker is replaced', ok and got_tags(sink).count('kill-0') == 1, got_tags(sink))
    now = set(inst.instance_procs('mailroom-remote'))
    R.check('kill: by a new worker', not (now & set(pids)), 'killed %s, now %s' % (pids, now))
    R.check('kill: the queue empties', inst.wait_queue_empty(10), inst.queue_files())


def t_uids(inst):
    pids = inst.instance_procs('mailroom-remote')
    pw = pwd.getpwnam('mrremote')
    ids = [mrinst.proc_ids(p) for p in pids]
    R.check('uid: workers run as mrremote', pids and all(set(u) == {pw.pw_uid} and set(g) == {pw.pw_gid}
                                                         for u, g in ids), '%s %s' % (pids, ids))


def t_end(inst):
    """send stops: rspawn closes its workers, which QUIT and exit."""
    pids = inst.instance_procs('mailroom-remote')
    inst.stop()
    gone = wait(lambda: not inst.instance_procs('mailroom-remote'), 20)
    R.check('end: the workers exit when mailroom-send stops', pids and gone,
            'before %s, after %s' % (pids, inst.instance_procs('mailroom-remote')))


def main():
    if not IS_ROOT:
        R.skip('remote workers', 'needs root (role users, port 25 on loopback, dnsmasq on port 53)')
        R.exit()
    ips = {d: trc.rand_ip() for d in ('reuse', 'drop', 'rset', 'inside', 'four', 'idle', 'tls', 'route', 'kill')}
    pki_dir = tempfile.mkdtemp(prefix='mrrw.pki.')
    sinks, dns = [], None
    try:
        pki = trt.make_pki(pki_dir)
        args = []
        for d in ('reuse', 'drop', 'rset', 'inside', 'four', 'idle', 'kill'):
            args += ['--mx-host=%s.test,mx.%s.test,10' % (d, d), '--host-record=mx.%s.test,%s' % (d, ips[d])]
        args += ['--mx-host=tls.test,mx.tls.test,10', '--host-record=mx.tls.test,' + ips['tls']]
        dns = trc.Dnsmasq(args)
        os.environ['DNSCACHEIP'] = dns.ip  # inherited: send -> rspawn -> remote
        state = {'drop': False, 'later': 0, 'holding': False, 'killed': False}

        def inside_rcpt(a):
            if a == 'victim@inside.test' and state['drop']:
                state['drop'] = False
                return '@close'
            return '250 2.1.5 ok'

        def four_rcpt(a):
            if a == 'later@four.test':
                state['later'] += 1
                if state['later'] == 1:
                    return '451 4.7.1 not now'
            return '250 2.1.5 ok'

        def kill_rcpt(a):
            if a == 'victim@kill.test' and not state['killed']:
                state['killed'] = True
                state['holding'] = True
                time.sleep(5)  # the worker is killed meanwhile; this reply goes nowhere
                return '250 2.1.5 ok'
            return '250 2.1.5 ok'

        tlsctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tlsctx.load_cert_chain(pki[1], pki[2])
        s = {
            'reuse': Sink(ips['reuse']),
            'drop': Sink(ips['drop'], drop=lambda n: n % 2 == 0, end='@okclose'),
            'rset': Sink(ips['rset'], rset='421 4.3.2 closing'),
            'inside': Sink(ips['inside'], rcpt=inside_rcpt),
            'four': Sink(ips['four'], rcpt=four_rcpt),
            'idle': Sink(ips['idle']),
            'tls': Sink(ips['tls'], ehlo=EHLO + ['STARTTLS'], tls=tlsctx),
            'route': Sink(ips['route']),
            'kill': Sink(ips['kill'], rcpt=kill_rcpt),
        }
        sinks = list(s.values())
        for x in sinks:
            x.start()
        with mrinst.Instance('mrrw.') as inst:
            inst.add_mailbox('alice')
            inst.control('retrybase', 1)
            inst.control('retrymax', 2)
            inst.control('smtproutes', 'open.test:[%s]\nopen2.test:[%s]\nstrict.test:[%s]\n' %
                         (ips['route'], ips['route'], ips['route']))
            inst.control('tlsdomains', 'strict.test\n')
            inst.start()
            # first, while one worker is all there is: the policy is the worker's own check
            R.run('tls policy', t_policy, inst, s['route'])
            R.run('serial reuse', t_reuse_serial, inst, s['reuse'])
            R.run('uids', t_uids, inst)
            R.run('burst reuse', t_reuse_burst, inst, s['reuse'])
            R.run('drop between messages', t_drop_between, inst, s['drop'])
            R.run('RSET refused', t_rset_refused, inst, s['rset'])
            R.run('drop inside a transaction', t_drop_inside, inst, s['inside'], state)
            R.run('4xx to one message', t_4xx, inst, s['four'], state)
            R.run('idle bound', t_idle, inst, s['idle'])
            R.run('tls reuse', t_tls, inst, s['tls'])
            R.run('kill a worker', t_kill, inst, s['kill'], state)
            R.run('end', t_end, inst)
    finally:
        for x in sinks:
            x.stop()
        if dns:
            dns.stop()
        shutil.rmtree(pki_dir, ignore_errors=True)
    R.exit()


if __name__ == '__main__':
    main()
