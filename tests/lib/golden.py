#!/usr/bin/env python3
"""golden.py - the full `bouncer classify` verdict of every fixture, beside it as NAME.json.

    golden.py write BOUNCER FIXTURES_DIR   # (re)write every golden (scripts/update-golden.sh)
    golden.py check BOUNCER FIXTURES_DIR   # compare; a unified diff per difference (test_golden)

The fixtures are every *.eml (one message, read as a file) and *.mbox (read with --mbox) under
FIXTURES_DIR, subfolders included (loops/). Each is classified without a configuration, from
FIXTURES_DIR, under its relative name, so that "source" (the only field that depends on where
the tree is) reads "dsn-basic.eml" or "loops/backscatter.eml" on every machine. Nothing else in
the output is volatile without a configuration (no VERP check, so no clock): the object is kept
whole.

The canonical form: each JSON object bouncer prints, parsed and written back with an indent of
2, its keys in bouncer's order (not sorted: a change of order is a change of output), UTF-8 as
is, the objects of an mbox one after the other. Output that is not JSON, an exit status other
than 0, or anything on stderr is a failure: a golden records a clean run only.
"""
import difflib
import json
import os
import subprocess
import sys


def fixtures(root):
    """Every fixture under root, as (relative path, is mbox), sorted."""
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".eml") or f.endswith(".mbox"):
                rel = os.path.relpath(os.path.join(d, f), root)
                out.append((rel, f.endswith(".mbox")))
    return sorted(out)


def golden_of(rel):
    """NAME.eml -> NAME.json"""
    return os.path.splitext(rel)[0] + ".json"


def canonical(bouncer, root, rel, mbox):
    """The canonical golden text of one fixture, or raise RuntimeError saying why not."""
    argv = [bouncer, "classify"] + (["--mbox"] if mbox else []) + [rel]
    p = subprocess.run(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0 or p.stderr:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                p.stderr.decode("utf-8", "replace").strip()))
    docs = []
    for n, line in enumerate(p.stdout.decode("utf-8").splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise RuntimeError("%s: line %d is not JSON: %s" % (rel, n, e))
        docs.append(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    if not docs or (not mbox and len(docs) != 1):
        raise RuntimeError("%s: %d objects, want %s" % (rel, len(docs),
                                                        "at least 1" if mbox else "1"))
    return "".join(docs)


def main(argv):
    if len(argv) != 4 or argv[1] not in ("write", "check"):
        sys.stderr.write("usage: golden.py write|check BOUNCER FIXTURES_DIR\n")
        return 2
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    mode, bouncer, root = argv[1], os.path.abspath(argv[2]), argv[3]
    items = fixtures(root)
    wanted = set(golden_of(rel) for rel, _ in items)
    bad = written = 0
    for rel, mbox in items:
        path = os.path.join(root, golden_of(rel))
        try:
            got = canonical(bouncer, root, rel, mbox)
        except RuntimeError as e:
            print("FAIL: %s" % e)
            bad += 1
            continue
        try:
            with open(path, encoding="utf-8") as f:
                want = f.read()
        except FileNotFoundError:
            want = None
        if got == want:
            continue
        if mode == "write":
            with open(path, "w", encoding="utf-8") as f:
                f.write(got)
            print("wrote %s" % golden_of(rel))
            written += 1
        elif want is None:
            print("FAIL: %s has no golden %s (run scripts/update-golden.sh, review the new "
                  "file)" % (rel, golden_of(rel)))
            bad += 1
        else:
            print("FAIL: %s differs from %s:" % (rel, golden_of(rel)))
            sys.stdout.writelines(difflib.unified_diff(
                want.splitlines(True), got.splitlines(True),
                "a/" + golden_of(rel) + " (golden)", "b/" + golden_of(rel) + " (bouncer now)"))
            bad += 1
    # a golden whose fixture is gone would never be checked again
    for d, _, files in os.walk(root):
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(d, f), root)
            if f.endswith(".json") and rel not in wanted:
                if mode == "write":
                    os.remove(os.path.join(root, rel))
                    print("removed %s (no fixture)" % rel)
                else:
                    print("FAIL: %s has no fixture beside it" % rel)
                    bad += 1
    if mode == "write":
        print("golden: %d fixtures, %d written, %d failed" % (len(items), written, bad))
    else:
        print("golden: %d fixtures, %d differ or failed" % (len(items), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
