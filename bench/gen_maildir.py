#!/usr/bin/env python3
"""gen_maildir.py - write N signed-VERP bounces straight into a Maildir (bench/e2e.sh).

    gen_maildir.py MAILDIR N KEY_FILE DOMAIN
    gen_maildir.py --corpus DIR MAILDIR N KEY_FILE DOMAIN DOMAINS_OUT

Writing the files directly is seconds for 100,000 messages where an APPEND or `doveadm save`
per message would take minutes. Each file name carries S=<size> and W=<size with CRLF> so
Dovecot learns RFC822.SIZE without reading the message. The mix, by message number modulo 20:
14 hard DSNs (5.1.1 and friends, one recipient each), 3 soft DSNs (4.2.2), 2 plain-text
(Postfix-style, no DSN part) bounces, 1 out-of-office reply. Recipients are all distinct, so
every bounce is a real Redis write. VERP addresses are signed with tests/cli/verp_reference.py,
the project's independent implementation of the format.

With --corpus, the messages are real bounces instead: the .eml files of DIR (the shared Sisimai
corpus: many MTAs, bounces, feedback reports and auto-replies) taken in turn, a leading mbox
"From " line dropped, each copy with a fresh Message-ID (replacing the first one of its header,
else added at the top) so that every copy has its own stable id. To make them bounces of our
own mail, copy i has the first recipient of its file's labels.json entry, wherever it appears
as written, replaced by a copy-specific address (local part + ".b<i>"), and a Delivered-To: of
the signed VERP address of that address (list news or promo) added at the top: every copy is
then about its own subscriber, as at a real sender. The domains of every From: address in the
corpus (the returned messages' senders among them) are written to DOMAINS_OUT, one a line, for
the bench's our_domains: otherwise the loop check rightly calls the copies backscatter.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cli"))
import verp_reference as vr  # noqa: E402

HARD = [
    ("5.1.1", "550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table"),
    ("5.1.1", "550-5.1.1 The email account that you tried to reach does not exist. Please try "
     "double-checking the recipient's email address for typos"),
    ("5.1.1", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"),
    ("5.2.1", "550 5.2.1 The email account that you tried to reach is disabled"),
]
SOFT = ("4.2.2", "452 4.2.2 The email account that you tried to reach is over quota")

DSN = """Return-Path: <>
Delivered-To: {v}
Received: from mx{n}.example.net by mx.example.com; Fri, 27 Nov 2026 10:00:00 +0000
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: {v}
Subject: Undelivered Mail Returned to Sender
Date: Fri, 27 Nov 2026 10:00:00 +0000
Message-ID: <dsn.{n}@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"
Auto-Submitted: auto-replied

--BOUNDARY
Content-Type: text/plain

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

                   The mail system

<{r}>: host mx{n}.example.net[192.0.2.{o}] said: {t} (in reply to RCPT TO
    command)

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
X-Postfix-Queue-ID: 4B{n:08X}
X-Postfix-Sender: rfc822; {v}
Arrival-Date: Fri, 27 Nov 2026 09:59:00 +0000

Final-Recipient: rfc822; {r}
Original-Recipient: rfc822;{r}
Action: failed
Status: {s}
Remote-MTA: dns; mx{n}.example.net
Diagnostic-Code: smtp; {t}

--BOUNDARY
Content-Type: text/rfc822-headers

Return-Path: <{v}>
Received: by mx.example.com (Postfix, from userid 1000) id 4B{n:08X}; Fri, 27 Nov 2026 09:58:00 +0000
From: News <news@example.com>
To: {r}
Subject: Our weekly news, issue {n}
Message-ID: <news.{n}@example.com>
Date: Fri, 27 Nov 2026 09:58:00 +0000
List-Id: <news.example.com>
Precedence: bulk

--BOUNDARY--
"""

TEXT = """Return-Path: <>
Delivered-To: {v}
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: {v}
Subject: Undelivered Mail Returned to Sender
Date: Fri, 27 Nov 2026 10:00:00 +0000
Message-ID: <txt.{n}@mx.example.com>

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{r}>: host mx{n}.example.net[192.0.2.{o}] said: {t} (in reply to RCPT TO
    command)

------ This is a copy of the message, including all the headers. ------

Return-Path: <{v}>
From: News <news@example.com>
To: {r}
Subject: Our weekly news, issue {n}
Message-ID: <news.{n}@example.com>

