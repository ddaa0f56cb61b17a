#!/usr/bin/env python3
"""bouncegen.py - a mailbox of real-looking bounces, each a distinct, validly signed VERP bounce.

    bouncegen.py --out DIR --count N --seed S --key-file K --domain D [--prefix P]

Writes N message files DIR/NNNNN.eml and DIR/index.tsv (file, Message-ID, shape, list,
recipient). The shapes come from the bounces of tests/fixtures/ and $BH_SHARED_DIR/corpus/
sisimai/ (labels.json names each one's recipient): the recipient is rewritten to a generated
one everywhere in the message, a Delivered-To with the signed VERP address of (list, recipient)
is put on top (made with tests/cli/verp_reference.py, the independent VERP implementation), and
the Message-ID is replaced by a unique one. Mixed in: synthetic hard and soft DSNs, auto-replies,
complaints (the ARF shapes), forged VERP signatures, and garbage (random bytes, broken MIME,
MIME bombs, over-long header fields), each with a unique Message-ID line too.

Soft bounces draw their recipients from a small pool per shape, so one address bounces several
times (and reaches the soft threshold) always with the same shape: the outcome per address does
not depend on the order in which the messages are read. Same seed, same mailbox.
"""

import argparse
import json
import os
import random
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
import verp_reference as vr  # noqa: E402

LISTS = ["news", "promo"]


def load_shapes(src_dir, shared_dir):
    """(name, bytes, recipient, kind) for every corpus/fixture bounce with one known recipient"""
    shapes = []
    labels_path = os.path.join(shared_dir, "corpus", "sisimai", "labels.json")
    if os.path.exists(labels_path):
        with open(labels_path) as f:
            labels = json.load(f)
        for name in sorted(labels):
            rcpts = labels[name]
            if len(rcpts) != 1 or "@" not in rcpts[0].get("recipient", ""):
                continue
            path = os.path.join(shared_dir, "corpus", "sisimai", name)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if len(data) > 200000:
                continue
            r = rcpts[0]
            if r.get("feedback_type"):
                kind = "complaint"
            elif r.get("reason") == "vacation" or name.startswith("rfc3834"):
                kind = "autoreply"
            elif r.get("hard"):
                kind = "hard"
            else:
                kind = "soft"
            shapes.append((name, data, r["recipient"].encode(), kind))
    return shapes


def header_split(data):
    m = re.search(rb"\r?\n\r?\n", data)
    if m is None:
        return data, b""
    return data[: m.start()], data[m.start():]


def set_message_id(data, mid):
    """drop the top-level Message-ID fields (and their continuation lines), then add ours"""
    head, body = header_split(data)
    lines = re.split(rb"(?<=\n)", head)
    out, skip = [], False
    for ln in lines:
        if skip and ln[:1] in (b" ", b"\t"):
            continue
        skip = ln.lower().startswith(b"message-id:")
        if not skip:
            out.append(ln)
    return b"Message-ID: " + mid + b"\n" + b"".join(out) + body


def replace_ci(data, old, new):
    return re.sub(re.escape(old), new.replace(b"\\", b"\\\\"), data, flags=re.IGNORECASE)


def dsn(verp, rcpt, status, text, mid, lst):
    return (
        "Return-Path: <>\nDelivered-To: {v}\n"
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: {v}\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Date: Fri, 27 Nov 2026 10:00:00 +0000\nMessage-ID: {mid}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"\n'
        "Auto-Submitted: auto-replied\n\n"
        "--BB\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n<{r}>: {t}\n\n"
        "--BB\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: rfc822; {r}\nAction: {a}\nStatus: {s}\n"
        "Remote-MTA: dns; mx.example.org\nDiagnostic-Code: smtp; {t}\n\n"
        "--BB\nContent-Type: text/rfc822-headers\n\nReturn-Path: <{v}>\n"
        "From: {l} <{l}@example.com>\nTo: {r}\nSubject: {l} weekly\n"
        "Message-ID: <{l}.{mid2}@example.com>\n\n--BB--\n"
    ).format(
        v=verp, r=rcpt, s=status, t=text, mid=mid, l=lst,
        a="failed" if status.startswith("5") else "delayed", mid2=mid.strip("<>").split("@")[0],
    ).encode()


HARD_TEXTS = [
    ("5.1.1", "550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table"),
    ("5.1.1", "550 5.1.1 The email account that you tried to reach does not exist"),
    ("5.1.2", "550 5.1.2 Host unknown: domain does not exist"),
    ("5.2.1", "550 5.2.1 This mailbox has been disabled"),
]
SOFT_TEXTS = [
    ("4.2.2", "452 4.2.2 Mailbox full"),
    ("5.2.2", "552 5.2.2 The email account that you tried to reach is over quota"),
    ("4.4.7", "Delivery expired: message in the queue too long"),
]


