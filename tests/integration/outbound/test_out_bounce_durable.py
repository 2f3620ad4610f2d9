"""A bounce is never lost. From the 250 on, at every instant either the
original message (with a failed recipient not yet reported) or the
committed DSN exists: a kill -9 while the DSN waits for its fsync, or a
spool that cannot take the DSN, leaves the original in the queue, and the
DSN goes out later (twice at worst, never zero times).

The commit window is made wide and deterministic with strace: every
fdatasync(2) of sluiced is delayed (or failed) on purpose."""
import collections
import re

from out_harness import (DSN, Strace, rcpt_statuses, wait_until)


def body(tag):
    return (f"From: alice@localhost\r\nSubject: {tag}\r\n"
            f"Message-ID: <{tag}@client.test>\r\n\r\nText of {tag}.\r\n"
            ).encode()


def dsn_counts(srv):
    """{original qid: number of failure DSNs in alice's Maildir}"""
    c = collections.Counter()
    for p in srv.maildir_files("alice"):
        d = DSN(p.read_bytes())
        assert d.rcpts and all(r["action"] == "failed" for r in d.rcpts), \
            d.rcpts
        c[d.fields["x-sluice-queue-id"]] += 1
    return c


def test_out_kill9_while_dsn_commits(sluiced, peers, tmp_path):
    """550, then kill -9 while the DSN's fdatasync is held up (4 s): the
    original is still in queue/ with the failure recorded as not yet
    reported (N), no DSN was logged as queued; after the restart the
    sender gets the DSN."""
    rcv = peers.aiosmtpd(rcpt=lambda a, n: "550 5.1.1 No such user")
    srv = sluiced({"outbound.routes": [f"gone.test [127.0.0.1]:{rcv.port}"]})
    st = Strace(srv.pid, "fdatasync:delay_enter=4s", workdir=tmp_path)
    try:
        q = srv.send("alice@localhost", ["bob@gone.test"], body("window"))
        srv.wait_event("delivery", qid=q, status="bounced", timeout=15)
        # the DSN is in the spool's hands now, its fdatasync held up; an
        # original removed at this point would be a lost bounce
        wait_until(lambda: list((srv.spool / "tmp").iterdir()), 5,
                   what="the DSN being written in tmp/")
        orig = srv.spool / "queue" / q
        assert orig.exists(), "the original went before its DSN was " \
                              "committed"
        assert rcpt_statuses(orig)["bob@gone.test"][0] == "N"
        assert not srv.events("bounce"), "a DSN counted as queued before " \
                                         "its commit"
        assert not srv.events("removed", qid=q)
        srv.kill9()
    finally:
        st.stop()
    assert "DELAYED" in st.calls(), "strace delayed no fdatasync"
    srv.start()
    b = srv.wait_event("bounce", qid=q, kind="failed", timeout=15)[0]
    srv.wait_event("delivery", qid=b["dsn"], status="sent")
    srv.wait_queue_empty()
    assert dsn_counts(srv) == {q: 1}
    # the restart re-sent the bounce; nothing was tried twice at the peer
    assert [a for a, _ in rcv.rcpts] == ["bob@gone.test"]


def test_out_kill9_repeatedly_while_bouncing(sluiced, peers, tmp_path):
    """30 messages to a 5xx receiver, bounced while every fdatasync takes
    0.25 s; sluiced is killed -9 four times, each time while some DSN is
    between its 'bounced' and its commit. After the last restart every
    message has at least one DSN in the sender's Maildir."""
    n = 30
    dead = peers.raw()
    port = dead.port
    dead.stop()        # connection refused: every first attempt deferred
    srv = sluiced({"outbound.routes": [f"nx5.test [127.0.0.1]:{port}"],
                   "queue.retry_min": "1h", "queue.retry_max": "1h",
                   "queue.per_destination": 2})
    s = srv.smtp()
    qids = [srv.send("alice@localhost", [f"u{i}@nx5.test"], body(f"r{i}"),
                     smtp=s) for i in range(n)]
    s.quit()
    wait_until(lambda: len(srv.deliveries(status="deferred")) >= n, 20,
               what="the first attempt of every message")
    srv.stop()
    rcv = peers.aiosmtpd(port=port,
                         rcpt=lambda a, k: "550 5.1.1 No such user")
    kills_in_window = 0
    for _ in range(4):
        before = len(srv.log_text())
        srv.start()
        st = Strace(srv.pid, "fdatasync:delay_enter=250ms",
                    workdir=tmp_path)
        try:
            srv.queue("flush", "--all", check=0)

            def in_window():
                log = srv.log_text()[before:]
                bounced = len(re.findall(r"event=delivery .*status=bounced",
                                         log))
                queued = len(re.findall(r"event=bounce .*kind=failed", log))
                return bounced > queued
            wait_until(lambda: in_window() or not srv.queue_files(), 20,
                       what="a DSN waiting for its commit")
            if srv.queue_files() and in_window():
                kills_in_window += 1
            srv.kill9()
        finally:
            st.stop()
        if not srv.queue_files():
            break
    assert kills_in_window >= 1, "no kill hit a DSN in its commit window"
    srv.start()
    srv.queue("flush", "--all", check=0)
    wait_until(lambda: not srv.queue_files() and
               set(dsn_counts(srv)) >= set(qids), 60, interval=0.1,
               what="every message bounced")
    counts = dsn_counts(srv)
    missing = [q for q in qids if counts[q] < 1]
    assert not missing, f"bounces lost for {missing}"
    assert set(counts) == set(qids), set(counts) - set(qids)
    assert rcv.rcpts, "the receiver saw nothing"


