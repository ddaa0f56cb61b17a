#!/usr/bin/env python3
"""faultcmp.py - compare what two drains of the same mailbox left behind (tests/lib/faults.sh).

    faultcmp.py state DUMP.json PREFIX OUT.json   normalize a Redis dump (faults.sh's Lua EVAL)
    faultcmp.py folders MAILDIR OUT.json FOLDER=NAME...   Message-ID -> folder, from the files
    faultcmp.py compare A.json B.json             exit 1 and print the differences

Normalized state: suppression hashes without their times and the identity of the last bounce
(first_seen, last_seen, expires, event, message_id, stable_id: which of an address's bounces
wrote last depends on the order the server hands them out); soft and sender windows as member
sets (members naming a key, as in {p}:supexp, without the prefix); the per-address event
index as a length; applied markers as a key set; the stats buckets
summed per field; the event stream as a multiset of events without times, places and running
counts, and the number of events per stable id (an event applied twice shows up there); {p}:supcount, which
must equal a count of the suppression hashes (else state exits 1).
"""

import collections
import json
import os
import re
import sys

SUP_DROP = {"first_seen", "last_seen", "expires", "event", "message_id", "stable_id"}
EV_DROP = {"mailbox", "uidvalidity", "uid", "expires", "result", "cause", "message_id"}
# the two runs file into calm/* and bouncer/*: compare the last part of the folder name


def norm_key(k, prefix):
    k = k[len("{%s}:" % prefix):] if k.startswith("{%s}:" % prefix) else k
    return re.sub(r"\d{9,}", "N", k)


def pairs(flat):
    return dict(zip(flat[0::2], flat[1::2]))


def state(dump_path, prefix, out_path):
    # cjson passes the bytes of a value through: a diagnostic may hold any 8-bit text
    with open(dump_path, encoding="latin-1") as f:
        dump = json.load(f)
    sup, sets, lens, applied, other, supcount = {}, {}, {}, [], {}, {}
    stats = collections.Counter()
    events = collections.Counter()
    per_id = collections.Counter()
    for k, t, v in dump:
        nk = norm_key(k, prefix)
        if nk.startswith("applied:"):
            applied.append(nk)
        elif nk.startswith("sup:") and t == "hash":
            sup[nk] = {f: x for f, x in pairs(v).items() if f not in SUP_DROP}
        elif nk == "supcount" and t == "hash":
            supcount = {f: int(x) for f, x in pairs(v).items() if f != "_complete"}
        elif nk.startswith("stats:") and t == "hash":
            for f, x in pairs(v).items():
                stats[f] += int(x)
        elif t == "stream":
            for _id, fields in v:
                e = pairs(fields)
                if e.get("stable_id"):
                    per_id[e["stable_id"] + " " + e.get("kind", "")] += 1
                if "folder" in e:
                    e["folder"] = e["folder"].rsplit("/", 1)[-1]
                events[json.dumps({f: x for f, x in e.items() if f not in EV_DROP},
                                  sort_keys=True)] += 1
        elif t in ("zset", "set"):
            # {p}:supexp members name suppression keys: compare them without the prefix
            sets[nk] = sorted(m.replace("{%s}:" % prefix, "") for m in v)
        elif t == "list":
            lens[nk] = v
        else:
            other[nk] = t  # alert windows and the like: that they exist
    dup = {k: n for k, n in per_id.items() if n > 1}
    # the counters the scripts keep must equal a walk of the suppressions
    walk = collections.Counter((h.get("list") or "-") + "\t" + h.get("reason", "-")
                               for h in sup.values())
    if supcount != dict(walk):
        print("state {}: {{p}}:supcount {} != the suppressions {}".format(prefix, supcount, dict(walk)))
        sys.exit(1)
    res = {
        "supcount": supcount,
        "suppressions": sup,
        "sets": sets,
        "list_lengths": lens,
        "applied": sorted(applied),
        "stats": dict(stats),
        "events": dict(events),
        "events_per_stable_id": dict(per_id),
        "other_keys": other,
    }
    with open(out_path, "w", encoding="latin-1") as f:
        json.dump(res, f, sort_keys=True, indent=0)
    print("state {}: {} suppressions, {} applied, {} events ({} distinct), {} stats fields, "
          "{} stable ids with more than one event of a kind".format(
              prefix, len(sup), len(applied), sum(events.values()), len(events), len(stats), len(dup)))


def folders(maildir, out_path, specs):
    where = collections.defaultdict(list)
    counts = {}
    for spec in specs:
        name, folder = spec.split("=", 1)
        d = maildir if folder == "INBOX" else os.path.join(maildir, "." + folder.replace("/", "."))
        n = 0
        for sub in ("cur", "new"):
            p = os.path.join(d, sub)
            if not os.path.isdir(p):
                continue
            for fn in os.listdir(p):
                with open(os.path.join(p, fn), "rb") as f:
                    head = f.read(400000)
                m = re.search(rb"(?im)^Message-ID: (<gen-[^>]*>)", head)
                mid = m.group(1).decode() if m else "?" + fn
                where[mid].append(name)
                n += 1
        counts[name] = n
    with open(out_path, "w") as f:
        json.dump({"counts": counts, "where": where}, f, sort_keys=True, indent=0)
    multi = sum(1 for v in where.values() if len(v) > 1)
    print("folders: " + " ".join("{}={}".format(k, v) for k, v in sorted(counts.items())) +
          ", {} Message-IDs, {} in more than one place".format(len(where), multi))


def compare(a_path, b_path):
    with open(a_path, encoding="latin-1") as f:
        a = json.load(f)
    with open(b_path, encoding="latin-1") as f:
        b = json.load(f)
    bad = 0
    for sec in sorted(set(a) | set(b)):
        x, y = a.get(sec), b.get(sec)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            keys = sorted(set(x) | set(y))
            diff = [k for k in keys if x.get(k) != y.get(k)]
            print("DIFF {}: {} entries differ (of {} / {})".format(sec, len(diff), len(x), len(y)))
            for k in diff[:8]:
                print("   {}\n     undisturbed: {}\n     disturbed:   {}".format(
                    k, json.dumps(x.get(k))[:300], json.dumps(y.get(k))[:300]))
        else:
            sx, sy = set(map(str, x or [])), set(map(str, y or []))
            print("DIFF {}: {} only undisturbed, {} only disturbed: {} / {}".format(
                sec, len(sx - sy), len(sy - sx), sorted(sx - sy)[:5], sorted(sy - sx)[:5]))
        bad += 1
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "state":
        state(argv[2], argv[3], argv[4])
        return 0
    if len(argv) >= 4 and argv[1] == "folders":
        folders(argv[2], argv[3], argv[4:])
        return 0
    if len(argv) == 4 and argv[1] == "compare":
        return compare(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