def garbage(rng, mid, i):
    k = i % 5
    if k == 0:
        return b"Message-ID: " + mid + b"\n" + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))
    if k == 1:  # a MIME bomb
        s = "Message-ID: {}\nFrom: x@example.net\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b0\"\n\n".format(mid.decode())
        for d in range(40):
            s += '--b{}\nContent-Type: multipart/mixed; boundary="b{}"\n\n'.format(d, d + 1)
        s += "--b40\nContent-Type: text/plain\n\nhi\n"
        return s.encode()
    if k == 2:  # an over-long header field
        return b"Message-ID: " + mid + b"\nSubject: " + b"s" * 70000 + b"\n\nbody\n"
    if k == 3:  # broken MIME: boundary never closed, bad base64
        return (b"Message-ID: " + mid + b"\nMIME-Version: 1.0\nContent-Type: multipart/report; "
                b"boundary=\"X\"\n\n--X\nContent-Type: message/delivery-status\n"
                b"Content-Transfer-Encoding: base64\n\n!!!!====\n--X\nContent-Type: text/plain\n\n\0\0\r\r")
    # not a bounce at all: a person writing to the bounce address
    return (b"Message-ID: " + mid + b"\nFrom: someone@example.org\nTo: bounces@example.com\n"
            b"Subject: hello\n\nPlease take me off your list.\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--domain", required=True)
    ap.add_argument("--prefix", default="bounces")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    src = os.path.normpath(os.path.join(HERE, "..", ".."))
    shared = os.environ.get("BH_SHARED_DIR", os.path.join(src, "..", "shared"))
    shapes = load_shapes(src, shared)
    by_kind = {}
    for s in shapes:
        by_kind.setdefault(s[3], []).append(s)

    conf = vr.Conf()
    conf.domain = a.domain
    conf.prefix = a.prefix
    with open(a.key_file, "rb") as f:
        conf.keys = [f.read()]
    now = int(time.time())
    os.makedirs(a.out, exist_ok=True)
    index = []
    # the mix: corpus shapes (hard/soft/complaint/autoreply), synthetic DSNs, forged, garbage
    weights = [("corpus_hard", 22), ("corpus_soft", 10), ("corpus_complaint", 6),
               ("corpus_autoreply", 4), ("dsn_hard", 20), ("dsn_soft", 18), ("forged", 5),
               ("garbage", 8), ("autoreply", 7)]
    names = [w[0] for w in weights]
    wts = [w[1] for w in weights]
    for i in range(a.count):
        shape = rng.choices(names, wts)[0]
        lst = rng.choice(LISTS)
        mid = "<gen-{}-{}@bouncegen.test>".format(a.seed, i).encode()
        rcpt = "u{}@rcpt{}.example.org".format(i, i % 7)
        kind = shape.split("_")[-1]
        if shape.startswith("corpus") and not by_kind.get(kind):
            shape, kind = "dsn_" + ("soft" if kind == "soft" else "hard"), "hard"
        if shape.startswith("corpus"):
            pool = by_kind[kind]
            si = rng.randrange(len(pool))
            name, data, old, _ = pool[si]
            if kind == "soft":
                rcpt = "s{}-{}@soft.example.org".format(si, rng.randrange(3))
                lst = LISTS[si % 2]
            verp = vr.encode(conf, lst, rcpt, now)
            if data.startswith(b"From "):
                data = data.split(b"\n", 1)[-1]  # an mbox separator line
            data = replace_ci(data, old, rcpt.encode())
            data = b"Delivered-To: " + verp.encode() + b"\n" + data
            data = set_message_id(data, mid)
            label = "corpus:" + name
        elif shape == "dsn_hard":
            st, text = HARD_TEXTS[i % len(HARD_TEXTS)]
            verp = vr.encode(conf, lst, rcpt, now)
            data = dsn(verp, rcpt, st, text.format(r=rcpt), mid.decode(), lst)
            label = "dsn:hard"
        elif shape == "dsn_soft":
            k = rng.randrange(len(SOFT_TEXTS))
            rcpt = "t{}-{}@soft.example.net".format(k, rng.randrange(25))
            lst = LISTS[k % 2]
            st, text = SOFT_TEXTS[k]
            verp = vr.encode(conf, lst, rcpt, now)
            data = dsn(verp, rcpt, st, text, mid.decode(), lst)
            label = "dsn:soft"
        elif shape == "forged":
            verp = vr.encode(conf, lst, rcpt, now)
            verp = re.sub(r"=[a-z2-7]+@", "=aaaaaaaaaaaaaaaa@", verp)
            data = dsn(verp, rcpt, "5.1.1", "550 5.1.1 User unknown", mid.decode(), lst)
            label = "forged"
        elif shape == "autoreply":
            verp = vr.encode(conf, lst, rcpt, now)
            data = ("Return-Path: <>\nDelivered-To: {v}\nFrom: {r}\nTo: {v}\n"
                    "Subject: Out of Office: {l} weekly\nMessage-ID: {m}\n"
                    "Auto-Submitted: auto-replied\nX-Autoreply: yes\nContent-Type: text/plain\n\n"
                    "I am away until Monday.\n").format(v=verp, r=rcpt, l=lst, m=mid.decode()).encode()
            label = "autoreply"
        else:
            data = garbage(rng, mid, i)
            lst, rcpt, label = "-", "-", "garbage"
        fn = "{:05d}.eml".format(i)
        with open(os.path.join(a.out, fn), "wb") as f:
            f.write(data)
        index.append("\t".join([fn, mid.decode(), label, lst, rcpt]))
    with open(os.path.join(a.out, "index.tsv"), "w") as f:
        f.write("\n".join(index) + "\n")
    kinds = {}
    for row in index:
        k = row.split("\t")[2].split(":")[0]
        kinds[k] = kinds.get(k, 0) + 1
    print("bouncegen: {} messages, seed {}, {} corpus shapes: {}".format(
        a.count, a.seed, len(shapes), " ".join("{}={}".format(k, v) for k, v in sorted(kinds.items()))))


if __name__ == "__main__":
    main()