def test_out_dsn_spool_failure_retried(sluiced, peers, tmp_path):
    """The spool fails to commit the DSN (fdatasync: EIO): the failure
    stays recorded in the original, which stays queued; the bounce is
    logged as an error to retry, and goes out once the spool works."""
    dead = peers.raw()
    port = dead.port
    dead.stop()        # connection refused: the first attempt is deferred
    srv = sluiced({"outbound.routes": [f"eio.test [127.0.0.1]:{port}"],
                   "queue.retry_min": "1h", "queue.retry_max": "1h"})
    q = srv.send("alice@localhost", ["bob@eio.test"], body("eio"))
    srv.wait_event("delivery", qid=q, status="deferred")
    rcv = peers.aiosmtpd(port=port, rcpt=lambda a, k: "550 5.1.1 Unknown")
    st = Strace(srv.pid, "fdatasync:error=EIO", workdir=tmp_path)
    try:
        srv.queue("flush", "--id", q, check=0)
        srv.wait_event("delivery", qid=q, status="bounced")
        err = srv.wait_event("bounce-error", qid=q, timeout=10)[0]
        assert err["kind"] == "failed" and err["action"] == "retry", err
        assert "fdatasync" in err["reason"], err
    finally:
        st.stop()
    orig = srv.spool / "queue" / q
    assert orig.exists()
    assert rcpt_statuses(orig)["bob@eio.test"][0] == "N"
    assert not srv.events("bounce") and not srv.maildir_files("alice")
    assert not list((srv.spool / "tmp").iterdir()), "a failed DSN left " \
                                                    "in tmp/"
    (m,) = srv.queue_json("--id", q)
    assert m["recipients"][0]["status"] == "failed"
    # the spool works again: a flush brings the DSN forward
    srv.queue("flush", "--id", q, check=0)
    srv.wait_event("bounce", qid=q, kind="failed")
    srv.wait_queue_empty()
    assert dsn_counts(srv) == {q: 1}
    assert len(rcv.rcpts) == 1


def test_out_kill9_while_delay_warning_commits(sluiced, peers, tmp_path):
    """A delay warning takes the same path: the queue file says "warned"
    only once the warning is committed, so a kill -9 while it waits for
    its fdatasync means it is sent after the restart (not never)."""
    rcv = peers.aiosmtpd(rcpt=lambda a, n: "452 4.2.2 Mailbox full")
    srv = sluiced({"outbound.routes": [f"full.test [127.0.0.1]:{rcv.port}"],
                   "queue.delay_warning": "1s", "queue.retry_max": "1s"})
    q = srv.send("alice@localhost", ["bob@full.test"], body("warn"))
    srv.wait_event("delivery", qid=q, status="deferred")
    st = Strace(srv.pid, "fdatasync:delay_enter=4s", workdir=tmp_path)
    try:
        # the warning is due at the next attempt: it waits in tmp/
        wait_until(lambda: list((srv.spool / "tmp").iterdir()), 10,
                   what="the delay warning being written in tmp/")
        orig = srv.spool / "queue" / q
        assert b"\nwarned 0\n" in orig.read_bytes()
        assert not srv.events("bounce")
        srv.kill9()
    finally:
        st.stop()
    srv.start()
    srv.wait_event("bounce", qid=q, kind="delayed")
    (f,) = srv.wait_maildir("alice")
    d = DSN(f.read_bytes())
    assert d.fields["x-sluice-queue-id"] == q
    assert d.rcpt("bob@full.test")["action"] == "delayed"
    assert b"\nwarned 1\n" in (srv.spool / "queue" / q).read_bytes()
    srv.queue("delete", "--id", q, check=0)
