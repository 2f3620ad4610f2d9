"""Where sluiced sends remote mail: MX preference and fallback, random
choice among equal preferences, implicit MX, null MX, NXDOMAIN, an MX
host without an address, and malformed or failing DNS answers."""
import collections

from out_harness import DSN, free_port, wait_until

MSG = b"From: alice@localhost\r\nSubject: routing\r\n\r\nHello.\r\n"


def msg(n):
    return (f"From: alice@localhost\r\nSubject: routing {n}\r\n"
            f"Message-ID: <r{n}@client.test>\r\n\r\nBody {n}.\r\n").encode()


def test_out_mx_preference_and_fallback(sluiced, peers):
    """The lowest preference wins; when nothing listens there, the next
    MX takes the mail (same attempt, no deferral)."""
    port = free_port(("127.0.0.2", "127.0.0.3"))
    srv = sluiced({"outbound.routes": [f"pref.test pref.test:{port}"]})
    mx2 = peers.aiosmtpd("127.0.0.3", port, name="mx2.pref.test")
    # mx1 (preference 10, 127.0.0.2) refuses connections: nothing there
    q1 = srv.send("alice@localhost", ["bob@pref.test"], msg(1))
    ev = srv.wait_event("delivery", qid=q1, status="sent")[0]
    assert ev["relay"] == f"mx2.pref.test[127.0.0.3]:{port}", ev
    assert ev["attempt"] == "1"
    assert not srv.deliveries(qid=q1, status="deferred")
    m = mx2.wait(1)[0]
    assert m.rcpt_tos == ["bob@pref.test"]
    assert m.mail_from == "alice@localhost"
    assert m.helo == "sluiced.test"

    # now mx1 is up: it is preferred, every time
    mx1 = peers.aiosmtpd("127.0.0.2", port, name="mx1.pref.test")
    qids = [srv.send("alice@localhost", ["bob@pref.test"], msg(n))
            for n in range(2, 6)]
    for q in qids:
        ev = srv.wait_event("delivery", qid=q, status="sent")[0]
        assert ev["relay"] == f"mx1.pref.test[127.0.0.2]:{port}", ev
    assert len(mx1.wait(4)) == 4
    assert len(mx2.messages) == 1


def test_out_mx_equal_preference_both_used(sluiced, peers):
    """Two MX hosts of equal preference share the mail: over up to 40
    messages both get some (all to one: chance 2^-39 each way). Each
    message on a connection of its own (no connection cache): the choice
    is made per connection."""
    port = free_port(("127.0.0.4", "127.0.0.5"))
    srv = sluiced({"outbound.routes": [f"eq.test eq.test:{port}"],
                   "queue.connection_cache_time": "0"})
    a = peers.aiosmtpd("127.0.0.4", port)
    b = peers.aiosmtpd("127.0.0.5", port)
    sent = 0
    s = srv.smtp()
    for batch in range(4):
        for _ in range(10):
            srv.send("alice@localhost", [f"u{sent}@eq.test"], msg(sent),
                     smtp=s)
            sent += 1
        wait_until(lambda: len(a.messages) + len(b.messages) == sent, 15,
                   what=f"{sent} messages delivered")
        if a.messages and b.messages:
            break
    s.quit()
    assert a.messages and b.messages, (len(a.messages), len(b.messages))
    relays = collections.Counter(e["relay"] for e in srv.deliveries(
        status="sent"))
    assert set(relays) == {f"mxa.eq.test[127.0.0.4]:{port}",
                           f"mxb.eq.test[127.0.0.5]:{port}"}, relays
    assert not srv.deliveries(status="deferred")


def test_out_implicit_mx(sluiced, peers):
    """No MX record: the domain's own address is the host (RFC 5321
    5.1)."""
    port = free_port(("127.0.0.6",))
    srv = sluiced({"outbound.routes": [f"implicit.test implicit.test:{port}"]})
    r = peers.aiosmtpd("127.0.0.6", port)
    q = srv.send("alice@localhost", ["carol@implicit.test"], MSG)
    ev = srv.wait_event("delivery", qid=q, status="sent")[0]
    assert ev["relay"] == f"implicit.test[127.0.0.6]:{port}", ev
    assert r.wait(1)[0].rcpt_tos == ["carol@implicit.test"]


