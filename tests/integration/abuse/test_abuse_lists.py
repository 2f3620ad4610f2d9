"""
Runtime allow/deny lists (`sluice list add|del|show`): a change applies
to the next connection or command without restart or reload, every hit
is logged with the entry's reason, entries survive a restart and expire
on time; an allow entry exempts from a deny entry and from a blocking
rule, never grants relay.

127.0.0.0/24 is the authorized network: the 127.0.1-5.x clients are
outsiders (an allow entry must not make them relay).
"""
import time

import pytest

from abuse_harness import LOCAL, SLOW


def keys(**extra):
    k = {"authorized_networks": ["127.0.0.0/24"]}
    k.update(extra)
    return k


@pytest.fixture
def srv(abuse_server):
    return abuse_server(keys())


def greeting(srv, source):
    with srv.client(source) as c:
        g = c.greeting
        if g.code == 421:
            assert c.closed_soon(), f"{source}: not closed after {g}"
        elif g.code == 554:     # RFC 5321 3.1: wait for QUIT, refuse all
            assert c.cmd("EHLO client.example").code == 503
            assert c.cmd("QUIT").code == 221
        else:
            c.cmd("QUIT")
    return g


def rejected(srv, event, pattern):
    """Log lines event=EVENT whose rule starts with pattern."""
    return [e for e in srv.events(event) if e.get("rule", "").startswith(
        pattern)]


def show(srv):
    return srv.sluice_json("list", "show")["entries"]


def test_deny_client_applies_live(srv):
    assert greeting(srv, "127.0.1.9").code == 220
    out = srv.sluice("list", "add", "deny", "client", "127.0.1.9",
                     "--reason", "spam run 42").stdout
    assert "add deny client 127.0.1.9: done" in out, out
    g = greeting(srv, "127.0.1.9")
    assert g.code == 554, g
    assert g.text.startswith("5.7.1"), g
    hits = rejected(srv, "connect-rejected", "runtime-deny-client:127.0.1.9")
    assert len(hits) == 1, srv.events("connect-rejected")
    assert hits[0]["rule"] == "runtime-deny-client:127.0.1.9 reason=spam run " \
        "42", hits
    assert hits[0]["client"] == "127.0.1.9"
    assert greeting(srv, "127.0.1.10").code == 220     # a neighbour
    # a network; an allow entry inside it is exempt
    srv.sluice("list", "add", "deny", "127.0.3.0/24", "--reason", "bad net")
    srv.sluice("list", "add", "allow", "client", "127.0.3.8",
               "--reason", "our partner")
    assert greeting(srv, "127.0.3.7").code == 554
    assert greeting(srv, "127.0.3.8").code == 220
    # deleted: served again
    srv.sluice("list", "del", "deny", "client", "127.0.1.9")
    assert greeting(srv, "127.0.1.9").code == 220
    assert [e["event"] for e in srv.events("list-add")] == ["list-add"] * 3
    assert len(srv.events("list-del", pattern="127.0.1.9")) == 1


def test_deny_sender_recipient_helo_apply_live(srv):
    src = "127.0.1.20"
    with srv.session(src) as c:
        assert c.cmd("MAIL FROM:<spam@bad.example>").code == 250
        c.cmd("RSET")
        srv.sluice("list", "add", "deny", "sender", "spam@bad.example",
                   "--reason", "phishing")
        # the same, still open session: the next MAIL is refused
        r = c.cmd("MAIL FROM:<spam@bad.example>")
        assert r.code == 550 and r.text.startswith("5.7.1"), r
        assert c.cmd("MAIL FROM:<fine@bad.example>").code == 250
        c.cmd("RSET")
        # a whole domain, with an exception
        srv.sluice("list", "add", "deny", "sender", "worse.example")
        srv.sluice("list", "add", "allow", "sender", "ok@worse.example")
        assert c.cmd("MAIL FROM:<x@worse.example>").code == 550
        assert c.cmd("MAIL FROM:<ok@worse.example>").code == 250
        srv.sluice("list", "add", "deny", "recipient", f"bob@{LOCAL}",
                   "--reason", "left the company")
        assert c.cmd(f"RCPT TO:<bob@{LOCAL}>").code == 550
        assert c.cmd(f"RCPT TO:<alice@{LOCAL}>").code == 250
        c.cmd("QUIT")
    hits = rejected(srv, "mail-rejected", "runtime-deny-sender:")
    assert [h["rule"] for h in hits] == [
        "runtime-deny-sender:spam@bad.example reason=phishing",
        "runtime-deny-sender:worse.example"], hits
    hits = rejected(srv, "rcpt-rejected", "runtime-deny-recipient:")
    assert [h["rule"] for h in hits] == [
        f"runtime-deny-recipient:bob@{LOCAL} reason=left the company"], hits
    srv.sluice("list", "add", "deny", "helo", "evil.example")
    with srv.client(src) as c:
        r = c.cmd("EHLO evil.example")
        assert r.code == 550, r
        assert c.cmd("EHLO good.example").code == 250
    hits = rejected(srv, "helo-rejected", "runtime-deny-helo:")
    assert [h["rule"] for h in hits] == ["runtime-deny-helo:evil.example"], \
        hits


