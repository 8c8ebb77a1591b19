"""mrinst: a throw-away mailroom instance for integration tests.

    import mrinst
    R = mrinst.Results()
    with mrinst.Instance() as inst:
        inst.start()
        inst.sendmail(['demo@localhost'], b'body\n')
        n, secs = inst.wait_for(1, 2.0)
        R.check('delivered', n == 1, 'got %d' % n)
    R.exit()

Instance() makes a home under /tmp (mode 0755, so the role users can traverse it), links the
programs with that home compiled in (`make relink`), runs lib/sh/setup.sh into it, and on exit
stops every process it started (process groups included), removes the users it created and
the home (kept when MRTEST_KEEP=1). Every wait here is bounded in time.

Results prints the lines TESTS/run.sh counts: `PASS label`, `FAIL label: why`,
`SKIP label: why`. Anything else a test prints is shown but not counted.
"""

import os
import pwd
import random
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import traceback

CHECKOUT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
IS_ROOT = os.geteuid() == 0
# make check SANITIZE=1: programs run under ASan/UBSan, several times slower and with shadow
# memory, so time bounds stretch by SLOW and memory ceilings are not measured.
# A test run by hand in a tree built with SANITIZE=1 counts as sanitized too: build/.flags
# says how the tree was built, and `make relink` must link the same way (told so below), or
# make would rebuild the whole tree without sanitizers under the run.
def _tree_sanitized():
    try:
        with open(os.path.join(CHECKOUT, 'build', '.flags')) as f:
            return '-fsanitize=' in f.read()
    except OSError:
        return False


SANITIZED = os.environ.get('MRTEST_SANITIZE') == '1' or _tree_sanitized()
SLOW = 5 if SANITIZED else 1
NO_DNS = '127.0.0.254'  # DNSCACHEIP for instances whose test runs no DNS server: nothing answers
QUEUE_DIRS = ('tmp', 'new', 'mess', 'info')


def _on_signal(signum, frame):
    # run.sh's timeout sends SIGTERM: turn it into an exception so that `with Instance()`
    # stops the instance and removes the users it made.
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


class Results:
    """PASS/FAIL/SKIP lines, and the exit status of a test file."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    @staticmethod
    def _clean(s):
        return ' '.join(str(s).split())

    def ok(self, label):
        self.passed += 1
        print('PASS %s' % label, flush=True)

    def fail(self, label, why):
        self.failed += 1
        print('FAIL %s: %s' % (label, self._clean(why)), flush=True)

    def skip(self, label, why):
        self.skipped += 1
        print('SKIP %s: %s' % (label, self._clean(why)), flush=True)

    def check(self, label, cond, why=''):
        if cond:
            self.ok(label)
        else:
            self.fail(label, why or 'condition false')
        return bool(cond)

    def run(self, label, fn, *args):
        """Runs fn(*args); an exception is a FAIL named label (traceback on stderr)."""
        try:
            return fn(*args)
        except SystemExit:
            raise
        except BaseException as e:  # noqa: BLE001 - any error is a failed test
            traceback.print_exc()
            self.fail(label, 'exception %s: %s' % (type(e).__name__, e))
            return None

    def exit(self):
        print('# %s: %d passed, %d failed, %d skipped' % (
            os.path.basename(sys.argv[0]), self.passed, self.failed, self.skipped), flush=True)
        sys.exit(1 if self.failed else 0)


def wait_until(fn, timeout, interval=0.1):
    """fn() until it returns something true or timeout seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def info(*a):
    """A line for the reader, not counted by the runner."""
    print('#', *a, flush=True)


def _make_env():
    env = dict(os.environ)
    # a test run by `make check` must not hand make's jobserver to the nested make
    for k in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'MAKE_TERMOUT', 'MAKE_TERMERR'):
        env.pop(k, None)
    return env