def test_out_ipv6_only_mx(sluiced, peers, dns):
    """An MX host with only an AAAA record (::1): sluiced connects over
    IPv6 and delivers; no A record is not "no address"."""
    from out_harness import dns_query
    assert dns_query("mx.v6.test", 28, dns.port)[1] == 1     # AAAA
    assert dns_query("mx.v6.test", 1, dns.port)[1] == 0      # no A
    port = free_port(("::1",))
    r = peers.aiosmtpd("::1", port, name="mx.v6.test")
    srv = sluiced({"outbound.routes": [f"v6.test v6.test:{port}"]})
    q = srv.send("alice@localhost", ["dan@v6.test"], msg("v6"))
    ev = srv.wait_event("delivery", qid=q, status="sent")[0]
    assert ev["relay"] == f"mx.v6.test[::1]:{port}", ev
    m = r.wait(1)[0]
    assert m.rcpt_tos == ["dan@v6.test"]
    assert m.peer[0] == "::1", m.peer
    assert b"Body v6." in m.content
    assert not srv.deliveries(qid=q, status="deferred")


def test_out_null_mx_bounces_to_local_sender(sluiced):
    """RFC 7505: a null MX means the domain takes no mail: bounced at
    once, without connecting anywhere, with a DSN in the sender's
    Maildir."""
    srv = sluiced()
    q = srv.send("alice@localhost", ["bob@nullmx.test"], MSG)
    ev = srv.wait_event("delivery", qid=q, status="bounced")[0]
    assert ev["attempt"] == "1"
    assert "null MX" in ev["reason"], ev
    assert ev["relay"] == "none"
    bounce = srv.wait_event("bounce", qid=q)[0]
    assert bounce["kind"] == "failed" and bounce["to"] == "<alice@localhost>"
    files = srv.wait_maildir("alice")
    srv.wait_queue_empty()
    assert len(files) == 1
    raw = files[0].read_bytes()
    dsn = DSN(raw)
    assert dsn.subject == "Undelivered Mail Returned to Sender"
    assert dsn.msg["Auto-Submitted"] == "auto-replied"
    assert b"Return-Path: <>" in raw.split(b"\n\n")[0]
    r = dsn.rcpt("bob@nullmx.test")
    assert r["action"] == "failed"
    assert r["status"].startswith("5."), r
    assert "null MX" in r["diagnostic-code"]
    assert dsn.fields["reporting-mta"] == "dns; sluiced.test"
    assert dsn.fields["x-sluice-queue-id"] == q
    assert b"Subject: routing" in dsn.headers_part


def test_out_null_mx_status_code(sluiced):
    """RFC 7505 section 4.3 (and RFC 7504): a message refused because of
    a null MX is reported with the enhanced status code 5.1.10
    ("Recipient address has null MX")."""
    srv = sluiced()
    q = srv.send("alice@localhost", ["bob@nullmx.test"], MSG)
    srv.wait_event("bounce", qid=q)
    dsn = DSN(srv.wait_maildir("alice")[0].read_bytes())
    assert dsn.rcpt("bob@nullmx.test")["status"] == "5.1.10"


def test_out_nxdomain_bounces(sluiced):
    """A domain that does not exist: bounced on the first attempt."""
    srv = sluiced()
    q = srv.send("alice@localhost", ["bob@nx.test", "carol@nx.test"], MSG)
    evs = srv.wait_event("delivery", 2, qid=q, status="bounced")
    assert all("nx.test" in e["reason"] for e in evs), evs
    assert all(e["attempt"] == "1" for e in evs)
    files = srv.wait_maildir("alice")
    srv.wait_queue_empty()
    assert len(files) == 1, "one DSN for both recipients"
    dsn = DSN(files[0].read_bytes())
    assert len(dsn.rcpts) == 2
    for a in ("bob@nx.test", "carol@nx.test"):
        r = dsn.rcpt(a)
        assert r["action"] == "failed" and r["status"].startswith("5."), r


def test_out_mx_host_without_address_defers(sluiced):
    """An MX host whose name does not resolve may be fixed soon: that is
    a temporary failure, never a bounce."""
    srv = sluiced()
    q = srv.send("alice@localhost", ["bob@dead.test"], MSG)
    evs = srv.wait_event("delivery", 2, qid=q, status="deferred")
    assert "mx.dead.test" in evs[0]["reason"], evs[0]
    assert not srv.deliveries(qid=q, status="bounced")
    assert not srv.events("bounce")


