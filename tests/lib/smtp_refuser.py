#!/usr/bin/env python3
"""smtp_refuser.py - a scripted SMTP server that refuses each recipient with a reply from a table.

    smtp_refuser.py --table FILE --ports-out FILE [--log FILE] [--host 127.0.0.1]

Standard library only (asyncio). The table is tab-separated, '#' lines are comments:

    local-part  stage  reply  [anything else, ignored]

stage says when the reply is given:
    connect  instead of the 220 greeting (the connection is then closed)
    helo     to EHLO and to HELO
    mail     to MAIL FROM
    rcpt     to RCPT TO
    data     to DATA
    dot      after the message, at the end of DATA
    deadmx   nothing: the row's mail goes to a closed port (no listener here)
reply is one SMTP reply; a multi-line reply has its lines separated by the two characters "\\n"
("550-5.1.1 first\\n550 5.1.1 last"). A reply beginning with 421 closes the connection after it.

RCPT, DATA and end-of-DATA replies are looked up by the local part of the first recipient of the
transaction, on the shared listener. A refusal before RCPT cannot know its recipient, so each
connect/helo/mail row gets a listener of its own. The ports file, written once every listener is
up (and renamed into place, so that a reader never sees half of it), has one line per listener:
"*<TAB>PORT" for the shared one, "LOCAL<TAB>PORT" for each row of its own. Recipients that no row
names are accepted and their message is discarded. Runs until SIGTERM or SIGINT.
"""

import argparse
import asyncio
import os
import signal
import sys

PRE_RCPT = ("connect", "helo", "mail")
STAGES = PRE_RCPT + ("rcpt", "data", "dot", "deadmx")
MAX_LINE = 4096  # RFC 5321 4.5.3.1.6 allows 1000 octets; a test peer gets some slack
MAX_MESSAGE = 10 * 1024 * 1024


def load_table(path):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) < 3:
                sys.exit("%s:%d: want local-part, stage, reply" % (path, n))
            local, stage, reply = cols[0].lower(), cols[1].lower(), cols[2]
            if stage not in STAGES:
                sys.exit("%s:%d: unknown stage %r" % (path, n, stage))
            lines = reply.split("\\n")
            for ln in lines if stage != "deadmx" else []:
                if len(ln) < 4 or not ln[:3].isdigit() or ln[3] not in " -":
                    sys.exit("%s:%d: not an SMTP reply line: %r" % (path, n, ln))
            rows[local] = (stage, lines)
    return rows


def wire(lines):
    """the reply lines as sent: continuation marks fixed so that only the last has a space"""
    out = []
    for i, ln in enumerate(lines):
        mark = " " if i == len(lines) - 1 else "-"
        out.append(ln[:3] + mark + ln[4:])
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


