#!/usr/bin/env python3
"""unseen_coarse.py - coarse reason and hard/soft agreement on a second unseen set.

    bench/unseen_coarse.py BOUNCER TESTDIR

TESTDIR is the t/ folder of Debian's Mail::DeliveryStatus::BounceParser source package
(libmail-deliverystatus-bounceparser-perl): ~110 real bounces in t/corpus/ and the verdicts its
own tests expect of them. That project's vocabulary is coarser than ours (user_unknown,
user_disabled, over_quota, spam, domain_error, message_too_large, not a bounce), so each of its
classes maps to the set of bouncer reasons that mean the same thing; a relay refusal, which it
files under domain_error, is told apart here because for us it is the sender's problem. The
expected class of each file is read from the package's test scripts (the tables and globs they
check), not chosen here. bouncer never sees the file names: they go to it only as paths.
"""
import collections, glob, json, os, re, subprocess, sys

bouncer, tdir = sys.argv[1], sys.argv[2]
corpus = os.path.join(tdir, 'corpus')


def names(pattern):
    return [os.path.basename(f) for f in glob.glob(os.path.join(corpus, pattern))]


def src(name):
    with open(os.path.join(tdir, name)) as f:
        return f.read()


label = {}
# various-unknown.t: a table of files, each user_unknown unless it says otherwise
for m in re.finditer(r'"([\w.-]+\.msg)" => \{(.*?)\n    \}', src('various-unknown.t'), re.S):
    r = re.search(r"std_reason\s*=>\s*'(\w+)'", m.group(2))
    label[m.group(1)] = r.group(1) if r else 'user_unknown'
# the other scripts: one file (or a glob) and the std_reason it must have
for t in glob.glob(os.path.join(tdir, '*.t')):
    s = src(os.path.basename(t))
    std = re.search(r"std_rea\w*\s*=>\s*'(\w+)'", s)
    if re.search(r'is_bounce\s*=>\s*0', s):
        for f in re.findall(r"t/corpus/([\w.-]+\.msg)", s):
            label.setdefault(f, 'not_bounce')
    elif std:
        for g in re.findall(r"glob\s*\(?\s*'t/corpus/([^']+)'", s):
            for f in names(g):
                label.setdefault(f, std.group(1))
        for f in re.findall(r"t/corpus/([\w.-]+\.msg)", s):
            if '*' not in f:
                label.setdefault(f, std.group(1))
    for f in re.findall(r'"([\w.-]+\.msg)"', s):
        if std:
            label.setdefault(f, std.group(1))
# warnings.t checks one std_reason per message read
for block in src('warnings.t').split('readfile(')[1:]:
    f = re.match(r"'t/corpus/([\w.-]+)'", block)
    r = re.search(r'is\(\$std_reason\d*, "(\w+)"', block)
    if f and r:
        label.setdefault(f.group(1), r.group(1))
# the addresses a test expects, where it names them
addrs = {}
for t in glob.glob(os.path.join(tdir, '*.t')):
    s = src(os.path.basename(t))
    m = re.search(r"t/corpus/([\w.-]+\.msg)'.*?addresses\s*=>\s*\[(.*?)\]", s, re.S)
    if m and '$' not in m.group(2):
        addrs[m.group(1)] = re.findall(r"[\w.+-]+@[\w.#-]+", m.group(2))
for m in re.finditer(r'"([\w.-]+\.msg)" => \{(.*?)\n    \}', src('various-domain.t'), re.S):
    r = re.search(r'"recipient"\s*=>\s*\'([^\']+)\'', m.group(2))
    if r:
        addrs[m.group(1)] = [r.group(1)]
if "addresses  => ['recipient@example.net']" in src('various-unknown.t'):
    for f, c in list(label.items()):
        if f in re.findall(r'"([\w.-]+\.msg)" => \{', src('various-unknown.t')):
            addrs.setdefault(f, ['recipient@example.net'])
for f in ('not-a-relay.msg', 'rcpthosts.msg', 'relaying-denied.msg'):
    if label.get(f) == 'domain_error':
        label[f] = 'relay'

OK = {
    'user_unknown': {'userunknown'},
    'user_disabled': {'suspend'},
    'over_quota': {'mailboxfull'},
    'spam': {'spamdetected', 'blocked', 'policyviolation', 'contenterror', 'virusdetected',
             'badreputation', 'securityerror', 'authfailure', 'requireptr', 'rejected',
             'filtered'},
    'message_too_large': {'mesgtoobig', 'exceedlimit'},
    'domain_error': {'hostunknown', 'notaccept'},
    'relay': {'norelaying'},
}
HARD = {'user_unknown': True, 'domain_error': True, 'over_quota': False, 'spam': False,
        'message_too_large': False, 'relay': False}
files = sorted(set(addrs) | set(f for f, c in label.items()
               if c in OK or c == 'not_bounce'))
files = [f for f in files if os.path.exists(os.path.join(corpus, f))]
out = subprocess.run([bouncer, 'classify'] + [os.path.join(corpus, f) for f in files],
                     capture_output=True, text=True).stdout
got = {}
for line in out.splitlines():
    o = json.loads(line)
    got[os.path.basename(o['source'])] = o
n = ok = hn = hok = an = aok = 0
conf = collections.Counter()
amiss = []
for f in files:
    want, o = label.get(f), got.get(f)
    rs = o['recipients'] if o else []
    if f in addrs:
        an += 1
        have = sorted(set(r['address'].lower() for r in rs if r.get('address')))
        if have == sorted(a.lower() for a in addrs[f]):
            aok += 1
        else:
            amiss.append((f, addrs[f], have))
    if want not in OK and want != 'not_bounce':
        continue
    n += 1
    if want == 'not_bounce':
        good = o is not None and o['type'] != 'bounce'
        reason = o['type'] if o else 'none'
    else:
        reason = rs[0]['reason'] if rs else (o['type'] if o else 'none')
        good = reason in OK[want]
        if want in HARD and rs:
            hn += 1
            hok += bool(rs[0].get('hard')) == HARD[want]
    ok += good
    if not good:
        conf[(want, reason)] += 1
print('files: %d (labelled by the package\'s tests)' % n)
print('coarse reason agreement: %.1f%% (%d/%d)' % (100.0 * ok / max(n, 1), ok, n))
print('hard/soft agreement: %.1f%% (%d/%d)' % (100.0 * hok / max(hn, 1), hok, hn))
for (want, reason), k in conf.most_common():
    print('  %3d  %-18s -> %s' % (k, want, reason))
print('exact address set, where a test names it: %.1f%% (%d/%d)' % (100.0 * aok / max(an, 1), aok, an))
for f, want, have in amiss:
    print('  %s: expected %s, got %s' % (f, ' '.join(want), ' '.join(have) or '(none)'))
