#!/usr/bin/env bash
# test_core_includes.sh - the pure core includes only the core (issue 20): no core module of
# handler/ reaches config.h, config_int.h or any edge header (IMAP, Redis, store, worker,
# metrics, CLI), directly or through another header. Each core module owns its settings
# struct in its own header (struct bh_mime_settings in mime.h, ...); config*.c fill them.
set -u
: "${BH_SOURCE_DIR:?}"
exec python3 - "$BH_SOURCE_DIR/handler" <<'PY'
import os, re, sys

hdir = sys.argv[1]
# every file of handler/ by name: the modules sit in one folder per layer (handler/layers.txt)
where = {}
for d, _, files in os.walk(hdir):
    for f in files:
        where.setdefault(f, os.path.join(d, f))
# The core: parsing, VERP, classification, loop detection, policy. Pure: no I/O.
core = """util log message mime text addr verdict reason verp verp_conf verp_locate dsn arf
ses recognize autoreply rules classify analyze loop policy ctree bh_limits""".split()
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

def includes(name):
    try:
        with open(where.get(name, os.path.join(hdir, name)), encoding="utf-8") as f:
            return inc.findall(f.read())
    except FileNotFoundError:
        return []  # a generated or out-of-tree header: not a handler/ module

bad = 0
for mod in core:
    for src in (mod + ".c", mod + ".h"):
        if src not in where:
            continue
        # every header src reaches, with the chain that reaches it
        seen, todo = {}, [(h, [src]) for h in includes(src)]
        while todo:
            h, chain = todo.pop()
            if h in seen:
                continue
            seen[h] = chain
            todo.extend((g, chain + [h]) for g in includes(h))
        for h, chain in sorted(seen.items()):
            if h not in where:
                continue
            if os.path.splitext(h)[0] not in core:
                print("FAIL: %s reaches %s (%s)" % (src, h, " -> ".join(chain + [h])))
                bad += 1
print("test_core_includes: %d core modules, %d problems" % (len(core), bad))
sys.exit(1 if bad else 0)
PY
