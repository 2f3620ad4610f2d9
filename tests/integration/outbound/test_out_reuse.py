"""Connection reuse (queue.connection_cache_time): messages for one next
hop share a connection (the next MAIL right after the reply to the data,
RSET only after a transaction that ended early), at most 100 per
connection; a refusal does not spoil the connection; a peer that hangs up
on an idle connection, or on the next MAIL, costs nothing (a new
connection, nothing lost, nothing twice); the idle connection gets its
QUIT when its time is up and when sluiced stops; sessions with other AUTH
are not shared; Postfix's smtp-sink sees fewer connections than
messages."""
import time

import pytest

from out_harness import SLOW, strip_trace, unstuff, wait_until


def body(i):
    return (f"From: alice@localhost\r\nSubject: reuse {i}\r\n"
            f"Message-ID: <reuse{i}@client.test>\r\n\r\n"
            f"Message number {i}.\r\n").encode()


def verbs(sess):
    """The commands of one connection, as words (EHLO, MAIL, ...)."""
    return [l.split(b" ")[0].split(b":")[0].strip().upper().decode()
            for l in sess["lines"]]


def sent_bodies(raw):
    return [strip_trace(unstuff(t["data"])) for t in raw.transactions]


def test_out_reuse_one_connection_for_many(sluiced, peers):
    """20 messages for one destination (queue.per_destination = 1): one
    connection carries them all, in order, each MAIL right after the 250
    to the previous message's data (no RSET, no second EHLO), and QUIT
    only at the end."""
    n = 20
    raw = peers.raw(mail_delay=0.02)
    srv = sluiced({"outbound.routes": [f"many.test [127.0.0.1]:{raw.port}"],
                   "queue.per_destination": 1})
    s = srv.smtp()
    qids = [srv.send("alice@localhost", [f"u{i}@many.test"], body(i),
                     smtp=s) for i in range(n)]
    s.quit()
    raw.wait(n, timeout=30)
    srv.wait_queue_empty()
    assert raw.connections == 1, raw.connections
    sess = raw.sessions[0]
    wait_until(lambda: sess["quit"], 10, what="QUIT after the cache time")
    assert verbs(sess) == ["EHLO"] + ["MAIL", "RCPT", "DATA"] * n + \
        ["QUIT"], verbs(sess)
    assert [t["rcpts"] for t in raw.transactions] == \
        [[f"RCPT TO:<u{i}@many.test>\r\n".encode()] for i in range(n)]
    assert sent_bodies(raw) == [body(i) for i in range(n)]
    uses = [srv.deliveries(qid=q, status="sent")[0].get("conn_use")
            for q in qids]
    assert uses == [None] + [str(i) for i in range(2, n + 1)], uses


def test_out_reuse_within_per_destination(sluiced, peers):
    """30 messages, queue.per_destination = 3: never more than three
    connections, so at most three greetings for thirty messages."""
    n = 30
    raw = peers.raw(mail_delay=0.02)
    srv = sluiced({"outbound.routes": [f"three.test [127.0.0.1]:{raw.port}"],
                   "queue.per_destination": 3})
    s = srv.smtp()
    for i in range(n):
        srv.send("alice@localhost", [f"u{i}@three.test"], body(i), smtp=s)
    s.quit()
    raw.wait(n, timeout=30)
    srv.wait_queue_empty()
    assert raw.connections <= 3, raw.connections
    assert raw.max_concurrent <= 3, raw.max_concurrent
    assert sorted(sent_bodies(raw)) == sorted(body(i) for i in range(n))
    assert sum(len(x["transactions"]) for x in raw.sessions) == n
    assert not srv.deliveries(status="deferred")


