#!/usr/bin/env python3
"""verp_reference.py - an independent reimplementation of bouncer's VERP formats (docs/verp.md).

Standard library only (hmac, hashlib, base64): what a sender written in Python needs to make
signed VERP addresses that bouncer verifies, and what tests/cli/test_verp.sh checks the C code
against.

    verp_reference.py encode --key-file K [--key-file K2] --list LIST --domain D [--now T]
                             [--format signed|classic] [--prefix P] [--delimiters XY]
                             [--tag-bytes N] [--max-local N] ADDRESS
    verp_reference.py decode --key-file K ... --domain D [--now T] [--max-age S] ADDRESS
    verp_reference.py vectors      # the README test vectors, one per line, TAB-separated
    verp_reference.py random N SEED  # N random cases with the reference's encoding
    verp_reference.py check-decodes FILE  # does the reference decode what C decoded, alike?

IDN: Python's own "idna" codec is IDNA2003; bouncer uses IDNA2008 (libidn2). They agree on the
common letters the random cases use; give A-labels to be safe elsewhere.
"""

import base64
import hashlib
import hmac
import random
import sys

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
ATEXT_PUNCT = "!#$%&'*+-/=?^_`{|}~"
DAY = 86400
TS_MOD = 32768
LOCAL_SAFE = set("abcdefghijklmnopqrstuvwxyz0123456789-")


class VerpError(Exception):
    pass


class Conf:
    def __init__(self):
        self.format = "signed"
        self.prefix = "bounces"
        self.domain = ""
        self.d1 = "+"
        self.d2 = "="
        self.keys = []
        self.max_age = 60 * DAY
        self.tag_bytes = 8
        self.max_local = 64


def is_atext(b):
    return b >= 0x80 or chr(b).isascii() and (chr(b).isalnum() or chr(b) in ATEXT_PUNCT)


def is_dot_atom(local):
    """local: bytes"""
    if not local or local[:1] == b"." or local[-1:] == b"." or b".." in local:
        return False
    return all(b == 0x2E or is_atext(b) for b in local)


def ldh_ok(d):
    if not d or len(d) > 253:
        return False
    for label in d.split("."):
        if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        if any(ch not in "abcdefghijklmnopqrstuvwxyz0123456789-" for ch in label):
            return False
    return True


def norm_domain(d):
    """str -> lower-case A-label host name"""
    if not d or d.startswith("["):
        raise VerpError("bad domain")
    if not d.isascii():
        try:
            d = d.encode("idna").decode("ascii")
        except UnicodeError as e:
            raise VerpError("bad international domain name") from e
    d = d.lower()
    if not ldh_ok(d):
        raise VerpError("domain is not a valid host name")
    return d


def list_ok(name):
    if not 1 <= len(name) <= 64 or name.endswith(".") or ".." in name:
        return False
    if name[0] not in "abcdefghijklmnopqrstuvwxyz0123456789":
        return False
    return all(ch in "abcdefghijklmnopqrstuvwxyz0123456789._-" for ch in name)


def parse_recipient(addr, allow_quoted=True):
    """'local@domain' (str) -> (local bytes, normalized domain)"""
    addr = addr.strip()
    if addr.startswith("<") and addr.endswith(">"):
        addr = addr[1:-1].strip()
    raw = addr.encode("utf-8")
    if raw.startswith(b'"'):
        local = bytearray()
        i = 1
        while i < len(raw) and raw[i] != 0x22:
            if raw[i] == 0x5C:
                i += 1
                if i == len(raw):
                    break
            if raw[i] < 0x20 or raw[i] == 0x7F:
                raise VerpError("bad character")
            local.append(raw[i])
            i += 1
        if i + 1 >= len(raw) or raw[i + 1] != 0x40 or not local:
            raise VerpError("recipient must be local@domain")
        local, dom = bytes(local), raw[i + 2 :]
        if not allow_quoted and not is_dot_atom(local):
            raise VerpError("quoted local part in classic")
    else:
        at = raw.rfind(b"@")
        if at <= 0:
            raise VerpError("recipient must be local@domain")
        local, dom = raw[:at], raw[at + 1 :]
        if not is_dot_atom(local):
            raise VerpError("local part needs quoting")
    if len(local) > 255:
        raise VerpError("local part too long")
    return local, norm_domain(dom.decode("utf-8"))


def enc_local(local):
    """bytes -> case-proof text: [a-z0-9-] and lone inner dots kept, the rest _XX"""
    out = []
    for i, b in enumerate(local):
        ch = chr(b)
        if ch in LOCAL_SAFE or (
            ch == "." and 0 < i < len(local) - 1 and local[i - 1] != 0x2E
        ):
            out.append(ch)
        else:
            out.append("_%02x" % b)
    return "".join(out)


def dec_local(text):
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "_":
            h = text[i + 1 : i + 3]
            if len(h) != 2 or any(c not in "0123456789abcdef" for c in h):
                raise VerpError("malformed VERP address")
            b = int(h, 16)
            if b < 0x20 or b == 0x7F:
                raise VerpError("malformed VERP address")
            out.append(b)
            i += 3
        elif ch in LOCAL_SAFE or ch == ".":
            out.append(ord(ch))
            i += 1
        else:
            raise VerpError("malformed VERP address")
    if not out:
        raise VerpError("malformed VERP address")
    return bytes(out)