def _pgrp_of(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            s = f.read()
    except OSError:
        return None
    # the comm field may hold spaces or parentheses: fields follow the last ')'
    fields = s[s.rfind(')') + 2:].split()
    return int(fields[2])


def group_pids(pgid):
    """Live pids whose process group is pgid (zombies included)."""
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit() and _pgrp_of(int(d)) == pgid:
            out.append(int(d))
    return out


def proc_ids(pid):
    """(uids, gids) of a process from /proc/PID/status: each (real, effective, saved, fs)."""
    uids = gids = None
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('Uid:'):
                uids = tuple(int(x) for x in line.split()[1:5])
            elif line.startswith('Gid:'):
                gids = tuple(int(x) for x in line.split()[1:5])
    return uids, gids


def proc_exe(pid):
    """The program a process runs: the /proc exe link (root), else argv[0]."""
    try:
        return os.readlink('/proc/%d/exe' % pid)
    except OSError:
        pass
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().split(b'\0')[0].decode(errors='replace')
    except OSError:
        return ''


def proc_state(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            s = f.read()
        return s[s.rfind(')') + 2:].split()[0]
    except OSError:
        return None


def make_maildir(path, uid=None, gid=None, mode=0o700):
    for sub in ('', 'tmp', 'new', 'cur'):
        p = os.path.join(path, sub)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        if IS_ROOT and uid is not None:
            os.chown(p, uid, gid)


def write_file(path, data, mode=0o644, uid=None, gid=None):
    if isinstance(data, str):
        data = data.encode()
    with open(path, 'wb') as f:
        f.write(data)
    os.chmod(path, mode)
    if IS_ROOT and uid is not None:
        os.chown(path, uid, gid)


def random_name(prefix, n=6):
    return prefix + ''.join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


class Instance:
    """A temporary instance; see the module's text."""

    def __init__(self, prefix='mrtest.'):
        self.prefix = prefix
        self.home = None
        self.procs = []        # every Popen started by start()
        self.send = None       # the current mailroom-send (mailroom-start after its exec)
        self.writer = None     # the current mailroom-queued (the queue writer), if started
        self.sysusers = []     # users made by system_user(), removed at exit
        self.keep = os.environ.get('MRTEST_KEEP') == '1'

    # --- life cycle ---------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.home = tempfile.mkdtemp(prefix=self.prefix, dir='/tmp')
            os.chmod(self.home, 0o755)
            self.build = os.path.join(self.home, '.build')
            r = subprocess.run(['make', '-s', 'relink', 'RELINK_HOME=' + self.home,
                                'RELINK_OUT=' + self.build, 'SANITIZE=%s' % ('1' if SANITIZED else '')],
                               cwd=CHECKOUT, env=_make_env(), stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=600)
            if r.returncode != 0:
                raise RuntimeError('make relink failed (%d): %s' % (
                    r.returncode, (r.stdout + r.stderr).decode(errors='replace')[-2000:]))
            r = subprocess.run(['bash', os.path.join(CHECKOUT, 'lib/sh/setup.sh'), self.home, self.build],
                               cwd=CHECKOUT, env=_make_env(), stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError('lib/sh/setup.sh failed (%d): %s' % (
                    r.returncode, (r.stdout + r.stderr).decode(errors='replace')[-2000:]))
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def cleanup(self):
        for p in self.procs:
            try:
                self.stop(p)
            except Exception:  # noqa: BLE001 - keep cleaning
                traceback.print_exc()
        for p in self.procs:
            self._kill_group(p.pid)
        for name in self.sysusers:
            subprocess.run(['userdel', name], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        self.sysusers = []
        if self.home and os.path.isdir(self.home):
            if self.keep:
                info('kept instance', self.home)
            else:
                shutil.rmtree(self.home, ignore_errors=True)

    # --- paths and files ----------------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.home, *parts)

    def bin(self, prog):
        return self.path('bin', prog)

    def control(self, name, value):
        """Writes control/NAME (a line; a newline is added), or removes it for None."""
        p = self.path('control', name)
        if value is None:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
            return
        value = str(value)
        if not value.endswith('\n'):
            value += '\n'
        write_file(p, value, 0o644)

    def read_control(self, name):
        try:
            with open(self.path('control', name)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def queue_files(self):
        """{'tmp': [...], 'new': [...], 'mess': [...], 'info': [...]} (names, sorted)."""
        out = {}
        for d in QUEUE_DIRS:
            try:
                out[d] = sorted(os.listdir(self.path('queue', d)))
            except FileNotFoundError:
                out[d] = []
        return out

    def read_log(self, name):
        """HOME/NAME as text ('' while it does not exist)."""
        try:
            with open(self.path(name), 'rb') as f:
                return f.read().decode(errors='replace')
        except FileNotFoundError:
            return ''

    def log(self):
        return self.read_log('send.log')

    # --- users --------------------------------------------------------------------------------
    def assign_lines(self):
        with open(self.path('users', 'assign')) as f:
            return f.read().splitlines()

    def assign_entry(self, local):
        """The users/assign entry `=local:...` as a dict, or None."""
        for line in self.assign_lines():
            if line.startswith('=' + local + ':'):
                f = line[1:].split(':')
                return {'local': f[0], 'user': f[1], 'uid': int(f[2]), 'gid': int(f[3]),
                        'home': f[4], 'dash': f[5], 'ext': f[6]}
        return None

    def newu(self, check=True):
        r = subprocess.run([self.bin('mailroom-newu')], cwd=self.home, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError('mailroom-newu exited %d: %s' % (r.returncode, r.stderr.decode(errors='replace')))
        return r

    def add_user(self, local, user, uid, gid, home, dash='', ext='', wildcard=False, newu=True):
        """Adds a users/assign entry before the final '.' and (by default) runs mailroom-newu."""
        line = '%s%s:%s:%d:%d:%s:%s:%s:' % ('+' if wildcard else '=', local, user, uid, gid, home, dash, ext)
        lines = self.assign_lines()
        while lines and lines[-1].strip() == '':
            lines.pop()
        if lines and lines[-1] == '.':
            lines.pop()
        lines.append(line)
        lines.append('.')
        write_file(self.path('users', 'assign'), '\n'.join(lines) + '\n', 0o644)
        if newu:
            return self.newu()
        return None

    def add_mailbox(self, local, newu=True, home=None):
        """A virtual mailbox like demo's (same user and uid): home mail/LOCAL with a Maildir.
        Returns the Maildir path."""
        d = self.assign_entry('demo')
        if d is None:
            raise RuntimeError('users/assign has no =demo entry to copy')
        home = home or self.path('mail', local)
        os.makedirs(home, exist_ok=True)
        os.chmod(home, 0o700)
        if IS_ROOT:
            os.chown(home, d['uid'], d['gid'])
        make_maildir(os.path.join(home, 'Maildir'), d['uid'], d['gid'])
        self.add_user(local, d['user'], d['uid'], d['gid'], home, newu=newu)
        return os.path.join(home, 'Maildir')

    def system_user(self, prefix='mrt'):
        """A new system user and group (root only), removed when the instance goes.
        Returns (name, uid, gid)."""
        if not IS_ROOT:
            raise RuntimeError('system_user needs root')
        name = random_name(prefix)
        r = subprocess.run(['useradd', '--system', '--no-create-home', '--user-group',
                            '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError('useradd %s: %s' % (name, r.stderr.decode(errors='replace')))
        self.sysusers.append(name)
        pw = pwd.getpwnam(name)
        return name, pw.pw_uid, pw.pw_gid

    def user_home(self, local, uid, gid, dotqmail=None, maildir=True, user=None):
        """A home owned by uid:gid under home/LOCAL, with a Maildir and a .qmail (text),
        and its users/assign entry. Returns the home path."""
        home = self.path('home', local)
        os.makedirs(self.path('home'), exist_ok=True)
        os.chmod(self.path('home'), 0o755)
        os.makedirs(home, exist_ok=True)
        os.chmod(home, 0o700)
        if IS_ROOT:
            os.chown(home, uid, gid)
        if maildir:
            make_maildir(os.path.join(home, 'Maildir'), uid, gid)
        if dotqmail is not None:
            write_file(os.path.join(home, '.qmail'), dotqmail, 0o600, uid, gid)
        name = user or (pwd.getpwuid(uid).pw_name if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name)
        self.add_user(local, name, uid, gid, home)
        return home

    # --- running ------------------------------------------------------------------------------
    def start(self, ready_timeout=5.0, writer=True):
        """Starts bin/mailroom-start in its own process group, output to send.log. Returns
        once it has become mailroom-send (bounded), or raises. With writer (the default, as
        `make run` has it) the queue writer is started first, unless it already runs."""
        if writer:
            self.start_writer(ready_timeout)
        log = open(self.path('send.log'), 'ab')
        try:
            # No test may ask the machine's resolver: mailroom-remote (below mailroom-send)
            # gets a loopback address where no DNS server listens, unless the test runs one.
            env = dict(os.environ)
            env.setdefault('DNSCACHEIP', NO_DNS)
            p = subprocess.Popen([self.bin('mailroom-start')], cwd=self.home, stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        finally:
            log.close()
        self.procs.append(p)
        self.send = p
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise RuntimeError('mailroom-start exited %s; send.log: %s' % (p.returncode, self.log()[-1500:]))
            if os.path.basename(proc_exe(p.pid)).startswith('mailroom-send'):
                time.sleep(0.1)  # let it open the trigger and scan the queue
                return p
            time.sleep(0.02)
        raise RuntimeError('mailroom-start did not become mailroom-send in %.0f s' % ready_timeout)

    def start_writer(self, ready_timeout=5.0, wrap=(), env=None):
        """Starts bin/mailroom-queued (as mrqueue when root) in its own process group,
        output to queued.log; returns once it listens (bounded), or raises. wrap: a command
        prefix run as root before the change of uid (strace); env: the environment."""
        if self.writer is not None and self.writer.poll() is None:
            return self.writer
        prefix = []
        if IS_ROOT:
            pw = pwd.getpwnam('mrqueue')
            prefix = self.as_user(pw.pw_uid, pw.pw_gid)
        logpath = self.path('queued.log')
        before = os.path.getsize(logpath) if os.path.exists(logpath) else 0
        log = open(logpath, 'ab')
        try:
            p = subprocess.Popen(list(wrap) + prefix + [self.bin('mailroom-queued')], cwd=self.home,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=env)
        finally:
            log.close()
        self.procs.append(p)
        self.writer = p
        deadline = time.monotonic() + ready_timeout * SLOW
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise RuntimeError('mailroom-queued exited %s; queued.log: %s' % (p.returncode, self.writer_log()[-1500:]))
            with open(logpath, 'rb') as f:
                f.seek(before)
                if b'listening on' in f.read():
                    return p
            time.sleep(0.02)
        raise RuntimeError('mailroom-queued did not listen in %.0f s' % (ready_timeout * SLOW))

    def stop_writer(self, timeout=10.0):
        """SIGTERM to the queue writer (it commits what is complete and exits); bounded."""
        p = self.writer
        if p is None:
            return None
        r = self.stop(p, timeout)
        self.writer = None
        return r

    def kill_writer(self):
        """SIGKILL of the queue writer (a crash)."""
        p = self.writer
        if p is None:
            return None
        p.send_signal(signal.SIGKILL)
        p.wait(5)
        self.writer = None
        return p

    def writer_log(self):
        return self.read_log('queued.log')

    def running(self):
        return self.send is not None and self.send.poll() is None

    def ensure_running(self):
        if not self.running():
            self.start()

    def stop(self, p=None, timeout=10.0):
        """SIGTERM to mailroom-send, wait up to timeout s, then SIGKILL its process group;
        then wait (bounded) for the rest of the group (lspawn, deliveries) to go."""
        p = p or self.send
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group(p.pid)
                p.wait(5)
        self._wait_group(p.pid, timeout)
        if p is self.send:
            self.send = None
        return p.returncode

    def kill_send(self):
        """SIGKILL mailroom-send alone (a crash); lspawn is left to notice."""
        p = self.send
        p.send_signal(signal.SIGKILL)
        p.wait(5)
        self.send = None
        return p

    def _wait_group(self, pgid, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [q for q in group_pids(pgid) if proc_state(q) not in (None, 'Z')]
            if not live:
                return True
            time.sleep(0.05)
        self._kill_group(pgid)
        return False

    @staticmethod
    def _kill_group(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def instance_procs(self, prog):
        """Pids of live processes running this instance's bin/PROG."""
        want = self.bin(prog)
        out = []
        for d in os.listdir('/proc'):
            if not d.isdigit():
                continue
            exe = proc_exe(int(d))
            if exe == want or (not IS_ROOT and os.path.basename(exe) == prog):
                if proc_state(int(d)) not in (None, 'Z'):
                    out.append(int(d))
        return out

    @staticmethod
    def as_user(uid, gid):
        """A command prefix that runs a program as uid:gid (no supplementary groups)."""
        return ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid, '--clear-groups', '--']

    def sendmail(self, args, data, prefix=(), timeout=60, env=None):
        """Runs bin/sendmail ARGS with DATA on stdin; returns the CompletedProcess."""
        if isinstance(data, str):
            data = data.encode()
        return subprocess.run(list(prefix) + [self.bin('sendmail')] + list(args), input=data,
                              capture_output=True, timeout=timeout, cwd='/', env=env)

    def queue_direct(self, message, envelope, prefix=(), timeout=60):
        """Runs bin/mailroom-queue with MESSAGE on fd 0 and ENVELOPE on fd 1 (both pipes it
        reads). Returns (exit status, stderr bytes)."""
        mr, mw = os.pipe()
        er, ew = os.pipe()
        try:
            p = subprocess.Popen(list(prefix) + [self.bin('mailroom-queue')], stdin=mr, stdout=er,
                                 stderr=subprocess.PIPE, cwd='/')
        except BaseException:
            for fd in (mr, mw, er, ew):
                os.close(fd)
            raise
        os.close(mr)
        os.close(er)
        writers = [threading.Thread(target=_write_all, args=(mw, message), daemon=True),
                   threading.Thread(target=_write_all, args=(ew, envelope), daemon=True)]
        for t in writers:
            t.start()
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate(timeout=5)
        for t in writers:
            t.join(5)
        return p.returncode, err

    # --- mailboxes ----------------------------------------------------------------------------
    def maildir(self, user='demo'):
        """The Maildir of a virtual user (mail/USER/Maildir) or the path given."""
        return user if user.startswith('/') else self.path('mail', user, 'Maildir')

    def maildir_files(self, user='demo'):
        d = os.path.join(self.maildir(user), 'new')
        try:
            return sorted(os.path.join(d, n) for n in os.listdir(d))
        except FileNotFoundError:
            return []

    def maildir_count(self, user='demo'):
        try:
            return len(os.listdir(os.path.join(self.maildir(user), 'new')))
        except FileNotFoundError:
            return 0

    def wait_for(self, count, timeout, user='demo', interval=0.02):
        """Polls USER's Maildir new/ until it holds count files or timeout s pass.
        Returns (files seen, seconds waited)."""
        t0 = time.monotonic()
        while True:
            n = self.maildir_count(user)
            el = time.monotonic() - t0
            if n >= count or el >= timeout:
                return n, el
            time.sleep(interval)

    def wait_queue_empty(self, timeout, dirs=('new', 'mess')):
        """Polls until the queue's DIRS are empty; returns True if they became empty."""
        deadline = time.monotonic() + timeout
        while True:
            q = self.queue_files()
            if not any(q[d] for d in dirs):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _write_all(fd, data):
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def split_delivered(data):
    """A delivered file -> (list of the lines mailroom-local added, the rest). The added
    lines are the leading Return-Path: and Delivered-To: lines."""
    added = []
    pos = 0
    while True:
        nl = data.find(b'\n', pos)
        if nl < 0:
            break
        line = data[pos:nl]
        if line.startswith(b'Return-Path:') or line.startswith(b'Delivered-To:'):
            added.append(line.decode(errors='replace'))
            pos = nl + 1
        else:
            break
    return added, data[pos:]
