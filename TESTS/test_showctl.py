#!/usr/bin/env python3
"""mailroom-showctl (issue 15): on a fresh instance it shows every control file (value or
default, and what it means) and finds no mistake; then with planted mistakes (a misspelt
file name, a malformed virtualdomains line, a virtual domain that locals takes first, a
cdb older than its text, a word where a number is wanted, no control/me, a bad smtproutes
port, a bad rcpthosts domain, a key others may read) it names each one, with the file and
the line, as text and as JSON, and exits 100; fixed again, it finds none.
"""

import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import mrinst  # noqa: E402

R = mrinst.Results()


def showctl(inst, *args):
    return subprocess.run([inst.bin('mailroom-showctl')] + list(args), capture_output=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def mistakes(out):
    return [l for l in out.splitlines() if l.startswith('mistake: ')]


def test_fresh(inst):
    r = showctl(inst)
    out = r.stdout.decode()
    R.check('fresh instance: exit 0, "0 mistakes found"', r.returncode == 0 and out.rstrip().endswith('0 mistakes found'),
            out[-800:] + r.stderr.decode())
    R.check('fresh instance: no mistake line', mistakes(out) == [], mistakes(out))
    R.check('fresh: me shown with its value and meaning', 'me: localhost\n  this host\'s name' in out, out[:400])
    R.check('fresh: a number with its default', 'concurrencylocal: 10 (default 10)' in out, '')
    R.check('fresh: an unset file with its default', 'concurrencyremote: not set, default 20' in out, '')
    R.check('fresh: virtualdomains listed', 'virtualdomains: not set, default (none)' in out, '')
    R.check('fresh: the key is shown as present, never its text',
            'serverkey.pem: (present)' in out and 'PRIVATE KEY' not in out, '')
    j = showctl(inst, '--json')
    try:
        doc = json.loads(j.stdout)
    except ValueError as e:
        doc = {'error': str(e)}
    names = {f['name']: f for f in doc.get('files', [])}
    R.check('--json: valid, no mistakes, every file with value/default/meaning',
            j.returncode == 0 and doc.get('mistakes') == [] and names.get('me', {}).get('value') == 'localhost' and
            names.get('maxrcpt', {}).get('set') is False and names.get('maxrcpt', {}).get('default') == '100' and
            all(f.get('meaning') for f in names.values()), j.stdout[:500])


PLANTED = [
    # (label, what must be in the mistake line)
    ('unknown file', 'mistake: control/concurrencylocl: unknown control file'),
    ('malformed virtualdomains line', "mistake: control/virtualdomains line 3: missing ':'"),
    ('duplicate virtualdomains entry', "mistake: control/virtualdomains line 4: duplicate entry for 'b.example'"),
    ('virtual domain also local', 'mistake: control/virtualdomains: a.example is also a local domain'),
    ('cdb older than its text', 'mistake: control/rcpthosts.cdb: older than control/rcpthosts'),
    ('not a number', 'mistake: control/concurrencyremote line 1: not a number'),
    ('number out of range', 'mistake: control/concurrencydomain line 1: 0 is outside 1..1000'),
    ('missing me', 'mistake: control/me: missing'),
    ('bad smtproutes port', 'mistake: control/smtproutes line 2: the port is not a number'),
    ('bad rcpthosts domain', 'mistake: control/rcpthosts line 3: not a domain: empty label'),
    ('a key others may read', 'mistake: control/serverkey.pem: readable or writable by group or others'),
]


def plant(inst):
    c = inst.path('control')
    mrinst.write_file(os.path.join(c, 'concurrencylocl'), '5\n')
    with open(os.path.join(c, 'locals'), 'a') as f:
        f.write('a.example\n')
    mrinst.write_file(os.path.join(c, 'virtualdomains'), 'a.example:a\nb.example:b\nc.example c\nB.example:bb\n')
    mrinst.write_file(os.path.join(c, 'rcpthosts'), 'localhost\n.example.org\nbad..example\n')
    r = subprocess.run([inst.bin('mailroom-newcontrol'), 'rcpthosts'], capture_output=True, timeout=30)
    R.check('newcontrol rcpthosts (the cdb to age)', r.returncode == 0, r.stderr)
    later = time.time() + 5
    os.utime(os.path.join(c, 'rcpthosts'), (later, later))
    mrinst.write_file(os.path.join(c, 'concurrencyremote'), 'lots\n')
    mrinst.write_file(os.path.join(c, 'concurrencydomain'), '0\n')
    os.unlink(os.path.join(c, 'me'))
    mrinst.write_file(os.path.join(c, 'smtproutes'), 'x.example:relay.example:25\ny.example:relay.example:99999\n')
    os.chmod(os.path.join(c, 'serverkey.pem'), 0o644)


def test_planted(inst):
    plant(inst)
    r = showctl(inst)
    out = r.stdout.decode()
    got = mistakes(out)
    R.check('planted: exit 100', r.returncode == 100, r.returncode)
    for label, want in PLANTED:
        R.check('planted %s: named' % label, any(l.startswith(want) for l in got), '\n'.join(got))
    R.check('planted: exactly %d mistakes, nothing else' % len(PLANTED), len(got) == len(PLANTED) and
            out.rstrip().endswith('%d mistakes found' % len(PLANTED)), '\n'.join(got))
    R.check('planted: the values are still shown', 'concurrencyremote: lots' in out and
            '    c.example c' in out, out[:300])
    j = showctl(inst, '--json')
    try:
        doc = json.loads(j.stdout)
    except ValueError:
        doc = {}
    m = doc.get('mistakes', [])
    R.check('--json: the same mistakes, with file and line',
            j.returncode == 100 and len(m) == len(PLANTED) and
            {'file': 'virtualdomains', 'line': 3} in [{'file': x['file'], 'line': x['line']} for x in m], j.stdout[-600:])


def test_fixed(inst):
    c = inst.path('control')
    os.unlink(os.path.join(c, 'concurrencylocl'))
    mrinst.write_file(os.path.join(c, 'locals'), 'localhost\n')
    mrinst.write_file(os.path.join(c, 'virtualdomains'), 'a.example:a\nb.example:b\nc.example:c\n')
    mrinst.write_file(os.path.join(c, 'rcpthosts'), 'localhost\n.example.org\n')
    mrinst.write_file(os.path.join(c, 'concurrencyremote'), '30\n')
    mrinst.write_file(os.path.join(c, 'concurrencydomain'), '5\n')
    mrinst.write_file(os.path.join(c, 'me'), 'mx.example.org\n')
    mrinst.write_file(os.path.join(c, 'smtproutes'), 'x.example:relay.example:25\n.y.example:[127.0.0.1]:2525\n'
                     'z.example:[IPv6:::1]\nw.example:192.0.2.1\n:smarthost.example\n')
    os.chmod(os.path.join(c, 'serverkey.pem'), 0o600)
    r = subprocess.run([inst.bin('mailroom-newcontrol')], capture_output=True, timeout=30)
    R.check('newcontrol (all three)', r.returncode == 0, r.stderr)
    r = showctl(inst)
    out = r.stdout.decode()
    R.check('fixed: exit 0, no mistakes', r.returncode == 0 and mistakes(out) == [], '\n'.join(mistakes(out)))
    R.check('fixed: the virtual domains are listed', 'virtualdomains: 3 lines\n    a.example:a' in out, out)


def main():
    with mrinst.Instance('mrshowctl.') as inst:
        R.run('fresh', test_fresh, inst)
        R.run('planted', test_planted, inst)
        R.run('fixed', test_fixed, inst)
    R.exit()


if __name__ == '__main__':
    main()
