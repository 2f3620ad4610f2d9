"""The SMTP protocol under hostile input, over raw sockets: line limits,
bad bytes, ordering, pipelining, smuggling, timeouts, session limits."""
import re
import socket
import time
import uuid

import pytest

from sluicetest import SAN_ENV, SLOW, Closed, open_many, wait_until

IDLE = 2   # limits.idle_timeout in seconds on the shared server


@pytest.fixture(scope="module")
def srv(sluiced_module):
    return sluiced_module({"authorized_networks": ["127.0.0.1/32"],
                           "limits.idle_timeout": f"{IDLE}s",
                           "limits.errors": 10})


def session_of(srv, client):
    """The server's session id for a client connection (from the log)."""
    port = client.local_port()
    rx = re.compile(rf"session=(\w+) event=connect client=[\d.]+ port={port}\b")

    def find():
        m = rx.search(srv.log_text())
        return m.group(1) if m else None
    return wait_until(find, 5, what=f"the connect line for port {port}")


def disconnect_of(srv, sid):
    (ev,) = srv.wait_event("disconnect", session=sid)
    return ev


def ready(srv, source=None):
    c = srv.client(source=source)
    c.ehlo()
    return c


# ---------------------------------------------------------------- lines


def test_command_line_at_and_over_512(srv):
    with ready(srv) as c:
        # 512 octets with CRLF is the RFC minimum a server must accept
        r = c.cmd("NOOP " + "x" * (512 - 2 - 5))
        assert r.code == 250, r
        r = c.cmd("NOOP " + "x" * (513 - 2 - 5))
        assert (r.code, r.enh) == (500, "5.5.2"), r
        r = c.cmd("NOOP " + "x" * 595)          # a 600-byte line
        assert (r.code, r.enh) == (500, "5.5.2"), r
        r = c.cmd("HELO " + "h" * 595)
        assert (r.code, r.enh) == (500, "5.5.2"), r
        # the next command works, and the session state is intact
        assert c.cmd("NOOP").code == 250
        assert c.cmd("MAIL FROM:<a@b.example>").code == 250
        assert c.cmd("RCPT TO:<user@localhost>").code == 250


def test_huge_line_without_newline_is_bounded(sluiced):
    # under ASan, freed memory sits in quarantine and counts in the RSS:
    # turn it off here so that the peak shows what is really held
    s = sluiced(env={"ASAN_OPTIONS": SAN_ENV["ASAN_OPTIONS"] +
                     ":quarantine_size_mb=0"})
    hwm = lambda: int(re.search(r"VmHWM:\s+(\d+)", open(
        f"/proc/{s.pid()}/status").read()).group(1))
    with ready(s) as c:
        before = hwm()
        c.send(b"A" * 100 * 1024)              # 100 KB, no LF
        chunk = b"B" * 65536
        for _ in range(256):                   # and 16 MB more
            c.send(chunk)
        c.send(b"\r\n")
        r = c.read_reply(timeout=30)
        assert (r.code, r.enh) == (500, "5.5.2"), r
        grown = hwm() - before
        assert grown < 8 * 1024, f"peak RSS grew by {grown} kB for one line"
        assert c.cmd("NOOP").code == 250       # still in business
        assert c.cmd("QUIT").code == 221


@pytest.mark.parametrize("wire", [
    b"NOOP\n",
    b"MAIL FROM:<a@b.example>\nRCPT TO:<user@localhost>\r\n",
    b"NOOP\r\nMAIL FROM:<a@b.example>\nRCPT TO:<user@localhost>\r\nDATA\r\n"],
    ids=["noop", "mail-then-rcpt", "after-a-good-line"])
def test_bare_lf_command_refused_and_closed(srv, wire):
    """sluiced(8): a bare LF gets 521 5.5.2 and the connection is closed;
    the line is not executed and nothing after it is read."""
    with ready(srv) as c:
        sid = session_of(srv, c)
        c.send(wire)
        replies = c.replies_until_eof()
    want = [(250, "2.0.0")] if wire.startswith(b"NOOP\r\n") else []
    assert [(r.code, r.enh) for r in replies] == want + [(521, "5.5.2")], \
        replies
    assert srv.events("bare-newline", session=sid)
    d = disconnect_of(srv, sid)
    # EHLO, the good lines, the bare-LF line; nothing after it
    assert d["commands"] == str(2 + len(want)), d
    assert d["rcpt"] == "0" and d["messages"] == "0", d


