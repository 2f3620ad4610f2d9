"""What the receiver answers and what sluiced does with it: 4xx retried
(queue.retry_min), 5xx bounced with an RFC 3464 DSN, mixed results in one
transaction, one delay warning, no bounce for the null sender, a DSN to a
remote sender, and Postfix's smtp-sink as a pipelining peer."""
import re

from out_harness import DSN, header_values, strip_trace, wait_until


def body(tag):
    return (f"From: alice@localhost\r\nTo: someone\r\nSubject: {tag}\r\n"
            f"Message-ID: <{tag}@client.test>\r\n\r\nText of {tag}.\r\n"
            ).encode()


def test_out_4xx_then_success(sluiced, peers):
    """451 on the first attempt, 250 on the retry about retry_min later."""
    rcv = peers.aiosmtpd(rcpt={"bob@retry.test": [
        "451 4.7.1 Greylisted, come back later", None]})
    srv = sluiced({"outbound.routes": [f"retry.test [127.0.0.1]:{rcv.port}"]})
    q = srv.send("alice@localhost", ["bob@retry.test"], body("retry"))
    d = srv.wait_event("delivery", qid=q, status="deferred")[0]
    assert d["attempt"] == "1"
    assert "451 4.7.1 Greylisted" in d["reason"], d
    assert d["relay"] == f"127.0.0.1[127.0.0.1]:{rcv.port}", d
    s = srv.wait_event("delivery", qid=q, status="sent", timeout=10)[0]
    assert s["attempt"] == "2"
    srv.wait_event("removed", qid=q)
    m = rcv.wait(1)
    assert len(m) == 1 and m[0].rcpt_tos == ["bob@retry.test"]
    assert strip_trace(m[0].content) == body("retry")
    assert not srv.events("bounce")
    assert srv.maildir_files("alice") == []


def test_out_5xx_bounces_with_dsn(sluiced, peers):
    """550 at RCPT and 554 after the data are permanent: bounced at once,
    one DSN each with the remote server's status and reply."""
    rcv = peers.aiosmtpd(
        rcpt={"nobody@perm.test": "550 5.1.1 <nobody@perm.test>: "
                                  "Recipient address rejected"},
        data=lambda m: "554 5.6.0 Content refused (test)"
        if "late@perm.test" in m.rcpt_tos else "250 2.0.0 Ok")
    srv = sluiced({"outbound.routes": [f"perm.test [127.0.0.1]:{rcv.port}"]})
    q1 = srv.send("alice@localhost", ["nobody@perm.test"], body("perm1"))
    q2 = srv.send("alice@localhost", ["late@perm.test"], body("perm2"))
    e1 = srv.wait_event("delivery", qid=q1, status="bounced")[0]
    e2 = srv.wait_event("delivery", qid=q2, status="bounced")[0]
    assert e1["attempt"] == e2["attempt"] == "1"
    assert "550 5.1.1" in e1["reason"] and "554 5.6.0" in e2["reason"]
    files = srv.wait_maildir("alice", 2)
    srv.wait_queue_empty()
    assert len(files) == 2
    dsns = {d.fields["x-sluice-queue-id"]: d for d in
            (DSN(f.read_bytes()) for f in files)}
    r1 = dsns[q1].rcpt("nobody@perm.test")
    assert r1["action"] == "failed"
    assert r1["status"] == "5.1.1"
    assert r1["diagnostic-code"].startswith("smtp;")
    assert "550 5.1.1 <nobody@perm.test>: Recipient address rejected" in \
        r1["diagnostic-code"], r1
    assert r1["remote-mta"].startswith("dns;") and \
        f":{rcv.port}" in r1["remote-mta"], r1
    r2 = dsns[q2].rcpt("late@perm.test")
    assert r2["action"] == "failed" and r2["status"] == "5.6.0", r2
    assert "554 5.6.0 Content refused" in r2["diagnostic-code"]
    assert "nobody@perm.test" in dsns[q1].text
    for d in dsns.values():
        assert d.msg["To"] == "<alice@localhost>"
        assert d.msg["From"].startswith("Mail Delivery System <MAILER-DAEMON@")
        assert "arrival-date" in d.fields
    # the DSN quotes the original headers, not the body
    assert b"Subject: perm1" in dsns[q1].headers_part
    assert b"Text of perm1" not in dsns[q1].raw