def quote_local(local):
    if is_dot_atom(local):
        return local.decode("utf-8", "surrogateescape")
    q = local.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    return '"' + q.decode("utf-8", "surrogateescape") + '"'


def ts_chars(now):
    day = (now // DAY) % TS_MOD
    return ALPHABET[(day >> 10) & 31] + ALPHABET[(day >> 5) & 31] + ALPHABET[day & 31]


def mac(key, ts, lst, elocal, dom):
    msg = "\n".join(["bouncer-verp-1", ts, lst, elocal, dom]).encode("ascii")
    return hmac.new(key, msg, hashlib.sha256).digest()


def b32(data):
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def encode(conf, lst, recipient, now):
    if not list_ok(lst):
        raise VerpError("bad list name")
    bdom = norm_domain(conf.domain)
    local, dom = parse_recipient(recipient, conf.format == "signed")
    head = conf.prefix + conf.d1 + lst + conf.d2
    if conf.format == "classic":
        lp = head + local.decode("utf-8", "surrogateescape") + conf.d2 + dom
    else:
        if not conf.keys:
            raise VerpError("no VERP key configured")
        ts = ts_chars(now)
        el = enc_local(local)
        tag = mac(conf.keys[0], ts, lst, el, dom)[: conf.tag_bytes]
        lp = head + el + conf.d2 + dom + conf.d2 + ts + b32(tag)
    if len(lp.encode("utf-8")) > conf.max_local:
        raise VerpError("VERP local part would exceed max_local")
    return lp + "@" + bdom


def decode(conf, addr, now):
    """-> (list, recipient); raises VerpError with bouncer's reason"""
    addr = addr.strip()
    if addr.startswith("<") and addr.endswith(">"):
        addr = addr[1:-1].strip()
    at = addr.rfind("@")
    local, dom = (addr, None) if at < 0 else (addr[:at], addr[at + 1 :])
    if not local:
        raise VerpError("not a VERP address")
    if dom is not None and conf.domain:
        try:
            if norm_domain(dom) != norm_domain(conf.domain):
                raise VerpError("not the bounce domain")
        except VerpError:
            raise VerpError("not the bounce domain")
    if len(local) >= 2 and local[0] == local[-1] == '"' and not any(c in local[1:-1] for c in '"\\'):
        local = local[1:-1]  # needless quotes around our local part
    head = (conf.prefix + conf.d1).lower()
    if not local.lower().startswith(head) or len(local) <= len(head):
        raise VerpError("not a VERP address")
    rest = local[len(head) :]
    if conf.format == "classic":
        first, last = rest.find(conf.d2), rest.rfind(conf.d2)
        if first < 0 or last - first < 2:
            raise VerpError("not a VERP address")
        lst = rest[:first].lower()
        if not list_ok(lst):
            raise VerpError("malformed VERP address")
        return lst, rest[first + 1 : last] + "@" + norm_domain(rest[last + 1 :])
    fields = rest.lower().split(conf.d2)
    if len(fields) != 4:
        raise VerpError("not a VERP address")
    lst, el, d, sig = fields
    if not list_ok(lst) or not ldh_ok(d) or len(sig) < 3:
        raise VerpError("malformed VERP address")
    loc = dec_local(el)
    if any(c not in ALPHABET for c in sig):
        raise VerpError("malformed VERP address")
    ts, tagtext = sig[:3], sig[3:]
    sizes = [n for n in range(max(8, conf.tag_bytes), 33) if (n * 8 + 4) // 5 == len(tagtext)]
    if not sizes:
        raise VerpError("bad signature length")
    n = sizes[0]
    tag = base64.b32decode(tagtext.upper() + "=" * (-len(tagtext) % 8))[:n]
    if b32(tag) != tagtext:  # unused low bits must be zero
        raise VerpError("malformed VERP address")
    if not conf.keys:
        raise VerpError("no VERP key configured")
    if not any(hmac.compare_digest(mac(k, ts, lst, el, d)[:n], tag) for k in conf.keys):
        raise VerpError("bad signature")
    day = (ALPHABET.index(ts[0]) << 10) | (ALPHABET.index(ts[1]) << 5) | ALPHABET.index(ts[2])
    age = ((now // DAY) % TS_MOD - day) % TS_MOD
    if age == TS_MOD - 1:
        age = 0  # dated tomorrow: clock skew
    if conf.max_age > 0 and age * DAY > conf.max_age:
        raise VerpError("expired")
    return lst, quote_local(loc) + "@" + d


# The README's test vectors: key, list, recipient, now.
VECTOR_KEY = b"bouncer-test-key-0123456789abcdef"
VECTORS = [
    ("news", "john.smith@example.com", 1767225600),
    ("news", "John.Smith@Example.COM", 1767225600),
    ("news", '"john doe"@example.com', 1767225600),
    ("news", "a+b=c@b\u00fccher.example", 1767225600),
    ("offers-2026", "x@xn--mnchen-3ya.de", 1790000000),
]


def vectors():
    c = Conf()
    c.domain = "bounce.example.com"
    c.keys = [VECTOR_KEY]
    for lst, rcpt, now in VECTORS:
        print("\t".join([lst, rcpt, str(now), encode(c, lst, rcpt, now)]))


def random_local(rng):
    kind = rng.randrange(10)
    if kind < 5:  # dot-atom with the usual and the odd atext
        chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + "+=-_.." + ATEXT_PUNCT
        n = rng.randint(1, 20)
        while True:
            s = "".join(rng.choice(chars) for _ in range(n))
            if is_dot_atom(s.encode()):
                return s
    if kind < 7:  # quoted, with spaces, quotes, backslashes, '@'
        chars = "abcXYZ019 .@\"\\,;:()<>[]+=" + "\u00e9"
        s = "".join(rng.choice(chars) for _ in range(rng.randint(1, 12)))
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if kind < 9:  # plain names
        first = rng.choice(["john", "Mary", "o'brien", "j.doe", "anne-marie", "ZED", "x"])
        return first + rng.choice(["", ".smith", "+tag", "=eq", "-1", "_x", "99"])
    return "\u00fcser" + str(rng.randrange(100))  # SMTPUTF8 local part


def random_domain(rng):
    labels = ["example", "mail", "b\u00fccher", "m\u00fcnchen", "caf\u00e9", "xn--bcher-kva",
              "EXAMPLE", "a-b", "x1", "espa\u00f1a"]
    tlds = ["com", "de", "org", "co.uk", "example", "COM"]
    return ".".join(rng.choice(labels) for _ in range(rng.randint(1, 2))) + "." + rng.choice(tlds)


def case_conf(fmt, delims, max_local):
    c = Conf()
    c.domain = "bounce.example.com"
    c.keys = [VECTOR_KEY]
    c.format, c.d1, c.d2, c.max_local = fmt, delims[0], delims[1], int(max_local)
    return c


def random_cases(n, seed):
    """N cases, TAB-separated: list recipient now format delimiters max_local expected
    (expected is the reference's address, or "!" and its reason when it refuses)"""
    rng = random.Random(seed)
    lists = ["news", "a", "offers-2026", "x.y", "l_1", "weekly"]
    for i in range(1, n + 1):
        rcpt = random_local(rng) + "@" + random_domain(rng)
        now = rng.randrange(1500000000, 2500000000)
        lst = rng.choice(lists)
        fmt = "classic" if i % 5 == 0 else "signed"
        delims = "-=" if i % 3 == 0 else "+="
        max_local = "255" if i % 4 == 0 else "64"
        try:
            want = encode(case_conf(fmt, delims, max_local), lst, rcpt, now)
        except VerpError as e:
            want = "!" + str(e)
        print("\t".join([lst, rcpt, str(now), fmt, delims, max_local, want]))


def check_decodes(path):
    """lines: now format delimiters max_local address c_recipient; the reference decodes the
    address and must find the same recipient. Prints disagreements; returns their count."""
    bad = 0
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            now, fmt, delims, max_local, addr, c_rcpt = line.rstrip("\n").split("\t")
            try:
                _, r = decode(case_conf(fmt, delims, max_local), addr, int(now))
            except VerpError as e:
                r = "!" + str(e)
            if r != c_rcpt:
                print("decode %s: reference %s, C %s" % (addr, r, c_rcpt))
                bad += 1
    return bad


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    cmd, args = argv[1], argv[2:]
    if cmd == "vectors":
        vectors()
        return 0
    if cmd == "random":
        random_cases(int(args[0]), int(args[1]))
        return 0
    if cmd == "check-decodes":
        return 1 if check_decodes(args[0]) else 0
    c = Conf()
    now = None
    lst = None
    i = 0
    while i < len(args) - 1:
        opt, val = args[i], args[i + 1]
        if opt == "--":
            i += 1
            break
        if opt == "--key-file":
            with open(val, "rb") as f:
                c.keys.append(f.read().rstrip(b"\r\n"))
        elif opt == "--list":
            lst = val
        elif opt == "--domain":
            c.domain = val
        elif opt == "--now":
            now = int(val)
        elif opt == "--format":
            c.format = val
        elif opt == "--prefix":
            c.prefix = val
        elif opt == "--delimiters":
            c.d1, c.d2 = val[0], val[1]
        elif opt == "--tag-bytes":
            c.tag_bytes = int(val)
        elif opt == "--max-age":
            c.max_age = int(val)
        elif opt == "--max-local":
            c.max_local = int(val)
        else:
            print("unknown option " + opt, file=sys.stderr)
            return 64
        i += 2
    if i != len(args) - 1:
        print("expected one ADDRESS", file=sys.stderr)
        return 64
    if now is None:
        import time

        now = int(time.time())
    try:
        if cmd == "encode":
            print(encode(c, lst, args[-1], now))
        else:
            l, r = decode(c, args[-1], now)
            print("%s\t%s" % (l, r))
    except VerpError as e:
        print(str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
