"""The POP3 side end to end (issue 5): mailroom-popup, mailroom-checkpassword and
mailroom-pop3d under the instance's own tcpserver service, with a raw client: login
failures and their delay and cap, hostile names, a missing home, overlong lines, UPDATE
only at QUIT, [IN-USE], UIDL stability, new/ to cur/, pipelining, the user's uid, RETR
latency (Nagle), and STAT on a Maildir of 100,000 messages."""

import grp
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import pop3inst  # noqa: E402
from pop3inst import Client  # noqa: E402

R = mrinst.Results()
BIG = int(os.environ.get('POP3_BIG', '100000'))


def setup_checks(inst, port):
    run = mrinst.read_file(inst.path('service', 'pop3d', 'run')).decode()
    R.check('setup service run script', 'tcpserver' in run and ' %d ' % port in run and 'mailroom-popup' in run, run)
    banner = mrinst.read_file(inst.path('service', 'pop3d', 'banner')).decode().strip()
    R.check('setup banner', banner == 'POP3: 127.0.0.1:%d (user demo, password demo)' % port, banner)
    lst = pop3inst.passwd(inst, ['list']).stdout.decode()
    R.check('setup demo in users/password.cdb', lst.startswith('demo ') and inst.path('mail', 'demo') in lst, lst)
    st = os.stat(inst.path('users', 'password.cdb'))
    mode = st.st_mode & 0o777
    if mrinst.IS_ROOT:
        # group mrauth: the SMTP AUTH verifier (mailroom-tlsd -v/-V) reads it, mrsmtpd never
        gid = grp.getgrnam('mrauth').gr_gid
        R.check('setup password.cdb root:mrauth 0640', mode == 0o640 and st.st_uid == 0 and st.st_gid == gid,
                '%s %d:%d' % (oct(mode), st.st_uid, st.st_gid))
    else:
        R.check('setup password.cdb mode 0600', mode == 0o600, oct(mode))


def auth_failures(inst, port, fast_port):
    md = inst.maildir('demo')
    before = pop3inst.listing(md)
    mtimes = [os.stat(os.path.join(md, d)).st_mtime_ns for d in ('', 'new', 'cur')]
    c = Client(port)
    R.check('greeting', c.greeting.startswith(b'+OK') and c.greeting.endswith(b'\r\n'), c.greeting)
    c.cmd(b'USER demo')
    t0 = time.monotonic()
    r = c.cmd(b'PASS wrong')
    el = time.monotonic() - t0
    R.check('wrong password: -ERR [AUTH]', r.startswith(b'-ERR [AUTH]'), r)
    R.check('wrong password: after the 2 s delay', el >= 1.9, '%.2f s' % el)
    mrinst.info('wrong password answered after %.2f s' % el)
    r = c.cmd(b'STAT')
    R.check('no STAT before login', r.startswith(b'-ERR'), r)
    r = c.cmd(b'PASS demo')
    R.check('PASS without USER after a failure', r.startswith(b'-ERR'), r)
    c.close()
    R.check('wrong password: mailbox untouched', pop3inst.listing(md) == before and not os.path.exists(os.path.join(md, 'mailroom-pop3d.lock'))
            and mtimes == [os.stat(os.path.join(md, d)).st_mtime_ns for d in ('', 'new', 'cur')], 'the Maildir changed')

    # ten failures end the connection (a server with a 0.1 s delay, to keep the test short)
    c = Client(fast_port)
    answers = []
    for i in range(10):
        c.cmd(b'USER demo')
        answers.append(c.cmd(b'PASS nope%d' % i))
    R.check('10 failures: each -ERR [AUTH]', all(a.startswith(b'-ERR [AUTH]') for a in answers), answers)
    R.check('10 failures: the last says closing', b'closing' in answers[-1], answers[-1])
    R.check('10 failures: connection closed', c.closed(), 'still open')
    c.close()
    c = Client(fast_port)
    answers = [c.cmd(b'USER a/b') for _ in range(10)]
    R.check('10 invalid names also close', all(a.startswith(b'-ERR [AUTH]') for a in answers) and c.closed(), answers)
    c.close()


