"""kill -9 in the middle of outbound deliveries: after a restart every
message is delivered, exactly once, or twice only where the receiver's
250 never made it into sluiced's records before the kill. The receiver
keeps each message as soon as the data is in and answers 250 a little
later, so the deliveries under way at the kill are the duplicates a real
receiver could see. The connections are kept from one message to the
next (connection reuse): the kill lands in the middle of that."""
import collections
import re

from out_harness import strip_trace, wait_until

N = 30


def body(i):
    return (f"From: alice@localhost\r\nSubject: crash {i}\r\n"
            f"Message-ID: <crash{i}@client.test>\r\n\r\n"
            f"Message number {i}.\r\n").encode()


def test_out_kill9_mid_delivery_loses_nothing(sluiced, peers):
    rcv = peers.aiosmtpd(data_delay=0.15, commit_early=True)   # slow
    srv = sluiced({"outbound.routes": [f"crash.test [127.0.0.1]:{rcv.port}"],
                   "queue.per_destination": 3})
    s = srv.smtp()
    qids = [srv.send("alice@localhost", [f"u{i}@crash.test"], body(i),
                     smtp=s) for i in range(N)]
    s.quit()
    wait_until(lambda: len(rcv.messages) >= 8, 20,
               what="some deliveries before the kill")
    srv.kill9()
    before = srv.log_text()
    sent_before = set(re.findall(
        r"event=delivery qid=(\w+) .*status=sent", before))
    assert len(sent_before) < N, "everything was delivered before the kill"
    # the kill came while kept connections carried message after message
    assert re.search(r"event=delivery .*status=sent .*conn_use=\d+", before), \
        "no connection was reused before the kill"
    srv.start()
    wait_until(lambda: len({strip_trace(m.content)
                            for m in rcv.messages}) >= N and
               not srv.queue_files(), 30, interval=0.05,
               what="every message delivered after the restart")
    srv.wait_queue_empty()
    assert srv.log_text().count("event=queue-loaded") == 1

    counts = collections.Counter(strip_trace(m.content) for m in
                                 rcv.messages)
    for i in range(N):
        assert counts[body(i)] in (1, 2), (i, counts[body(i)])
    assert sum(counts.values()) == len(rcv.messages)
    assert set(counts) == {body(i) for i in range(N)}
    dups = [i for i in range(N) if counts[body(i)] == 2]
    for i in dups:
        assert qids[i] not in sent_before, \
            f"message {i} ({qids[i]}) was recorded as sent and sent again"
    # whatever the first run recorded as sent was not tried again
    after = srv.log_text()[len(before):]
    for q in sent_before:
        assert f"event=delivery qid={q} " not in after, q
    assert len(dups) <= 3, f"more duplicates than deliveries under way " \
                           f"(queue.per_destination): {dups}"


def test_out_queue_state_survives_restart(sluiced, peers):
    """A clean restart keeps what was decided about queued mail: a held
    message stays held (flush does not send it), and a sender who already
    got the one delay warning (queue.delay_warning) does not get a second
    one for the same message."""
    held_rcv = peers.aiosmtpd(rcpt=lambda a, n: "451 4.3.0 later" if n == 0
                              else None)
    slow = peers.aiosmtpd(rcpt=lambda a, n: "452 4.2.2 Mailbox full")
    srv = sluiced({"outbound.routes": [f"held.test [127.0.0.1]:"
                                       f"{held_rcv.port}",
                                       f"slow.test [127.0.0.1]:{slow.port}"],
                   "queue.delay_warning": "1s", "queue.retry_max": "1s"})
    h = srv.send("alice@localhost", ["bob@held.test"], body("held"))
    w = srv.send("alice@localhost", ["bob@slow.test"], body("warned"))
    srv.wait_event("delivery", qid=h, status="deferred")
    srv.queue("hold", "--id", h, check=0)
    srv.wait_event("bounce", qid=w, kind="delayed")
    srv.stop()
    srv.start()
    n = len(srv.deliveries(qid=w))
    srv.wait_event("delivery", n + 3, qid=w, status="deferred", timeout=10)
    srv.queue("flush", "--all", check=0)
    assert [m["id"] for m in srv.queue_json("--held")] == [h]
    assert not srv.deliveries(qid=h, status="sent")
    warnings = srv.events("bounce", qid=w, kind="delayed")
    assert len(warnings) == 1, f"{len(warnings)} delay warnings for one " \
                               f"message"
    assert len(srv.maildir_files("alice")) == 1
    srv.queue("release", "--id", h, check=0)
    srv.wait_event("delivery", qid=h, status="sent", timeout=5)
    srv.queue("delete", "--all", check=0)
