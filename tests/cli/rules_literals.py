#!/usr/bin/env python3
"""rules_literals.py - prove the prefilter literals of the built-in rules (rules/builtin.yaml) exact.

Each built-in text row carries literals, one of which must occur in any text its pattern
matches (the engine skips the regex otherwise), and may carry a second set (literals_also) of
which one must occur too. This generates random texts from each pattern
(random branch, random repeat counts) and fails when one matches the pattern but contains none
of the row's literals. usage: rules_literals.py BOUNCER [SAMPLES_PER_ROW]
"""
import json
import random
import re
import subprocess
import sys

try:
    from re import _parser as sre_parse, _constants as C   # Python >= 3.11
except ImportError:                                          # pragma: no cover
    import sre_parse
    import sre_constants as C


def rows_of(bouncer):
    """(id, literals, pattern) of every compiled row, from `bouncer rules dump --compiled`
    (the rules file with its families expanded)."""
    out = subprocess.run([bouncer, 'rules', 'dump', '--compiled'], check=True,
                         stdout=subprocess.PIPE).stdout.decode('utf-8')
    rows = []
    for line in out.splitlines():
        r = json.loads(line)
        lits = '|'.join(r['literals']) if 'literals' in r else None
        rows.append((r['id'], lits, r.get('pattern')))
        if 'literals_also' in r:  # a second set, also in every match: checked the same way
            rows.append((r['id'] + ' (literals_also)', '|'.join(r['literals_also']),
                         r.get('pattern')))
    return rows


def gen(node, rnd):
    out = []
    for op, av in node:
        if op == C.LITERAL:
            out.append(chr(av))
        elif op == C.NOT_LITERAL:
            out.append('x' if av != ord('x') else 'y')
        elif op == C.ANY:
            out.append('z')
        elif op == C.IN:
            if any(o == C.NEGATE for o, _ in av):
                excluded = {chr(a) for o, a in av if o == C.LITERAL}
                out.append(next(ch for ch in 'abc xyz019' if ch not in excluded))
            else:
                o, a = rnd.choice(av)
                if o == C.LITERAL:
                    out.append(chr(a))
                elif o == C.RANGE:
                    out.append(chr(rnd.randint(a[0], a[1])))
                else:
                    out.append('5' if a == C.CATEGORY_DIGIT else 'a')
        elif op == C.BRANCH:
            out.append(gen(rnd.choice(av[1]), rnd))
        elif op == C.SUBPATTERN:
            out.append(gen(av[-1], rnd))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            for _ in range(rnd.randint(lo, min(hi, lo + 3))):
                out.append(gen(sub, rnd))
        elif op == C.CATEGORY:
            out.append('5' if av == C.CATEGORY_DIGIT else 'a')
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            pass
        else:
            raise ValueError('unsupported regex construct %s' % op)
    return ''.join(out)


def main():
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rnd = random.Random(7)
    rows = rows_of(sys.argv[1])
    bad = 0
    checked = 0
    for rid, lits, pat in rows:
        if lits is None or pat is None or pat == '^':
            continue
        checked += 1
        lit = lits.split('|')
        tree = sre_parse.parse(pat)
        rx = re.compile(pat, re.I)
        for _ in range(samples):
            t = gen(tree, rnd).lower()
            if rx.search(t) and not any(x in t for x in lit):
                print('row %s: "%s" matches but holds none of its literals' % (rid, t))
                bad += 1
                break
    print('rules_literals: %d rows with literals checked, %d samples each, %d bad' % (
        checked, samples, bad))
    if checked < 40:
        print('rules_literals: found only %d rows: is the table format changed?' % checked)
        return 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