def test_out_reuse_after_refusals(sluiced, peers):
    """On one connection: a sender refused at MAIL (550), a message whose
    only recipient is refused (451), one refused after its data (554),
    then one accepted. RSET follows the two transactions that ended
    before the data, not the one the 554 ended; each message gets its own
    result, and the last is delivered on the same connection."""
    busy = {"n": 0}

    def reply(kind, line, conn, tx):
        if kind == "MAIL" and b"<refused@" in line:
            return b"550 5.7.1 sender refused\r\n"
        if kind == "RCPT" and b"<busy@" in line and busy["n"] == 0:
            busy["n"] += 1
            return b"451 4.2.0 mailbox busy\r\n"
        if kind == "END" and b"Subject: reuse 3" in line:
            return b"554 5.6.0 content refused\r\n"
        return None

    raw = peers.raw(reply=reply, mail_delay=0.02)
    srv = sluiced({"outbound.routes": [f"ref.test [127.0.0.1]:{raw.port}"],
                   "queue.per_destination": 1,
                   "queue.connection_cache_time": "10s"})
    s = srv.smtp()
    q1 = srv.send("refused@localhost", ["a@ref.test"], body(1), smtp=s)
    q2 = srv.send("alice@localhost", ["busy@ref.test"], body(2), smtp=s)
    q3 = srv.send("alice@localhost", ["c@ref.test"], body(3), smtp=s)
    q4 = srv.send("alice@localhost", ["d@ref.test"], body(4), smtp=s)
    s.quit()
    srv.wait_event("delivery", qid=q4, status="sent")
    e1 = srv.wait_event("delivery", qid=q1, status="bounced")[0]
    assert "550 5.7.1" in e1["reason"], e1
    e2 = srv.wait_event("delivery", qid=q2, status="deferred")[0]
    assert "451 4.2.0" in e2["reason"], e2
    e3 = srv.wait_event("delivery", qid=q3, status="bounced")[0]
    assert "554 5.6.0" in e3["reason"], e3
    # the deferred one is retried (and delivered) after queue.retry_min
    srv.wait_event("delivery", qid=q2, status="sent", timeout=15)
    srv.wait_queue_empty()
    v = verbs(raw.sessions[0])
    assert v[:15] == ["EHLO",
                      "MAIL", "RCPT", "DATA", "RSET",      # 550 to MAIL
                      "MAIL", "RCPT", "DATA", "RSET",      # 451 to RCPT
                      "MAIL", "RCPT", "DATA",              # 554 after data
                      "MAIL", "RCPT", "DATA"], v
    assert raw.connections == 1, [verbs(x) for x in raw.sessions]
    d4 = srv.deliveries(qid=q4, status="sent")[0]
    assert d4["attempt"] == "1" and d4["conn_use"] == "4", d4
    got = sent_bodies(raw)
    assert got.count(body(4)) == 1 and got.count(body(2)) == 1, got
    assert body(1) not in got and body(3) not in got


@pytest.mark.parametrize("goodbye", [b"", b"421 4.4.2 raw.test idle too "
                                          b"long, closing\r\n"])
def test_out_reuse_peer_closes_idle(sluiced, peers, goodbye):
    """A peer that hangs up on the idle connection (without a word, or
    after a 421): sluiced notices, and the next message goes on a new
    connection at its first attempt; nothing lost, nothing twice."""
    raw = peers.raw(after_tx=lambda conn, tx: goodbye, mail_delay=0.02)
    srv = sluiced({"outbound.routes": [f"bye.test [127.0.0.1]:{raw.port}"],
                   "queue.connection_cache_time": "30s"})
    q1 = srv.send("alice@localhost", ["a@bye.test"], body(1))
    srv.wait_event("delivery", qid=q1, status="sent")
    wait_until(lambda: raw.sessions[0]["closed_by"] == "peer", 5,
               what="the peer hung up")
    time.sleep(0.5)
    q2 = srv.send("alice@localhost", ["b@bye.test"], body(2))
    d2 = srv.wait_event("delivery", qid=q2, status="sent")[0]
    assert d2["attempt"] == "1" and "conn_use" not in d2, d2
    assert raw.connections == 2
    assert [len(x["transactions"]) for x in raw.sessions] == [1, 1]
    assert sent_bodies(raw) == [body(1), body(2)]
    assert not srv.deliveries(status="deferred")
    assert not srv.events("connection-reuse-failed"), \
        "sluiced sent MAIL on a connection the peer had closed"


@pytest.mark.parametrize("answer", [b"", b"421 4.3.2 raw.test going "
                                         b"down\r\n"])