Hello, this is the news.
"""

OOO = """Return-Path: <>
Delivered-To: {v}
From: Reader {n} <{r}>
To: {v}
Subject: Out of Office: Our weekly news, issue {n}
Date: Fri, 27 Nov 2026 10:00:00 +0000
Message-ID: <ooo.{n}@example.net>
Auto-Submitted: auto-replied
X-Autoreply: yes
Content-Type: text/plain

I am out of the office until Monday and will reply when I am back.
"""


FROM_RE = re.compile(rb"^From:[^\n]*?@([A-Za-z0-9][A-Za-z0-9.-]*)", re.I | re.M)
MSGID_RE = re.compile(rb"^message-id:[^\n]*\n(?:[ \t][^\n]*\n)*", re.I | re.M)


def write(dest, now, i, data):
    """one Maildir file, its sizes in the name (W: with every bare LF made CRLF)"""
    vsize = len(data) + data.count(b"\n") - data.count(b"\r\n")
    name = "%d.M%dP%d.bench,S=%d,W=%d:2," % (now, i, os.getpid(), len(data), vsize)
    with open(os.path.join(dest, name), "wb") as f:
        f.write(data)
    return len(data)


def corpus(src, maildir, n, key_file, domain, domains_out):
    import json
    conf = vr.Conf()
    conf.domain = domain
    with open(key_file, "rb") as f:
        conf.keys.append(f.read().rstrip(b"\r\n"))
    try:
        with open(os.path.join(src, "labels.json")) as f:
            labels = json.load(f)
    except OSError:
        labels = {}
    files = sorted(f for f in os.listdir(src) if f.endswith(".eml"))
    msgs = []
    domains = set()
    for name in files:
        with open(os.path.join(src, name), "rb") as f:
            data = f.read()
        if data.startswith(b"From "):
            data = data[data.find(b"\n") + 1:]
        head = data.find(b"\n\n")
        head = len(data) if head < 0 else head + 1
        m = MSGID_RE.search(data, 0, head)
        for d in FROM_RE.findall(data):
            domains.add(d.decode("ascii").lower().rstrip("."))
        rcpt = ""
        for e in labels.get(name, []):
            if "@" in e.get("recipient", ""):
                rcpt = e["recipient"]
                break
        msgs.append(((data[:m.start()], data[m.end():]) if m else (b"", data), rcpt))
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    dest = os.path.join(maildir, "cur")
    now = int(time.time())
    total = 0
    for i in range(n):
        (a, b), rcpt = msgs[i % len(msgs)]
        mid = b"Message-ID: <bench.%d.%d@bench.example.org>\n" % (i, now)
        data = a + mid + b
        if rcpt:
            local, _, dom = rcpt.rpartition("@")
            mine = "%s.b%d@%s" % (local, i, dom)
            try:
                v = vr.encode(conf, "news" if i % 2 == 0 else "promo", mine, now)
            except vr.VerpError:  # too long for a VERP local part: left as it came
                v = None
            if v is not None:
                data = re.sub(re.escape(rcpt.encode()), mine.encode(), data, flags=re.I)
                data = b"Delivered-To: " + v.encode() + b"\n" + data
        total += write(dest, now, i, data)
    with open(domains_out, "w") as f:
        f.write("".join(d + "\n" for d in sorted(domains)))
    print(total)


def main(argv):
    if argv[1] == "--corpus":
        corpus(argv[2], argv[3], int(argv[4]), argv[5], argv[6], argv[7])
        return
    maildir, n, key_file, domain = argv[1], int(argv[2]), argv[3], argv[4]
    conf = vr.Conf()
    conf.domain = domain
    with open(key_file, "rb") as f:
        conf.keys.append(f.read().rstrip(b"\r\n"))
    now = int(time.time())
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    dest = os.path.join(maildir, "cur")
    total = 0
    for i in range(n):
        r = "reader%d@example%d.net" % (i, i % 97)
        lst = "news" if i % 2 == 0 else "promo"
        v = vr.encode(conf, lst, r, now)
        k = i % 20
        if k < 14:
            s, t = HARD[i % len(HARD)]
            body = DSN.format(v=v, r=r, n=i, o=i % 250 + 1, s=s, t=t.format(r=r))
        elif k < 17:
            body = DSN.format(v=v, r=r, n=i, o=i % 250 + 1, s=SOFT[0], t=SOFT[1])
        elif k < 19:
            s, t = HARD[i % len(HARD)]
            body = TEXT.format(v=v, r=r, n=i, o=i % 250 + 1, t=t.format(r=r))
        else:
            body = OOO.format(v=v, r=r, n=i)
        total += write(dest, now, i, body.encode("ascii"))
    print(total)


if __name__ == "__main__":
    main(sys.argv)
