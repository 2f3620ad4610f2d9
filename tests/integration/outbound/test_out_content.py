"""The message arrives at the receiver exactly as it was submitted (plus
sluiced's Received: line): dot-stuffing on the wire, 8-bit octets, long
lines, no bare CR or LF ever sent, MAIL parameters, and an 8 MB
message."""
import hashlib
import random
import re

from out_harness import strip_trace, unstuff, wait_until

LINES = [
    b"From: alice@localhost",
    b"To: bob@dots.test",
    b"Subject: dots and 8-bit",
    b"MIME-Version: 1.0",
    b"Content-Type: text/plain; charset=utf-8",
    b"Content-Transfer-Encoding: 8bit",
    b"",
    b".",
    b"..",
    b"...",
    b".leading dot",
    b". dot and space",
    b"a.b",
    b"",
    b".\t",
    b"caf\xc3\xa9 \xe2\x82\xac na\xc3\xafve \xff\xfe\x80\x81",
    b"x" * 998,
    b"." + b"y" * 997,
    b"trailing dot.",
    b"\x01\x7f\x1b control octets",
    b" .indented",
    b".",
]
MESSAGE = b"\r\n".join(LINES) + b"\r\n"
LONG = [b"." + b"z" * 1499, b"w" * 2000]     # over RFC 5321's 1000


def stuffed(msg):
    return b"".join(b"." + l if l.startswith(b".") else l
                    for l in msg.splitlines(keepends=True))


def no_bare_cr_lf(b):
    return re.search(rb"\r(?!\n)|(?<!\r)\n", b) is None


def test_out_dot_stuffing_and_8bit_pipelined(sluiced, peers):
    """A pipelining peer that records the wire: every line that starts
    with a dot goes out with one more, everything else octet for octet,
    CRLF only; MAIL carries SIZE and BODY=8BITMIME; the commands go out
    pipelined (MAIL, RCPTs and DATA before any reply)."""
    raw = peers.raw()
    srv = sluiced({"outbound.routes": [f"dots.test [127.0.0.1]:{raw.port}"]})
    msg = MESSAGE + b"\r\n".join(LONG) + b"\r\n.\r\n"
    q = srv.send("alice@localhost", ["bob@dots.test", "carol@dots.test"],
                 msg, mail_options=["BODY=8BITMIME"])
    srv.wait_event("delivery", 2, qid=q, status="sent")
    t = raw.transactions[0]
    assert len(raw.transactions) == 1
    wire = t["data"]
    assert strip_trace(wire) == stuffed(msg)
    assert strip_trace(unstuff(wire)) == msg
    assert wire.startswith(b"Received: from client.test")
    m = re.match(rb"MAIL FROM:<alice@localhost> SIZE=(\d+) BODY=8BITMIME\r\n$",
                 t["mail"])
    assert m, t["mail"]
    assert int(m.group(1)) >= len(msg)
    assert t["rcpts"] == [b"RCPT TO:<bob@dots.test>\r\n",
                          b"RCPT TO:<carol@dots.test>\r\n"]
    assert t["pipelined"] == b"".join(t["rcpts"]) + b"DATA\r\n", \
        "MAIL, RCPT and DATA are sent as one pipelined group"
    for l in raw.lines:
        assert l.endswith(b"\r\n") and no_bare_cr_lf(l), l
    assert no_bare_cr_lf(wire)


def test_out_dot_stuffing_and_8bit_aiosmtpd(sluiced, peers):
    """The same through a peer without PIPELINING (one command at a time):
    the un-stuffed content is the submitted message, octet for octet."""
    rcv = peers.aiosmtpd()
    srv = sluiced({"outbound.routes": [f"dots.test [127.0.0.1]:{rcv.port}"]})
    q = srv.send("alice@localhost", ["bob@dots.test"], MESSAGE,
                 mail_options=["BODY=8BITMIME"])
    srv.wait_event("delivery", qid=q, status="sent")
    m = rcv.wait(1)[0]
    assert strip_trace(m.content) == MESSAGE
    assert "BODY=8BITMIME" in m.mail_options


def test_out_7bit_message_has_no_body_parameter(sluiced, peers):
    """A message submitted without BODY=8BITMIME is not announced as 8-bit
    (and gets SIZE)."""
    raw = peers.raw()
    srv = sluiced({"outbound.routes": [f"seven.test [127.0.0.1]:{raw.port}"]})
    plain = b"Subject: plain\r\n\r\njust ascii\r\n"
    q = srv.send("alice@localhost", ["bob@seven.test"], plain)
    srv.wait_event("delivery", qid=q, status="sent")
    t = raw.wait(1)[0]
    assert re.match(rb"MAIL FROM:<alice@localhost> SIZE=\d+\r\n$", t["mail"])
    assert strip_trace(unstuff(t["data"])) == plain


