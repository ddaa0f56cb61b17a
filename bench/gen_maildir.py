#!/usr/bin/env python3
"""gen_maildir.py - write N signed-VERP bounces straight into a Maildir (bench/e2e.sh).

    gen_maildir.py MAILDIR N KEY_FILE DOMAIN

Writing the files directly is seconds for 100,000 messages where an APPEND or `doveadm save`
per message would take minutes. Each file name carries S=<size> and W=<size with CRLF> so
Dovecot learns RFC822.SIZE without reading the message. The mix, by message number modulo 20:
14 hard DSNs (5.1.1 and friends, one recipient each), 3 soft DSNs (4.2.2), 2 plain-text
(Postfix-style, no DSN part) bounces, 1 out-of-office reply. Recipients are all distinct, so
every bounce is a real Redis write. VERP addresses are signed with tests/cli/verp_reference.py,
the project's independent implementation of the format.
"""

import os
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


def main(argv):
    maildir, n, key_file, domain = argv[1], int(argv[2]), argv[3], argv[4]
    conf = vr.Conf()
    conf.domain = domain
    with open(key_file, "rb") as f:
        conf.keys.append(f.read().rstrip(b"\r\n"))
    now = int(time.time())
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    dest = os.path.join(maildir, "cur")
    host = "bench"
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
        data = body.encode("ascii")
        vsize = len(data) + data.count(b"\n")
        name = "%d.M%dP%d.%s,S=%d,W=%d:2," % (now, i, os.getpid(), host, len(data), vsize)
        with open(os.path.join(dest, name), "wb") as f:
            f.write(data)
        total += len(data)
    print(total)


if __name__ == "__main__":
    main(sys.argv)
