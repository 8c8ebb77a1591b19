"""Disk full (issue 7, part 2): the queue and a Maildir each on a small tmpfs of their own
that fills up, by blocks and by inodes.

- SMTP (tcpserver + mailroom-smtpd, python's smtplib) answers 4xx, never 250, for a message
  the queue could not store; sendmail exits 111 with a clear message; nothing half-written
  stays in queue/tmp or queue/new.
- A queue that fills while messages arrive: every message that got 250 is delivered exactly
  once after space is freed, none that got 4xx is; mailroom-send survives a full queue.
- Local delivery to a full Maildir defers (the message stays queued, send's log says why, no
  file left in the Maildir's tmp/ or new/), and delivers once when space is freed.

Needs root (mount); as another user every case is a SKIP. Every mount is undone at the end,
on failure too.
"""

import os
import random
import re
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402
import smtpinst  # noqa: E402
from mrinst import IS_ROOT, QUEUE_DIRS, info, wait_until  # noqa: E402

R = mrinst.Results()
SLOW = mrinst.SLOW
QUEUE_SIZE = '6m'      # the queue's tmpfs
QUEUE_INODES = 400
MD_SIZE = '2m'         # the full mailbox's tmpfs
MD_INODES = 100


def sh(argv, timeout=30):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


def mount_tmpfs(path, size, inodes):
    r = sh(['mount', '-t', 'tmpfs', '-o', 'size=%s,nr_inodes=%d,mode=0700' % (size, inodes), 'tmpfs', path])
    if r.returncode != 0:
        raise RuntimeError('mount tmpfs on %s: %s' % (path, r.stderr.decode(errors='replace')))


def umount(path):
    for args in (['umount', path], ['umount', '-l', path]):
        if sh(args).returncode == 0:
            return True
    return False


def fill_blocks(path):
    """Writes path until the file system is full (ENOSPC). Returns bytes written."""
    n = 0
    with open(path, 'ab', buffering=0) as f:
        for chunk in (1 << 20, 4096, 512):
            buf = b'x' * chunk
            for _ in range(100000):
                try:
                    f.write(buf)
                    n += chunk
                except OSError:
                    break
    return n


def fill_inodes(folder):
    """Creates empty files in folder until no inode is left. Returns how many."""
    os.makedirs(folder, exist_ok=True)
    n = 0
    for i in range(200000):
        try:
            os.close(os.open(os.path.join(folder, 'i%d' % i), os.O_CREAT | os.O_WRONLY, 0o600))
            n += 1
        except OSError:
            break
    return n


def rm_rf(path):
    subprocess.run(['rm', '-rf', path], timeout=60)


