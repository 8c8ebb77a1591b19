"""Security (issue 7, part 5), checked by trying, not by reading the code:

- who runs what: from /proc during an SMTP session, a POP3 session, a local delivery, a
  remote delivery and a TLS session, every mailroom process of the instance and its uids; no
  process but mailroom-lspawn (and popup/checkpassword, before the switch) is root;
- the smtpd and remote role uids (mrsmtpd, mrremote) can open nothing in the queue or in any
  Maildir: open/opendir/create tried as them, EACCES expected for each;
- relay is closed: RCPT to a foreign domain from a client without RELAYCLIENT gets 5xx,
  through the real service too, and the old relay tricks (%, source routes, quoted @) too;
- hostile local parts (../, /, a leading -, |program, newline, dot-file names, shell
  metacharacters) through SMTP and sendmail write nothing outside a Maildir (the instance
  and a canary folder snapshotted before and after) and run no program (a canary program);
- a dot file owned by another user or group/world-writable is ignored: the default
  delivery, the log says so, its program never runs;
- header injection through sendmail's arguments (-f with CRLF, a recipient with a newline,
  -F with a newline) adds no header line and no recipient.

As another user than root, the uid checks are SKIPs (there are no role users then); the
rest runs.
"""

import json
import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import pop3inst  # noqa: E402
import smtpfake  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, info, wait_until  # noqa: E402
from smtpinst import free_port  # noqa: E402

R = mrinst.Results()
SLOW = mrinst.SLOW
TOKEN = 'zq' + mrinst.random_name('', 6)

# Run as a role user: tries every operation on every path and prints {path: {op: result}},
# result 'ok' or the errno name. Never follows into what it opened, never truncates.
PROBE = r'''
import errno, json, os, stat, sys
out = {}
for p in sys.argv[1:]:
    r = {}
    try:
        st = os.lstat(p)
        isdir = stat.S_ISDIR(st.st_mode)
    except OSError:
        isdir = p.endswith('/')
    def t(name, fn):
        try:
            fn()
            r[name] = 'ok'
        except OSError as e:
            r[name] = errno.errorcode.get(e.errno, str(e.errno))
    if isdir:
        t('opendir', lambda: os.listdir(p))
        t('open', lambda: os.close(os.open(p, os.O_RDONLY | os.O_DIRECTORY)))
        def mk():
            fn = os.path.join(p, '.probe.%d' % os.getpid())
            os.close(os.open(fn, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            os.unlink(fn)
        t('create', mk)
    else:
        t('read', lambda: os.close(os.open(p, os.O_RDONLY | os.O_NONBLOCK)))
        t('write', lambda: os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK)))
    out[p] = r
print(json.dumps(out))
'''


def ids(name):
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def instance_pids(inst):
    """{pid: program name} of the live processes running a program of this instance."""
    out = {}
    bindir = inst.path('bin') + '/'
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        exe = mrinst.proc_exe(int(d))
        if exe.startswith(bindir) and mrinst.proc_state(int(d)) not in (None, 'Z'):
            out[int(d)] = exe[len(bindir):]
    return out


def check_uids(label, inst, want, extra=None):
    """want: {program: uid}; every live instance process of those programs must have
    all four uids equal to it; any other mailroom process must not be root, except
    lspawn. Returns the programs seen."""
    seen = {}
    bad = []
    for pid, prog in instance_pids(inst).items():
        try:
            uids, _ = mrinst.proc_ids(pid)
        except OSError:
            continue  # it ended
        seen.setdefault(prog, set()).add(uids)
        if prog in want:
            if set(uids) != {want[prog]}:
                bad.append('%s pid %d uids %s, want %d' % (prog, pid, uids, want[prog]))
        elif 0 in uids and prog != 'mailroom-lspawn':
            bad.append('%s pid %d runs as root: %s' % (prog, pid, uids))
    missing = [p for p in want if p not in seen]
    R.check('%s: processes and uids' % label, not bad and not missing,
            '; '.join(bad) + (' missing %s' % missing if missing else '') + ' seen %s' % seen)
    info('%s: %s' % (label, {k: sorted(v) for k, v in seen.items()}))
    return seen



