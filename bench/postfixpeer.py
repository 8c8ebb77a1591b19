"""postfixpeer: a private Postfix for `make bench COMPARE=postfix` (figures 1-5).

Runs the programs bench/deps.sh unpacked into build/postfix (Debian's package, never
installed) with its own config folder, queue folder and data folder under /tmp, smtpd on a
random 127.x.y.z address and port, local delivery into a Maildir (home_mailbox = Maildir/)
of a system user made for the run, logging into a file (postlogd), no DNS at all. master
runs in the foreground (-d) in its own process group and is stopped at the end; the users
made here are removed. Every wait is bounded.
"""

import os
import pwd
import grp
import shutil
import signal
import subprocess
import tempfile
import time

import mrbench

TOP = os.path.join(mrbench.CHECKOUT, 'build', 'postfix')
SBIN = os.path.join(TOP, 'usr', 'sbin')
DAEMONS = os.path.join(TOP, 'usr', 'lib', 'postfix', 'sbin')
LIBS = os.path.join(TOP, 'usr', 'lib', 'postfix')

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
{ip}:{port} inet n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

QUEUE_DIRS = {  # name: (owner, group, mode), as postfix-files makes them
    'active': ('owner', None, 0o700), 'bounce': ('owner', None, 0o700), 'corrupt': ('owner', None, 0o700),
    'defer': ('owner', None, 0o700), 'deferred': ('owner', None, 0o700), 'flush': ('owner', None, 0o700),
    'hold': ('owner', None, 0o700), 'incoming': ('owner', None, 0o700), 'private': ('owner', None, 0o700),
    'saved': ('owner', None, 0o700), 'trace': ('owner', None, 0o700),
    'maildrop': ('owner', 'setgid', 0o1730), 'public': ('owner', 'setgid', 0o2710), 'pid': ('root', None, 0o755),
}


def available():
    return os.path.exists(os.path.join(DAEMONS, 'master')) and os.geteuid() == 0