class Session:
    def __init__(self, rows, own, reader, writer, log):
        self.rows, self.own = rows, own  # own: the row of a per-row listener, or None
        self.r, self.w, self.log = reader, writer, log
        self.mail = False
        self.rcpts = []

    def note(self, direction, text):
        if self.log is not None:
            peer = self.w.get_extra_info("sockname")
            self.log.write("%s %s %s\n" % (peer[1] if peer else "-", direction, text))
            self.log.flush()

    async def send(self, lines):
        data = wire(lines) if isinstance(lines, list) else (lines + "\r\n").encode()
        self.note(">>>", data.decode("utf-8", "replace").rstrip().replace("\r\n", " | "))
        self.w.write(data)
        await self.w.drain()
        return data[:3] == b"421"

    def own_reply(self, stage):
        if self.own is not None and self.own[0] == stage:
            return self.own[1]
        return None

    def row_of(self, addr):
        local = addr.strip().strip("<>").split("@")[0].lower()
        return self.rows.get(local)

    async def readline(self):
        line = await self.r.readuntil(b"\n")
        if len(line) > MAX_LINE:
            raise ValueError("line too long")
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    async def run(self):
        reply = self.own_reply("connect")
        if reply is not None:
            await self.send(reply)
            return
        await self.send("220 refuser.test ESMTP test refuser")
        while True:
            line = await self.readline()
            self.note("<<<", line)
            verb = line[:4].upper()
            arg = line[4:].strip()
            if verb in ("EHLO", "HELO"):
                reply = self.own_reply("helo")
                if reply is not None:
                    if await self.send(reply):
                        return
                elif verb == "EHLO":
                    await self.send(["250-refuser.test", "250-PIPELINING", "250-SIZE 10240000",
                                     "250-8BITMIME", "250 ENHANCEDSTATUSCODES"])
                else:
                    await self.send("250 refuser.test")
            elif line[:10].upper() == "MAIL FROM:":
                reply = self.own_reply("mail")
                if reply is not None:
                    if await self.send(reply):
                        return
                else:
                    self.mail, self.rcpts = True, []
                    await self.send("250 2.1.0 Ok")
            elif line[:8].upper() == "RCPT TO:":
                if not self.mail:
                    await self.send("503 5.5.1 Error: need MAIL command")
                    continue
                addr = line[8:].split()[0] if line[8:].split() else ""
                row = self.row_of(addr)
                if row is not None and row[0] == "rcpt":
                    if await self.send(row[1]):
                        return
                else:
                    self.rcpts.append(row)
                    await self.send("250 2.1.5 Ok")
            elif verb == "DATA":
                if not self.rcpts:
                    await self.send("554 5.5.1 Error: no valid recipients")
                    continue
                row = self.rcpts[0]
                if row is not None and row[0] == "data":
                    self.mail, self.rcpts = False, []
                    if await self.send(row[1]):
                        return
                    continue
                await self.send("354 End data with <CR><LF>.<CR><LF>")
                size = 0
                while True:
                    body = await self.r.readuntil(b"\n")
                    size += len(body)
                    if size > MAX_MESSAGE:
                        raise ValueError("message too big")
                    if body.rstrip(b"\r\n") == b".":
                        break
                self.note("<<<", "(message, %d bytes)" % size)
                self.mail, self.rcpts = False, []
                if row is not None and row[0] == "dot":
                    if await self.send(row[1]):
                        return
                else:
                    await self.send("250 2.0.0 Ok: queued and discarded")
            elif verb == "RSET":
                self.mail, self.rcpts = False, []
                await self.send("250 2.0.0 Ok")
            elif verb == "NOOP":
                await self.send("250 2.0.0 Ok")
            elif verb == "QUIT":
                await self.send("221 2.0.0 Bye")
                return
            else:
                await self.send("502 5.5.2 Error: command not recognized")


async def main_async(args):
    rows = load_table(args.table)
    log = open(args.log, "a", encoding="utf-8") if args.log else None

    def handler(own):
        async def handle(reader, writer):
            try:
                await Session(rows, own, reader, writer, log).run()
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                    ConnectionError):
                pass
            finally:
                writer.close()
        return handle

    servers, ports = [], []
    srv = await asyncio.start_server(handler(None), args.host, 0, limit=MAX_LINE * 2)
    servers.append(srv)
    ports.append(("*", srv.sockets[0].getsockname()[1]))
    for local, (stage, lines) in sorted(rows.items()):
        if stage in PRE_RCPT:
            srv = await asyncio.start_server(handler((stage, lines)), args.host, 0,
                                             limit=MAX_LINE * 2)
            servers.append(srv)
            ports.append((local, srv.sockets[0].getsockname()[1]))
    tmp = args.ports_out + ".tmp"
    with open(tmp, "w") as f:
        for local, port in ports:
            f.write("%s\t%d\n" % (local, port))
    os.rename(tmp, args.ports_out)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for srv in servers:
        srv.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", required=True)
    ap.add_argument("--ports-out", required=True)
    ap.add_argument("--log")
    ap.add_argument("--host", default="127.0.0.1")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