# --- snapshots ----------------------------------------------------------------------------
def snapshot(root, skip):
    """{relative path: (kind, mode, uid, size or None)} of everything under root, but the
    paths skip(rel) says to leave out (mail that arrives, the queue, logs)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        keep = []
        for d in dirs:
            rel = os.path.normpath(os.path.join(rel_dir, d))
            if skip(rel):
                continue
            keep.append(d)
            st = os.lstat(os.path.join(dirpath, d))
            out[rel] = ('d', st.st_mode, st.st_uid, None)
        dirs[:] = keep
        for f in files:
            rel = os.path.normpath(os.path.join(rel_dir, f))
            if skip(rel):
                continue
            st = os.lstat(os.path.join(dirpath, f))
            out[rel] = ('f', st.st_mode, st.st_uid, st.st_size)
    return out


def skip_changing(rel):
    parts = rel.split('/')
    if parts[0] in ('queue', 'log', '.build'):
        return len(parts) > 1  # the folders themselves are kept
    if rel.endswith('.log') or rel.endswith('.log.err'):
        return True
    # mail that arrives: the files in Maildir/new, cur and tmp
    if len(parts) >= 3 and parts[-3] == 'Maildir' and parts[-2] in ('new', 'cur', 'tmp'):
        return True
    if 'supervise' in parts:
        return True
    return False


def diff(a, b):
    out = []
    for k in sorted(set(a) | set(b)):
        if k not in a:
            out.append('new %s' % k)
        elif k not in b:
            out.append('gone %s' % k)
        elif a[k] != b[k]:
            out.append('changed %s %s -> %s' % (k, a[k], b[k]))
    return out


def names_with(token, roots):
    """Paths whose name holds token, under roots (walked) and in / and /tmp (listed)."""
    hits = []
    for top in ('/', '/tmp', '/root'):
        try:
            hits += [os.path.join(top, n) for n in os.listdir(top) if token in n]
        except OSError:
            pass
    for r in roots:
        for dirpath, dirs, files in os.walk(r):
            hits += [os.path.join(dirpath, n) for n in dirs + files if token in n]
    return hits


# --- mail helpers -------------------------------------------------------------------------
def header_of(data):
    end = data.find(b'\n\n')
    return data[:end if end >= 0 else len(data)]


def messages(maildir):
    out = []
    for sub in ('new', 'cur'):
        d = os.path.join(maildir, sub)
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), 'rb') as f:
                out.append(f.read())
    return out


def with_subject(maildir, subj):
    return [m for m in messages(maildir) if re.search(rb'^Subject: ' + re.escape(subj.encode()) + rb'\s*$', header_of(m), re.M)]


class Ctx:
    pass


# --- the cases ----------------------------------------------------------------------------
def test_relay(inst, x):
    """Relay is closed for a client without RELAYCLIENT."""
    foreign = ['someone@example.com', 'someone%example.com@localhost', '@localhost:someone@example.com',
               '"someone@example.com"@localhost', 'someone@example.com@localhost', 'someone@[192.0.2.7]',
               'someone@localhost.example.com']
    with inst.session(env={'TCPREMOTEIP': '192.0.2.7', 'RELAYCLIENT': None}) as s:
        s.cmd('EHLO outside.example')
        code, _ = s.cmd('MAIL FROM:<a@outside.example>')
        for a in foreign:
            code, text = s.cmd('RCPT TO:<%s>' % a)
            R.check('relay closed: RCPT <%s> gets 5xx' % a, 500 <= code < 600, '%s %s' % (code, text))
    # the real service: tcpserver's rules give RELAYCLIENT to 127.0.0.1 only; come from elsewhere
    src = '127.%d.%d.%d' % (random.randint(1, 254), random.randint(1, 254), random.randint(2, 254))
    sock = socket.create_connection(('127.0.0.1', x.smtp_port), timeout=20, source_address=(src, 0))
    c = smtpinst.Client(sock)
    try:
        c.reply()
        c.cmd('EHLO outside.example')
        c.cmd('MAIL FROM:<a@outside.example>')
        code, text = c.cmd('RCPT TO:<someone@example.com>')
        R.check('relay closed: through tcpserver from %s, RCPT to a foreign domain 5xx' % src,
                500 <= code < 600, '%s %s' % (code, text))
        code, text = c.cmd('RCPT TO:<demo@localhost>')
        R.check('relay closed: a local recipient is still accepted', code == 250, '%s %s' % (code, text))
        c.cmd('QUIT')
    finally:
        c.close()


def hostile_locals(x):
    t, prog = TOKEN, x.canary_prog
    return [
        '../%s' % t, '../../../../tmp/%s' % t, 'a/%s' % t, '/tmp/%s' % t, '-%s' % t, '--%s' % t,
        '|%s' % prog, '|touch /tmp/%s' % t, '.qmail-%s' % t, '..', '.',
        'victim-../../%s' % t, 'victim-/../../%s' % t, 'victim-a/%s' % t, 'victim--%s' % t,
        'victim-|%s' % prog, 'victim-%s.qmail' % t, 'victim-..', 'victim-../..', 'victim-.qmail',
        'victim-`%s`' % prog, 'victim-$(%s)' % prog, 'victim-;%s' % prog, 'victim-&%s' % t,
        'victim-%s/../../../.qmail' % t, 'victim/../%s' % t,
    ]


def smtp_quote(local):
    if re.fullmatch(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+", local) and '..' not in local \
            and not local.startswith('.') and not local.endswith('.'):
        return local
    return '"' + local.replace('\\', '\\\\').replace('"', '\\"') + '"'


def test_hostile_smtp(inst, x):
    """Hostile local parts through SMTP, raw and quoted, one session each (mailroom-smtpd
    ends a session after a few 5xx); newlines and NUL inside the command."""
    accepted, refused = [], []
    forms = []
    for loc in hostile_locals(x):
        forms += sorted({loc, smtp_quote(loc)})
    for i, form in enumerate(forms):
        with inst.session(env={'TCPREMOTEIP': '192.0.2.8', 'RELAYCLIENT': None}) as s:
            s.cmd('EHLO outside.example')
            code, text = s.cmd('MAIL FROM:<demo@localhost>')
            if code != 250:
                R.fail('hostile smtp: MAIL', '%s %s' % (code, text))
                continue
            code, text = s.cmd(('RCPT TO:<%s@localhost>' % form).encode())
            if code == 250:
                accepted.append(form)
                code, text = s.cmd('DATA')
                s.send(b'From: demo@localhost\r\nSubject: hostile-smtp-%d\r\n\r\nhostile\r\n.\r\n' % i)
                code, text = s.reply(60)
                if code != 250:
                    R.fail('hostile smtp: <%s@localhost> accepted at RCPT, then DATA' % form, '%s %s' % (code, text))
            elif 500 <= code < 600:
                refused.append(form)
            else:
                R.fail('hostile smtp: RCPT <%s@localhost>' % form, 'got %s %s' % (code, text))
            s.cmd('QUIT')
    info('hostile smtp: accepted %s' % accepted)
    info('hostile smtp: refused 5xx %s' % refused)
    R.check('hostile smtp: %d addresses, each accepted or refused 5xx' % len(forms),
            len(accepted) + len(refused) == len(forms))
    for raw in (b'RCPT TO:<victim\n@localhost>', b'RCPT TO:<victim@localhost>\nRCPT TO:<spy@localhost>',
                b'RCPT TO:<"vic\rtim"@localhost>', b'RCPT TO:<victim\x00@localhost>'):
        with inst.session(env={'TCPREMOTEIP': '192.0.2.8', 'RELAYCLIENT': None}) as s:
            s.cmd('EHLO outside.example')
            s.cmd('MAIL FROM:<demo@localhost>')
            code, text = s.cmd(raw)
            R.check('hostile smtp: %r refused 5xx' % raw, 500 <= code < 600, '%s %s' % (code, text))
    return accepted


def test_hostile_sendmail(inst, x):
    """Hostile local parts as sendmail arguments (after --), one message each."""
    results = []
    for i, loc in enumerate(hostile_locals(x) + ['victim@localhost\nBcc: spy@localhost', 'victim\n@localhost']):
        addr = loc if '@' in loc.split('\n')[0] else loc + '@localhost'
        r = inst.sendmail(['-f', 'demo@localhost', '--', addr],
                          b'From: demo@localhost\nSubject: hostile-sm-%d\n\nhostile\n' % i)
        results.append((addr, r.returncode, r.stderr.decode(errors='replace').strip()))
        if r.returncode not in (0, 100):
            R.fail('hostile sendmail: %r' % addr, 'exit %d: %s' % (r.returncode, r.stderr))
    info('hostile sendmail: exit codes %s' % [(a, c) for a, c, _ in results])
    nl = [res for res in results if '\n' in res[0]]
    R.check('hostile sendmail: an address with a newline is refused (exit 100)', all(c == 100 for _, c, _ in nl), nl)


def test_dotfiles(inst, x):
    """A dot file owned by another user, and one group/world-writable: ignored."""
    other_uid = x.other_uid
    if other_uid is None:
        R.skip('dot file owned by another user', 'needs root (another user)')
    for name, uid, gid, owner, mode in (
            ('dotother', x.u1[1], x.u1[2], other_uid, 0o644) if other_uid is not None else (None,) * 5,
            ('dotworld', x.u2[1], x.u2[2], None, 0o666),
            ('dotgroup', x.u3[1], x.u3[2], None, 0o620)):
        if name is None:
            continue
        home = x.homes[name]
        r = inst.sendmail(['-f', 'demo@localhost', '%s@localhost' % name],
                          b'From: demo@localhost\nSubject: dot-%s\n\nbody\n' % name.encode())
        if r.returncode != 0:
            R.fail('dot file %s: sendmail' % name, r.stderr)
            continue
        md = os.path.join(home, 'Maildir')
        got = wait_until(lambda: with_subject(md, 'dot-' + name), 30 * SLOW)
        why = 'owned by another user' if owner is not None else 'group- or world-writable'
        R.check('dot file %s (%s): ignored, default delivery to Maildir' % (name, why), got, inst.log()[-600:])
        pat = re.compile(r'^ok msg=\S+ d=\S+ to=<%s@localhost> .*ignored \.qmail \(%s\)' % (name, re.escape(why)), re.M)
        R.check('dot file %s: the log says it was ignored' % name,
                wait_until(lambda: pat.search(inst.log()), 10 * SLOW), inst.log()[-600:])
        R.check('dot file %s: its program never ran' % name, not os.listdir(x.canary_out), os.listdir(x.canary_out))


def test_injection(inst, x):
    """Header injection through sendmail's arguments."""
    spy = inst.maildir('spy')
    cases = [
        ('-f CRLF', ['-f', 'demo@localhost\r\nBcc: spy@localhost', 'victim@localhost']),
        ('-f LF', ['-f', 'demo@localhost\nX-Injected: yes', 'victim@localhost']),
        ('-F LF', ['-f', 'demo@localhost', '-F', 'Evil\nBcc: spy@localhost\nX-Injected: yes', 'victim@localhost']),
        ('-F CRLF', ['-f', 'demo@localhost', '-F', 'Evil\r\nX-Injected: yes', 'victim@localhost']),
        ('-F CR', ['-f', 'demo@localhost', '-F', 'Evil\rX-Injected: yes', 'victim@localhost']),
        ('-F quote', ['-f', 'demo@localhost', '-F', 'Evil" <spy@localhost>, "x', 'victim@localhost']),
        ('rcpt LF', ['-f', 'demo@localhost', '--', 'victim@localhost\nX-Injected: yes']),
        ('rcpt CRLF', ['-f', 'demo@localhost', '--', 'victim@localhost\r\nBcc: spy@localhost']),
    ]
    for i, (label, args) in enumerate(cases):
        subj = 'inject-%d' % i
        r = inst.sendmail(args, b'Subject: %s\n\nbody\n' % subj.encode())
        x.inject.append((label, subj, r.returncode))
        info('injection %s: exit %d %s' % (label, r.returncode, r.stderr.decode(errors='replace').strip()))
        R.check('injection %s: refused or queued (exit 100 or 0)' % label, r.returncode in (0, 100), r.returncode)
    # let what was queued arrive, then look
    n = sum(1 for _, _, c in x.inject if c == 0)
    wait_until(lambda: sum(len(with_subject(x.victim_md, s)) for _, s, c in x.inject if c == 0) >= n, 30 * SLOW)
    for label, subj, code in x.inject:
        got = with_subject(x.victim_md, subj)
        if code == 0:
            R.check('injection %s: delivered once' % label, len(got) == 1, len(got))
        bad = []
        for m in got:
            for line in header_of(m).split(b'\n'):
                if re.match(rb'(?i)(x-injected|bcc)\s*:', line):
                    bad.append(line)
                if b'\r' in line:
                    bad.append(line)
        R.check('injection %s: no header line added' % label, not bad, bad)
        R.check('injection %s: nothing for spy' % label, not with_subject(spy, subj), 'spy got it')