def test_out_8mb_message_intact(sluiced, peers):
    """An 8 MB message (with dot-leading lines and 8-bit text) arrives
    whole: same length, same SHA-256."""
    rnd = random.Random(8)
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
    lines = [b"From: alice@localhost", b"Subject: eight megabytes", b""]
    size = sum(len(l) + 2 for l in lines)
    i = 0
    while size < 8 * 1024 * 1024:
        if i % 97 == 0:
            l = b"." + b"\xc3\xa9" * 10 + bytes(rnd.choice(alphabet)
                                              for _ in range(40))
        else:
            l = bytes(rnd.choice(alphabet) for _ in range(76))
        lines.append(l)
        size += len(l) + 2
        i += 1
    msg = b"\r\n".join(lines) + b"\r\n"
    rcv = peers.aiosmtpd()
    srv = sluiced({"outbound.routes": [f"big.test [127.0.0.1]:{rcv.port}"]})
    q = srv.send("alice@localhost", ["bob@big.test"], msg,
                 mail_options=["BODY=8BITMIME"])
    srv.wait_event("delivery", qid=q, status="sent", timeout=60)
    got = strip_trace(rcv.wait(1)[0].content)
    assert len(got) == len(msg)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(msg).hexdigest()
    srv.wait_event("removed", qid=q)
    assert not srv.queue_files()


def test_out_slow_receiver_large_message(sluiced, peers):
    """outbound.timeout is the time to wait for each reply (and, RFC 5321
    4.5.3.2.5, for each block of data to go out), not a budget for the
    whole transfer: a receiver that keeps reading, only slowly (a 3 MB
    message takes about 4 s here), must get the message with a 1 s
    timeout. Cutting the transfer off after a fixed total instead means a
    big enough message is never delivered, however often it is retried
    (with the default 5m, a 25 MB message over a link slower than about
    40 kB/s)."""
    raw = peers.raw(mode="slowdata")
    srv = sluiced({"outbound.routes": [f"slow.test [127.0.0.1]:{raw.port}"],
                   "outbound.timeout": "1s", "queue.retry_min": "1h",
                   "queue.retry_max": "1h"})
    line = b"0123456789" * 7 + b"abcdef\r\n"
    msg = b"Subject: slow link\r\n\r\n" + line * (3 * 1024 * 1024 // len(line))
    q = srv.send("alice@localhost", ["bob@slow.test"], msg)
    ev = wait_until(lambda: srv.deliveries(qid=q), 30,
                    what="the first attempt")[0]
    assert ev["status"] == "sent", ev
    assert strip_trace(unstuff(raw.transactions[0]["data"])) == msg


def wire_form(data):
    """What must go out for message bytes data: every line end - CRLF, a
    bare CR, a bare LF - as CRLF, a last line ended, lines that start with
    "." doubled (RawPeer keeps the DATA bytes without the final ".")."""
    text = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return b"".join(b"." + l if l.startswith(b".") else l
                    for l in text.splitlines(keepends=True))


def test_out_bare_cr_and_lf_in_queue_file_go_out_as_crlf(sluiced, peers):
    """Queue files whose content has bare CRs and LFs (an older version or
    a hand-placed file; sluiced's own intake never writes one): on the
    wire every line end is CRLF, and a "." after a bare line end is
    stuffed, so no "\\n.\\n" SMTP-smuggling end of data ever goes out.
    Also across the 32 KB blocks the client reads the file in (a CR that
    ends a block, its LF beginning the next; a bare CR ending one and a
    "." beginning the next), and a file that ends in a bare CR or without
    any line end."""
    from out_harness import place_queue_file
    raw = peers.raw()
    srv = sluiced({"outbound.routes": [f"bare.test [127.0.0.1]:{raw.port}"]},
                  start=False)
    head = (b"From: alice@localhost\r\nSubject: bare line ends\r\n\r\n"
            b"bare LF\nbare CR\rCR CR LF\r\r\nLF CR\n\r"
            b"smuggle\n.\nMAIL FROM:<evil@x.test>\n"
            b"x\r.\rdot after bare CR\r\n.\r\nend\n")
    block = 32768
    big = head + b"a" * (block - 1 - len(head)) + b"\r\n"   # CR|LF split
    big += b"b" * (2 * block - 1 - len(big)) + b"\r"       # bare CR|
    big += b".dot opens block three\r\nlast"
    assert big[block - 1:block + 1] == b"\r\n"
    assert big[2 * block - 1:2 * block + 1] == b"\r."
    files = {"0000000000B00001": head + b"ends in a bare CR\r",
             "0000000000B00002": head + b"no line end",
             "0000000000B00003": big}
    for qid, data in files.items():
        place_queue_file(srv, qid, "alice@localhost", ["bob@bare.test"],
                         data)
    srv.start()
    txs = raw.wait(3)
    srv.wait_queue_empty()
    got = sorted(t["data"] for t in txs)
    want = sorted(wire_form(d) for d in files.values())
    assert got == want
    for t in txs:
        wire = t["data"]
        assert not re.search(rb"\r(?!\n)|(?<!\r)\n", wire), \
            "a bare CR or LF went out"
        assert b"\r\n.\r\n" not in wire, "an early end of data went out"
        assert b"\r\n..\r\nMAIL FROM:<evil@x.test>\r\n" in wire
