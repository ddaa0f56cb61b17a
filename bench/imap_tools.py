#!/usr/bin/env python3
"""imap_tools.py - the IMAP side of bench/e2e.sh: the plain-fetch floor and a counting proxy.

    imap_tools.py floor HOST PORT USER PASSWORD_FILE MAILBOX BATCH
        Log in, SELECT, UID SEARCH ALL, then UID FETCH n:m BODY.PEEK[] in batches of BATCH
        UIDs (what any IMAP client must do to read everything, and nothing more). Prints
        "<messages> <bytes> <seconds> <commands>" for the part after LOGIN.

    imap_tools.py floor-move HOST PORT USER PASSWORD_FILE MAILBOX BATCH DEST
        The same, and after each batch's FETCH a UID MOVE of the batch to DEST: the least any
        drainer must make the server do (the fair floor for bouncer, which moves everything).

    imap_tools.py proxy LISTEN_PORT_FILE TARGET_PORT COUNT_FILE
        A TCP proxy on 127.0.0.1 (free port written to LISTEN_PORT_FILE) to 127.0.0.1:TARGET_PORT
        that counts the tagged commands clients send (one line that starts "<tag> <command>",
        continuation lines of literals excluded) and writes "<commands> <connections>" to
        COUNT_FILE after each connection closes, then one line per command name and session
        kind: "<name> <count> <seconds>", the seconds from the command's line to its tagged
        answer (the server's time, with a client that sends one command at a time). Plain IMAP only (TLS would hide the commands).
        Since bouncer waits for each command's completion before it sends the next one (libetpan
        is synchronous), commands equal round trips.
"""

import imaplib
import os
import re
import select
import socket
import sys
import time


def floor(host, port, user, pwfile, mailbox, batch, dest=None):
    with open(pwfile) as f:
        pw = f.read().strip()
    m = imaplib.IMAP4(host, int(port))
    m.login(user, pw)
    t0 = time.monotonic()
    cmds = 0
    typ, _ = m.select(mailbox, readonly=dest is None)
    cmds += 1
    typ, data = m.uid("SEARCH", "ALL")
    cmds += 1
    uids = [int(x) for x in data[0].split()]
    n = 0
    nbytes = 0
    for i in range(0, len(uids), batch):
        chunk = uids[i:i + batch]
        # consecutive after SEARCH ALL on a fresh mailbox; a set works either way
        uset = "%d:%d" % (chunk[0], chunk[-1]) if chunk[-1] - chunk[0] == len(chunk) - 1 else \
            ",".join(str(u) for u in chunk)
        typ, data = m.uid("FETCH", uset, "(BODY.PEEK[])")
        cmds += 1
        for item in data:
            if isinstance(item, tuple):
                n += 1
                nbytes += len(item[1])
        if dest is not None:
            typ, _ = m.uid("MOVE", uset, dest)
            if typ != "OK":
                sys.exit("UID MOVE failed")
            cmds += 1
    t = time.monotonic() - t0
    m.logout()
    print(n, nbytes, "%.3f" % t, cmds)


TAG_RE = re.compile(rb"^[A-Za-z0-9.]+ [A-Za-z]")
LITERAL_RE = re.compile(rb"\{(\d+)\+?\}\r?$")


def proxy(port_file, target_port, count_file):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    total = 0
    conns = 0
    timing = {}  # command name -> [count, seconds]
    pairs = {}  # fd -> (peer socket, is_client, state)
    socks = {ls.fileno(): ls}
    while True:
        r, _, _ = select.select(list(socks.values()), [], [])
        for s in r:
            if s is ls:
                c, _ = ls.accept()
                u = socket.create_connection(("127.0.0.1", int(target_port)))
                for x in (c, u):
                    x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                st = {"buf": b"", "skip": 0, "wait": None, "tail": b""}
                pairs[c.fileno()] = (u, True, st)
                pairs[u.fileno()] = (c, False, st)
                socks[c.fileno()] = c
                socks[u.fileno()] = u
                conns += 1
                continue
            if s.fileno() not in pairs:  # closed with its peer earlier in this round
                continue
            peer, is_client, st = pairs[s.fileno()]
            try:
                data = s.recv(262144)
            except OSError:
                data = b""
            if not data:
                for x in (s, peer):
                    socks.pop(x.fileno(), None)
                    pairs.pop(x.fileno(), None)
                    x.close()
                with open(count_file, "w") as f:
                    f.write("%d %d\n" % (total, conns))
                    for name, (c, t) in sorted(timing.items()):
                        f.write("%s %d %.4f\n" % (name, c, t))
                continue
            if is_client:
                st["buf"] += data
                while True:
                    if st["skip"] > 0:
                        k = min(st["skip"], len(st["buf"]))
                        st["buf"] = st["buf"][k:]
                        st["skip"] -= k
                        if st["skip"] > 0:
                            break
                    j = st["buf"].find(b"\n")
                    if j < 0:
                        break
                    line, st["buf"] = st["buf"][:j], st["buf"][j + 1:]
                    if not st.get("cont") and TAG_RE.match(line):
                        total += 1
                        w = line.split(None, 3)
                        name = w[1].upper() if len(w) > 1 else b""
                        if name == b"UID" and len(w) > 2:
                            name += b" " + w[2].upper()
                        st["wait"] = (b"\n" + w[0] + b" ", name.decode("ascii", "replace"),
                                      time.monotonic())
                    lit = LITERAL_RE.search(line)
                    st["cont"] = lit is not None  # the line after a literal continues the command
                    if lit:
                        st["skip"] = int(lit.group(1))
            elif st["wait"] is not None:
                # the tagged answer: "<tag> " at a line's start (the tail of the last read
                # is kept, so that an answer split across reads is seen)
                hay = st["tail"] + data
                if hay.find(st["wait"][0]) >= 0:
                    c_t = timing.setdefault(st["wait"][1], [0, 0.0])
                    c_t[0] += 1
                    c_t[1] += time.monotonic() - st["wait"][2]
                    st["wait"] = None
                st["tail"] = hay[-64:]
            peer.sendall(data)


def main(argv):
    if argv[1] == "floor":
        floor(argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]))
    elif argv[1] == "floor-move":
        floor(argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]), argv[8])
    elif argv[1] == "proxy":
        proxy(argv[2], argv[3], argv[4])
    else:
        sys.exit("usage: imap_tools.py floor|proxy ...")


if __name__ == "__main__":
    main(sys.argv)