def test_nul_in_command_refused_not_executed(srv):
    with ready(srv) as c:
        r = c.cmd(b"NO\x00OP")
        assert r.code == 500, r
        r = c.cmd(b"MAIL FROM:<a@b.example>\x00")
        assert r.code == 500, r
        r = c.cmd(b"MAIL FROM:<a\x00@b.example>")
        assert r.code == 500, r
        assert c.cmd("RCPT TO:<user@localhost>").code == 503
        assert c.cmd("NOOP").code == 250


def test_cr_inside_command_refused(srv):
    with ready(srv) as c:
        r = c.cmd(b"NOOP\rMAIL FROM:<a@b.example>")
        assert r.code == 500, r
        assert c.cmd("RCPT TO:<user@localhost>").code == 503


def test_unknown_command_500_551(srv):
    with ready(srv) as c:
        for line in ["FOOBAR", "XYZZY with args", "MAILFROM:<a@b.example>"]:
            r = c.cmd(line)
            assert (r.code, r.enh) == (500, "5.5.1"), (line, r)
        assert c.cmd("NOOP").code == 250


def test_out_of_order_503(srv):
    with srv.client() as c:
        r = c.cmd("MAIL FROM:<a@b.example>")      # before HELO
        assert r.code == 503, r
        c.ehlo()
        for line in ["RCPT TO:<user@localhost>", "DATA"]:
            r = c.cmd(line)
            assert r.code == 503, (line, r)
    with ready(srv) as c:
        assert c.cmd("MAIL FROM:<a@b.example>").code == 250
        r = c.cmd("MAIL FROM:<a@b.example>")      # nested
        assert r.code == 503, r
        r = c.cmd("DATA")                         # no recipients
        assert r.code == 503, r
        assert c.cmd("RCPT TO:<user@localhost>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: x\r\n\r\nx\r\n.\r\n")
        assert c.read_reply().code == 250


# ---------------------------------------------------------------- pipelining


def test_pipelining_violation_ehlo_then_mail(srv):
    with srv.client() as c:
        sid = session_of(srv, c)
        c.send("EHLO x.example\r\nMAIL FROM:<early@b.example>\r\n")
        replies = c.replies_until_eof()
        assert [r.code for r in replies] == [554], replies
    assert srv.events("pipelining-violation", session=sid)
    assert disconnect_of(srv, sid)["commands"] == "1"


def test_data_with_body_in_one_write_554(srv):
    tok = "TOKEN-" + uuid.uuid4().hex
    with ready(srv) as c:
        sid = session_of(srv, c)
        assert c.cmd("MAIL FROM:<a@b.example>").code == 250
        assert c.cmd("RCPT TO:<user@localhost>").code == 250
        c.send(f"DATA\r\nSubject: x\r\n\r\n{tok}\r\n.\r\nQUIT\r\n")
        replies = c.replies_until_eof()
        assert [r.code for r in replies] == [554], replies
    d = disconnect_of(srv, sid)
    assert d["messages"] == "0"
    assert not [p for p in srv.all_maildir_files()
                if tok.encode() in p.read_bytes()]
    assert not [p for p in srv.queue_files() + srv.queue_files("tmp")
                if tok.encode() in p.read_bytes()]


def test_legit_pipelining(srv):
    tok = "TOKEN-" + uuid.uuid4().hex
    with ready(srv) as c:
        c.send("MAIL FROM:<pipe@b.example>\r\nRCPT TO:<pipe1@localhost>\r\n"
               "RCPT TO:<pipe2@localhost>\r\nDATA\r\n")
        codes = [c.read_reply().code for _ in range(4)]
        assert codes == [250, 250, 250, 354]
        # the end of data and QUIT in one write, too (RFC 2920)
        c.send(f"Subject: pipe\r\n\r\n{tok}\r\n.\r\nQUIT\r\n")
        replies = c.replies_until_eof()
        assert [r.code for r in replies] == [250, 221], replies
    srv.wait_queue_empty()
    for u in ("pipe1", "pipe2"):
        hits = [p for p in srv.maildir_files(u) if tok.encode() in p.read_bytes()]
        assert len(hits) == 1, (u, hits)


def test_error_limit_421(srv):
    with ready(srv) as c:
        for i in range(9):
            r = c.cmd(f"BOGUS{i}")
            assert r.code == 500, r
        c.send("BOGUS9\r\nNOOP\r\n")
        replies = c.replies_until_eof()
        assert [r.code for r in replies] == [500, 421], replies
        assert replies[1].enh == "4.7.0"


# ---------------------------------------------------------------- smuggling

FAKE_ENDS = [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r\r\n",
             b"\r\n\x00.\r\n", b"\r.\r\n", b"\n.\r", b"\r\n.\r"]
