"""The retry schedule: queue.retry_min after the first attempt, doubling
after each further one up to queue.retry_max; each recipient's attempts
and next attempt are kept in the queue file, so a restart neither retries
everything at once nor starts the count (and the backoff) again."""
import datetime
import time

from out_harness import place_queue_file, rcpt_statuses, wait_until


def body(tag):
    return (f"From: alice@localhost\r\nSubject: {tag}\r\n"
            f"Message-ID: <{tag}@client.test>\r\n\r\nText of {tag}.\r\n"
            ).encode()


def log_time(line):
    """The epoch seconds of a log line ("2026-11-24T18:09:40.798Z ...")."""
    ts = line.split(" ", 1)[0]
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_out_backoff_doubles_up_to_retry_max(sluiced, peers):
    """retry_min 1s, retry_max 4s, a receiver that always says 451: the
    gaps between attempts are about 1, 2, 4 and 4 seconds (doubling, then
    capped), and each attempt is numbered."""
    seen = []

    def rcpt(addr, n):
        seen.append(time.monotonic())
        return "451 4.3.0 Try again later"
    rcv = peers.aiosmtpd(rcpt=rcpt)
    srv = sluiced({"outbound.routes": [f"back.test [127.0.0.1]:{rcv.port}"],
                   "queue.retry_min": "1s", "queue.retry_max": "4s"})
    q = srv.send("alice@localhost", ["bob@back.test"], body("backoff"))
    srv.wait_event("delivery", 5, qid=q, status="deferred", timeout=20)
    srv.queue("delete", "--id", q, check=0)
    attempts = [int(e["attempt"]) for e in srv.deliveries(qid=q)][:5]
    assert attempts == [1, 2, 3, 4, 5], attempts
    gaps = [round(b - a, 2) for a, b in zip(seen, seen[1:])][:4]
    # the timer has whole seconds: each gap is within a second below its
    # backoff and a little above
    want = [1, 2, 4, 4]
    for g, w in zip(gaps, want):
        assert w - 1.05 <= g <= w + 0.9, (gaps, want)
    assert gaps[2] >= 2.95, f"no doubling from 2 s to 4 s: {gaps}"
    assert gaps[3] <= 4.9, f"retry_max (4 s) not applied: {gaps}"


def test_out_backoff_continues_from_stored_attempts(sluiced, peers):
    """Queue files left with 0, 1, 4, 9 and 20 attempts (due now), and one
    without retry lines (written before they existed): each is tried once
    and the next attempt is retry_min (1m) doubled per attempt so far,
    capped at retry_max (1h); the counts go on from the stored ones."""
    rcv = peers.aiosmtpd(rcpt=lambda a, n: "451 4.3.0 Try again later")
    srv = sluiced({"outbound.routes": [f"st.test [127.0.0.1]:{rcv.port}"],
                   "queue.retry_min": "1m", "queue.retry_max": "1h"},
                  start=False)
    stored = {"a0": 0, "a1": 1, "a4": 4, "a9": 9, "a20": 20, "old": None}
    # backoff after attempt n: 60 * 2^(n-1), at most 3600
    want = {"a0": 60, "a1": 120, "a4": 960, "a9": 3600, "a20": 3600,
            "old": 60}
    now = int(time.time())
    qids = {}
    for i, (tag, n) in enumerate(stored.items()):
        qid = f"0000000000A{i:05d}"
        qids[tag] = qid
        place_queue_file(srv, qid, "alice@localhost",
                         [(f"{tag}@st.test", "P", n, 0)], body(tag),
                         t=now - 600)
    srv.start()
    for tag, qid in qids.items():
        srv.wait_event("delivery", qid=qid, status="deferred")
    listing = {m["id"]: m for m in srv.queue_json()}
    for tag, qid in qids.items():
        (line,) = srv.log_lines(rf"event=delivery qid={qid} ")
        ev = srv.deliveries(qid=qid)[0]
        n = stored[tag] or 0
        assert ev["attempt"] == str(n + 1), (tag, ev)
        r = listing[qid]["recipients"][0]
        assert r["attempts"] == n + 1, (tag, r)
        delay = r["next_attempt"] - log_time(line)
        assert want[tag] - 2 <= delay <= want[tag] + 1, (tag, delay)
        st, att, nxt = rcpt_statuses(srv.spool / "queue" / qid)[
            f"{tag}@st.test"]
        assert st == "P"
        if stored[tag] is None:
            assert att is None     # no room to keep it: memory only
        else:
            assert (att, nxt) == (n + 1, r["next_attempt"]), (tag, att, nxt)
    # nothing is tried again before its time
    time.sleep(2)
    assert len(srv.deliveries()) == len(qids)
    srv.queue("delete", "--all", check=0)


def test_out_schedule_survives_restart(sluiced, peers):
    """Deferred twice (retry_min 2s: the next attempt is 4 s after the
    second), then restarted: the message waits out what is left of those
    4 s instead of being tried at once, and the next attempt is number 3
    with the backoff going on from there."""
    seen = []

    def rcpt(addr, n):
        seen.append(time.time())
        return "451 4.3.0 Try again later"
    rcv = peers.aiosmtpd(rcpt=rcpt)
    srv = sluiced({"outbound.routes": [f"rs.test [127.0.0.1]:{rcv.port}"],
                   "queue.retry_min": "2s", "queue.retry_max": "1h"})
    q = srv.send("alice@localhost", ["bob@rs.test"], body("restart"))
    srv.wait_event("delivery", 2, qid=q, status="deferred", timeout=10)
    (before,) = srv.queue_json("--id", q)
    r = before["recipients"][0]
    assert r["attempts"] == 2
    srv.stop()
    st, att, nxt = rcpt_statuses(srv.spool / "queue" / q)["bob@rs.test"]
    assert (st, att, nxt) == ("P", 2, r["next_attempt"])
    srv.start()
    (after,) = srv.queue_json("--id", q)
    ra = after["recipients"][0]
    assert ra["attempts"] == 2 and ra["next_attempt"] == r["next_attempt"], \
        (r, ra)
    ev = srv.wait_event("delivery", 3, qid=q, timeout=10)[2]
    third = seen[2]
    assert ev["attempt"] == "3", ev
    # not at once after the restart: at the stored time (whole seconds)
    assert third >= r["next_attempt"] - 1, (third, r["next_attempt"])
    assert len(seen) == 3
    (m,) = srv.queue_json("--id", q)
    # attempt 3 waits 2 * 2^2 = 8 s
    delay = m["recipients"][0]["next_attempt"] - int(third)
    assert 7 <= delay <= 9, delay
    srv.queue("delete", "--id", q, check=0)