def statfs_free(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize, st.f_favail


def message(token, size=0):
    body = ('x' * 70 + '\r\n') * (size // 72)
    return ('From: tester@example.org\r\nTo: full@localhost\r\nSubject: %s\r\n\r\n%s\r\n%s' % (
        token, token, body)).encode()


def smtp_send(port, token, size=0, rcpt='full@localhost'):
    """(code, text) of the whole transaction: 250 or the first error."""
    try:
        with smtplib.SMTP('127.0.0.1', port, timeout=60 * SLOW) as c:
            c.ehlo('df.example')
            c.sendmail('tester@example.org', [rcpt], message(token, size))
            return 250, ''
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error.decode(errors='replace')
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return code, text.decode(errors='replace')
    except (smtplib.SMTPException, OSError) as e:
        return -1, repr(e)


def tokens_in(maildir):
    """{token: copies} over the files of maildir/new and cur."""
    out = {}
    for sub in ('new', 'cur'):
        d = os.path.join(maildir, sub)
        for n in os.listdir(d):
            with open(os.path.join(d, n), 'rb') as f:
                m = re.search(rb'^Subject: (dftok\S+)', f.read(), re.M)
            if m:
                t = m.group(1).decode()
                out[t] = out.get(t, 0) + 1
    return out


def queue_leftovers(inst):
    q = inst.queue_files()
    return {d: q[d] for d in ('tmp', 'new') if q[d]}



def sendmail_check(inst, label):
    tok = 'dftok-sm-%s' % label.replace(' ', '-')
    r = inst.sendmail(['full@localhost'], message(tok, 20000).replace(b'\r\n', b'\n'))
    err = r.stderr.decode(errors='replace').strip()
    info('%s: sendmail said: %s' % (label, err))
    R.check('%s: sendmail exits 111' % label, r.returncode == 111, 'exit %d: %s' % (r.returncode, err))
    R.check('%s: sendmail says why' % label, re.search(r'disk full', err, re.I) is not None, err)
    return tok


def test_queue_full(inst, port, qdir):
    """The queue's blocks, then its inodes, run out: 4xx, 111, nothing left behind."""
    rejected = []
    # the first message's files must be gone first: their removal would free space
    R.check('queue full: the queue is empty before it is filled', inst.wait_queue_empty(30 * SLOW, QUEUE_DIRS),
            inst.queue_files())
    filler = os.path.join(qdir, '.filler')
    for size, what in ((0, 'small'), (200000, '200 KB')):
        fill_blocks(filler)
        free, _ = statfs_free(qdir)
        info('queue full: %d bytes free' % free)
        tok = 'dftok-blk-%s' % what.replace(' ', '')
        code, text = smtp_send(port, tok, size)
        R.check('queue full (blocks): SMTP 452 4.3.1 for a %s message' % what, code == 452 and text.startswith('4.3.1 '),
                '%s %s' % (code, text))
        rejected.append(tok)
    rejected.append(sendmail_check(inst, 'queue full (blocks)'))
    R.check('queue full (blocks): nothing left in queue/tmp or queue/new', not queue_leftovers(inst), queue_leftovers(inst))
    os.unlink(filler)

    fill = os.path.join(qdir, '.fillinodes')
    n = fill_inodes(fill)
    info('queue full: %d inodes used by the filler' % n)
    tok = 'dftok-ino'
    code, text = smtp_send(port, tok, 1000)
    R.check('queue full (inodes): SMTP 452 4.3.1', code == 452 and text.startswith('4.3.1 '), '%s %s' % (code, text))
    rejected.append(tok)
    rejected.append(sendmail_check(inst, 'queue full (inodes)'))
    R.check('queue full (inodes): nothing left in queue/tmp or queue/new', not queue_leftovers(inst), queue_leftovers(inst))
    rm_rf(fill)

    tok = 'dftok-after'
    code, text = smtp_send(port, tok, 1000)
    R.check('queue freed: SMTP 250 again', code == 250, '%s %s' % (code, text))
    return rejected, ([tok] if code == 250 else [])


def test_queue_fills(inst, port, qdir):
    """Messages arrive while the queue fills (manager stopped, so nothing drains it); the
    manager then starts on the full queue; space is freed; the accepted ones all arrive."""
    inst.stop()
    filler = os.path.join(qdir, '.filler')
    fill_blocks(filler)
    # leave room for a few messages of 60 KB: free 400 KB of the filler
    os.truncate(filler, max(0, os.path.getsize(filler) - 400 * 1024))
    accepted, rejected, odd = [], [], []
    for i in range(14):
        tok = 'dftok-fill%02d' % i
        code, text = smtp_send(port, tok, 60000)
        if code == 250:
            accepted.append(tok)
        elif 400 <= code < 500:
            rejected.append(tok)
        else:
            odd.append((tok, code, text))
    info('filling queue: %d accepted, %d refused 4xx' % (len(accepted), len(rejected)))
    R.check('filling queue: every answer 250 or 4xx', not odd, odd)
    R.check('filling queue: some accepted, then 4xx', accepted and rejected, (accepted, rejected))
    R.check('filling queue: nothing half-written in queue/tmp', not inst.queue_files()['tmp'], inst.queue_files())
    # the manager starts on a queue with no space for its info files
    fill_blocks(filler + '2')
    inst.start(ready_timeout=10.0 * SLOW)
    time.sleep(2.0)
    R.check('full queue: mailroom-send keeps running', inst.running(), inst.log()[-600:])
    os.unlink(filler)
    os.unlink(filler + '2')
    if inst.running():
        os.kill(inst.send.pid, 14)  # SIGALRM: retry now
    else:
        inst.start(ready_timeout=10.0 * SLOW)
    return rejected, accepted


def test_maildir_full(inst, mdir, kind):
    """Local delivery into a full Maildir defers, leaves no file, then delivers once."""
    before = set(os.listdir(os.path.join(mdir, 'new')))
    if kind == 'blocks':
        fill_blocks(os.path.join(mdir, '.filler'))
    else:
        fill_inodes(os.path.join(mdir, '.fillinodes'))
    tok = 'dftok-md-%s' % kind
    r = inst.sendmail(['full@localhost'], message(tok, 30000).replace(b'\r\n', b'\n'))
    R.check('maildir full (%s): sendmail accepted it' % kind, r.returncode == 0, r.stderr)
    pat = re.compile(r'^defer msg=(\S+) d=\S+ to=<full@localhost> .*text="([^"]*)"', re.M)

    def deferred():
        return [m for m in pat.finditer(inst.log()) if 'no space' in m.group(2)]
    got = wait_until(deferred, 30 * SLOW)
    R.check('maildir full (%s): delivery deferred, the log says why' % kind, got,
            inst.log()[-800:])
    left = {d: os.listdir(os.path.join(mdir, d)) for d in ('tmp', 'new')}
    R.check('maildir full (%s): no file left in the Maildir' % kind,
            not left['tmp'] and set(left['new']) == before, left)
    q = inst.queue_files()
    R.check('maildir full (%s): the message stays queued' % kind, len(q['mess']) >= 1, q)
    rm_rf(os.path.join(mdir, '.filler'))
    rm_rf(os.path.join(mdir, '.fillinodes'))
    os.kill(inst.send.pid, 14)  # SIGALRM: retry now
    return tok


def main():
    if not IS_ROOT:
        for c in ('queue full', 'queue fills', 'maildir full', 'nothing lost'):
            R.skip(c, 'needs root (mounts a tmpfs)')
        R.exit()
    mounts = []
    with smtpinst.SmtpInstance(prefix='mrdf.') as inst:
        try:
            qdir = inst.path('queue')
            mount_tmpfs(qdir, QUEUE_SIZE, QUEUE_INODES)
            mounts.append(qdir)
            port = smtpinst.free_port()
            inst.setup_smtpd(port)  # lays the queue tree out again on the new file system
            mdir = inst.add_mailbox('full')
            mount_tmpfs(mdir, MD_SIZE, MD_INODES)
            mounts.append(mdir)
            d = inst.assign_entry('demo')
            mrinst.make_maildir(mdir, d['uid'], d['gid'])
            R.check('setup: the queue is a file system of its own',
                    os.stat(qdir).st_dev != os.stat(inst.home).st_dev and os.stat(qdir).st_uid != 0)
            inst.start(ready_timeout=10.0 * SLOW)
            inst.start_service(port)
            code, text = smtp_send(port, 'dftok-first', 1000)
            R.check('setup: a first message is accepted', code == 250, '%s %s' % (code, text))
            expect = {'dftok-first'} if code == 250 else set()
            never = set()

            rej, acc = R.run('queue full', test_queue_full, inst, port, qdir) or ([], [])
            never |= set(rej)
            expect |= set(acc)
            rej, acc = R.run('queue fills', test_queue_fills, inst, port, qdir) or ([], [])
            never |= set(rej)
            expect |= set(acc)
            ok = wait_until(lambda: set(tokens_in(mdir)) >= expect and inst.wait_queue_empty(0), 60 * SLOW)
            R.check('queue freed: every accepted message delivered', ok,
                    'missing %s' % sorted(expect - set(tokens_in(mdir))))
            inst.ensure_running()
            for kind in ('blocks', 'inodes'):
                tok = R.run('maildir full (%s)' % kind, test_maildir_full, inst, mdir, kind)
                if tok:
                    expect.add(tok)
                    ok = wait_until(lambda: tok in tokens_in(mdir) and inst.wait_queue_empty(0), 30 * SLOW)
                    R.check('maildir freed (%s): the message delivered' % kind, ok, inst.log()[-600:])

            got = tokens_in(mdir)
            R.check('nothing lost: every accepted message delivered', set(got) >= expect,
                    'missing %s' % sorted(expect - set(got)))
            R.check('nothing extra: no refused message delivered', not (set(got) & never),
                    sorted(set(got) & never))
            dups = {t: n for t, n in got.items() if n > 1}
            R.check('no duplicates', not dups, dups)
            q = inst.queue_files()
            R.check('queue empty at the end, queue/tmp cleaned', not any(q.values()), q)
            R.check('maildir tmp/ empty at the end', not os.listdir(os.path.join(mdir, 'tmp')))
            info('delivered %d messages; refused %d' % (len(got), len(never)))
        finally:
            for p in list(inst.services):
                inst.stop_service(p)
            try:
                inst.stop()
            except Exception:  # noqa: BLE001 - unmount anyway
                pass
            for m in reversed(mounts):
                if not umount(m):
                    R.fail('cleanup: umount %s' % m, 'still mounted')
    R.exit()


main()
