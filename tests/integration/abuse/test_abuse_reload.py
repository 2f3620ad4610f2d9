"""
The counters survive a configuration reload (SIGHUP): rules change at
once, what was counted before still counts; runtime list entries stay;
a file with a bad rule changes nothing.
"""
from abuse_harness import LOCAL, parse_log_line, transaction

GUESSER = "127.0.0.30"


def unknown(srv, n, first):
    with srv.session(GUESSER) as c:
        t = transaction(c, "g@x.example",
                        [f"nobody{i}@{LOCAL}" for i in range(first, first + n)])
        c.cmd("QUIT")
    return [r.code for r in t.rcpt]


def test_counters_survive_reload(abuse_server):
    srv = abuse_server({"abuse.rules": [
        "guess: unknown_recipients per ip >= 100 in 10m -> block 10m"]})
    srv.sluice("list", "add", "deny", "sender", "spam@bad.example")
    assert unknown(srv, 5, 0) == [550] * 5
    line = srv.reload(abuse__rules=[
        "guess-tight: unknown_recipients per ip >= 6 in 10m -> block 10m"])
    assert parse_log_line(line)["event"] == "config-reloaded", line
    rules = [r["name"] for r in srv.sluice_json("stats")["rules"]]
    assert rules == ["guess-tight"], rules
    # 5 before the reload + 1 after: the new rule fires
    assert unknown(srv, 2, 5) == [550, 451]
    alerts = srv.events("abuse-alert")
    assert len(alerts) == 1 and alerts[0]["rule"] == "guess-tight", alerts
    assert alerts[0]["value"] == "6", alerts
    # the runtime list is still there and still applies
    assert [e["pattern"] for e in srv.sluice_json("list", "show")[
        "entries"]] == ["spam@bad.example"]
    with srv.session("127.0.0.31") as c:
        assert c.cmd("MAIL FROM:<spam@bad.example>").code == 550
    # a bad rule: the reload fails, the old rules stay
    line = srv.reload(abuse__rules=["broken: messages per ip >= 0 in 1m "
                                    "-> block 1h"])
    assert parse_log_line(line)["event"] == "config-reload-failed", line
    # (the admin tool cannot read the broken file: --socket)
    assert [r["name"] for r in srv.sluice_json("stats", socket=True)[
        "rules"]] == ["guess-tight"]
    with srv.client(GUESSER) as c:
        assert c.greeting.code == 421, c.greeting