def hostile(inst, port):
    md = inst.maildir('demo')
    before = pop3inst.listing(md)
    c = Client(port)
    for label, name in (('../', b'../demo'), ('/', b'/etc/passwd'), ('NUL', b'de\0mo'), ('..', b'..'), ('space', b'de mo')):
        r = c.cmd(b'USER ' + name)
        R.check('hostile user name %s refused' % label, r.startswith(b'-ERR [AUTH] invalid user name'), r)
    r = c.cmd(b'USER demo')
    r = c.cmd(b'PASS de\0mo')
    R.check('password with NUL refused', r.startswith(b'-ERR [AUTH]'), r)
    c.close()
    R.check('hostile names: mailbox untouched', pop3inst.listing(md) == before, 'changed')

    # a 10,000-byte line, in each state; the server goes on serving
    c = Client(port)
    r = c.cmd(b'USER ' + b'x' * 10000)
    R.check('10000-byte line before login refused', r.startswith(b'-ERR') and b'too long' in r, r)
    R.check('10000-byte line before login: closed', c.closed(), 'still open')
    c.close()
    c = Client(port)
    c.login('demo', 'demo')
    r = c.cmd(b'LIST ' + b'1' * 10000)
    R.check('10000-byte line after login refused', r.startswith(b'-ERR') and b'too long' in r, r)
    R.check('10000-byte line after login: closed', c.closed(), 'still open')
    c.close()
    c = Client(port)
    c.login('demo', 'demo')
    R.check('server alive after long lines', c.cmd(b'NOOP') == b'+OK\r\n', 'no +OK')
    c.cmd(b'QUIT')
    c.close()

    # mailroom-pop3d's own argument: absolute, .., missing Maildir
    uid, gid = pop3inst.mailbox_owner(inst)
    for label, arg, want in (('absolute', '/tmp', b'invalid mailbox path'), ('..', '../demo/Maildir', b'invalid mailbox path'),
                             ('missing', 'NoSuchMaildir', b'has no Maildir')):
        r = subprocess.run(inst.as_user(uid, gid) + [inst.bin('mailroom-pop3d'), arg], cwd=inst.path('mail', 'demo'),
                           input=b'', capture_output=True, timeout=30)
        R.check('pop3d refuses a %s Maildir path' % label, r.returncode == 100 and r.stdout.startswith(b'-ERR [SYS/PERM]') and want in r.stdout,
                (r.returncode, r.stdout, r.stderr))
    if pop3inst.IS_ROOT:
        r = subprocess.run([inst.bin('mailroom-pop3d'), 'Maildir'], cwd=inst.path('mail', 'demo'), input=b'', capture_output=True, timeout=30)
        R.check('pop3d refuses root', r.returncode == 100 and b'root' in r.stdout, r.stdout)

    # a user whose home is missing, and one without a Maildir
    pop3inst.passwd(inst, ['-6', '-u', str(uid), '-g', str(gid), '-d', inst.path('mail', 'ghost'), 'add', 'ghost'], 'boo')
    c = Client(port)
    c.cmd(b'USER ghost')
    r = c.cmd(b'PASS boo')
    R.check('missing home: clear error', r.startswith(b'-ERR [SYS/PERM]') and b'home folder is missing' in r, r)
    R.check('missing home: one line, then closed', c.closed(), 'more')
    c.close()
    os.makedirs(inst.path('mail', 'ghost'))
    if pop3inst.IS_ROOT:
        os.chown(inst.path('mail', 'ghost'), uid, gid)
    c = Client(port)
    c.cmd(b'USER ghost')
    r = c.cmd(b'PASS boo')
    R.check('home without Maildir: clear error', r.startswith(b'-ERR [SYS/PERM]') and b'no Maildir' in r, r)
    c.close()
    for label, home in (('relative', 'mail/x'), ('..', inst.path('mail', '..', 'x'))):
        r = pop3inst.passwd(inst, ['-u', str(uid), '-g', str(gid), '-d', home, 'add', 'bad'], 'x', check=False)
        R.check('passwd refuses a %s home' % label, r.returncode == 100 and b'home' in r.stderr, r.stderr)
    r = pop3inst.passwd(inst, ['-u', '0', '-g', '0', '-d', '/root', 'add', 'rootish'], 'x', check=False)
    R.check('passwd refuses uid 0', r.returncode == 100, r.stderr)
    r = pop3inst.passwd(inst, ['-d', '/x', 'add', '../evil'], 'x', check=False)
    R.check('passwd refuses a hostile name', r.returncode == 100, r.stderr)


