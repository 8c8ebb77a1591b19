#!/usr/bin/env python3
"""The TLS services that `make setup` writes (issue 15), run from their own run scripts under
tcpserver, where control/services puts them:
- the SMTP service (SMTP_PORT, the MX) runs behind mailroom-tlsd and offers STARTTLS with the
  instance's certificate: swaks --tls, curl --ssl-reqd smtp:// and openssl s_client
  -starttls smtp each deliver (the Maildir has the message, Received says ESMTPS); no AUTH
  is offered there (SMTP_STARTTLS=no: test_setup_ports.py);
- submissions (SUBMISSIONS_PORT, RFC 8314 implicit TLS): swaks --tlsc --auth and curl
  smtps:// with AUTH deliver, and relay to a foreign domain after AUTH; without AUTH, MAIL
  is refused (530) and so is relay, and curl fails with nothing delivered;
- an admin's own certificate (TLS_CERT, TLS_KEY in control/services) is the one served
  after setup, on port 25 and 465; control/servercert.pem an admin replaced is kept by
  setup; a key that is not the certificate's is refused at setup (port 25 stays plain SMTP).
"""

import hashlib
import os
import re
import shutil
import ssl
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import CHECKOUT, read_file  # noqa: E402
from smtpinst import free_port  # noqa: E402

R = mrinst.Results()
MSG = b'From: tester@example.org\r\nTo: demo@localhost\r\nSubject: %s\r\n\r\nthrough the %s service\r\n'


def setup(inst, values):
    """Writes the NAME=value lines into control/services (kept otherwise) and runs setup."""
    path = inst.path('control', 'services')
    lines = open(path).read().splitlines()
    for k, v in values.items():
        lines = [ln for ln in lines if not ln.startswith(k + '=')] + ['%s=%s' % (k, v)]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    env = mrinst._make_env()
    for k in list(env):
        if k.endswith(('_IP', '_PORT')) or k in ('SMTP_STARTTLS', 'TLS_CERT', 'TLS_KEY'):
            del env[k]
    r = subprocess.run(['bash', os.path.join(CHECKOUT, 'lib/sh/setup.sh'), inst.home, inst.build], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    return r.returncode, (r.stdout + r.stderr).decode(errors='replace')


def start(inst, name, port):
    p = inst.start_daemon(['sh', inst.path('service', name, 'run')], port, logname=name + '.log')
    return p


def new_files(inst, before, n=1, timeout=20):
    inst.wait_for(len(before) + n, timeout)
    return sorted(set(inst.maildir_files()) - before)


def served_cert(port, implicit):
    """SHA-256 of the certificate the service presents (DER), via openssl s_client."""
    argv = ['openssl', 's_client', '-connect', '127.0.0.1:%d' % port, '-servername', 'localhost']
    if not implicit:
        argv += ['-starttls', 'smtp']
    r = subprocess.run(argv, input=b'QUIT\r\n', capture_output=True, timeout=30)
    m = re.search(rb'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', r.stdout, re.S)
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(m.group(0).decode())).hexdigest() if m else None


def file_cert(path):
    with open(path) as f:
        m = re.search(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', f.read(), re.S)
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(m.group(0))).hexdigest()


