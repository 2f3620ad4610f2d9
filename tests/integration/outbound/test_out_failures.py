"""Receivers that misbehave (stall, junk, a reply line without end, a
reply whose code changes, a connection dropped mid-transaction) are
deferred and logged, and sluiced keeps going; mail loops are caught both
ways: a route back to sluiced itself, and too many Received: lines."""
import time

from out_harness import DSN, wait_until

MSG = b"From: alice@localhost\r\nSubject: failures\r\n\r\nHello.\r\n"


def test_out_misbehaving_receivers_deferred(sluiced, peers):
    """Each kind of bad peer gets its own domain; every one is deferred
    with a reason (timeout, not an SMTP reply, lost connection), none is
    bounced, and a good peer on the same server still gets its mail."""
    modes = ["stall", "garbage", "longline", "badcode", "dropmail"]
    raws = {m: peers.raw(mode=m) for m in modes}
    good = peers.aiosmtpd()
    routes = [f"{m}.test [127.0.0.1]:{r.port}" for m, r in raws.items()]
    routes.append(f"good.test [127.0.0.1]:{good.port}")
    srv = sluiced({"outbound.routes": routes,
                   "outbound.connect_timeout": "1s",
                   "outbound.timeout": "2s",
                   "queue.retry_min": "1h", "queue.retry_max": "1h"})
    t0 = time.monotonic()
    q = srv.send("alice@localhost", [f"u@{m}.test" for m in modes] +
                 ["u@good.test"], MSG)
    srv.wait_event("delivery", qid=q, to="<u@good.test>", status="sent")
    evs = {}
    for m in modes:
        evs[m] = srv.wait_event("delivery", qid=q, to=f"<u@{m}.test>",
                                timeout=15)[0]
    took = time.monotonic() - t0
    for m, e in evs.items():
        assert e["status"] == "deferred", (m, e)
        assert e["reason"], (m, e)
    assert "timeout" in evs["stall"]["reason"], evs["stall"]
    assert "not an SMTP reply" in evs["garbage"]["reason"] or \
        "greeted" in evs["garbage"]["reason"], evs["garbage"]
    assert "not an SMTP reply" in evs["longline"]["reason"], evs["longline"]
    assert "not an SMTP reply" in evs["badcode"]["reason"], evs["badcode"]
    assert "connection" in evs["dropmail"]["reason"], evs["dropmail"]
    assert took < 10, f"the stalled peer held things up for {took:.1f}s"
    assert good.wait(1)[0].rcpt_tos == ["u@good.test"]
    assert not srv.events("bounce")
    assert all(r.connections >= 1 for r in raws.values())
    # the queue shows the reasons, and the server still answers
    (m,) = srv.queue_json("--id", q)
    errs = {r["address"]: r for r in m["recipients"]}
    assert errs["<u@stall.test>"]["status"] == "pending"
    assert "timeout" in errs["<u@stall.test>"]["last_error"]
    assert errs["<u@good.test>"]["status"] == "delivered"
    srv.queue("delete", "--id", q, check=0)


def test_out_stall_then_flush_after_recovery(sluiced, peers):
    """A stalled peer keeps nothing stuck: after the timeout the message
    waits; once a working peer is there, flush delivers it."""
    raw = peers.raw(mode="stall")
    srv = sluiced({"outbound.routes": [f"st.test [127.0.0.1]:{raw.port}"],
                   "outbound.timeout": "1s",
                   "queue.retry_min": "1h", "queue.retry_max": "1h"})
    q = srv.send("alice@localhost", ["u@st.test"], MSG)
    srv.wait_event("delivery", qid=q, status="deferred", timeout=8)
    port = raw.port
    raw.stop()
    good = peers.aiosmtpd(port=port)
    srv.queue("flush", "--id", q, check=0)
    srv.wait_event("delivery", qid=q, status="sent")
    assert good.wait(1)


def test_out_route_to_self_is_a_loop(sluiced):
    """A route that points back at sluiced's own listener: bounced as a
    mail loop, never sent to ourselves."""
    srv = sluiced({"outbound.routes": ["self.test [127.0.0.1]:@SELF@"]})
    q = srv.send("alice@localhost", ["bob@self.test"], MSG)
    ev = srv.wait_event("delivery", qid=q, status="bounced")[0]
    assert "loop" in ev["reason"], ev
    # nothing was sent to ourselves
    assert len(srv.events("message-accepted")) == 1
    dsn = DSN(srv.wait_maildir("alice")[0].read_bytes())
    r = dsn.rcpt("bob@self.test")
    assert r["action"] == "failed" and r["status"].startswith("5.")
    srv.wait_queue_empty()


def test_out_received_count_loop_detected(sluiced):
    """Two servers that route a domain to each other: the message goes
    round until it has more than queue.max_hops Received: lines, then it
    is bounced (5.4.6) and the sender gets a DSN."""
    a = sluiced({"queue.max_hops": 6}, start=False, name="hopA")
    b = sluiced({"queue.max_hops": 6}, start=False, name="hopB")
    a.user_keys["outbound.routes"] = [f"hop.test [127.0.0.1]:{b.port}"]
    b.user_keys["outbound.routes"] = [f"hop.test [127.0.0.1]:{a.port}"]
    a.start()
    b.start()
    q = a.send("alice@localhost", ["bob@hop.test"], MSG)

    def bounced():
        return [(s, e) for s in (a, b)
                for e in s.events("delivery", status="bounced")]
    (s, ev), = wait_until(bounced, 20, what="the loop to be detected")
    assert "5.4.6" in ev["reason"] and "loop" in ev["reason"], ev
    # the copy was accepted (and logged so) before the runner looked at
    # it: counting acceptances once the bounce is logged is exact
    lines = s.log_lines(rf"qid={ev['qid']} ")
    assert "event=message-accepted" in lines[0], lines
    hops = len(a.events("message-accepted")) + \
        len(b.events("message-accepted"))
    # the submission plus six relays: the copy with 7 Received: lines
    # (more than 6) is the one bounced
    assert hops == 7, f"the message went round {hops} times"
    assert "7 Received" in ev["reason"], ev
    files = wait_until(lambda: a.maildir_files("alice") +
                       b.maildir_files("alice"), 10,
                       what="the DSN for the loop")
    dsn = DSN(files[0].read_bytes())
    assert dsn.rcpt("bob@hop.test")["status"] == "5.4.6"
    assert q  # the first hop's id
    a.wait_queue_empty()
    b.wait_queue_empty()
