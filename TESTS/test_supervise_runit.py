#!/usr/bin/env python3
"""The second supervisor (issue 6): `make setup` writes runit service folders (runit/NAME,
beside daemontools' service/NAME). runit's runsv runs the send service and its log without
being PID 1: mailroom-start comes up, its log goes through multilog into log/send with
TAI64N stamps, a message is delivered and logged, `sv status` reports it, `sv term` restarts
it, `sv down` and `sv exit` stop it and the log. smtpd and pop3d get runit folders too."""

import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402

R = mrinst.Results()


def wait(cond, timeout, interval=0.05):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def sv(*args):
    r = subprocess.run(['sv', '-w', '10'] + list(args), capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(errors='replace') + r.stderr.decode(errors='replace')


def readlog(inst):
    try:
        with open(inst.path('log', 'send', 'current'), 'rb') as f:
            return f.read().decode(errors='replace')
    except FileNotFoundError:
        return ''


def main():
    if not shutil.which('runsv') or not shutil.which('sv'):
        R.skip('runit', 'runit is not installed (Debian package runit; lib/sh/deps.sh)')
        R.exit()
    t0 = time.monotonic()
    with mrinst.Instance() as inst:
        mrinst.info('instance ready in %.1f s' % (time.monotonic() - t0))
        svc = inst.path('runit', 'send')
        for name in ('send', 'smtpd', 'pop3d'):
            run = inst.path('runit', name, 'run')
            lrun = inst.path('runit', name, 'log', 'run')
            R.check('setup: runit/%s/run and log/run written, executable' % name,
                    os.access(run, os.X_OK) and os.access(lrun, os.X_OK)
                    and 'multilog t %s' % inst.path('log', name) in open(lrun).read(), run)
        R.check('setup: runit/send/run runs mailroom-start', inst.bin('mailroom-start') in open(inst.path('runit', 'send', 'run')).read(), '')
        p = subprocess.Popen(['runsv', svc], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        inst.procs.append(p)  # its process group is killed at cleanup, whatever happens here
        try:
            ok = wait(lambda: re.search(r'^@[0-9a-f]{24} start home=', readlog(inst), re.M), 15)
            R.check('runsv: mailroom-send up, logging through multilog with TAI64N', ok, readlog(inst)[-300:])
            rc, out = sv('status', svc)
            R.check('sv status: run', rc == 0 and out.startswith('run: ') and '; run: log:' in out, out)
            pid1 = wait(lambda: inst.instance_procs('mailroom-send'), 5)
            r = inst.sendmail(['demo@localhost'], b'Subject: runit\n\nsupervised\n')
            n, secs = inst.wait_for(1, 10)
            R.check('runsv: message delivered', r.returncode == 0 and n == 1, 'maildir has %d' % n)
            R.check('runsv: delivery logged', wait(lambda: re.search(r'^@\S+ ok msg=\S+ d=\d+ to=<demo@localhost>', readlog(inst), re.M), 5),
                    readlog(inst)[-300:])
            mrinst.info('delivered at %.1f s' % (time.monotonic() - t0))
            rc, out = sv('term', svc)
            pid2 = wait(lambda: [q for q in inst.instance_procs('mailroom-send') if q not in (pid1 or [])], 10)
            R.check('sv term: mailroom-send restarted by runsv', rc == 0 and pid2, (out, pid1, pid2))
            mrinst.info('restarted at %.1f s' % (time.monotonic() - t0))
            rc, out = sv('down', svc)
            R.check('sv down: mailroom-send stopped', rc == 0 and wait(lambda: not inst.instance_procs('mailroom-send'), 10)
                    and wait(lambda: re.search(r'^@\S+ exit queued=0', readlog(inst), re.M), 5), out + readlog(inst)[-200:])
            mrinst.info('down at %.1f s' % (time.monotonic() - t0))
            sv('exit', svc)
            sv('exit', os.path.join(svc, 'log'))
            try:
                p.wait(15)
                R.ok('sv exit: runsv and the log end')
            except subprocess.TimeoutExpired:
                R.fail('sv exit: runsv and the log end', 'runsv still runs after 15 s')
        finally:
            if p.poll() is None:
                sv('exit', svc)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    pass
    R.exit()


main()
