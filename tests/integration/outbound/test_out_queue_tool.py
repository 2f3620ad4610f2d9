"""`sluice queue` against a running sluiced: list (text and JSON) with
every selector, show, hold/release/delete/flush and their visible effect,
the refusal to act on the whole queue without --all, and "sluiced is not
running" (exit 3)."""
import time

MSG = b"From: someone\r\nSubject: queue tool\r\n\r\nHello.\r\n"


class Switch:
    """A receiver rule: 451 while .accept is false."""

    def __init__(self):
        self.accept = False

    def __call__(self, address, n):
        return None if self.accept else "451 4.3.0 Not now (test)"


def ids(msgs):
    return sorted(m["id"] for m in msgs)


def deferred_once(srv, *qids):
    for q in qids:
        srv.wait_event("delivery", qid=q, status="deferred")


def test_out_queue_list_and_selectors(sluiced, peers):
    rcv = peers.aiosmtpd(rcpt=Switch())
    srv = sluiced({"outbound.routes": [f"q.test [127.0.0.1]:{rcv.port}",
                                       f"other.test [127.0.0.1]:{rcv.port}"],
                   "queue.retry_min": "1h", "queue.retry_max": "1h"})
    m1 = srv.send("bob@localhost", ["a@q.test"], MSG)
    m2 = srv.send("carol@example.org", ["b@other.test"], MSG,
                  source="127.0.0.8")
    m3 = srv.send("", ["c@q.test", "d@other.test"], MSG, source="127.0.0.8")
    deferred_once(srv, m1, m2, m3)

    allm = srv.queue_json()
    assert ids(allm) == sorted([m1, m2, m3])
    by = {m["id"]: m for m in allm}
    assert by[m1]["from"] == "<bob@localhost>"
    assert by[m1]["client"] == "127.0.0.1" and by[m2]["client"] == "127.0.0.8"
    assert by[m3]["from"] == "<>"
    assert by[m1]["state"] == "queued"
    assert by[m1]["size"] > 0 and by[m1]["age"] >= 0
    r = by[m1]["recipients"][0]
    assert r["address"] == "<a@q.test>" and r["class"] == "remote"
    assert r["status"] == "pending" and r["attempts"] == 1
    assert "451 4.3.0" in r["last_error"], r
    assert r["next_attempt"] > time.time() + 600

    def sel(*a):
        return ids(srv.queue_json(*a))
    assert sel("--sender", "bob@localhost") == [m1]
    assert sel("--sender", "example.org") == [m2]
    assert sel("--sender", "<>") == [m3]
    assert sel("--sender", "nobody@nowhere.test") == []
    assert sel("--rcpt-domain", "q.test") == sorted([m1, m3])
    assert sel("--rcpt", "a@q.test") == [m1]
    assert sel("--client-ip", "127.0.0.8") == sorted([m2, m3])
    assert sel("--client-ip", "127.0.0.0/8") == sorted([m1, m2, m3])
    assert sel("--client-ip", "10.0.0.0/8") == []
    assert sel("--client-ip", "127.0.0.8", "--rcpt-domain", "q.test") == [m3]
    assert sel("--id", m2) == [m2]

    # text listing and show
    p = srv.queue("list", check=0)
    assert all(q in p.stdout for q in (m1, m2, m3)) and \
        "3 messages" in p.stdout, p.stdout
    p = srv.queue("show", m3, check=0)
    assert m3 in p.stdout and "<c@q.test>" in p.stdout and \
        "<d@other.test>" in p.stdout and "451" in p.stdout, p.stdout
    p = srv.queue("show", "NOSUCHID", check=1)
    assert "no such message" in p.stderr

    # age selectors (whole seconds): the others are 3 s or older, m4 is
    # at most 2 s old for the next 1 s at least
    time.sleep(3.5)
    m4 = srv.send("dave@localhost", ["e@q.test"], MSG)
    deferred_once(srv, m4)
    assert sel("--older-than", "3s") == sorted([m1, m2, m3])
    assert sel("--newer-than", "2s") == [m4]

    # hold: out of the active queue, into hold/
    p = srv.queue("hold", "--sender", "bob@localhost", check=0)
    assert "1 message" in p.stdout, p.stdout
    assert sel("--held") == [m1]
    assert sel("--active") == sorted([m2, m3, m4])
    assert srv.queue_json("--id", m1)[0]["state"] == "held"
    assert [f.name for f in srv.queue_files("hold")] == [m1]

    # the whole queue needs --all
    for verb in ("hold", "release", "delete", "flush"):
        p = srv.queue(verb, check=1)
        assert "refusing" in p.stderr and "--all" in p.stderr, (verb, p)
    assert len(srv.queue_json()) == 4

    # flush: m4 is tried again at once (retry_min is an hour)
    srv.queue("flush", "--id", m4, check=0)
    srv.wait_event("delivery", 2, qid=m4, status="deferred", timeout=5)
    assert srv.queue_json("--id", m4)[0]["recipients"][0]["attempts"] == 2
    assert len(srv.deliveries(qid=m2)) == 1, "flush touched only m4"

    # delete by client: everything 127.0.0.8 queued, nothing else
    p = srv.queue("delete", "--client-ip", "127.0.0.8", check=0)
    assert "2 messages" in p.stdout, p.stdout
    assert sel() == sorted([m1, m4])
    names = {f.name for f in srv.queue_files() + srv.queue_files("hold")}
    assert names == {m1, m4}
    assert srv.events("deleted")
    srv.queue("delete", "--all", check=0)
    assert sel() == []
    assert not srv.queue_files() and not srv.queue_files("hold")

    # nobody listening: exit 3
    srv.stop()
    p = srv.queue("list")
    assert p.returncode == 3, p
    assert "sluiced is not running" in p.stderr
    p = srv.queue("flush", "--all")
    assert p.returncode == 3, p