MODES = ["one-write", "byte-by-byte", "split-before-marker",
         "split-after-marker"]


def smuggle_payload(tok, fake):
    head = b"Subject: smuggling test\r\n\r\nlegit " + tok + fake
    tail = (b"MAIL FROM:<evil@x>\r\nRCPT TO:<victim@localhost>\r\nDATA\r\n"
            b"smuggled " + tok + b"\r\n.\r\n")
    return head, tail


def send_mode(c, head, tail, fake, mode):
    payload = head + tail
    if mode == "one-write":
        c.send(payload)
    elif mode == "byte-by-byte":
        for i in range(len(payload)):
            c.send(payload[i:i + 1])
            time.sleep(0.0005)
    elif mode == "split-before-marker":
        cut = len(head) - len(fake)
        c.send(payload[:cut])
        time.sleep(0.05)
        c.send(payload[cut:])
    else:
        c.send(head)
        time.sleep(0.05)
        c.send(tail)


def run_smuggle(srv, fake, mode):
    tok = uuid.uuid4().hex.encode()
    head, tail = smuggle_payload(tok, fake)
    with ready(srv) as c:
        sid = session_of(srv, c)
        assert c.cmd("MAIL FROM:<legit@b.example>").code == 250
        assert c.cmd("RCPT TO:<smuggle@localhost>").code == 250
        assert c.cmd("DATA").code == 354
        send_mode(c, head, tail, fake, mode)
        first = c.read_reply(timeout=10)
        c.send("QUIT\r\n")
        rest = c.replies_until_eof()
    return tok, sid, first, rest


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fake", FAKE_ENDS, ids=[repr(f)[2:-1] for f in FAKE_ENDS])
def test_smtp_smuggling(srv, fake, mode):
    tok, sid, first, rest = run_smuggle(srv, fake, mode)
    # one reply for the one message, then QUIT's
    assert 500 <= first.code < 600, first
    assert [r.code for r in rest] == [221], (first, rest)
    d = disconnect_of(srv, sid)
    # EHLO MAIL RCPT DATA QUIT: the smuggled MAIL/RCPT/DATA never ran
    assert d["commands"] == "5", d
    assert d["messages"] == "0", d
    assert not [e for e in srv.events("message-accepted") if
                e.get("session") == sid or e.get("from") == "<evil@x>"]
    srv.wait_queue_empty()
    assert not [p for p in srv.all_maildir_files() if tok in p.read_bytes()]
    assert not srv.maildir_files("victim")


@pytest.mark.parametrize("mode", MODES)
def test_smuggling_control_stuffed_dot(srv, mode):
    """Control: a properly stuffed "\\r\\n..\\r\\n" is one message with the
    would-be commands as text: one 250, one copy, to the legit recipient."""
    fake = b"\r\n..\r\n"
    tok, sid, first, rest = run_smuggle(srv, fake, mode)
    assert first.code == 250, first
    assert [r.code for r in rest] == [221], rest
    assert disconnect_of(srv, sid)["commands"] == "5"
    srv.wait_queue_empty()
    hits = [p for p in srv.all_maildir_files() if tok in p.read_bytes()]
    assert len(hits) == 1, hits
    assert hits[0].parent.parent.name == "smuggle"
    data = hits[0].read_bytes()
    assert b"legit " + tok + b"\n.\nMAIL FROM:<evil@x>\n" in data
    assert b"smuggled " + tok in data


# ---------------------------------------------------------------- timeouts


def test_idle_timeout_421_others_served(srv):
    idle = ready(srv)
    sid = session_of(srv, idle)
    t0 = time.monotonic()
    # meanwhile another client gets a message through
    tok = "TOKEN-" + uuid.uuid4().hex
    with srv.smtp() as s:
        assert s.sendmail("a@b.example", ["busy@localhost"],
                          f"Subject: x\r\n\r\n{tok}\r\n".encode()) == {}
    srv.wait_maildir("busy")
    assert time.monotonic() - t0 < IDLE
    r = idle.read_reply(timeout=IDLE + 5)
    elapsed = time.monotonic() - t0
    assert (r.code, r.enh) == (421, "4.4.2"), r
    assert IDLE - 0.3 <= elapsed <= (IDLE + 2) * SLOW, elapsed
    assert idle.expect_eof()
    idle.close()
    assert srv.events("timeout", session=sid)


