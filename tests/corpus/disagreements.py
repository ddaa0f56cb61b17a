#!/usr/bin/env python3
"""disagreements.py - compare `bouncer classify` with the shared corpus labels, entry by entry.

usage: disagreements.py LABELS.json CLASSIFY.jsonl DISAGREEMENTS.tsv [--write]

An entry disagrees when its reason or its hard flag differs from the label. Every disagreement
must be listed in DISAGREEMENTS.tsv (file, recipient, the label's reason and hard, ours, and
one line why the message's own words say ours), and every listed one must still come out as
listed: a verdict that moves, either way, fails the check until the list says why. --write
rewrites the list from the current verdicts, keeping the reasons already written (new rows
get "TODO", which the check refuses).
"""
import collections
import json
import os
import sys


def pair(labels, jsonl):
    ours = collections.defaultdict(list)
    for line in open(jsonl, encoding='utf-8'):
        o = json.loads(line)
        ours[os.path.basename(o['source']).split('#')[0]] += o.get('recipients', [])
    rows = {}
    for f, entries in sorted(labels.items()):
        rs = ours.get(f, [])
        for i, e in enumerate(entries):
            m = [r for r in rs if (r.get('address') or '').lower() == e['recipient'].lower()]
            r = m[0] if m else (rs[i] if i < len(rs) else None)
            got, hard = (r['reason'], r['hard']) if r else ('missing', False)
            if got != e['reason'] or hard != e['hard']:
                rows[(f, e['recipient'])] = (e['reason'], str(e['hard']).lower(), got,
                                             str(hard).lower())
    return rows


def main():
    labels = json.load(open(sys.argv[1], encoding='utf-8'))
    now = pair(labels, sys.argv[2])
    listed = {}
    for line in open(sys.argv[3], encoding='utf-8'):
        if line.startswith('#') or not line.strip():
            continue
        f = line.rstrip('\n').split('\t')
        listed[(f[0], f[1])] = (tuple(f[2:6]), f[6] if len(f) > 6 else '')
    if '--write' in sys.argv:
        with open(sys.argv[3], 'w', encoding='utf-8') as out:
            out.write(HEADER)
            for k in sorted(now):
                why = listed.get(k, ((), 'TODO'))[1]
                out.write('\t'.join(k + now[k] + (why,)) + '\n')
        return 0
    bad = 0
    for k in sorted(now):
        if k not in listed:
            print('unlisted disagreement: %s %s: label %s/%s, ours %s/%s' % (k + now[k]))
            bad += 1
        elif listed[k][0] != now[k]:
            print('moved: %s %s: listed %s, now %s' % (k[0], k[1], '/'.join(listed[k][0]),
                                                      '/'.join(now[k])))
            bad += 1
        elif listed[k][1] in ('', 'TODO'):
            print('no reason given: %s %s' % k)
            bad += 1
    for k in sorted(listed):
        if k not in now:
            print('listed but agrees now: %s %s (drop the row)' % k)
            bad += 1
    print('disagreements: %d listed, %d now, %d problems' % (len(listed), len(now), bad))
    return 1 if bad else 0


HEADER = """# disagreements.tsv - every entry of the shared corpus whose label bouncer does not follow,
# and why the message's own words say otherwise (checked by tests/corpus/test_sisimai.sh).
# The labels are one classifier's opinion, tied to which of its modules read each file; where
# they contradict the words, the words win, and the row says so. Never add a rule to win one.
# Columns (tab-separated): file | recipient | label reason | label hard | our reason | our
# hard | why
"""

if __name__ == '__main__':
    sys.exit(main())
