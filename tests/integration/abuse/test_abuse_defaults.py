"""
The built-in abuse rules (no abuse.rules in the config): they never fire
for a normal office, and they do fire for a worm that exceeds them:
100 distinct recipient domains in an hour (hold), 100 unknown local users
in 10 minutes (block), 100 relay denials in 10 minutes (block).

One server for the module (the office first, then each worm from its own
address); 127.0.0.0/25 is the authorized network, so 127.0.0.200 is an
outsider.
"""
import pytest

from abuse_harness import LOCAL, transaction, wait_until

OFFICE = [f"127.0.0.{i}" for i in range(11, 16)]
DOMAIN_WORM = "127.0.0.20"
GUESSING_WORM = "127.0.0.21"
PROBER = "127.0.0.200"


@pytest.fixture(scope="module")
def srv(abuse_shared, relay_catcher):
    s = abuse_shared({
        "abuse.rules": None,            # the built-in defaults
        "authorized_networks": ["127.0.0.0/25"],
        "outbound.relayhost": f"[127.0.0.1]:{relay_catcher.port}",
    })
    s.catcher = relay_catcher
    return s


def test_defaults_are_in_force(srv):
    rules = {r["name"]: r for r in srv.sluice_json("stats")["rules"]}
    assert set(rules) == {"unknown-recipients", "relay-probing",
                          "worm-domains", "worm-domains-user",
                          "message-rate", "message-rate-user"}, rules
    assert rules["worm-domains"]["limit"] == 100
    assert rules["worm-domains"]["action"] == "hold"
    assert rules["unknown-recipients"]["limit"] == 100
    assert rules["unknown-recipients"]["action"] == "block"


def test_office_never_triggers(srv):
    """20 messages from 5 clients to 10 domains (and a typo each)."""
    n = 0
    for c, ip in enumerate(OFFICE):
        for m in range(4):
            dom = f"partner{(c * 4 + m) % 10}.example"
            rcpts = [f"sales@{dom}", f"alice@{LOCAL}"]
            if m == 0:
                rcpts.append(f"alcie@{LOCAL}")      # a typo: unknown user
            t = srv.send(ip, f"clerk{c}@office.example", rcpts)
            assert t.mail.code == 250, t
            assert [r.code for r in t.rcpt[:2]] == [250, 250], t
            assert t.accepted, t
            n += 1
    assert n == 20
    srv.catcher.wait(lambda s: len([x for x in s
                                    if x.startswith("clerk")]) >= 20,
                     what="the office's 20 messages at the relayhost")
    assert srv.events("abuse-alert") == [], srv.events("abuse-alert")
    st = srv.sluice_json("stats")
    assert st["actions"] == [], st["actions"]
    assert all(r["hits"] == 0 for r in st["rules"]), st["rules"]
    assert srv.queue("--held") == []
    # and the next office message still goes through
    t = srv.send(OFFICE[0], "clerk0@office.example",
                 ["sales@partner0.example"])
    assert t.accepted, t


def test_worm_writing_to_many_domains_is_held(srv):
    """120 distinct foreign domains in two messages: the 100th starts
    worm-domains (hold 4h); its next message is held, not relayed."""
    ts = []
    for part in range(2):
        ts.append(srv.send(DOMAIN_WORM, f"worm{part}@infected.example",
                           [f"x@victim{part * 60 + i}.example"
                            for i in range(60)]))
    for t in ts:
        assert t.accepted, t
        assert all(r.code == 250 for r in t.rcpt), t
    alerts = srv.events("abuse-alert", rule="worm-domains")
    assert len(alerts) == 1, srv.events("abuse-alert")
    assert alerts[0]["source"] == f"ip:{DOMAIN_WORM}"
    assert alerts[0]["action"] == "hold"
    assert alerts[0]["value"] == "100", alerts[0]
    t = srv.send(DOMAIN_WORM, "worm2@infected.example",
                 ["x@victim500.example"])
    assert t.accepted, t
    held = wait_until(lambda: [m for m in srv.queue("--held")
                               if m["from"] == "<worm2@infected.example>"],
                      5, what="the worm's next message on hold")
    assert held[0]["client"] == DOMAIN_WORM
    assert "worm2@infected.example" not in srv.catcher.senders()


def test_worm_guessing_users_is_blocked(srv):
    """105 unknown local users: the 100th starts unknown-recipients
    (block 1h): the rest get 451 4.7.1, the next connection 421 4.7.0."""
    rcpt = []
    # sessions of 10 (limits.errors ends one at 20), the last of 15 of
    # which the last 5 come after the block started
    for first, last in [(i, i + 10) for i in range(0, 90, 10)] + [(90, 105)]:
        with srv.session(GUESSING_WORM) as c:
            t = transaction(c, "guess@infected.example",
                            [f"user{i}@{LOCAL}" for i in range(first, last)])
            c.cmd("QUIT")
        rcpt += t.rcpt
    codes = [r.code for r in rcpt]
    assert codes == [550] * 100 + [451] * 5, rcpt
    assert all(r.text.startswith("4.7.1") for r in rcpt[100:]), rcpt
    alerts = srv.events("abuse-alert", rule="unknown-recipients")
    assert len(alerts) == 1, alerts
    assert alerts[0]["source"] == f"ip:{GUESSING_WORM}"
    assert alerts[0]["action"] == "block"
    with srv.client(GUESSING_WORM) as c:
        assert c.greeting.code == 421, c.greeting
        assert c.greeting.text.startswith("4.7.0"), c.greeting
        assert "temporarily blocked" in c.greeting.text, c.greeting
        assert c.closed_soon()
    assert srv.events("connect-refused", client=GUESSING_WORM,
                      reason="abuse-block")
    # a trusted neighbour is not affected
    t = srv.send(OFFICE[1], "clerk1@office.example", [f"alice@{LOCAL}"])
    assert t.accepted, t


def test_relay_prober_is_blocked(srv):
    """An outsider gets 100 relay denials: relay-probing blocks it. (A
    relay tester's whole battery, about 50 attempts, stays under it.)"""
    rcpt = []
    for first, last in [(i, i + 10) for i in range(0, 90, 10)] + [(90, 102)]:
        with srv.session(PROBER) as c:
            t = transaction(c, "probe@outside.example",
                            [f"x@relay{i}.example" for i in range(first, last)])
            c.cmd("QUIT")
        rcpt += t.rcpt
    codes = [r.code for r in rcpt]
    assert codes == [550] * 100 + [451] * 2, rcpt
    alerts = srv.events("abuse-alert", rule="relay-probing")
    assert len(alerts) == 1 and alerts[0]["source"] == f"ip:{PROBER}", \
        alerts
    with srv.client(PROBER) as c:
        assert c.greeting.code == 421, c.greeting


def test_no_alert_for_the_office(srv):
    """(Whatever else ran before on this server.)"""
    office = {f"ip:{ip}" for ip in OFFICE}
    alerts = srv.events("abuse-alert")
    assert not [a for a in alerts if a["source"] in office], alerts
    expected = {(f"ip:{DOMAIN_WORM}", "worm-domains"),
                (f"ip:{GUESSING_WORM}", "unknown-recipients"),
                (f"ip:{PROBER}", "relay-probing")}
    assert {(a["source"], a["rule"]) for a in alerts} <= expected, alerts