def test_smtp_starttls(inst, port):
    run = open(inst.path('service', 'smtpd', 'run')).read()
    R.check('setup: service/smtpd runs mailroom-tlsd on SMTP_PORT, no AUTH verifier',
            'mailroom-tlsd' in run and ' %d ' % port in run and ' -a ' not in run, run)
    R.check('setup: the SMTP banner says STARTTLS', 'STARTTLS' in open(inst.path('service', 'smtpd', 'banner')).read())
    ca = inst.path('control', 'servercert.pem')
    # swaks --tls
    before = set(inst.maildir_files())
    r = subprocess.run(['swaks', '--tls', '--server', '127.0.0.1', '--port', str(port), '--to', 'demo@localhost',
                        '--from', 'tester@example.org', '--helo', 'swaks.example', '--timeout', '20',
                        '--header', 'Subject: swaks port 25'], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    out = r.stdout.decode(errors='replace')
    R.check('smtp: swaks --tls: STARTTLS offered and taken, exit 0',
            r.returncode == 0 and '220 2.0.0 Ready to start TLS' in out and 'TLS started' in out, out[-600:])
    R.check('smtp: EHLO offers no AUTH on the SMTP port', not re.search(r'^<~? *250[- ]AUTH', out, re.M), out[-600:])
    new = new_files(inst, before)
    R.check('smtp: swaks --tls delivered, Received with ESMTPS',
            len(new) == 1 and re.search(rb'with ESMTPS \(TLSv1\.[23] ', read_file(new[0])) is not None,
            read_file(new[0])[:300] if new else 'nothing delivered')
    # curl --ssl-reqd, the certificate checked against the instance's
    before = set(inst.maildir_files())
    f = inst.path('curl25.msg')
    with open(f, 'wb') as fh:
        fh.write(MSG % (b'curl port 25', b'SMTP'))
    r = subprocess.run(['curl', '-sS', '--ssl-reqd', '--cacert', ca, '--max-time', '30',
                        'smtp://127.0.0.1:%d' % port, '--mail-from', 'tester@example.org',
                        '--mail-rcpt', 'demo@localhost', '-T', f], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    new = new_files(inst, before)
    R.check('smtp: curl --ssl-reqd smtp:// verified the certificate and delivered',
            r.returncode == 0 and len(new) == 1 and b'through the SMTP service' in read_file(new[0]),
            (r.returncode, r.stderr[-300:], len(new)))
    # openssl s_client -starttls smtp: a whole transaction typed under TLS
    before = set(inst.maildir_files())
    session = (b'EHLO openssl.example\r\nMAIL FROM:<tester@example.org>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\n'
               + MSG % (b'openssl port 25', b'SMTP') + b'.\r\nQUIT\r\n')
    r = subprocess.run(['openssl', 's_client', '-quiet', '-ign_eof', '-starttls', 'smtp', '-connect',
                        '127.0.0.1:%d' % port, '-CAfile', ca, '-verify_return_error'],
                       input=session, capture_output=True, timeout=60)
    out = r.stdout.decode(errors='replace')
    new = new_files(inst, before)
    R.check('smtp: openssl s_client -starttls smtp delivered (250 to DATA, 221 to QUIT)',
            len(new) == 1 and re.search(r'^250 .*(queued|accepted|ok)', out, re.M | re.I) and '221' in out
            and b'with ESMTPS' in read_file(new[0]), out[-400:])
    R.check('smtp: the certificate served is control/servercert.pem',
            served_cert(port, False) == file_cert(ca))


def swaks_auth(port, to, auth=True, extra=()):
    argv = ['swaks', '--tlsc', '--server', '127.0.0.1', '--port', str(port), '--to', to,
            '--from', 'demo@localhost', '--helo', 'client.example', '--timeout', '20',
            '--header', 'Subject: swaks 465']
    if auth:
        argv += ['--auth', 'PLAIN', '--auth-user', 'demo', '--auth-password', 'demo']
    r = subprocess.run(argv + list(extra), capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(errors='replace')


def test_submissions(inst, port):
    run = open(inst.path('service', 'submissions', 'run')).read()
    R.check('setup: service/submissions runs mailroom-tlsd -i with the AUTH verifier on SUBMISSIONS_PORT',
            'mailroom-tlsd' in run and ' -i ' in run and ' -a ' in run and 'MAILROOM_SUBMISSION=1' in run
            and ' %d ' % port in run, run)
    before = set(inst.maildir_files())
    rc, out = swaks_auth(port, 'demo@localhost')
    new = new_files(inst, before)
    R.check('submissions: swaks --tlsc --auth PLAIN: 235 and delivered',
            rc == 0 and '235 ' in out and len(new) == 1, out[-600:])
    if new:
        R.check('submissions: Received with ESMTPSA (TLS and AUTH)', b'with ESMTPSA (TLSv1.' in read_file(new[0]),
                read_file(new[0])[:300])
    rc, out = swaks_auth(port, 'someone@remote.example')
    R.check('submissions: relay to a foreign domain after AUTH: 250', rc == 0 and re.search(r'^<~ *250 ', out, re.M),
            out[-500:])
    rc, out = swaks_auth(port, 'someone@remote.example', auth=False)
    R.check('submissions: no AUTH: MAIL refused with 530, nothing relayed',
            rc != 0 and re.search(r'^<~\* *530 ', out, re.M), out[-500:])
    before = set(inst.maildir_files())
    rc, out = swaks_auth(port, 'demo@localhost', auth=False)
    R.check('submissions: no AUTH: refused even for a local recipient', rc != 0 and '530 ' in out, out[-500:])
    # curl smtps:// with and without AUTH
    f = inst.path('curl465.msg')
    with open(f, 'wb') as fh:
        fh.write(MSG % (b'curl 465', b'submissions'))
    ca = inst.path('control', 'servercert.pem')
    r = subprocess.run(['curl', '-sS', '--cacert', ca, '--max-time', '30', 'smtps://127.0.0.1:%d' % port,
                        '--user', 'demo:demo', '--mail-from', 'demo@localhost', '--mail-rcpt', 'demo@localhost',
                        '-T', f], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    new = new_files(inst, before)
    R.check('submissions: curl smtps:// --user demo:demo delivered', r.returncode == 0 and len(new) == 1
            and b'through the submissions service' in read_file(new[0]), (r.returncode, r.stderr[-300:], len(new)))
    before = set(inst.maildir_files())
    r = subprocess.run(['curl', '-sS', '--cacert', ca, '--max-time', '30', 'smtps://127.0.0.1:%d' % port,
                        '--mail-from', 'x@example.org', '--mail-rcpt', 'someone@remote.example', '-T', f],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    R.check('submissions: curl smtps:// without AUTH fails', r.returncode != 0, r.returncode)
    inst.wait_for(len(before), 1)
    R.check('submissions: nothing delivered without AUTH', set(inst.maildir_files()) == before)


def make_cert(inst, cn):
    d = inst.path('admin-tls')
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, cn + '.pem'), os.path.join(d, cn + '.key')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                    '-days', '30', '-subj', '/CN=' + cn, '-keyout', key, '-out', cert],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def test_admin_cert(inst, smtp, subs):
    cert, key = make_cert(inst, 'admin.test')
    generated = file_cert(inst.path('control', 'servercert.pem'))
    rc, out = setup(inst, {'TLS_CERT': cert, 'TLS_KEY': key})
    R.check('admin cert: setup with TLS_CERT and TLS_KEY', rc == 0, out[-500:])
    for name in ('smtpd', 'submissions'):
        R.check('admin cert: service/%s names the admin\'s pair' % name,
                '-c %s -k %s' % (cert, key) in open(inst.path('service', name, 'run')).read())
    inst.stop_service()
    start(inst, 'smtpd', smtp)
    start(inst, 'submissions', subs)
    want = file_cert(cert)
    R.check('admin cert: port 25 serves the admin\'s certificate', served_cert(smtp, False) == want)
    R.check('admin cert: 465 serves the admin\'s certificate', served_cert(subs, True) == want)
    R.check('admin cert: control/servercert.pem left as it was', file_cert(inst.path('control', 'servercert.pem')) == generated)
    before = set(inst.maildir_files())
    r = subprocess.run(['curl', '-sS', '--ssl-reqd', '--cacert', cert, '--max-time', '30', '--resolve',
                        'admin.test:%d:127.0.0.1' % smtp, 'smtp://admin.test:%d' % smtp,
                        '--mail-from', 'tester@example.org', '--mail-rcpt', 'demo@localhost', '-T',
                        inst.path('curl25.msg')], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    R.check('admin cert: curl verifies it by name and delivers', r.returncode == 0 and len(new_files(inst, before)) == 1,
            r.stderr[-300:])
    # a key that is not the certificate's: setup says so, port 25 goes on in clear
    _, other = make_cert(inst, 'other.test')
    rc, out = setup(inst, {'TLS_KEY': other})
    R.check('admin cert: a key that does not match is refused at setup',
            rc == 0 and 'is not the key of' in out and 'mailroom-tlsd' not in open(inst.path('service', 'smtpd', 'run')).read(),
            out[-400:])
    # an admin's own control/servercert.pem (TLS_CERT empty again) survives setup
    shutil.copy(cert, inst.path('control', 'servercert.pem'))
    shutil.copy(key, inst.path('control', 'serverkey.pem'))
    rc, out = setup(inst, {'TLS_CERT': '', 'TLS_KEY': ''})
    R.check('admin cert: control/servercert.pem replaced by the admin is kept by setup',
            rc == 0 and file_cert(inst.path('control', 'servercert.pem')) == want
            and 'self-signed' not in out and 'mailroom-tlsd' in open(inst.path('service', 'smtpd', 'run')).read(), out[-400:])


def main():
    for tool in ('swaks', 'curl', 'openssl', 'tcpserver'):
        if not shutil.which(tool):
            R.skip('tls ports', '%s is not installed (lib/sh/deps.sh)' % tool)
            R.exit()
    with smtpinst.SmtpInstance(prefix='mrtlsp.') as inst:
        smtp, subs = free_port(), free_port()
        # relayed mail goes to a loopback address where nothing listens: deferred, no DNS
        inst.control('smtproutes', 'remote.example:[127.0.0.%d]:%d\n' % (200 + os.getpid() % 50, free_port()))
        rc, out = setup(inst, {'SMTP_PORT': smtp, 'SUBMISSIONS_PORT': subs, 'SUBMISSION_PORT': free_port(),
                               'POP3_PORT': free_port(), 'POP3S_PORT': free_port()})
        if not R.check('setup with the ports in control/services', rc == 0, out[-800:]):
            R.exit()
        inst.start()
        start(inst, 'smtpd', smtp)
        start(inst, 'submissions', subs)
        R.run('smtp starttls', test_smtp_starttls, inst, smtp)
        R.run('submissions', test_submissions, inst, subs)
        R.run('admin cert', test_admin_cert, inst, smtp, subs)
    R.exit()


main()