def test_out_malformed_dns_answers_defer(sluiced, peers, bad_dns):
    """Malformed answers (cut-off packets, pointer loops, pointers out of
    the packet, wrong counts and lengths, junk, reserved label types, a
    TC answer whose TCP retry is cut off) and SERVFAIL
    are temporary failures: deferred and logged, no crash, no bounce; a
    sane domain on the same resolver is still delivered afterwards."""
    port = free_port(("127.0.0.7",))
    srv = sluiced({"outbound.resolver": bad_dns.address,
                   "outbound.routes": [f"good.bad.test good.bad.test:{port}"]})
    kinds = ["servfail", "trunc", "loop", "ptrout", "count", "rdlen",
             "garbage", "label", "tc"]
    rcpts = [f"u@{k}.bad.test" for k in kinds]
    q = srv.send("alice@localhost", rcpts, MSG)
    # every recipient deferred, twice (the retry finds the same answers)
    for r in rcpts:
        srv.wait_event("delivery", 2, qid=q, to=f"<{r}>", status="deferred")
    bad = [e for e in srv.deliveries(qid=q) if e["status"] != "deferred"]
    assert not bad, bad
    assert not srv.events("bounce")
    for e in srv.deliveries(qid=q):
        assert e["reason"], e
    assert any(t for _, _, t in bad_dns.queries), "the TC answer was " \
                                                  "retried over TCP"
    # the resolver still works
    good = peers.aiosmtpd("127.0.0.7", port)
    q2 = srv.send("alice@localhost", ["v@good.bad.test"], MSG)
    ev = srv.wait_event("delivery", qid=q2, status="sent")[0]
    assert ev["relay"] == f"mx.good.bad.test[127.0.0.7]:{port}", ev
    assert good.wait(1)[0].rcpt_tos == ["v@good.bad.test"]
    srv.queue("delete", "--all", check=0)


def test_out_unusable_mx_is_not_implicit_mx(sluiced, bad_dns):
    """An MX answer whose only host name is unusable (321 octets; names
    end at 255) is a malformed answer, not "no MX": RFC 5321 5.1 allows
    the implicit MX only when there are no MX records. It must be
    deferred; falling back to the domain's own address would send the
    mail where the domain never said to (here the domain has no address,
    so it would bounce as "no such domain")."""
    srv = sluiced({"outbound.resolver": bad_dns.address})
    q = srv.send("alice@localhost", ["u@longname.bad.test"], MSG)
    first = wait_until(lambda: srv.deliveries(qid=q), 10,
                       what="the first attempt")[0]
    assert first["status"] == "deferred", first
    srv.wait_event("delivery", 2, qid=q, status="deferred")
    assert not [n for n, t, _ in bad_dns.queries
                if n == "longname.bad.test" and t in (1, 28)], \
        "the domain's own address was looked up (implicit MX)"
    srv.queue("delete", "--all", check=0)


def test_out_backup_mx_defers_while_primary_is_down(sluiced, peers):
    """sluiced as the backup MX (relay_domains, MX 20) of a domain whose
    primary (MX 10) is down: RFC 5321 5.1 says to drop the MX records at
    our own preference and above and try the better ones; the primary
    being down is a temporary failure. The mail must wait for the primary
    (and reach it once it is up), not bounce as a loop."""
    port = free_port(("127.0.0.8", "127.0.0.9"))
    srv = sluiced({"listen": ["127.0.0.1:@SELF@", f"127.0.0.9:{port}"],
                   "relay_domains": ["backup.test"],
                   "outbound.routes": [f"backup.test backup.test:{port}"]})
    q = srv.send("someone@example.org", ["bob@backup.test"], MSG,
                 source="127.0.0.200")
    first = wait_until(lambda: srv.deliveries(qid=q), 10,
                       what="the first attempt")[0]
    assert first["status"] == "deferred", first
    primary = peers.aiosmtpd("127.0.0.8", port)
    ev = srv.wait_event("delivery", qid=q, status="sent", timeout=10)[0]
    assert ev["relay"] == f"mx1.backup.test[127.0.0.8]:{port}", ev
    assert primary.wait(1)[0].rcpt_tos == ["bob@backup.test"]
    assert not srv.events("bounce")
