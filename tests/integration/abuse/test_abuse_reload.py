"""
The counters survive a configuration reload (SIGHUP): rules change at
once, what was counted before still counts, and so does how often each
surviving rule fired; runtime list entries stay; a file with a bad rule
changes nothing.
"""
import re

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


def test_alert_counts_survive_reload(abuse_server):
    """How often each rule fired (sluice stats, and the Prometheus
    counter sluice_abuse_alerts_total) is kept by a reload for every rule
    whose name is still there, even with other values; a new name starts
    at 0 and a dropped one is gone."""
    import urllib.request

    from abuse_harness import free_port
    srv = abuse_server({
        "metrics.listen": f"127.0.0.1:{free_port()}",
        "abuse.rules": [
            "guess: unknown_recipients per ip >= 3 in 10m -> block 10m",
            "dropped: relay_denied per ip >= 100 in 10m -> block 1h"]})
    assert unknown(srv, 3, 0) == [550] * 3
    with srv.session("127.0.0.32") as c:    # a second source, a 2nd hit
        t = transaction(c, "g@x.example",
                        [f"nobody{i}@{LOCAL}" for i in range(3)])
        c.cmd("QUIT")
    assert [r.code for r in t.rcpt] == [550] * 3

    def hits():
        return {r["name"]: r["hits"]
                for r in srv.sluice_json("stats", socket=True)["rules"]}

    def scraped():
        url = f"http://{srv.user_keys['metrics.listen']}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read().decode()
        return {m.group(1): int(m.group(2)) for m in re.finditer(
            r'^sluice_abuse_alerts_total\{rule="([^"]+)"\} (\d+)$', body,
            re.M)}

    assert hits() == {"guess": 2, "dropped": 0}
    assert scraped() == {"guess": 2, "dropped": 0}
    line = srv.reload(abuse__rules=[
        "fresh: messages per ip >= 1000 in 1h -> tempfail 15m",
        "guess: unknown_recipients per ip >= 5 in 10m -> block 20m"])
    assert parse_log_line(line)["event"] == "config-reloaded", line
    assert hits() == {"fresh": 0, "guess": 2}
    assert scraped() == {"fresh": 0, "guess": 2}
    # a reload that changes nothing keeps them too
    srv.reload()
    assert scraped() == {"fresh": 0, "guess": 2}
