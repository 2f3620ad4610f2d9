"""Outbound TLS and the relayhost: opportunistic STARTTLS, a failed
handshake falling back to plain text, outbound.tls_required, and
relayhost AUTH PLAIN (only over TLS, a wrong password defers)."""
from out_harness import strip_trace

MSG = b"From: alice@localhost\r\nSubject: tls\r\n\r\nsecret text\r\n"


def test_out_starttls_opportunistic(sluiced, peers, tls_pair):
    """A receiver that offers STARTTLS (and requires it) gets the mail
    over TLS, whatever its certificate (self-signed here)."""
    rcv = peers.aiosmtpd(tls=tls_pair, require_starttls=True)
    srv = sluiced({"outbound.routes": [f"tls.test [127.0.0.1]:{rcv.port}"]})
    q = srv.send("alice@localhost", ["bob@tls.test"], MSG)
    srv.wait_event("delivery", qid=q, status="sent")
    m = rcv.wait(1)[0]
    assert m.tls, "delivered in clear"
    assert strip_trace(m.content) == MSG


def test_out_starttls_handshake_failure_falls_back(sluiced, peers):
    """A server that says 220 to STARTTLS and then talks nonsense: the
    same host is tried again without STARTTLS (opportunistic TLS must not
    make mail undeliverable)."""
    raw = peers.raw(mode="badtls")
    srv = sluiced({"outbound.routes": [f"badtls.test [127.0.0.1]:{raw.port}"],
                   "outbound.timeout": "3s"})
    q = srv.send("alice@localhost", ["bob@badtls.test"], MSG)
    srv.wait_event("delivery", qid=q, status="sent")
    assert raw.connections == 2
    t = raw.transactions[0]
    assert t["rcpts"] == [b"RCPT TO:<bob@badtls.test>\r\n"]
    starttls = [l for l in raw.lines if l.upper().startswith(b"STARTTLS")]
    assert len(starttls) == 1


def test_out_tls_required_without_tls_defers(sluiced, peers, tls_pair):
    """outbound.tls_required: a destination without STARTTLS gets nothing
    in clear (deferred, no MAIL sent); one with STARTTLS gets the mail."""
    plain = peers.aiosmtpd()
    secure = peers.aiosmtpd(tls=tls_pair)
    srv = sluiced({"outbound.routes": [
        f"musttls.test [127.0.0.1]:{plain.port}",
        f"hastls.test [127.0.0.1]:{secure.port}"],
        "outbound.tls_required": ["musttls.test", "hastls.test"]})
    q = srv.send("alice@localhost", ["bob@musttls.test", "eve@hastls.test"],
                 MSG)
    d = srv.wait_event("delivery", 2, qid=q, to="<bob@musttls.test>",
                       status="deferred")
    assert "TLS" in d[0]["reason"], d[0]
    srv.wait_event("delivery", qid=q, to="<eve@hastls.test>", status="sent")
    assert plain.mails == [] and plain.messages == []
    assert secure.wait(1)[0].tls
    assert not srv.deliveries(qid=q, to="<bob@musttls.test>",
                              status="bounced")
    srv.queue("delete", "--all", check=0)


def test_out_relayhost_auth(sluiced, peers, tls_pair):
    """outbound.relayhost with relayhost_auth: every remote domain goes
    there, over STARTTLS, after AUTH PLAIN with the configured
    credentials."""
    rh = peers.aiosmtpd(tls=tls_pair, auth={"relayuser": "s3cret:pw"})
    srv = sluiced({"outbound.relayhost": f"[127.0.0.1]:{rh.port}",
                   "outbound.relayhost_auth": "relayuser:s3cret:pw"})
    q = srv.send("alice@localhost", ["x@one.example", "y@two.example"], MSG)
    srv.wait_event("delivery", 2, qid=q, status="sent")
    msgs = rh.wait(2)
    assert sorted(r for m in msgs for r in m.rcpt_tos) == \
        ["x@one.example", "y@two.example"]
    assert all(m.tls for m in msgs)
    assert all(m.authenticated for m in msgs)
    assert rh.auth_attempts and all(a[:2] == ("PLAIN", "relayuser") and a[3]
                                    for a in rh.auth_attempts), \
        rh.auth_attempts


def test_out_relayhost_wrong_password_defers(sluiced, peers, tls_pair):
    """A relayhost that refuses the credentials: deferred (the password
    may be fixed), nothing delivered, no bounce."""
    rh = peers.aiosmtpd(tls=tls_pair, auth={"relayuser": "right"})
    srv = sluiced({"outbound.relayhost": f"[127.0.0.1]:{rh.port}",
                   "outbound.relayhost_auth": "relayuser:wrong"})
    q = srv.send("alice@localhost", ["x@one.example"], MSG)
    d = srv.wait_event("delivery", 2, qid=q, status="deferred")
    assert "credentials" in d[0]["reason"] or "535" in d[0]["reason"], d[0]
    assert rh.messages == [] and rh.mails == []
    assert rh.auth_attempts and not any(a[3] for a in rh.auth_attempts)
    assert not srv.events("bounce")
    srv.queue("delete", "--all", check=0)


def test_out_relayhost_auth_never_in_clear(sluiced, peers):
    """Credentials are never sent without TLS: a relayhost that offers no
    STARTTLS gets no AUTH and no mail (deferred)."""
    rh = peers.raw()
    srv = sluiced({"outbound.relayhost": f"[127.0.0.1]:{rh.port}",
                   "outbound.relayhost_auth": "relayuser:secret"})
    q = srv.send("alice@localhost", ["x@one.example"], MSG)
    d = srv.wait_event("delivery", 2, qid=q, status="deferred")
    assert "TLS" in d[0]["reason"], d[0]
    assert not [l for l in rh.lines if l.upper().startswith(b"AUTH")]
    assert not any(b"secret" in l for l in rh.lines)
    assert rh.transactions == []
    srv.queue("delete", "--all", check=0)