def test_out_queue_hold_release_delete_effect(sluiced, peers):
    """A held message is not delivered, not even by flush, until it is
    released; deleted messages are never delivered."""
    sw = Switch()
    rcv = peers.aiosmtpd(rcpt=sw)
    srv = sluiced({"outbound.routes": [f"h.test [127.0.0.1]:{rcv.port}"],
                   "queue.retry_min": "1h", "queue.retry_max": "1h"})
    held = srv.send("alice@localhost", ["held@h.test"], MSG)
    gone = [srv.send("mallory@localhost", [f"spam{i}@h.test"], MSG,
                     source="127.0.0.9") for i in range(4)]
    keep = srv.send("alice@localhost", ["keep@h.test"], MSG)
    deferred_once(srv, held, keep, *gone)
    srv.queue("hold", "--id", held, check=0)
    p = srv.queue("delete", "--client-ip", "127.0.0.9/32", check=0)
    assert "4 messages" in p.stdout, p.stdout
    sw.accept = True
    srv.queue("flush", "--all", check=0)
    srv.wait_event("delivery", qid=keep, status="sent")
    time.sleep(1.0)     # a held message would have gone with keep
    assert sorted(r for m in rcv.messages for r in m.rcpt_tos) == \
        ["keep@h.test"]
    assert [m["state"] for m in srv.queue_json()] == ["held"]
    assert not srv.deliveries(qid=held, status="sent")
    for g in gone:
        assert not srv.deliveries(qid=g, status="sent")
    # release: delivered at once
    t0 = time.monotonic()
    p = srv.queue("release", "--held", check=0)
    assert "1 message" in p.stdout
    srv.wait_event("delivery", qid=held, status="sent", timeout=5)
    assert time.monotonic() - t0 < 3
    srv.wait_queue_empty()
    assert sorted(r for m in rcv.messages for r in m.rcpt_tos) == \
        ["held@h.test", "keep@h.test"]
    assert srv.queue_json() == []


def test_out_dsns_are_internal_not_the_clients(sluiced, peers):
    """An abuse hold on 127.0.0.1 (a local webmail tripping a rule) holds
    that client's mail, not the DSNs sluiced makes itself: they are queued
    with client "internal", no --client-ip selects them (so `delete
    --client-ip 127.0.0.1` leaves them), and --internal does."""
    rej = peers.aiosmtpd(rcpt=lambda a, n: "550 5.1.1 No such user")
    home = peers.aiosmtpd(rcpt=lambda a, n: "451 4.3.0 Not now (test)")
    srv = sluiced({"outbound.routes": [f"rej.test [127.0.0.1]:{rej.port}",
                                       f"home.test [127.0.0.1]:{home.port}"],
                   "abuse.rules": ["webmail: messages per ip >= 2 in 10m "
                                   "-> hold 1h"],
                   "queue.retry_min": "1h", "queue.retry_max": "1h"})
    # 127.0.0.1 trips the rule: its mail is held, queued and new
    h1 = srv.send("web@localhost", ["x@home.test"], MSG)
    h = srv.send("web@localhost", ["y@home.test"], MSG)
    srv.wait_event("abuse-hold")
    srv.wait_event("held", qid=h)
    # two failures from other clients: one DSN to a local sender, one to
    # a remote sender whose server defers (so that DSN stays queued)
    a = srv.send("alice@localhost", ["bob@rej.test"], MSG, source="127.0.0.2")
    d = srv.send("dave@home.test", ["bob@rej.test"], MSG, source="127.0.0.3")
    dsn_a = srv.wait_event("bounce", qid=a)[0]["dsn"]
    dsn_d = srv.wait_event("bounce", qid=d)[0]["dsn"]
    srv.wait_event("delivery", qid=dsn_d, status="deferred")
    # the local DSN was delivered, not held
    srv.wait_event("delivery", qid=dsn_a, status="sent")
    assert srv.wait_maildir("alice")
    assert not srv.events("held", qid=dsn_a)
    assert not srv.events("held", qid=dsn_d)
    (m,) = srv.queue_json("--id", dsn_d)
    assert m["client"] == "internal" and m["from"] == "<>", m
    assert m["state"] == "queued"
    assert ids(srv.queue_json("--held")) == sorted([h1, h])
    assert dsn_d not in ids(srv.queue_json("--client-ip", "127.0.0.1"))
    assert dsn_d not in ids(srv.queue_json("--client-ip", "127.0.0.0/8"))
    assert ids(srv.queue_json("--internal")) == [dsn_d]
    # the clean-up of the client's mail leaves sluiced's own
    srv.queue("delete", "--client-ip", "127.0.0.1", check=0)
    left = ids(srv.queue_json())
    assert dsn_d in left and h not in left and h1 not in left, left
    srv.queue("delete", "--internal", check=0)
    assert dsn_d not in ids(srv.queue_json())
    srv.queue("delete", "--all", check=0)