def test_out_reuse_peer_gone_at_next_mail(sluiced, peers, answer):
    """The peer drops a kept connection just as the next MAIL arrives
    (no reply, or 421 and a close): the message was not delivered there,
    so it goes on a new connection at once, in the same attempt; it
    arrives once."""
    def reply(kind, line, conn, tx):
        return answer if kind == "MAIL" and conn == 0 and tx == 1 else None

    raw = peers.raw(reply=reply, mail_delay=0.02)
    srv = sluiced({"outbound.routes": [f"gone.test [127.0.0.1]:{raw.port}"],
                   "queue.connection_cache_time": "30s"})
    q1 = srv.send("alice@localhost", ["a@gone.test"], body(1))
    srv.wait_event("delivery", qid=q1, status="sent")
    q2 = srv.send("alice@localhost", ["b@gone.test"], body(2))
    d2 = srv.wait_event("delivery", qid=q2, status="sent")[0]
    assert d2["attempt"] == "1" and "conn_use" not in d2, d2
    ev = srv.events("connection-reuse-failed")
    assert len(ev) == 1 and ev[0]["action"] == "reconnect", ev
    assert raw.connections == 2
    assert verbs(raw.sessions[0])[:5] == ["EHLO", "MAIL", "RCPT", "DATA",
                                          "MAIL"]
    assert sent_bodies(raw) == [body(1), body(2)]
    assert not srv.deliveries(status="deferred")


def test_out_reuse_idle_quit_after_cache_time(sluiced, peers):
    """An idle connection stays open queue.connection_cache_time (2 s by
    default) after its last message, then gets QUIT."""
    raw = peers.raw(mail_delay=0.02)
    srv = sluiced({"outbound.routes": [f"idle.test [127.0.0.1]:{raw.port}"]})
    q = srv.send("alice@localhost", ["a@idle.test"], body(1))
    srv.wait_event("delivery", qid=q, status="sent")
    sess = raw.sessions[0]
    time.sleep(1.0)
    assert not sess["quit"] and sess["closed"] is None, \
        "closed before its cache time"
    wait_until(lambda: sess["quit"], 10, what="QUIT of the idle connection")
    idle = sess["times"][-1] - sess["times"][-2]
    assert verbs(sess) == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    assert 1.8 <= idle <= 2.0 + 2 * SLOW, idle
    wait_until(lambda: sess["closed"], 5, what="the connection closed")
    assert sess["closed_by"] == "client"


