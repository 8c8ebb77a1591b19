#!/usr/bin/env python3
"""Setup keeps the admin's choices (issue 15): control/services, written by the first setup
with loopback defaults, is never rewritten. The test edits it as an admin would: every
service on an address and port of its own, IPv6 (::1) among them, and DNSCACHEIP pointing at
a DNS server the test runs; runs setup twice; then checks:
- the file is byte for byte the admin's, and the second run changes no run script;
- lib/sh/run.sh (what `make run` runs after setup) starts svscan, whose services listen
  exactly where the file says (SMTP on [::1] only, POP3 on a 127.x.y.z of its own, the TLS
  ports answering a handshake) and nowhere else, its banners naming those addresses;
- the send service asks the DNSCACHEIP server for a remote domain (and no other);
- a variable in setup's environment (SMTP_PORT=...) overrides the file for one run only and
  says so (SMTP_STARTTLS=no there: plain SMTP), the next run goes back to the file; a wrong value (port 99999, an address that is
  not one, an unknown name, shell syntax) stops setup with the line and leaves every run script
  as it was; PORT=off writes the service down and back up.
"""

import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import dnsfake  # noqa: E402
import mrinst  # noqa: E402
from mrinst import CHECKOUT, SLOW  # noqa: E402
from smtpinst import free_port  # noqa: E402

R = mrinst.Results()
SERVICES = ('smtpd', 'submission', 'submissions', 'pop3d', 'pop3s', 'send', 'queued')


def clean_env(extra=None):
    env = mrinst._make_env()
    for k in list(env):
        if k.endswith(('_IP', '_PORT')) or k in ('SMTP_STARTTLS', 'TLS_CERT', 'TLS_KEY', 'DNSCACHEIP'):
            del env[k]
    env.update(extra or {})
    return env


def setup(inst, extra=None):
    r = subprocess.run(['bash', os.path.join(CHECKOUT, 'lib/sh/setup.sh'), inst.home, inst.build], env=clean_env(extra),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    return r.returncode, (r.stdout + r.stderr).decode(errors='replace')


def scripts(inst):
    """{path: (content, mtime_ns)} of every run script setup writes."""
    out = {}
    for sup in ('service', 'runit'):
        for name in os.listdir(inst.path(sup)):
            for rel in ('run', 'log/run'):
                p = inst.path(sup, name, rel)
                if os.path.exists(p):
                    out[p] = (open(p).read(), os.stat(p).st_mtime_ns)
    return out


def greets(host, port, want, tls=False, timeout=3.0):
    """The first line from host:port (through TLS when tls) starts with want."""
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect((host, port))
            if tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s, server_hostname='localhost')
            data = b''
            while b'\n' not in data:
                b = s.recv(512)
                if not b:
                    break
                data += b
            return data.startswith(want)
    except OSError:
        return False


def refused(host, port):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        try:
            s.connect((host, port))
            return False
        except OSError:
            return True


def rand_loopback():
    return '127.%d.%d.%d' % (random.randint(1, 254), random.randint(1, 254), random.randint(2, 254))


def admin_edit(inst, values):
    path = inst.path('control', 'services')
    lines = open(path).read().splitlines()
    for k, v in values.items():
        lines = ['%s=%s' % (k, v) if ln.startswith(k + '=') else ln for ln in lines]
    lines.insert(0, '# edited by the admin')
    text = '\n'.join(lines) + '\n'
    with open(path, 'w') as f:
        f.write(text)
    return text


def test_defaults(inst):
    text = open(inst.path('control', 'services')).read()
    R.check('first setup: control/services with loopback defaults',
            'SMTP_IP=127.0.0.1\n' in text and 'SMTP_PORT=2525\n' in text and 'SUBMISSIONS_PORT=2465\n' in text
            and 'POP3S_IP=127.0.0.1\n' in text and 'DNSCACHEIP=\n' in text, text)
    run = open(inst.path('service', 'pop3d', 'run')).read()
    R.check('first setup: POP3 on 127.0.0.1:2110', ' 127.0.0.1 2110 ' in run, run)