def passwd_ops(inst, port):
    def login(user, password):
        c = Client(port)
        c.cmd(b'USER ' + user.encode())
        r = c.cmd(b'PASS ' + password.encode())
        c.cmd(b'QUIT')
        c.close()
        return r.startswith(b'+OK')

    pop3inst.add_pop_user(inst, 'pwu', 'first one')
    R.check('passwd add: login', login('pwu', 'first one'), '')
    r = pop3inst.passwd(inst, ['add', 'pwu'], 'x', check=False)
    R.check('passwd add twice refused', r.returncode == 100 and b'exists' in r.stderr, r.stderr)
    pop3inst.passwd(inst, ['change', 'pwu'], 'second one')
    R.check('passwd change: the new password works', login('pwu', 'second one'), '')
    R.check('passwd change: the old one does not', not login('pwu', 'first one'), '')
    pop3inst.passwd(inst, ['-k', '-d', inst.path('mail', 'elsewhere'), 'change', 'pwu'])
    lst = pop3inst.passwd(inst, ['list']).stdout.decode()
    R.check('passwd change -k -d: new home listed', 'pwu ' in lst and inst.path('mail', 'elsewhere') in lst and 'second' not in lst and '$' not in lst, lst)
    pop3inst.passwd(inst, ['remove', 'pwu'])
    R.check('passwd remove: login refused', not login('pwu', 'second one'), '')
    r = pop3inst.passwd(inst, ['remove', 'pwu'], check=False)
    R.check('passwd remove unknown: 100', r.returncode == 100, r.stderr)
    R.check('passwd: demo kept through the rewrites', login('demo', 'demo'), '')
    r = pop3inst.passwd(inst, ['-u', '5', '-g', '5', '-d', '/x', 'add', 'nopass'], '', check=False)
    R.check('passwd refuses an empty password', r.returncode == 100 and b'empty' in r.stderr, r.stderr)
    R.check('passwd leaves no tmp file', not os.path.exists(inst.path('users', 'password.cdb.tmp')), '')


def update_semantics(inst, port):
    md = pop3inst.add_pop_user(inst, 'upd', 'pw')
    for i in range(4):
        pop3inst.put_message(md, '17000000%02d.M1P1Q%d.host' % (i, i), b'Subject: m%d\n\nbody %d\n' % (i, i), mtime=1700000000 + i)
    c = Client(port)
    c.login('upd', 'pw')
    uidl1 = c.cmd(b'UIDL') and c.multi()
    r = c.cmd(b'DELE 1')
    R.check('DELE answers +OK', r.startswith(b'+OK'), r)
    R.check('DELE again is -ERR', c.cmd(b'DELE 1').startswith(b'-ERR'), '')
    R.check('STAT leaves the deleted out', c.cmd(b'STAT').startswith(b'+OK 3 '), '')
    c.close()  # dropped, no QUIT
    time.sleep(0.3)
    R.check('DELE then dropped connection: nothing removed', len(pop3inst.listing(md)['new']) == 4, pop3inst.listing(md))

    c = Client(port)
    c.login('upd', 'pw')
    uidl2 = c.cmd(b'UIDL') and c.multi()
    R.check('UIDL stable across sessions', uidl1 == uidl2 and len(uidl1) == 4, (uidl1, uidl2))
    c.cmd(b'DELE 2')
    r = c.cmd(b'RSET')
    R.check('RSET answers +OK', r.startswith(b'+OK'), r)
    R.check('RSET undoes DELE', c.cmd(b'STAT').startswith(b'+OK 4 '), '')
    c.cmd(b'DELE 1')
    r = c.cmd(b'QUIT')
    R.check('QUIT answers +OK', r.startswith(b'+OK'), r)
    R.check('QUIT closes', c.closed(), 'open')
    c.close()
    lst = pop3inst.listing(md)
    R.check('DELE then QUIT: removed', lst['new'] == [] and len(lst['cur']) == 3 and not any(n.startswith('1700000000.') for n in lst['cur']), lst)
    R.check('QUIT moved new/ to cur/ with :2,', all(n.endswith(':2,') for n in lst['cur']), lst)

    c = Client(port)
    c.login('upd', 'pw')
    uidl3 = c.cmd(b'UIDL') and c.multi()
    R.check('UIDL unchanged by the move to cur/', uidl3 == [b'%d ' % (i + 1) + ln.split(b' ', 1)[1] for i, ln in enumerate(uidl2[1:])], (uidl2, uidl3))
    c2 = Client(port)
    c2.cmd(b'USER upd')
    r = c2.cmd(b'PASS pw')
    R.check('second session gets -ERR [IN-USE]', r.startswith(b'-ERR [IN-USE]'), r)
    c2.close()
    R.check('first session unharmed by the second', c.cmd(b'STAT').startswith(b'+OK 3 '), '')
    c.cmd(b'QUIT')
    c.close()
    c2 = Client(port)
    R.check('after QUIT the mailbox opens again', c2.login('upd', 'pw').startswith(b'+OK'), '')
    c2.cmd(b'QUIT')
    c2.close()

    # pipelining: every command of a session in one write, the answers in order
    c = Client(port)
    c.send(b'CAPA\r\nUSER upd\r\nPASS pw\r\nSTAT\r\nLIST 1\r\nTOP 1 0\r\nNOOP\r\nQUIT\r\n')
    caps = c.multi() if c.line().startswith(b'+OK') else []
    got = [c.line(), c.line(), c.line(), c.line()]
    top = c.multi()
    got += [c.line(), c.line()]
    R.check('CAPA before login', b'USER\r\n' in caps and b'PIPELINING\r\n' in caps and b'RESP-CODES\r\n' in caps, caps)
    R.check('pipelined session', [g[:3] for g in got] == [b'+OK'] * 6 and got[2].startswith(b'+OK 3 ') and top[-1] == b'\r\n', (got, top))
    c.close()


