#!/usr/bin/env python3
"""smtproutes relays that are addresses, and routes that cannot be used (issue 15), end to end
through the real programs: sendmail -> mailroom-send -> mailroom-rspawn -> mailroom-remote.

- `bare.test:127.0.0.1:PORT` (qmail's dns_ip takes a bare address as the address) delivers to
  a python sink (TESTS/lib/smtpfake.py) on that port, and `bare6.test:::1` plus
  `brack6.test:[::1]:PORT` to a sink on ::1, with no DNS query at all: the test's dnsmasq,
  started with --log-queries, logs none while they go;
- `nohost.test:no-such-host.invalid` (NXDOMAIN from the dnsmasq) defers: the message stays in
  the queue, mailroom-qread shows the reason (4.4.4 and the relay's name), send's log too,
  and no bounce is made; a malformed route line (`badline.test:h:99999`) defers likewise;
- the same message bounces once the queue lifetime is over (control/queuelifetime 1).
Root only (role users, dnsmasq on port 53): SKIP otherwise. Every wait bounded.
"""

import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpfake  # noqa: E402
from mrinst import IS_ROOT, read_file, wait_until  # noqa: E402
from smtpinst import free_port  # noqa: E402

R = mrinst.Results()


def rand_ip():
    import random
    return '127.%d.%d.%d' % (random.randint(1, 254), random.randint(0, 255), random.randint(2, 254))


class Dns:
    """dnsmasq on a random 127.x.y.z:53 logging every query it gets to a file."""

    def __init__(self, log):
        self.ip, self.logpath = rand_ip(), log
        self.p = subprocess.Popen(['dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=53',
                                   '--listen-address=' + self.ip, '--bind-interfaces', '--no-resolv', '--no-hosts',
                                   '--local=/test/', '--local=/invalid/', '--log-queries', '--log-facility=' + log,
                                   '--pid-file='], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        self.ok = wait_until(lambda: os.path.exists(log) and 'started' in open(log, errors='replace').read(), 5)

    def queries(self):
        try:
            return [ln for ln in open(self.logpath, errors='replace') if 'query[' in ln]
        except OSError:
            return []

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


def qread(inst):
    r = subprocess.run([inst.bin('mailroom-qread')], cwd=inst.home, capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return r.stdout.decode(errors='replace') + r.stderr.decode(errors='replace')


def has_v6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(('::1', 0))
        s.close()
        return True
    except OSError:
        return False


def t_bare(inst, dns, sink, sink6, port, port6):
    q0 = len(dns.queries())
    r = inst.sendmail(['-f', 'alice@localhost', 'bob@bare.test'], b'Subject: bare ip\n\nto a bare address\n')
    got = wait_until(lambda: sink.messages(), 20)
    R.check('bare IPv4 relay: delivered to the sink on 127.0.0.1:%d' % port,
            r.returncode == 0 and got and b'to a bare address' in got[0], inst.log()[-600:])
    R.check('bare IPv4 relay: the message leaves the queue', inst.wait_queue_empty(10), inst.queue_files())
    if sink6:
        for dom in ('bare6.test', 'brack6.test'):
            n = len(sink6.messages())
            inst.sendmail(['-f', 'alice@localhost', 'bob@' + dom], b'Subject: v6\n\n' + dom.encode() + b'\n')
            got = wait_until(lambda: len(sink6.messages()) > n, 20)
            R.check('%s relay (::1): delivered' % ('bare IPv6' if dom == 'bare6.test' else '[::1]:port'),
                    got and dom.encode() in sink6.messages()[-1], inst.log()[-600:])
    else:
        R.skip('IPv6 relays', 'no ::1 on this machine')
    time.sleep(0.5)  # a query would have been logged by now
    q = dns.queries()[q0:]
    R.check('address relays: not one DNS query (dnsmasq --log-queries)', not q, q[:5])


def t_nohost(inst, dns, bounces_before):
    r = inst.sendmail(['-f', 'alice@localhost', 'carol@nohost.test'], b'Subject: no host\n\nstays queued\n')
    ok = wait_until(lambda: 'no-such-host.invalid' in inst.log(), 20)
    log = inst.log()
    R.check('unresolvable relay: deferred with the reason in send\'s log (4.4.4)',
            r.returncode == 0 and ok and '4.4.4' in log, log[-800:])
    R.check('unresolvable relay: its name was asked of DNS',
            any('no-such-host.invalid' in q for q in dns.queries()), dns.queries()[-3:])
    R.check('unresolvable relay: the message stays in the queue', len(inst.queue_files()) >= 1, inst.queue_files())
    out = qread(inst)
    R.check('unresolvable relay: mailroom-qread shows the reason',
            'carol@nohost.test' in out and 'no-such-host.invalid' in out and '4.4.4' in out, out[-800:])
    R.check('unresolvable relay: no bounce', len(inst.maildir_files('alice')) == bounces_before,
            inst.maildir_files('alice'))
    inst.sendmail(['-f', 'alice@localhost', 'dave@badline.test'], b'Subject: bad line\n\nstays queued\n')
    ok = wait_until(lambda: 'dave@badline.test' in qread(inst) and 'malformed' in qread(inst), 20)
    R.check('malformed route line: deferred, qread shows "malformed" (4.3.5)', ok and '4.3.5' in qread(inst),
            qread(inst)[-600:])
    R.check('malformed route line: no bounce', len(inst.maildir_files('alice')) == bounces_before,
            inst.maildir_files('alice'))


def t_lifetime(inst, bounces_before):
    # the queue lifetime ends the deferrals: then, and only then, the bounce
    inst.control('queuelifetime', 1)
    inst.send.send_signal(1)
    ok = wait_until(lambda: len(inst.maildir_files('alice')) > bounces_before + 1, 40)
    texts = b''.join(read_file(f) for f in inst.maildir_files('alice'))
    R.check('queue lifetime over: both deferred messages bounce, with the last reason',
            ok and b'carol@nohost.test' in texts and b'no-such-host.invalid' in texts and b'dave@badline.test' in texts,
            inst.log()[-600:])


def main():
    if not IS_ROOT:
        R.skip('routes', 'needs root (role users, dnsmasq on port 53)')
        R.exit()
    dns = sink = sink6 = None
    try:
        with mrinst.Instance('mrroutes.') as inst:
            dns = Dns(inst.path('dnsmasq.log'))
            if not dns.ok:
                R.fail('dnsmasq', 'did not start on %s' % dns.ip)
                R.exit()
            inst.add_mailbox('alice')
            inst.control('retrybase', 1)
            inst.control('retrymax', 2)
            port, port6 = free_port(), free_port()
            sink = smtpfake.Server('127.0.0.1', port).start()
            if has_v6():
                sink6 = smtpfake.Server('::1', port6, family=socket.AF_INET6).start()
            inst.control('smtproutes', '\n'.join([
                'bare.test:127.0.0.1:%d' % port,
                'bare6.test:::1',  # no port: control/remoteport
                'brack6.test:[::1]:%d' % port6,
                'nohost.test:no-such-host.invalid',
                'badline.test:h:99999',
                ':192.0.2.1:1',
            ]) + '\n')
            inst.control('remoteport', port6)
            os.environ['DNSCACHEIP'] = dns.ip
            inst.start()
            before = len(inst.maildir_files('alice'))
            R.run('bare', t_bare, inst, dns, sink, sink6, port, port6)
            R.run('nohost', t_nohost, inst, dns, before)
            R.run('lifetime', t_lifetime, inst, before)
    finally:
        for s in (sink, sink6):
            if s:
                s.stop()
        if dns:
            dns.stop()
    R.exit()


main()