class Postfix:
    """inet_interfaces is 127.0.0.1 (Postfix wants an interface's exact address there);
    smtpd itself listens only on the random address its master.cf line names."""
    name = 'postfix'

    def __init__(self):
        self.dir = None
        self.master = None
        self.users = []
        self.groups = []
        self.ip, self.port = mrbench.random_loopback()
        self.rcpt = None

    # --- life cycle ---------------------------------------------------------------------------
    def __enter__(self):
        if not available():
            raise RuntimeError('no build/postfix (bench/deps.sh) or not root')
        self.dir = tempfile.mkdtemp(prefix='mrbench.postfix.', dir='/tmp')
        os.chmod(self.dir, 0o755)
        self.owner = self._user('mrbpf')
        self.setgid = self._group('mrbpd')
        self.user = self._user('mrbpu', home=os.path.join(self.dir, 'home'))
        self.rcpt = '%s@localhost' % self.user
        home = os.path.join(self.dir, 'home')
        os.makedirs(home)
        pw = pwd.getpwnam(self.user)
        for sub in ('', 'Maildir', 'Maildir/tmp', 'Maildir/new', 'Maildir/cur'):
            p = os.path.join(home, sub)
            os.makedirs(p, exist_ok=True)
            os.chown(p, pw.pw_uid, pw.pw_gid)
            os.chmod(p, 0o700)
        self.cfg = os.path.join(self.dir, 'etc')
        self.queue = os.path.join(self.dir, 'queue')
        data = os.path.join(self.dir, 'data')
        os.makedirs(self.cfg)
        os.makedirs(self.queue)
        os.makedirs(data)
        o = pwd.getpwnam(self.owner)
        g = grp.getgrnam(self.setgid)
        os.chown(data, o.pw_uid, o.pw_gid)
        for d, (owner, group, mode) in QUEUE_DIRS.items():
            p = os.path.join(self.queue, d)
            os.makedirs(p)
            os.chown(p, o.pw_uid if owner == 'owner' else 0, g.gr_gid if group else (o.pw_gid if owner == 'owner' else 0))
            os.chmod(p, mode)
        shutil.copy(os.path.join(TOP, 'usr', 'share', 'postfix', 'dynamicmaps.cf'), self.cfg)
        self.main = {
            'compatibility_level': '3.6',
            'myhostname': 'bench.test', 'mydomain': 'bench.test', 'myorigin': 'bench.test',
            'mydestination': 'localhost', 'mynetworks': '127.0.0.0/8',
            'inet_interfaces': '127.0.0.1', 'inet_protocols': 'ipv4',
            'queue_directory': self.queue, 'data_directory': data, 'meta_directory': self.cfg,
            'command_directory': SBIN, 'daemon_directory': DAEMONS, 'shlib_directory': LIBS,
            'mail_owner': self.owner, 'setgid_group': self.setgid,
            'import_environment': 'MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH=' + LIBS,
            'maillog_file': os.path.join(self.dir, 'maillog'), 'maillog_file_prefixes': self.dir,
            'home_mailbox': 'Maildir/', 'alias_maps': '', 'alias_database': '',
            'smtp_dns_support_level': 'disabled', 'smtpd_peername_lookup': 'no',
            'biff': 'no', 'append_dot_mydomain': 'no', 'readme_directory': 'no', 'html_directory': 'no',
            'manpage_directory': 'no', 'sample_directory': 'no',
            'smtpd_relay_restrictions': 'permit_mynetworks, reject_unauth_destination',
            'default_process_limit': '120', 'message_size_limit': '52428800', 'mailbox_size_limit': '0',
            'smtp_destination_concurrency_limit': '20', 'defer_transports': '',
            'transport_maps': '', 'relay_domains': '',
        }
        self._write()
        self.env = dict(os.environ, MAIL_CONFIG=self.cfg, LD_LIBRARY_PATH=LIBS)
        return self

    def _user(self, prefix, home='/nonexistent'):
        name = mrbench_name(prefix)
        subprocess.run(['useradd', '--system', '--no-create-home', '--user-group', '--home-dir', home,
                        '--shell', '/usr/sbin/nologin', name], check=True, capture_output=True, timeout=30)
        self.users.append(name)
        return name

    def _group(self, prefix):
        name = mrbench_name(prefix)
        subprocess.run(['groupadd', '--system', name], check=True, capture_output=True, timeout=30)
        self.groups.append(name)
        return name

    def _write(self):
        with open(os.path.join(self.cfg, 'main.cf'), 'w') as f:
            for k, v in self.main.items():
                f.write('%s = %s\n' % (k, v))
        with open(os.path.join(self.cfg, 'master.cf'), 'w') as f:
            f.write(MASTER_CF.format(ip=self.ip, port=self.port))

    def start(self):
        log = open(os.path.join(self.dir, 'master.out'), 'ab')
        try:
            self.master = subprocess.Popen([os.path.join(DAEMONS, 'master'), '-c', self.cfg, '-d'],
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True, env=self.env, cwd='/')
        finally:
            log.close()
        mrbench.wait_port(self.ip, self.port, 20, self.master)

    def stop(self):
        p = self.master
        self.master = None
        if p is None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        # master's children leave with it; anything left of the group goes now
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(p.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            for u in self.users:
                subprocess.run(['userdel', u], capture_output=True, timeout=30)
            for g in self.groups:
                subprocess.run(['groupdel', g], capture_output=True, timeout=30)
            self.users, self.groups = [], []
            if self.dir and os.environ.get('MRTEST_KEEP') != '1':
                shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def reconfigure(self, **kw):
        """A new main.cf, and master restarted (a reload lets running daemons go on with
        the old settings for a while: a hold would not hold at once)."""
        self.main.update(kw)
        running = self.master is not None and self.master.poll() is None
        if running:
            self.stop()
        self._write()
        if running:
            self.start()

    # --- what run.py asks of a target ---------------------------------------------------------
    def count_pids(self):
        """Every live process of this Postfix: master's session (bench/counting.py)."""
        import counting
        return counting.live_pids([self.master.pid] if self.master else [])

    def maildir_new(self):
        return os.path.join(self.dir, 'home', 'Maildir', 'new')

    def clear(self):
        mrbench.empty_dir(self.maildir_new())

    def queued(self):
        n = 0
        for d in ('maildrop', 'incoming', 'active', 'deferred', 'hold'):
            for _, _, files in os.walk(os.path.join(self.queue, d)):
                n += len(files)
        return n

    def queue_empty(self):
        return self.queued() == 0

    def wait_queue_empty(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue_empty():
                return True
            time.sleep(0.05)
        return False

    def sendmail(self):
        return [os.path.join(SBIN, 'sendmail'), '-C', self.cfg, self.rcpt]

    def sendmail_env(self):
        return self.env

    def hold(self):
        kind = getattr(self, '_hold_kind', 'local')
        self.reconfigure(defer_transports=kind)

    def fill_held(self, count, msg, rcpts=None):
        """Queues count messages over SMTP while their transport is deferred."""
        rc = len(rcpts) if rcpts else 1
        pattern = 'u%d@sink.test' if rcpts and rcpts[0].endswith('@sink.test') else self.rcpt
        ok, fail, secs = mrbench.smtpload(self, count, 10, 10, len(msg), rc, pattern)
        # wait until qmgr has deferred them all: nothing left in incoming or active
        deadline = time.monotonic() + 60 + count * 0.05
        while time.monotonic() < deadline:
            busy = 0
            for d in ('maildrop', 'incoming', 'active'):
                for _, _, files in os.walk(os.path.join(self.queue, d)):
                    busy += len(files)
            if not busy:
                break
            time.sleep(0.2)
        os.sync()

    def release_prepare(self):
        """Stops master (not timed: its daemons take seconds to go)."""
        self.stop()

    def release(self):
        """Starts master without the hold (timed, as mailroom's start of mailroom-send is)
        and asks for the deferred queue at once."""
        self.main['defer_transports'] = ''
        self._write()
        self.start()
        subprocess.run([os.path.join(SBIN, 'postqueue'), '-c', self.cfg, '-f'], env=self.env,
                       capture_output=True, timeout=60)

    def route_sink(self, ip, port):
        """The route is written now and read at the restart of the hold that always follows
        (run.py's remote_run): one restart of master per run, not two (each costs seconds)."""
        self._hold_kind = 'smtp'
        self.main.update(transport_maps='inline:{ sink.test=smtp:[%s]:%d }' % (ip, port),
                         relay_domains='sink.test')
        self._write()


def mrbench_name(prefix):
    import random
    import string
    return prefix + ''.join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