def test_processes(inst, x):
    if not IS_ROOT:
        R.skip('processes', 'needs root (role users)')
        return
    send, smtpd, remote = ids('mrsend')[0], ids('mrsmtpd')[0], ids('mrremote')[0]
    mail = inst.assign_entry('demo')['uid']
    # SMTP: a session through the service, held open
    c = inst.connect(x.smtp_port)
    try:
        c.reply()
        c.cmd('EHLO who.example')
        check_uids('smtp session', inst, {'mailroom-smtpd': smtpd, 'mailroom-send': send,
                                          'mailroom-rspawn': remote, 'mailroom-lspawn': 0})
        c.cmd('QUIT')
    finally:
        c.close()
    # POP3: after login the process is mailroom-pop3d as the mailbox's owner
    p = pop3inst.Client(x.pop3_port, timeout=20)
    try:
        p.login('demo', 'demo')
        # mailroom-popup switches to the user once mailroom-pop3d tells it that it runs
        popup_user = wait_until(lambda: all(mrinst.proc_ids(q)[0] == (mail,) * 4 for q, n in instance_pids(inst).items()
                                            if n == 'mailroom-popup'), 5 * SLOW)
        seen = check_uids('pop3 session', inst, {'mailroom-pop3d': mail, 'mailroom-popup': mail})
        R.check('pop3 session: popup switched to the user, no checkpassword left',
                popup_user and 'mailroom-checkpassword' not in seen, seen)
        p.cmd(b'QUIT')
    finally:
        p.close()
    # local delivery: a program line records its parent's (mailroom-local's) ids
    home = x.homes['procu']
    r = inst.sendmail(['-f', 'demo@localhost', 'procu@localhost'], b'Subject: procu\n\nx\n')
    st = os.path.join(home, 'procstatus')
    ok = wait_until(lambda: os.path.exists(st) and open(st).read().count('\n') >= 4, 30 * SLOW)
    text = open(st).read() if ok else ''
    uid_line = re.search(r'^Uid:\s+(.*)$', text, re.M)
    uids = set(int(v) for v in uid_line.group(1).split()) if uid_line else set()
    R.check('local delivery: mailroom-local runs as the recipient', r.returncode == 0 and uids == {x.u4[1]}
            and text.rstrip().endswith('/bin/mailroom-local'), text)
    # remote delivery: a peer that never greets holds mailroom-remote
    srv = smtpfake.Server(x.peer_ip, x.peer_port, greeting='@silent')
    srv.start()
    try:
        r = inst.sendmail(['-f', 'demo@localhost', 'someone@remote.example'], b'Subject: remote\n\nx\n')
        ok = wait_until(lambda: 'mailroom-remote' in instance_pids(inst).values(), 30 * SLOW)
        R.check('remote delivery: mailroom-remote started', ok, inst.log()[-400:])
        if ok:
            check_uids('remote delivery', inst, {'mailroom-remote': remote, 'mailroom-rspawn': remote,
                                                 'mailroom-send': send, 'mailroom-lspawn': 0})
    finally:
        srv.stop()
    # TLS: mailroom-tlsd reads the key as root, then drops to mrtlsd; its child is mrsmtpd
    port = free_port()
    tu, tg = ids('mrtlsd')
    su, sg = ids('mrsmtpd')
    inst.start_daemon(['tcpserver', '-R', '-H', '-l0', '127.0.0.1', str(port), inst.bin('mailroom-tlsd'),
                       '-u', str(tu), '-g', str(tg), '-U', str(su), '-G', str(sg), inst.bin('mailroom-smtpd')],
                      port, logname='tlsd.log')
    c = inst.connect(port)
    try:
        c.reply()
        c.cmd('EHLO who.example')
        check_uids('tls session', inst, {'mailroom-tlsd': tu, 'mailroom-smtpd': smtpd})
        c.cmd('QUIT')
    finally:
        c.close()


