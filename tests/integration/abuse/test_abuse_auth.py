"""
AUTH brute force from one address: from auth.slow_after failures on each
answer comes more slowly, at auth.max_failures the address is blocked
(454 4.7.0 and disconnect, the right password too), while another address
still authenticates. AUTH needs TLS: every client says STARTTLS first.
"""
import base64
import json
import re
import time

import pytest

from abuse_harness import SLOW, make_passwd

ATTACKER = "127.0.0.7"
HONEST = "127.0.0.8"
USERS = {"alice": "alice-secret-1", "bob": "bob-secret-2"}


def plain(user, pw):
    return base64.b64encode(f"\0{user}\0{pw}".encode()).decode()


def tls_session(srv, source):
    c = srv.session(source)
    c.starttls()
    r = c.cmd("EHLO client.example")
    assert r.code == 250 and any(l.startswith("AUTH") for l in r.lines), r
    return c


def auth(c, user, pw):
    """AUTH PLAIN with an initial response: (reply, seconds it took)."""
    t0 = time.monotonic()
    r = c.cmd(f"AUTH PLAIN {plain(user, pw)}", timeout=30)
    return r, time.monotonic() - t0


@pytest.fixture
def srv(abuse_server, tmp_path):
    pw = make_passwd(tmp_path / "passwd", USERS)
    return abuse_server({
        "auth.passwd_file": str(pw),
        "auth.max_failures": 4,
        "auth.slow_after": 2,
        "auth.window": "15m",
        "auth.block_time": "1h",
    })


def test_brute_force_slowed_then_blocked(srv):
    with tls_session(srv, ATTACKER) as c:
        r1, t1 = auth(c, "alice", "guess-1")
        r2, t2 = auth(c, "alice", "guess-2")
        r3, t3 = auth(c, "alice", "guess-3")
        r4, t4 = auth(c, "alice", "guess-4")
        assert [r1.code, r2.code, r3.code] == [535, 535, 535], (r1, r2, r3)
        assert r1.text.startswith("5.7.8")
        # slowed: 1 failure answered at once, then 1 s, then 2 s
        assert t1 < 0.8 * SLOW, t1
        assert 0.9 <= t2 < 2.0 * SLOW, t2
        assert 1.9 <= t3 < 3.5 * SLOW, t3
        # the 4th failure blocks: 454 and the connection is closed
        assert r4.code == 454, r4
        assert r4.text.startswith("4.7.0"), r4
        assert c.closed_soon(), "not disconnected after the block"
    # blocked now: even the right password is refused
    with tls_session(srv, ATTACKER) as c:
        r, _ = auth(c, "alice", USERS["alice"])
        assert r.code == 454, r
        assert c.closed_soon()
    # another address authenticates at once
    with tls_session(srv, HONEST) as c:
        r, t = auth(c, "alice", USERS["alice"])
        assert r.code == 235, r
        assert t < 1.0 * SLOW, t
        assert c.cmd("MAIL FROM:<alice@example.test>").code == 250
    # and one failure from it is not slowed and does not block it
    with tls_session(srv, HONEST) as c:
        r, t = auth(c, "bob", "wrong")
        assert r.code == 535 and t < 0.8 * SLOW, (r, t)
        r, _ = auth(c, "bob", USERS["bob"])
        assert r.code == 235, r
    throttle = srv.events("auth-throttle", client=ATTACKER)
    assert [e["action"] for e in throttle] == ["slow", "slow", "block"], \
        throttle
    assert throttle[-1]["level"] == "warning"
    assert throttle[-1]["failures"] == "4"
    assert not srv.events("auth-throttle", client=HONEST)
    st = srv.sluice_json("stats")["server"]
    assert st["auth_blocked"] == 1, st
    assert st["auth_success"] == 2, st
    assert st["auth_failure"] >= 4, st


def test_auth_failure_rule_blocks_connections(abuse_server, tmp_path):
    """The abuse counter auth_failures with a rule: the address is
    blocked at connect (421), another is not."""
    pw = make_passwd(tmp_path / "passwd", USERS)
    srv = abuse_server({
        "auth.passwd_file": str(pw),
        "auth.max_failures": 1000, "auth.slow_after": 1000,
        "abuse.rules": [
            "auth-guessing: auth_failures per ip >= 3 in 10m -> block 10m"],
    })
    with tls_session(srv, ATTACKER) as c:
        for i in range(3):
            r, _ = auth(c, "bob", f"guess-{i}")
            assert r.code == 535, r
        # the open session is refused at MAIL
        r = c.cmd("MAIL FROM:<x@example.test>")
        assert r.code == 451 and r.text.startswith("4.7.1"), r
    with srv.client(ATTACKER) as c:
        assert c.greeting.code == 421, c.greeting
        assert "temporarily blocked" in c.greeting.text
    alerts = srv.events("abuse-alert", rule="auth-guessing")
    assert len(alerts) == 1 and alerts[0]["source"] == f"ip:{ATTACKER}", \
        alerts
    with tls_session(srv, HONEST) as c:
        r, _ = auth(c, "bob", USERS["bob"])
        assert r.code == 235, r