def test_out_mixed_results_in_one_transaction(sluiced, peers):
    """Three recipients of one domain go in one transaction; 250, 550 and
    451 each get their own outcome: delivered, bounced (a DSN naming only
    that one), retried (and delivered alone on the retry, on the same
    connection: the 550 and 451 did not spoil it)."""
    rcv = peers.aiosmtpd(rcpt={
        "bad@mix.test": "550 5.1.1 No such user",
        "later@mix.test": ["451 4.2.0 Mailbox busy", None]})
    srv = sluiced({"outbound.routes": [f"mix.test [127.0.0.1]:{rcv.port}"],
                   "queue.connection_cache_time": "10s"})
    q = srv.send("alice@localhost", ["ok@mix.test", "bad@mix.test",
                                     "later@mix.test"], body("mixed"))
    srv.wait_event("removed", qid=q, timeout=15)
    by = {}
    for e in srv.deliveries(qid=q):
        by.setdefault(e["to"], []).append((e["status"], e["attempt"]))
    assert by["<ok@mix.test>"] == [("sent", "1")], by
    assert by["<bad@mix.test>"] == [("bounced", "1")], by
    assert by["<later@mix.test>"] == [("deferred", "1"), ("sent", "2")], by
    # first attempt: one connection, all three RCPTs, one delivery
    assert [a for a, _ in rcv.rcpts[:3]] == ["ok@mix.test", "bad@mix.test",
                                             "later@mix.test"]
    assert [m.rcpt_tos for m in rcv.messages] == [["ok@mix.test"],
                                                  ["later@mix.test"]]
    assert len(rcv.peers) == 1, "the retry went on the kept connection"
    retry = [e for e in srv.deliveries(qid=q) if e["attempt"] == "2"]
    assert retry[0].get("conn_use") == "2", retry
    files = srv.wait_maildir("alice")
    srv.wait_queue_empty()
    assert len(files) == 1
    dsn = DSN(files[0].read_bytes())
    assert len(dsn.rcpts) == 1
    r = dsn.rcpt("bad@mix.test")
    assert r["status"] == "5.1.1" and "550 5.1.1 No such user" in \
        r["diagnostic-code"]
    assert "ok@mix.test" not in dsn.text and "later@mix.test" not in dsn.text


def test_out_delay_warning_sent_once(sluiced, peers):
    """queue.delay_warning: after that long undelivered, the sender gets
    one "delayed" DSN, however many more attempts follow."""
    rcv = peers.aiosmtpd(rcpt=lambda a, n: "452 4.2.2 Mailbox full")
    srv = sluiced({"outbound.routes": [f"slow.test [127.0.0.1]:{rcv.port}"],
                   "queue.delay_warning": "1s",
                   "queue.retry_max": "1s"})
    q = srv.send("alice@localhost", ["bob@slow.test"], body("delay"))
    srv.wait_event("bounce", qid=q, kind="delayed")
    n = len(srv.deliveries(qid=q))
    srv.wait_event("delivery", n + 3, qid=q, status="deferred", timeout=10)
    bounces = srv.events("bounce", qid=q)
    assert len(bounces) == 1 and bounces[0]["kind"] == "delayed", bounces
    files = srv.wait_maildir("alice")
    assert len(files) == 1
    dsn = DSN(files[0].read_bytes())
    assert "Delayed" in dsn.subject
    r = dsn.rcpt("bob@slow.test")
    assert r["action"] == "delayed"
    assert r["status"] == "4.2.2", r
    assert "452 4.2.2 Mailbox full" in r["diagnostic-code"]
    assert "will keep trying" in dsn.text
    assert srv.queue_files(), "still queued after the warning"
    assert not srv.deliveries(qid=q, status="bounced")
    srv.queue("delete", "--id", q, check=0)
    srv.wait_queue_empty()


def test_out_null_sender_failure_not_bounced(sluiced, peers):
    """A message from <> that fails permanently is dropped with a log
    line, never bounced (no bounce loops)."""
    rcv = peers.aiosmtpd(rcpt=lambda a, n: "550 5.1.1 Unknown user")
    srv = sluiced({"outbound.routes": [f"nul.test [127.0.0.1]:{rcv.port}"]})
    q = srv.send("", ["x@nul.test"], body("nullsender"))
    srv.wait_event("delivery", qid=q, status="bounced")
    srv.wait_event("removed", qid=q)
    sup = srv.events("bounce-suppressed", qid=q)
    assert len(sup) == 1, sup
    assert not srv.events("bounce")
    assert srv.maildir_files("alice") == [] and \
        srv.maildir_files("postmaster") == []
    assert [a for a, _ in rcv.mails] == ["<>"], rcv.mails
    assert not srv.queue_files()