def stop_run(p):
    """SIGTERM to run.sh (it stops svscan and every service), bounded; then by force."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(40 * SLOW)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
    return p.returncode


def kill_leftovers(inst):
    # anything still running in the instance (svscan, supervise, services) after a failure
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink('/proc/%s/cwd' % pid)
        except OSError:
            continue
        if cwd == inst.home or cwd.startswith(inst.home + '/'):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def test_running(inst, conf, dns):
    log = open(inst.path('run.sh.log'), 'wb')
    p = subprocess.Popen(['bash', os.path.join(CHECKOUT, 'lib/sh/run.sh'), inst.home], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT, env=clean_env(), start_new_session=True)
    log.close()
    try:
        t = 15 * SLOW
        ok = mrinst.wait_until(lambda: greets('::1', conf['SMTP_PORT'], b'220 '), t)
        R.check('run.sh: SMTP answers on [::1]:SMTP_PORT', ok, open(inst.path('run.sh.log')).read()[-500:])
        R.check('run.sh: SMTP does not listen on 127.0.0.1:SMTP_PORT', refused('127.0.0.1', conf['SMTP_PORT']))
        R.check('run.sh: submission answers on SUBMISSION_IP:PORT',
                mrinst.wait_until(lambda: greets(conf['SUBMISSION_IP'], conf['SUBMISSION_PORT'], b'220 '), t))
        R.check('run.sh: submission not on 127.0.0.1', conf['SUBMISSION_IP'] == '127.0.0.1'
                or refused('127.0.0.1', conf['SUBMISSION_PORT']))
        R.check('run.sh: submissions answers (TLS, then 220) on [::1]:SUBMISSIONS_PORT',
                mrinst.wait_until(lambda: greets('::1', conf['SUBMISSIONS_PORT'], b'220 ', tls=True), t))
        R.check('run.sh: POP3 answers on POP3_IP:PORT only',
                mrinst.wait_until(lambda: greets(conf['POP3_IP'], conf['POP3_PORT'], b'+OK'), t)
                and refused('127.0.0.1', conf['POP3_PORT']))
        R.check('run.sh: POP3S answers (TLS, then +OK) on [::1]:POP3S_PORT',
                mrinst.wait_until(lambda: greets('::1', conf['POP3S_PORT'], b'+OK', tls=True), t))
        mrinst.wait_until(lambda: 'Ctrl-C stops everything' in open(inst.path('run.sh.log')).read(), t)
        out = open(inst.path('run.sh.log')).read()
        R.check('run.sh: the banners name the admin\'s addresses',
                'SMTP: [::1]:%d, STARTTLS' % conf['SMTP_PORT'] in out
                and 'POP3: %s:%d' % (conf['POP3_IP'], conf['POP3_PORT']) in out
                and 'Submissions: [::1]:%d' % conf['SUBMISSIONS_PORT'] in out, out[-800:])
        # the send service under svscan asks the admin's DNS server
        r = subprocess.run([inst.bin('sendmail'), '-f', 'demo@localhost', 'someone@far.example'],
                           input=b'Subject: dns\n\nwhere is far.example\n', capture_output=True, timeout=30)
        seen = mrinst.wait_until(lambda: any(q[0].endswith('far.example') for q in dns.log), 20 * SLOW)
        R.check('DNSCACHEIP: mailroom-remote under the send service asked the admin\'s DNS server',
                r.returncode == 0 and seen, (r.returncode, dns.log))
    finally:
        rc = stop_run(p)
        R.check('run.sh: SIGTERM stops everything, exit 0', rc == 0, rc)
        if rc != 0:
            kill_leftovers(inst)


def test_env_override(inst, conf, before):
    port = free_port()
    rc, out = setup(inst, {'SMTP_PORT': str(port), 'SMTP_STARTTLS': 'no'})
    run = open(inst.path('service', 'smtpd', 'run')).read()
    R.check('env: SMTP_PORT from the environment used for that run, and said so',
            rc == 0 and ' ::1 %d ' % port in run and 'from the environment' in out, out[-400:])
    R.check('env: SMTP_STARTTLS=no: plain mailroom-smtpd on the SMTP port', 'mailroom-tlsd' not in run, run)
    R.check('env: control/services untouched', open(inst.path('control', 'services')).read() == conf['text'])
    rc, out = setup(inst)
    run = open(inst.path('service', 'smtpd', 'run')).read()
    R.check('env: the next run goes back to control/services', rc == 0 and ' ::1 %d ' % conf['SMTP_PORT'] in run
            and 'mailroom-tlsd' in run, run)


def test_bad_values(inst, conf):
    path = inst.path('control', 'services')
    good = scripts(inst)
    for bad, want in (('SMTP_PORT=99999', 'not a port number'), ('POP3_IP=127.0.0.256', 'not an IPv4 or IPv6'),
                      ('SUBMISSION_IP=1::2::3', 'not an IPv4 or IPv6'), ('SMTP_PORTS=25', 'unknown name'),
                      ('SMTP_IP=$(touch /tmp/x)', 'no quotes'), ('DNSCACHEIP=127.0.0.1 ::1', 'no quotes'),
                      ('SMTP_STARTTLS=maybe', 'want yes or no'), ('TLS_CERT=relative.pem', 'absolute path')):
        with open(path, 'w') as f:
            f.write(conf['text'] + bad + '\n')
        rc, out = setup(inst)
        n = conf['text'].count('\n') + 1
        R.check('bad value %s: setup stops (100) naming line %d' % (bad, n),
                rc == 100 and 'line %d' % n in out and want in out, out[-300:])
    R.check('bad values: no run script changed', scripts(inst) == good)
    with open(path, 'w') as f:
        f.write(conf['text'])


def test_off(inst, conf):
    path = inst.path('control', 'services')
    with open(path, 'w') as f:
        f.write(conf['text'].replace('POP3_PORT=%d' % conf['POP3_PORT'], 'POP3_PORT=off'))
    rc, out = setup(inst)
    R.check('POP3_PORT=off: service/pop3d and runit/pop3d down, no banner',
            rc == 0 and os.path.exists(inst.path('service', 'pop3d', 'down')) and os.path.exists(inst.path('runit', 'pop3d', 'down'))
            and not os.path.exists(inst.path('service', 'pop3d', 'banner')), out[-300:])
    with open(path, 'w') as f:
        f.write(conf['text'])
    rc, out = setup(inst)
    R.check('POP3_PORT back: the service is up again', rc == 0 and not os.path.exists(inst.path('service', 'pop3d', 'down'))
            and os.path.exists(inst.path('service', 'pop3d', 'banner')), out[-300:])


def test_closed_parent(inst):
    """As root, a home below a folder closed to others (a checkout in /root, a mktemp -d folder)
    is refused before anything is made: the role users could not reach it."""
    if os.getuid() != 0:
        R.skip('closed parent: setup refuses it', 'not root: no role users')
        return
    top = tempfile.mkdtemp(prefix='mrclosed.', dir='/tmp')  # mode 0700
    try:
        home = os.path.join(top, 'inst')
        r = subprocess.run(['bash', os.path.join(CHECKOUT, 'lib/sh/setup.sh'), home, inst.build], env=clean_env(),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        out = (r.stdout + r.stderr).decode(errors='replace')
        R.check('closed parent: setup exits 100 and names the folder and the fix',
                r.returncode == 100 and top in out and 'closed to others' in out and 'chmod o+x' in out, out[-500:])
        R.check('closed parent: nothing was made', not os.path.exists(home), str(os.listdir(top)))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def main():
    dnsip = rand_loopback()
    queries = []
    dns = dnsfake.Server(dnsip, lambda q, t, tcp: dnsfake.Answer(rcode=2)).start()  # SERVFAIL: deferred
    try:
        with mrinst.Instance(prefix='mrports.') as inst:
            R.run('defaults', test_defaults, inst)
            conf = {'SMTP_IP': '::1', 'SMTP_PORT': free_port(), 'SUBMISSION_IP': rand_loopback(),
                    'SUBMISSION_PORT': free_port(), 'SUBMISSIONS_IP': '::1', 'SUBMISSIONS_PORT': free_port(),
                    'POP3_IP': rand_loopback(), 'POP3_PORT': free_port(), 'POP3S_IP': '::1',
                    'POP3S_PORT': free_port(), 'DNSCACHEIP': dnsip}
            conf['text'] = admin_edit(inst, {k: v for k, v in conf.items()})
            rc, out = setup(inst)
            R.check('admin edit: setup runs', rc == 0, out[-500:])
            first = scripts(inst)
            rc, out = setup(inst)
            R.check('setup twice: control/services is the admin\'s, byte for byte',
                    rc == 0 and open(inst.path('control', 'services')).read() == conf['text'])
            R.check('setup twice: no run script changed (content and mtime)', scripts(inst) == first)
            run = open(inst.path('service', 'smtpd', 'run')).read()
            R.check('setup: service/smtpd on ::1 and the admin\'s port', ' ::1 %d ' % conf['SMTP_PORT'] in run, run)
            R.check('setup: every service gets DNSCACHEIP', all(
                'DNSCACHEIP=%s; export DNSCACHEIP' % dnsip in open(inst.path(sup, n, 'run')).read()
                for sup in ('service', 'runit') for n in SERVICES), run)
            R.run('running', test_running, inst, conf, dns)
            queries[:] = list(dns.log)
            R.run('env override', test_env_override, inst, conf, first)
            R.run('bad values', test_bad_values, inst, conf)
            R.run('off', test_off, inst, conf)
            R.run('closed parent', test_closed_parent, inst)
    finally:
        dns.stop()
    R.check('DNS: only the domain mailed to was asked', queries and all(q[0].endswith('far.example') for q in queries), queries)
    R.exit()


main()