def test_allow_exempts_from_block_rule_never_grants_relay(abuse_server):
    srv = abuse_server(keys(**{"abuse.rules": [
        "conn-flood: connections per ip >= 4 in 1m -> block 10m"]}))
    src = "127.0.2.1"
    for _ in range(4):      # the 4th connection starts the block
        assert greeting(srv, src).code == 220
    g = greeting(srv, src)
    assert g.code == 421 and "temporarily blocked" in g.text, g
    srv.sluice("list", "add", "allow", "client", src, "--reason",
               "our scanner")
    with srv.session(src) as c:
        assert c.cmd("MAIL FROM:<scan@partner.example>").code == 250
        assert c.cmd(f"RCPT TO:<alice@{LOCAL}>").code == 250
        r = c.cmd("RCPT TO:<x@elsewhere.example>")
        assert r.code == 550 and r.text.startswith("5.7.1"), \
            f"an allow entry granted relay: {r}"
        c.cmd("QUIT")
    assert srv.events("rcpt-rejected", rule="relay-denied")
    # the block is still in force for it without the allow entry
    srv.sluice("list", "del", "allow", "client", src)
    assert greeting(srv, src).code == 421
    # the allow entry never hid the counting: one alert, when it started
    assert len(srv.events("abuse-alert", rule="conn-flood")) == 1


def test_lists_survive_restart(srv):
    srv.sluice("list", "add", "deny", "client", "127.0.4.4", "--reason",
               "kept across restarts")
    srv.sluice("list", "add", "allow", "sender", "vip@partner.example")
    assert greeting(srv, "127.0.4.4").code == 554
    before = show(srv)
    srv.stop()
    assert (srv.spool / "lists").is_file()
    assert "127.0.4.4" in (srv.spool / "lists").read_text()
    srv.start()
    after = show(srv)
    assert after == before, (before, after)
    e = {(x["list"], x["type"], x["pattern"]): x for x in after}
    assert e[("deny", "client", "127.0.4.4")]["reason"] == \
        "kept across restarts"
    assert e[("deny", "client", "127.0.4.4")]["expires"] == 0
    assert ("allow", "sender", "vip@partner.example") in e
    assert greeting(srv, "127.0.4.4").code == 554
    text = srv.sluice("list", "show").stdout
    assert "127.0.4.4" in text and "kept across restarts" in text, text
    assert "permanent" in text, text


def test_expires(srv):
    srv.sluice("list", "add", "deny", "client", "127.0.5.5", "--expires",
               "2s", "--reason", "cool down")
    entry = [x for x in show(srv) if x["pattern"] == "127.0.5.5"][0]
    assert 1 <= entry["expires"] - entry["added"] <= 2, entry
    assert greeting(srv, "127.0.5.5").code == 554
    assert "until " in srv.sluice("list", "show").stdout
    t0 = time.monotonic()
    srv.wait_event("list-expired", timeout=6)
    assert time.monotonic() - t0 < 4.5 * SLOW
    assert greeting(srv, "127.0.5.5").code == 220
    assert [x for x in show(srv) if x["pattern"] == "127.0.5.5"] == []
    assert "127.0.5.5" not in (srv.spool / "lists").read_text()