def test_trickling_client_does_not_extend_idle_timeout(srv):
    c = ready(srv)
    t0 = time.monotonic()
    got = None
    for b in b"NOOP trickle trickle trickle":     # bounded: 28 bytes, 14 s
        try:
            c.send(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            got = c.read_reply(timeout=0.5)
            break
        except socket.timeout:
            continue
        except Closed:
            break
    if got is None:
        got = c.read_reply(timeout=1)
    elapsed = time.monotonic() - t0
    assert (got.code, got.enh) == (421, "4.4.2"), got
    assert elapsed <= (IDLE + 1.5) * SLOW, \
        f"trickling kept the session alive for {elapsed:.1f}s"
    assert c.expect_eof()
    c.close()


# ---------------------------------------------------------------- limits


def test_sessions_per_ip(sluiced):
    s = sluiced({"authorized_networks": ["127.0.0.1/32"],
                 "limits.sessions_per_ip": 3})
    held = [s.client(source="127.0.0.2") for _ in range(3)]
    try:
        extra = s.client(source="127.0.0.2", banner=False)
        r = extra.read_reply()
        assert (r.code, r.enh) == (421, "4.7.0"), r
        assert extra.expect_eof()
        extra.close()
        # another address is not affected; trusted clients are exempt
        others = [s.client(source="127.0.0.3")]
        others += [s.client(source="127.0.0.1") for _ in range(5)]
        for o in others:
            o.ehlo()
            o.close()
        ev = s.events("connect-refused", client="127.0.0.2")
        assert len(ev) == 1 and ev[0]["reason"] == "too-many-sessions-from-client"
        # a slot frees when a session ends
        held.pop().close()

        def again():
            c = s.client(source="127.0.0.2", banner=False)
            r = c.read_reply()
            if r.code == 220:
                return c
            c.close()
            return None
        held.append(wait_until(again, 5, interval=0.1,
                               what="a freed per-IP slot"))
    finally:
        for c in held:
            c.close()


def test_sessions_total(sluiced):
    s = sluiced({"limits.sessions": 5})
    held = [s.client(source=f"127.0.0.{10 + i}") for i in range(5)]
    try:
        extra = s.client(source="127.0.0.20", banner=False)
        r = extra.read_reply()
        assert (r.code, r.enh) == (421, "4.3.2"), r
        assert extra.expect_eof()
        extra.close()
        ev = s.events("connect-refused")
        assert len(ev) == 1 and ev[0]["reason"] == "too-many-sessions"
        for c in held:
            c.ehlo()        # the held sessions still work
    finally:
        for c in held:
            c.close()

    def ok():
        c = s.client(banner=False)
        r = c.read_reply()
        c.close()
        return r.code == 220
    wait_until(ok, 5, interval=0.1, what="a session after the others ended")


def still_open(socks):
    """How many of socks the server has closed (EOF or reset)."""
    closed = 0
    for sk in socks:
        sk.setblocking(False)
        try:
            if sk.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except ConnectionError:
            closed += 1
    return closed


def test_1000_idle_connections_and_a_delivery(sluiced):
    """1000 idle sessions (opened 100 at a time, from 20 untrusted
    addresses) do not stop a normal client from delivering."""
    s = sluiced({"authorized_networks": ["127.0.0.1/32"]})
    sources = [f"127.0.1.{i}" for i in range(1, 21)]
    socks, greet = open_many(s.port, sources, 50, timeout=20, batch=100)
    try:
        assert len(socks) == 1000
        bad = [g for g in greet.values() if not g.startswith(b"220 ")]
        assert len(greet) == 1000 and not bad, \
            f"{len(greet)} greeted, bad: {bad[:3]}"
        tok = "TOKEN-" + uuid.uuid4().hex
        t0 = time.monotonic()
        with s.smtp() as c:
            assert c.sendmail("a@b.example", ["user@localhost"],
                              f"Subject: x\r\n\r\n{tok}\r\n".encode()) == {}
        files = s.wait_maildir("user")
        assert tok.encode() in files[0].read_bytes()
        assert time.monotonic() - t0 < 5 * SLOW
        closed = still_open(socks)
        assert closed == 0, f"{closed} idle connections were dropped"
    finally:
        for sk in socks:
            sk.close()


def test_burst_of_1000_connects_greeted_promptly(sluiced):
    """1000 connects in one burst (as a busy MX sees after an outage): the
    listen backlog must hold them, so every client is greeted in seconds,
    not after SYN-ACK retransmissions that back off to 31 s."""
    s = sluiced({"authorized_networks": ["127.0.0.1/32"]})
    sources = [f"127.0.2.{i}" for i in range(1, 21)]
    t0 = time.monotonic()
    socks, greet = open_many(s.port, sources, 50, timeout=8)
    try:
        elapsed = time.monotonic() - t0
        assert len(greet) == 1000, (
            f"only {len(greet)} of 1000 burst connections greeted in "
            f"{elapsed:.1f}s (listen backlog too small?)")
        assert all(g.startswith(b"220 ") for g in greet.values())
    finally:
        for sk in socks:
            sk.close()


# ---------------------------------------------------------------- misc


@pytest.mark.parametrize("req", [
    b"GET / HTTP/1.1\r\nHost: mx.test\r\n\r\n",
    b"POST /cgi-bin/x HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
    b"CONNECT 127.0.0.1:25 HTTP/1.1\r\n\r\n"])
def test_http_request_554_and_close(srv, req):
    with srv.client() as c:
        c.send(req)
        replies = c.replies_until_eof()
        assert [r.code for r in replies] == [554], replies


def test_vrfy_252_expn_502(srv):
    with ready(srv) as c:
        r = c.cmd("VRFY user")
        assert r.code == 252, r
        r = c.cmd("VRFY nonexistent-user@localhost")
        assert r.code == 252, r     # never confirms or denies
        r = c.cmd("EXPN staff")
        assert r.code == 502, r
        assert c.cmd("NOOP").code == 250


def test_every_refusal_is_logged(sluiced):
    """Each refused command leaves a line with the client, the command and
    the reply: limits (452 recipients, 552 SIZE, 500 long line), errors of
    order and syntax; AUTH data never appears."""
    srv = sluiced({"local_domains": ["example.test"],
                   "limits.recipients": 2, "limits.message_size": 1024,
                   "limits.errors": 50})
    c = srv.client()
    sid = session_of(srv, c)
    c.cmd("XYZZY")
    c.cmd("MAIL FROM:<a@b.example>")            # before EHLO: 503
    c.ehlo()
    c.cmd("NOOP " + "a" * 600)                   # over 512: 500 5.5.2
    c.cmd("MAIL FROM:<a@b.example> SIZE=5000")   # over the limit: 552
    c.cmd("MAIL FROM:<a@b.example>")
    for i in range(3):
        c.cmd(f"RCPT TO:<u{i}@example.test>")    # the third: 452
    c.cmd("RSET")
    c.cmd("AUTH PLAIN c2VjcmV0AHNlY3JldABzZWNyZXQ=")   # not offered: 502
    c.send("QUIT\r\n")
    c.replies_until_eof()
    disconnect_of(srv, sid)
    got = [(e["command"], e["reply"][:3])
           for e in srv.events("command-rejected", session=sid)]
    # the over-long line is shown by its head
    assert got[2][0].startswith("NOOP aaaa") and got[2][1] == "500", got
    got[2] = ("NOOP", "500")
    assert got == [("XYZZY", "500"), ("MAIL FROM:<a@b.example>", "503"),
                   ("NOOP", "500"),
                   ("MAIL FROM:<a@b.example> SIZE=5000", "552"),
                   ("RCPT TO:<u2@example.test>", "452"),
                   ("AUTH PLAIN", "502")], got
    assert "c2VjcmV0" not in srv.log_text()


def test_idle_sessions_make_room_at_the_limits(sluiced):
    """At a session limit (in total or per client), a session idle for 5 s
    or more is closed (421 4.4.2) to serve a new client: slow and idle
    clients cannot keep a working one out. Fresh sessions are kept."""
    srv = sluiced({"limits.sessions": 12, "limits.sessions_per_ip": 4,
                   "authorized_networks": ["192.0.2.1/32"],
                   "local_domains": ["example.test"]})
    idle = [srv.client(source=f"127.0.0.{2 + i // 4}") for i in range(12)]
    try:
        # all fresh: a new client is refused as before
        extra = srv.client(source="127.0.0.9", banner=False)
        assert extra.read_reply().code == 421
        extra.close()
        time.sleep(5.5)
        # now one idle session (the longest idle) gives way; a client of
        # an address at its own limit takes one of that address's
        with srv.smtp(source="127.0.0.2") as s:
            s.sendmail("a@b.example", ["u@example.test"],
                       "Subject: room\r\n\r\nserved\r\n")
        wait_until(lambda: srv.maildir_files("u"), 10, what="delivery")
        dropped = srv.events("session-dropped")
        assert {e["reason"] for e in dropped} <= {
            "room-for-new-client", "room-for-same-client"}, dropped
        assert any(e["client"] == "127.0.0.2" for e in dropped), dropped
        closed = []
        for c in idle:
            try:
                r = c.read_reply(timeout=0.5)
                closed.append((r.code, r.enh))
            except Exception:
                pass
        assert (421, "4.4.2") in closed, closed
        assert len(closed) == len(dropped) <= 2, (closed, dropped)
    finally:
        for c in idle:
            c.close()