def test_per_user_rule_follows_the_user(abuse_server, tmp_path):
    """A rule per user acts on the authenticated user from any address,
    not on the addresses (or other users) it came from."""
    pw = make_passwd(tmp_path / "passwd", USERS)
    srv = abuse_server({
        "auth.passwd_file": str(pw),
        "abuse.rules": [
            "user-rate: messages per user >= 3 in 10m -> tempfail 10m"],
    })

    def send_as(source, user):
        with tls_session(srv, source) as c:
            r, _ = auth(c, user, USERS[user])
            assert r.code == 235, r
            r = c.cmd(f"MAIL FROM:<{user}@example.test>")
            if r.code != 250:
                return r
            assert c.cmd("RCPT TO:<partner@elsewhere.example>").code == 250
            assert c.cmd("DATA").code == 354
            c.send("Subject: x\r\n\r\nx\r\n.\r\n")
            return c.reply()

    codes = [send_as(ip, "alice").code
             for ip in ("127.0.0.8", "127.0.0.9", "127.0.0.10")]
    assert codes == [250, 250, 250], codes
    r = send_as("127.0.0.11", "alice")
    assert r.code == 451 and r.text.startswith("4.7.1"), r
    assert send_as("127.0.0.11", "bob").code == 250     # same address
    alerts = srv.events("abuse-alert", rule="user-rate")
    assert len(alerts) == 1 and alerts[0]["source"] == "user:alice", alerts
    acts = srv.sluice_json("stats")["actions"]
    assert [(a["source"], a["action"]) for a in acts] == \
        [("user:alice", "tempfail")], acts


def test_guessing_one_login_from_many_addresses(abuse_server, tmp_path):
    """AUTH failures count per login tried too: a password guessed at from
    many addresses (none reaching a per-address limit) is stopped by an
    auth_failures per user rule; the login is refused from anywhere, the
    right password too, while other logins and the addresses are not."""
    pw = make_passwd(tmp_path / "passwd", USERS)
    srv = abuse_server({
        "auth.passwd_file": str(pw),
        "auth.max_failures": 3, "auth.slow_after": 1000,
        "abuse.rules": [
            "login-guessing: auth_failures per user >= 4 in 10m -> "
            "block 10m"],
    })
    guessers = ["127.0.0.40", "127.0.0.41", "127.0.0.42", "127.0.0.43"]
    for i, ip in enumerate(guessers):     # one failure each, any case
        with tls_session(srv, ip) as c:
            r, _ = auth(c, "Alice" if i % 2 else "alice", f"guess-{i}")
            assert r.code == 535, (ip, r)
    with tls_session(srv, "127.0.0.44") as c:
        r, _ = auth(c, "alice", USERS["alice"])
        assert r.code == 454 and r.text.startswith("4.7.0"), r
        assert c.closed_soon(), "not disconnected"
    with tls_session(srv, "127.0.0.44") as c:    # the same address
        r, _ = auth(c, "bob", USERS["bob"])
        assert r.code == 235, r
    for ip in guessers:                             # no address blocked
        with srv.client(ip) as c:
            assert c.greeting.code == 220, (ip, c.greeting)
    alerts = srv.events("abuse-alert", rule="login-guessing")
    assert len(alerts) == 1, alerts
    assert alerts[0]["source"] == "user:alice", alerts
    assert alerts[0]["counter"] == "auth_failures", alerts
    assert alerts[0]["value"] == "4", alerts
    blocked = srv.events("auth-blocked")
    assert [(b["client"], b["user"], b["reason"]) for b in blocked] == [
        ("127.0.0.44", "alice", "abuse-block:login-guessing")], blocked
    assert not srv.events("auth-throttle"), "an address was throttled"
    acts = [(a["source"], a["action"], a["rule"])
            for a in srv.sluice_json("stats")["actions"]]
    assert acts == [("user:alice", "block", "login-guessing")], acts
    # the daily report counts the refusal, by its rule
    rep = json.loads(srv.sluice("report", "--json",
                                str(srv.log_path)).stdout)
    assert rep["auth_failure"] == 4, rep
    assert rep["auth_blocked"] == 1, rep
    by_rule = {r["key"]: r["count"] for r in rep["rejections_by_rule"]}
    assert by_rule == {"abuse-block": 1}, by_rule


def test_stats_and_report_list_auth_blocks(srv):
    """An address blocked by auth.max_failures is among the blocks in
    force in `sluice stats` (JSON and text), and `sluice report` counts
    the AUTH refusals."""
    t0 = time.time()
    with tls_session(srv, ATTACKER) as c:
        codes = [auth(c, "bob", f"guess-{i}")[0].code for i in range(4)]
        assert codes == [535, 535, 535, 454], codes
    with tls_session(srv, ATTACKER) as c:
        assert auth(c, "bob", USERS["bob"])[0].code == 454
    st = srv.sluice_json("stats")
    acts = [a for a in st["actions"] if a["action"] == "auth-block"]
    assert len(acts) == 1, st["actions"]
    a = acts[0]
    assert a["source"] == f"ip:{ATTACKER}", a
    assert a["rule"] == "auth.max_failures", a
    assert a["failures"] == 4, a
    assert t0 + 3600 - 5 <= a["until"] <= time.time() + 3600 + 5, a
    text = srv.sluice("stats").stdout
    assert re.search(rf"^  auth-block +ip:{re.escape(ATTACKER)} +until "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(rule "
                     r"auth\.max_failures\)$", text, re.M), text
    assert "in force: nothing" not in text, text
    rep = json.loads(srv.sluice("report", "--json",
                                str(srv.log_path)).stdout)
    assert rep["auth_blocked"] == 2, rep
    by_rule = {r["key"]: r["count"] for r in rep["rejections_by_rule"]}
    assert by_rule == {"auth-blocked": 2}, by_rule
    text = srv.sluice("report", str(srv.log_path)).stdout
    assert "AUTH 0 ok, 3 failed, 2 refused as blocked" in text, text
