"""The SMTP client and the runner's limits: HELO fallback for a pre-ESMTP
server, queue.per_destination and queue.concurrency, a relayhost given
as host:port (its MX), routes for subdomains, and a resolver that is
down."""
import re

from out_harness import free_port, strip_trace, unstuff

MSG = b"From: alice@localhost\r\nSubject: client\r\n\r\n.dot\r\nHello.\r\n"


def test_out_helo_fallback(sluiced, peers):
    """A server that does not know EHLO gets HELO, and then no ESMTP
    parameters and no pipelining; the message still arrives intact."""
    raw = peers.raw(mode="helo")
    srv = sluiced({"outbound.routes": [f"old.test [127.0.0.1]:{raw.port}"]})
    q = srv.send("alice@localhost", ["bob@old.test", "carol@old.test"], MSG,
                 mail_options=["BODY=8BITMIME"])
    srv.wait_event("delivery", 2, qid=q, status="sent")
    cmds = [l.split(b" ")[0].split(b":")[0].upper() for l in raw.lines]
    assert cmds[:2] == [b"EHLO", b"HELO"], raw.lines
    assert raw.lines[1] == b"HELO sluiced.test\r\n"
    t = raw.transactions[0]
    assert t["mail"] == b"MAIL FROM:<alice@localhost>\r\n", t["mail"]
    assert t["pipelined"] == b"", "commands pipelined to a non-ESMTP server"
    assert strip_trace(unstuff(t["data"])) == MSG
    assert cmds.count(b"RCPT") == 2 and cmds.count(b"MAIL") == 1


def test_out_per_destination_limit(sluiced, peers):
    """queue.per_destination=2: never more than two connections to one
    destination at once, however many messages wait (and two are used)."""
    raw = peers.raw()
    srv = sluiced({"outbound.routes": [f"lim.test [127.0.0.1]:{raw.port}"],
                   "queue.per_destination": 2})
    s = srv.smtp()
    for i in range(8):
        srv.send("alice@localhost", [f"u{i}@lim.test"], MSG, smtp=s)
    s.quit()
    raw.wait(8, timeout=20)
    srv.wait_queue_empty()
    assert raw.max_concurrent == 2, raw.max_concurrent


def test_out_total_concurrency_limit(sluiced, peers):
    """queue.concurrency=3 caps deliveries across destinations: three
    destinations (one peer on three addresses) with four messages each
    never see more than three connections at once."""
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    raw = peers.raw(host=hosts)
    srv = sluiced({"outbound.routes": [f"c{i}.test [{h}]:{raw.port}"
                                       for i, h in enumerate(hosts)],
                   "queue.concurrency": 3})
    s = srv.smtp()
    for i in range(12):
        srv.send("alice@localhost", [f"u{i}@c{i % 3}.test"], MSG, smtp=s)
    s.quit()
    raw.wait(12, timeout=20)
    srv.wait_queue_empty()
    assert raw.max_concurrent == 3, raw.max_concurrent
    relays = {e["relay"] for e in srv.deliveries(status="sent")}
    assert len(relays) == 3, relays


def test_out_relayhost_mx_form(sluiced, peers):
    """outbound.relayhost "host:port" (no brackets) means the MX hosts of
    host, at that port: here pref.test's, so its first MX gets the mail
    of every domain."""
    port = free_port(("127.0.0.2",))
    mx1 = peers.aiosmtpd("127.0.0.2", port)
    srv = sluiced({"outbound.relayhost": f"pref.test:{port}"})
    q = srv.send("alice@localhost", ["x@anywhere.example",
                                     "y@elsewhere.example"], MSG)
    evs = srv.wait_event("delivery", 2, qid=q, status="sent")
    assert {e["relay"] for e in evs} == {f"mx1.pref.test[127.0.0.2]:{port}"}
    assert sorted(r for m in mx1.wait(2) for r in m.rcpt_tos) == \
        ["x@anywhere.example", "y@elsewhere.example"]


def test_out_route_for_subdomains(sluiced, peers):
    """A route for ".corp.test" takes every subdomain of corp.test, not
    corp.test itself (which has no DNS: NXDOMAIN, bounced)."""
    rcv = peers.aiosmtpd()
    srv = sluiced({"outbound.routes": [f".corp.test [127.0.0.1]:{rcv.port}"]})
    q = srv.send("alice@localhost", ["a@x.corp.test", "b@y.z.corp.test",
                                     "c@corp.test"], MSG)
    srv.wait_event("delivery", 2, qid=q, status="sent")
    b = srv.wait_event("delivery", qid=q, status="bounced")[0]
    assert b["to"] == "<c@corp.test>"
    got = sorted(r for m in rcv.wait(2) for r in m.rcpt_tos)
    assert got == ["a@x.corp.test", "b@y.z.corp.test"]
    srv.wait_queue_empty()


def test_out_resolver_down_defers(sluiced):
    """No DNS server at all (nothing on the resolver's port): a temporary
    failure, retried, never a bounce."""
    srv = sluiced({"outbound.resolver": "127.0.0.1:1"})
    q = srv.send("alice@localhost", ["bob@pref.test"], MSG)
    evs = srv.wait_event("delivery", 2, qid=q, status="deferred", timeout=20)
    assert re.search(r"DNS|dns", evs[0]["reason"]), evs[0]
    assert not srv.deliveries(qid=q, status="bounced")
    srv.queue("delete", "--all", check=0)
