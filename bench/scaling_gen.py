#!/usr/bin/env python3
"""scaling_gen.py - one pathological message of about KB kilobytes, for bench/scaling.sh and
tests/unit shapes.

    bench/scaling_gen.py SHAPE KB OUT

SHAPE: lf, crlf, cr, mixed (a multipart DSN whose returned message fills the size, with those
line ends), longline (one line as long as the message), shortlines (two-byte lines),
parts (MIME parts of the size / count, at most 512: the default part cap), recipients (a DSN
with one recipient group per 100 bytes), headers (header fields up to 2,000: the default cap).
"""
import sys

shape, kb, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
size = kb * 1024
HDR = ("From: MAILER-DAEMON@mx.example.net\nTo: bounces+news=a=example.org@bounce.example.net\n"
       "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n")


def dsn(body_fill, eol="\n"):
    s = (HDR + "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
         "--B\nContent-Type: text/plain\n\n<a@example.org>: host mx.example.org said: 550 5.1.1 "
         "user unknown (in reply to RCPT TO command)\n\n--B\nContent-Type: message/delivery-status\n\n"
         "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; a@example.org\n"
         "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n\n"
         "--B\nContent-Type: message/rfc822\n\nFrom: news@example.net\nSubject: news\n\n")
    line = "A line of the returned newsletter, long enough to look like text.\n"
    s += line * max(1, (size - len(s)) // len(line)) + "--B--\n"
    return s if eol == "\n" else s.replace("\n", eol)


if shape in ("lf", "crlf", "cr"):
    msg = dsn(None, {"lf": "\n", "crlf": "\r\n", "cr": "\r"}[shape])
elif shape == "mixed":
    lines = dsn(None).split("\n")
    ends = ["\n", "\r\n", "\r"]
    msg = "".join(l + ends[i % 3] for i, l in enumerate(lines))
elif shape == "longline":
    msg = HDR + "Content-Type: text/plain\n\n" + "x" * size
elif shape == "shortlines":
    msg = HDR + "Content-Type: text/plain\n\n" + "x\n" * (size // 2)
elif shape == "parts":
    n = 500
    part = "--P\nContent-Type: text/plain\n\n" + "y" * max(1, size // n - 40) + "\n"
    msg = HDR + "Content-Type: multipart/mixed; boundary=P\n\n" + part * n + "--P--\n"
elif shape == "recipients":
    head = (HDR + "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
            "--B\nContent-Type: text/plain\n\nDelivery failed.\n\n"
            "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n")
    n = max(1, size // 100)
    groups = "".join("\nFinal-Recipient: rfc822; u%d@example.org\nAction: failed\nStatus: 5.1.1\n" % i
                     for i in range(n))
    msg = head + groups + "\n--B--\n"
elif shape == "headers":
    n = 1990
    field = "X-Filler: " + "h" * max(1, size // n - 12) + "\n"
    msg = HDR + field * n + "Content-Type: text/plain\n\nbody\n"
else:
    sys.exit("scaling_gen: unknown shape " + shape)
with open(out, "w", newline="") as f:
    f.write(msg)