def test_out_bounce_to_remote_sender(sluiced, peers):
    """A DSN for a remote sender is mail like any other: from <>, to the
    sender's domain, and it carries the failure."""
    rcv = peers.aiosmtpd(rcpt={"gone@far.test": "550 5.1.1 Gone"})
    home = peers.aiosmtpd()
    srv = sluiced({"outbound.routes": [f"far.test [127.0.0.1]:{rcv.port}",
                                       f"home.test [127.0.0.1]:{home.port}"]})
    q = srv.send("dave@home.test", ["gone@far.test"], body("remote-sender"))
    b = srv.wait_event("bounce", qid=q)[0]
    dq = b["dsn"]
    srv.wait_event("delivery", qid=dq, status="sent")
    m = home.wait(1)[0]
    assert m.mail_from == "<>", m.mail_from
    assert m.rcpt_tos == ["dave@home.test"]
    dsn = DSN(strip_trace(m.content))
    assert dsn.rcpt("gone@far.test")["status"] == "5.1.1"
    assert header_values(m.content, "Auto-Submitted") == ["auto-replied"]
    srv.wait_queue_empty()


def test_out_smtp_sink_pipelined_recipients(sluiced, peers):
    """Postfix's smtp-sink (PIPELINING, DSN, ...): several recipients of
    one domain go in one transaction; a soft-bounce at the end of data
    (-r .) is retried, and nothing is lost."""
    sink = peers.sink()
    srv = sluiced({"outbound.routes": [f"sink.test [127.0.0.1]:{sink.port}"]})
    rcpts = [f"user{i}@sink.test" for i in range(5)]
    q = srv.send("alice@localhost", rcpts, body("sink"))
    srv.wait_event("removed", qid=q)
    # smtp-sink writes its dump as the transaction goes: wait for the end
    dumps = wait_until(lambda: (lambda d: d if d and b"Text of sink." in d[0]
                                else None)(sink.dumps()), 10,
                       what="the complete smtp-sink dump")
    assert len(dumps) == 1, "one transaction for the five"
    d = dumps[0]
    got = re.findall(rb"^X-Rcpt-Args: <([^>]*)>", d, re.M)
    assert [g.decode() for g in got] == rcpts
    assert re.search(rb"^X-Mail-Args: <alice@localhost>", d, re.M)
    assert b"Text of sink." in d
    assert [e["status"] for e in srv.deliveries(qid=q)] == ["sent"] * 5


def test_out_smtp_sink_soft_reject_retried(sluiced, peers):
    """smtp-sink -r RCPT answers 4xx to every RCPT: the message stays
    queued and is retried; -f RCPT (5xx) bounces."""
    soft = peers.sink(args=["-r", "RCPT"])
    hard = peers.sink(args=["-f", "RCPT"])
    srv = sluiced({"outbound.routes": [
        f"soft.test [127.0.0.1]:{soft.port}",
        f"hard.test [127.0.0.1]:{hard.port}"]})
    q = srv.send("alice@localhost", ["a@soft.test", "b@hard.test"],
                 body("sinkfail"))
    srv.wait_event("delivery", 2, qid=q, to="<a@soft.test>",
                   status="deferred")
    h = srv.wait_event("delivery", qid=q, to="<b@hard.test>",
                       status="bounced")[0]
    assert re.search(r"\b5\d\d ", h["reason"]), h
    srv.wait_maildir("alice")
    assert soft.dumps() == [] and hard.dumps() == []
    srv.queue("delete", "--all", check=0)
    wait_until(lambda: not srv.queue_files(), 5, what="the queue to empty")


def test_out_double_bounce_dropped(sluiced, peers):
    """The sender's own domain does not exist: the DSN (from <>) fails
    too, and is dropped, not bounced again; the queue empties."""
    rcv = peers.aiosmtpd(rcpt=lambda a, n: "550 5.1.1 Unknown user")
    srv = sluiced({"outbound.routes": [f"dbl.test [127.0.0.1]:{rcv.port}"]})
    q = srv.send("ghost@nx.test", ["x@dbl.test"], body("double"))
    b = srv.wait_event("bounce", qid=q)[0]
    srv.wait_event("delivery", qid=b["dsn"], status="bounced")
    srv.wait_event("bounce-suppressed", qid=b["dsn"])
    srv.wait_queue_empty()
    assert len(srv.events("bounce")) == 1
    assert len(srv.events("message-accepted")) == 1