def test_bad_requests(srv):
    for args, want in [
            (("add", "deny", "client", "999.1.1.1"), ""),
            (("add", "deny", "client", "127.0.9.9", "--expires", "soon"),
             "expir"),
            (("del", "deny", "client", "10.9.9.9"), "no deny client entry"),
            (("add", "block", "client", "10.9.9.9"), "usage"),
            (("add", "deny", "rcpt", "x@y.example"), ""),
    ]:
        p = srv.sluice("list", *args, check=False)
        assert p.returncode != 0, (args, p.stdout)
        assert want in p.stderr, (args, p.stderr)
    assert show(srv) == []


def test_config_allow_exempts_from_actions_not_counting(abuse_server):
    srv = abuse_server(keys(**{
        "allow.clients": ["127.0.2.2"],
        "abuse.rules": [
            "conn-flood: connections per ip >= 3 in 1m -> block 10m"]}))
    for _ in range(6):
        assert greeting(srv, "127.0.2.2").code == 220
    for _ in range(3):
        assert greeting(srv, "127.0.2.3").code == 220
    assert greeting(srv, "127.0.2.3").code == 421
    alerts = {a["source"]: a for a in srv.events("abuse-alert")}
    assert set(alerts) == {"ip:127.0.2.2", "ip:127.0.2.3"}, alerts
    assert alerts["ip:127.0.2.2"]["action"] == "none"
    assert alerts["ip:127.0.2.2"]["reason"] == "allow-listed"
    assert alerts["ip:127.0.2.3"]["action"] == "block"
    assert len(srv.events("abuse-alert")) == 2


def test_allow_hits_logged_with_reason(abuse_server):
    """Every allow hit is logged once per decision, with the entry's
    pattern and reason: runtime entries (client, HELO, sender, recipient)
    and the configuration's."""
    srv = abuse_server(keys(**{
        "deny.senders": ["bad.example"],
        "allow.senders": [{"pattern": "ok@bad.example",
                           "reason": "billing"}],
    }))
    src = "127.0.1.40"
    for args in (("client", src, "--reason", "partner gateway"),
                 ("helo", "gw.partner.example", "--reason", "their relay"),
                 ("sender", "boss@", "--reason", "vip"),
                 ("recipient", f"alice@{LOCAL}", "--reason", "the boss")):
        srv.sluice("list", "add", "allow", *args)
    srv.sluice("list", "add", "deny", "sender", "boss@")    # allow wins
    with srv.client(src) as c:
        assert c.greeting.code == 220, c.greeting
        assert c.cmd("EHLO gw.partner.example").code == 250
        assert c.cmd("MAIL FROM:<boss@partner.example>").code == 250
        assert c.cmd(f"RCPT TO:<alice@{LOCAL}>").code == 250
        assert c.cmd(f"RCPT TO:<bob@{LOCAL}>").code == 250     # no entry
        assert c.cmd("RSET").code == 250
        assert c.cmd("MAIL FROM:<ok@bad.example>").code == 250
        c.cmd("QUIT")
    hits = srv.wait_event("allow-hit", count=5)
    assert [(h["step"], h["rule"]) for h in hits] == [
        ("connect", f"runtime-allow-client:{src} reason=partner gateway"),
        ("helo", "runtime-allow-helo:gw.partner.example reason=their "
                 "relay"),
        ("mail", "runtime-allow-sender:boss@ reason=vip"),
        ("rcpt", f"runtime-allow-recipient:alice@{LOCAL} reason=the boss"),
        ("mail", "allow-sender:ok@bad.example reason=billing"),
    ], hits
    assert {h["client"] for h in hits} == {src}
    assert len({h["session"] for h in hits}) == 1, hits
    # a client and envelope on no allow list: no hit
    with srv.session("127.0.1.41") as c:
        assert c.cmd("MAIL FROM:<someone@partner.example>").code == 250
        assert c.cmd(f"RCPT TO:<bob@{LOCAL}>").code == 250
        c.cmd("QUIT")
    srv.wait_event("disconnect", client="127.0.1.41")
    assert len(srv.events("allow-hit")) == 5, srv.events("allow-hit")