def user_uid(inst, port):
    if not pop3inst.IS_ROOT:
        R.skip('pop3d runs as the user', 'needs root')
        return
    uid, gid = pop3inst.mailbox_owner(inst)
    c = Client(port)
    c.login('demo', 'demo')
    deadline = time.monotonic() + 3
    while True:  # sessions of the tests before may still be ending
        pids = pop3inst.procs_running(inst.bin('mailroom-pop3d'))
        if len(pids) <= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    ids = [mrinst.proc_ids(p) for p in pids]
    R.check('pop3d runs as the user (uid and gid)', len(ids) == 1 and ids[0][0] == (uid,) * 4 and ids[0][1] == (gid,) * 4 and uid != 0, ids)
    # once mailroom-pop3d runs, mailroom-popup leaves root for the user (MAILROOM_POPUPFD)
    deadline = time.monotonic() + 5
    while True:
        pops = [mrinst.proc_ids(p)[0] for p in pop3inst.procs_running(inst.bin('mailroom-popup'))]
        if pops == [(uid,) * 4] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    R.check('popup waits as the user, not root', pops == [(uid,) * 4], pops)
    c.cmd(b'QUIT')
    c.close()


def latency(inst, port):
    md = pop3inst.add_pop_user(inst, 'lat', 'pw')
    n = 50
    for i in range(n):
        pop3inst.put_message(md, '1700001%03d.M1P1Q%d.host' % (i, i), b'Subject: small %d\n\n' % i + b'x' * 300 + b'\n', mtime=1700001000 + i)
    c = Client(port)
    c.login('lat', 'pw')
    times = []
    for i in range(1, n + 1):
        t0 = time.monotonic()
        r = c.cmd(b'RETR %d' % i)
        body = c.multi()
        times.append(time.monotonic() - t0)
        if not r.startswith(b'+OK') or len(body) != 3:
            R.fail('RETR latency', 'bad answer %r' % r)
            return
    c.cmd(b'QUIT')
    c.close()
    mean = sum(times) / n * 1000
    median = sorted(times)[n // 2] * 1000
    worst = max(times) * 1000
    mrinst.info('RETR latency under tcpserver: median %.2f ms, mean %.2f ms, worst %.2f ms over %d RETRs (qmail-pop3d: ~44 ms each)'
                % (median, mean, worst, n))
    # A Nagle stall costs a delayed ACK (~40 ms) on every RETR; a busy machine only adds outliers.
    R.check('RETR latency well under 44 ms (no Nagle stall)', median < 10 and mean < 20, 'median %.2f ms mean %.2f ms' % (median, mean))


def big_mailbox(inst, port):
    md = pop3inst.add_pop_user(inst, 'big', 'pw')
    uid, gid = pop3inst.mailbox_owner(inst)
    t0 = time.monotonic()
    body = b'Subject: bulk\n\nhello\n'
    new = os.path.join(md, 'new')
    for i in range(BIG):
        # named as mailroom-local names them (,S= on disk, ,W= with CRLF): listed without a read
        fd = os.open('%s/%d.M%dP1Q1.host,S=%d,W=%d' % (new, 1600000000 + i, i, len(body), len(body) + body.count(b'\n')),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, body)
        os.close(fd)
    if pop3inst.IS_ROOT:
        subprocess.run(['chown', '-R', '%d:%d' % (uid, gid), md], check=True, timeout=120)
    mrinst.info('made %d messages in %.1f s' % (BIG, time.monotonic() - t0))
    try:
        for attempt in ('first', 'second'):  # the first warms the caches the writing left cold
            t0 = time.monotonic()
            c = Client(port, timeout=30)
            c.cmd(b'USER big')
            t1 = time.monotonic()
            r = c.cmd(b'PASS pw')
            r2 = c.cmd(b'STAT')
            t2 = time.monotonic()
            mrinst.info('100k, %s session: PASS to STAT answered %.3f s (listing the Maildir), from connect %.3f s' % (attempt, t2 - t1, t2 - t0))
            if attempt == 'first':
                R.check('100k: login', r.startswith(b'+OK %d messages' % BIG), r)
                R.check('100k: STAT counts them', r2 == b'+OK %d %d\r\n' % (BIG, BIG * (len(body) + body.count(b'\n'))), r2)
                c.close()  # no QUIT: nothing moves
                continue
            R.check('100k: STAT answered within a second of PASS%s' % (' (x%d: sanitizer build)' % mrinst.SLOW if mrinst.SLOW > 1 else ''),
                    t2 - t1 < 1.0 * mrinst.SLOW, '%.3f s' % (t2 - t1))
            t3 = time.monotonic()
            c.cmd(b'UIDL')
            lines = c.multi()
            mrinst.info('100k: UIDL listing %.3f s' % (time.monotonic() - t3))
            R.check('100k: UIDL all unique', len(lines) == BIG and len(set(ln.split()[1] for ln in lines)) == BIG, len(lines))
            c.close()
        time.sleep(0.2)
        R.check('100k: dropped sessions moved nothing', len(os.listdir(new)) == BIG, '')
    finally:
        t0 = time.monotonic()
        shutil.rmtree(md, ignore_errors=True)
        mrinst.info('removed in %.1f s' % (time.monotonic() - t0))


def main():
    port = pop3inst.free_port()
    os.environ['POP3_PORT'] = str(port)  # read by lib/sh/setup.d/pop3d.sh in the instance's set-up
    with mrinst.Instance('mrtest.pop3.') as inst, pop3inst.Servers() as srv:
        R.run('setup', setup_checks, inst, port)
        srv.service(inst, port)
        fast = pop3inst.free_port()
        srv.tcpserver(inst, fast, popup_args=['-d', '100'], log='pop3-fast.log')
        for label, fn, args in (('auth failures', auth_failures, (inst, port, fast)), ('hostile', hostile, (inst, port)),
                                ('passwd', passwd_ops, (inst, port)), ('update', update_semantics, (inst, port)), ('uid', user_uid, (inst, port)),
                                ('latency', latency, (inst, port)), ('100k', big_mailbox, (inst, port))):
            R.run(label, fn, *args)
        log = mrinst.read_file(inst.path('pop3-service.log')).decode(errors='replace')
        R.check('no password in the log', 'wrong' not in log and 'nope' not in log and 'boo' not in log.replace('boot', ''), log[-500:])
        R.check('failed logins are logged', 'authorization failed for demo' in log, log[-500:])
        R.check('no sanitizer report in the log (SANITIZE=1 builds)', 'runtime error' not in log and 'AddressSanitizer' not in log, log[-800:])
    R.exit()


if __name__ == '__main__':
    try:
        socket.setdefaulttimeout(30)
        main()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        R.fail('test_pop3', 'exception %s: %s' % (type(e).__name__, e))
        R.exit()