def test_out_reuse_off(sluiced, peers):
    """queue.connection_cache_time = 0: QUIT after every message, a
    connection per message."""
    raw = peers.raw(mail_delay=0.02)
    srv = sluiced({"outbound.routes": [f"off.test [127.0.0.1]:{raw.port}"],
                   "queue.connection_cache_time": "0"})
    s = srv.smtp()
    for i in range(3):
        srv.send("alice@localhost", [f"u{i}@off.test"], body(i), smtp=s)
    s.quit()
    raw.wait(3)
    srv.wait_queue_empty()
    wait_until(lambda: all(x["quit"] for x in raw.sessions), 5,
               what="QUIT on every connection")
    assert raw.connections == 3
    assert [verbs(x) for x in raw.sessions] == \
        [["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]] * 3


def test_out_reuse_sigterm_quits_idle(sluiced, peers):
    """SIGTERM: the idle connection (kept for a minute here) gets its
    QUIT before sluiced exits, and sluiced does not wait for the minute."""
    raw = peers.raw(mail_delay=0.02)
    srv = sluiced({"outbound.routes": [f"term.test [127.0.0.1]:{raw.port}"],
                   "queue.connection_cache_time": "60s"})
    q = srv.send("alice@localhost", ["a@term.test"], body(1))
    srv.wait_event("delivery", qid=q, status="sent")
    sess = raw.sessions[0]
    time.sleep(0.3)
    assert not sess["quit"]
    t0 = time.monotonic()
    assert srv.stop() == 0
    took = time.monotonic() - t0
    assert took < 5 * SLOW, took
    assert sess["quit"], verbs(sess)
    assert verbs(sess) == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    wait_until(lambda: sess["closed"], 5, what="the connection closed")
    assert sess["closed_by"] == "client"


def test_out_reuse_at_most_100_per_connection(sluiced, peers):
    """A connection carries at most 100 messages: 105 for one destination
    (one connection at a time) take two connections, 100 and 5, the
    first ended by QUIT."""
    n = 105
    raw = peers.raw(mail_delay=0)
    srv = sluiced({"outbound.routes": [f"lim.test [127.0.0.1]:{raw.port}"],
                   "queue.per_destination": 1})
    s = srv.smtp()
    for i in range(n):
        srv.send("alice@localhost", [f"u{i}@lim.test"], body(i), smtp=s)
    s.quit()
    raw.wait(n, timeout=60)
    srv.wait_queue_empty(timeout=20)
    assert raw.connections == 2, [len(x["transactions"])
                                  for x in raw.sessions]
    assert [len(x["transactions"]) for x in raw.sessions] == [100, 5]
    assert verbs(raw.sessions[0])[-1] == "QUIT"
    assert sorted(sent_bodies(raw)) == sorted(body(i) for i in range(n))
    assert max(int(e.get("conn_use", "1"))
               for e in srv.deliveries(status="sent")) == 100


def test_out_reuse_not_across_auth(sluiced, peers, tls_pair):
    """The relayhost (AUTH) and a route to the same host and port (no
    AUTH) are one next hop, but never share a session: the route's
    message is not sent as the relayhost's user. With one connection at
    a time, the kept AUTH session is closed to make room."""
    rh = peers.aiosmtpd(tls=tls_pair, auth={"relayuser": "pw"})
    srv = sluiced({"outbound.relayhost": f"[127.0.0.1]:{rh.port}",
                   "outbound.relayhost_auth": "relayuser:pw",
                   "outbound.routes": [f"plain.test [127.0.0.1]:{rh.port}"],
                   "queue.per_destination": 1,
                   "queue.connection_cache_time": "30s"})
    s = srv.smtp()
    q1 = srv.send("alice@localhost", ["x@one.example"], body(1), smtp=s)
    q2 = srv.send("alice@localhost", ["y@plain.test"], body(2), smtp=s)
    q3 = srv.send("alice@localhost", ["z@two.example"], body(3), smtp=s)
    s.quit()
    for q in (q1, q2, q3):
        srv.wait_event("delivery", qid=q, status="sent", timeout=15)
    msgs = {m.rcpt_tos[0]: m for m in rh.wait(3)}
    assert msgs["x@one.example"].authenticated
    assert msgs["z@two.example"].authenticated
    assert not msgs["y@plain.test"].authenticated, \
        "the route's message went on the relayhost's AUTH session"
    assert msgs["x@one.example"].peer != msgs["y@plain.test"].peer
    assert all(m.tls for m in msgs.values())


def test_out_reuse_smtp_sink(sluiced, peers):
    """Postfix's smtp-sink: 40 messages over at most queue.per_destination
    (10) connections, each ended by QUIT, every message once."""
    n = 40
    sink = peers.sink(count=True)
    srv = sluiced({"outbound.routes": [f"sink.test [127.0.0.1]:{sink.port}"]})
    s = srv.smtp()
    for i in range(n):
        srv.send("alice@localhost", [f"u{i}@sink.test"], body(i), smtp=s)
    s.quit()
    srv.wait_queue_empty(timeout=30)
    dumps = sink.wait(n, timeout=20)
    # the cached connections end (with QUIT) 2 s after their last message;
    # one session more: the harness's check that smtp-sink listens
    c = wait_until(lambda: (lambda v: v if v and v[2] == n and v[1] > 0 and
                            v[0] - 1 == v[1] else None)(sink.counters()), 15,
                   what="smtp-sink's counters: every session ended by QUIT")
    sessions, quits, mesgs = c[0] - 1, c[1], c[2]
    assert mesgs == n
    assert sessions == quits
    assert sessions <= 10, c
    ids = sorted(d.split(b"Message-ID: <", 1)[1].split(b">", 1)[0]
                 for d in dumps)
    assert ids == sorted(f"reuse{i}@client.test".encode()
                         for i in range(n))
    assert len([e for e in srv.deliveries(status="sent")
                if "conn_use" in e]) >= n - 10