def test_access(inst, x):
    if not IS_ROOT:
        R.skip('role uids open nothing', 'needs root (role users)')
        return
    # a message left in queue/new too: the manager stopped, one more injected
    inst.stop()
    r = inst.sendmail(['-f', 'demo@localhost', 'demo@localhost'], b'Subject: stays in new\n\nx\n')
    R.check('access: a message waits in queue/new', r.returncode == 0 and inst.queue_files()['new'], r.stderr)
    paths = []
    q = inst.path('queue')
    paths.append(q + '/')
    for d in ('tmp', 'new', 'mess', 'info', 'lock', 'bad'):
        paths.append(os.path.join(q, d) + '/')
        for n in sorted(os.listdir(os.path.join(q, d))):
            p = os.path.join(q, d, n)
            paths.append(p + '/' if os.path.isdir(p) else p)
    nq = sum(1 for p in paths if '/mess/' in p or '/info/' in p or '/new/' in p)
    R.check('access: the queue holds messages to try (new, mess and info)', nq >= 3, paths)
    mds = [inst.maildir('demo'), x.victim_md, inst.maildir('spy')] + [os.path.join(h, 'Maildir') for h in x.homes.values()]
    for md in mds:
        paths.append(md + '/')
        for d in ('new', 'cur', 'tmp'):
            paths.append(os.path.join(md, d) + '/')
            for n in sorted(os.listdir(os.path.join(md, d)))[:3]:
                paths.append(os.path.join(md, d, n))
    paths += [inst.path('users', 'password.cdb'), inst.path('control', 'serverkey.pem')]
    probe = inst.path('probe.py')
    mrinst.write_file(probe, PROBE, 0o644)
    for role in ('mrsmtpd', 'mrremote'):
        uid, gid = ids(role)
        r = subprocess.run(['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid, '--init-groups', '--',
                            sys.executable, probe] + paths, capture_output=True, timeout=60, cwd='/')
        if r.returncode != 0:
            R.fail('access as %s' % role, r.stderr.decode(errors='replace')[-500:])
            continue
        res = json.loads(r.stdout)
        bad = ['%s %s: %s' % (p, op, v) for p, ops in res.items() for op, v in ops.items() if v != 'EACCES']
        R.check('access as %s: %d tries on %d paths, every one EACCES' % (
            role, sum(len(v) for v in res.values()), len(res)), not bad, bad[:20])


def main():
    with smtpinst.SmtpInstance(prefix='mrsec.') as inst, pop3inst.Servers() as srv:
        x = Ctx()
        x.inject = []
        canary = tempfile.mkdtemp(prefix='mrsec-canary.', dir='/tmp')
        try:
            os.chmod(canary, 0o755)
            x.canary_out = os.path.join(canary, 'out')
            os.mkdir(x.canary_out)
            os.chmod(x.canary_out, 0o1777)
            x.canary_prog = os.path.join(canary, 'prog')
            mrinst.write_file(x.canary_prog, '#!/bin/sh\ntouch %s/ran.$$\n' % x.canary_out, 0o755)
            run(inst, srv, x, canary)
        finally:
            shutil.rmtree(canary, ignore_errors=True)
    R.exit()


def run(inst, srv, x, canary):
    # users: victim (a home with .qmail-default, extensions allowed), spy (must get nothing),
    # three for the dot-file cases, one for the uid of mailroom-local
    x.homes = {}
    if IS_ROOT:
        users = [inst.system_user('mrsv') for _ in range(5)]
        x.other_uid = inst.system_user('mrso')[1]
    else:
        me = pwd.getpwuid(os.getuid())
        users = [(me.pw_name, me.pw_uid, me.pw_gid)] * 5
        x.other_uid = None
    x.victim_user = users[0][0]
    x.u1, x.u2, x.u3, x.u4 = users[1:5]
    vhome = inst.user_home('victim', users[0][1], users[0][2], user=users[0][0])
    mrinst.write_file(os.path.join(vhome, '.qmail-default'), './Maildir/\n', 0o600, users[0][1], users[0][2])
    inst.add_user('victim-', users[0][0], users[0][1], users[0][2], vhome, dash='-', wildcard=True)
    x.victim_md = os.path.join(vhome, 'Maildir')
    inst.add_mailbox('spy')
    for name, u in (('dotother', x.u1), ('dotworld', x.u2), ('dotgroup', x.u3)):
        x.homes[name] = inst.user_home(name, u[1], u[2], user=u[0])
    for name, u, owner, mode in (('dotother', x.u1, x.other_uid, 0o644), ('dotworld', x.u2, None, 0o666),
                                 ('dotgroup', x.u3, None, 0o620)):
        dot = os.path.join(x.homes[name], '.qmail')
        mrinst.write_file(dot, '|%s %s\n' % (x.canary_prog, name), mode, owner if owner is not None else u[1], u[2])
        os.chmod(dot, mode)
    x.homes['procu'] = inst.user_home(
        'procu', x.u4[1], x.u4[2], user=x.u4[0],
        dotqmail='|grep -E "^(Uid|Gid):" /proc/$PPID/status > procstatus; '
                 'grep Groups: /proc/$PPID/status >> procstatus; readlink /proc/$PPID/exe >> procstatus\n./Maildir/\n')
    # remote.example goes to a loopback peer the test runs (the uid check); the rest nowhere
    x.peer_ip = '127.%d.%d.%d' % (random.randint(1, 254), random.randint(1, 254), random.randint(2, 254))
    x.peer_port = free_port()
    inst.control('smtproutes', 'remote.example:[%s]:%d' % (x.peer_ip, x.peer_port))
    inst.control('timeoutremote', '5')
    inst.control('timeoutconnect', '5')
    x.smtp_port, x.pop3_port = free_port(), free_port()
    env = mrinst._make_env()
    env.update(SMTP_PORT=str(x.smtp_port), POP3_PORT=str(x.pop3_port),
               SUBMISSION_PORT=str(free_port()), POP3S_PORT=str(free_port()))
    r = subprocess.run(['bash', os.path.join(mrinst.CHECKOUT, 'lib/sh/setup.sh'), inst.home, inst.build],
                       env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError('setup.sh: %s' % (r.stdout + r.stderr).decode(errors='replace')[-1500:])
    inst.service_port = x.smtp_port
    inst.start()
    inst.start_service(x.smtp_port)
    srv.service(inst, x.pop3_port)

    R.run('relay', test_relay, inst, x)

    before = snapshot(inst.home, skip_changing)
    canary_before = snapshot(canary, lambda rel: False)
    R.run('hostile smtp', test_hostile_smtp, inst, x)
    R.run('hostile sendmail', test_hostile_sendmail, inst, x)
    R.run('dot files', test_dotfiles, inst, x)
    R.run('injection', test_injection, inst, x)
    # every hostile message is delivered or bounced (bounces go to demo) before we look
    empty = inst.wait_queue_empty(60 * SLOW)
    R.check('hostile: the queue empties (each delivered or bounced)', empty, inst.queue_files())
    after = snapshot(inst.home, skip_changing)
    d = diff(before, after)
    R.check('hostile: nothing written in the instance outside Maildirs', not d, d[:20])
    R.check('hostile: no program ran (canary)', not os.listdir(x.canary_out) and
            not diff(canary_before, snapshot(canary, lambda rel: False)), os.listdir(x.canary_out))
    hits = names_with(TOKEN, [inst.home, canary])
    R.check('hostile: no file named after a hostile address anywhere', not hits, hits)
    log = inst.log()
    R.check('hostile: send log shows the deliveries and refusals',
            re.search(r'^ok msg=\S+ d=\S+ to=<victim-', log, re.M) and re.search(r'^fail msg=', log, re.M), log[-500:])
    stray = [m for m in messages(x.victim_md) if b'hostile' in m and re.search(rb'^Delivered-To: (?!victim)', m, re.M)]
    R.check('hostile: each victim delivery names victim', not stray, stray[:1])

    R.run('processes', test_processes, inst, x)
    R.run('access', test_access, inst, x)


main()
