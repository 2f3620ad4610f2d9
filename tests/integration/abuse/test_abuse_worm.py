"""
A worm on an authorized (trusted) loopback address: it writes to many
foreign domains and guesses local users. The rules configured here hold
its mail (new and already queued) and rate-limit it, with one alert line
per trigger, while a normal client on the same network keeps sending.
`sluice queue list --held` shows the held mail, it never reaches the
relayhost until released, `sluice stats --json` shows what is in force,
and `sluice report` on the log finds the worm.

The scenario runs once (module fixture `worm`); the tests check its
results in order (the last one releases the held mail).
"""
import json
import time

import pytest

from abuse_harness import LOCAL, SLOW, transaction, wait_until

WORM = "127.0.0.5"
NORMAL = "127.0.0.6"
RULES = [
    "worm-domains: domains per ip >= 20 in 10m -> hold 1h",
    "worm-unknown: unknown_recipients per ip >= 12 in 10m -> tempfail 10m",
]


def victims(first, n):
    return [f"user@victim{i}.example" for i in range(first, first + n)]


class Scenario:
    pass


@pytest.fixture(scope="module")
def worm(abuse_shared, relay_catcher):
    cat = relay_catcher
    srv = abuse_shared({
        "abuse.rules": RULES,
        "outbound.relayhost": f"[127.0.0.1]:{cat.port}",
    })
    sc = Scenario()
    sc.srv, sc.cat = srv, cat
    sc.worm_msgs = []

    # 1. the relayhost defers: the worm's first 6 messages (18 foreign
    # domains, 6 unknown local users) stay in the queue, due in minutes
    cat.defer = True
    for i in range(6):
        t = srv.send(WORM, f"w{i}@infected.example",
                     victims(3 * i, 3) + [f"nobody{i}@{LOCAL}"])
        sc.worm_msgs.append(t)
    sc.before_hold = list(sc.worm_msgs)

    def all_deferred():
        q = srv.queue("--client-ip", WORM)
        return len(q) == 6 and all(
            m["state"] == "queued" and
            all(r["attempts"] >= 1 for r in m["recipients"]) for m in q)
    wait_until(all_deferred, 15, interval=0.1,
               what="the worm's 6 messages to be deferred once")
    # from now on the relayhost takes everything: only a hold keeps the
    # worm's mail (the deferred 6 are not retried for minutes)
    cat.defer = False

    # 2. messages 7 and 8: the 20th distinct domain starts the hold
    for i in range(6, 8):
        t = srv.send(WORM, f"w{i}@infected.example",
                     victims(3 * i, 3) + [f"nobody{i}@{LOCAL}"])
        sc.worm_msgs.append(t)

    # 3. it guesses more local users: the 12th unknown starts the limit
    with srv.session(WORM) as c:
        sc.guess = transaction(c, "w8@infected.example",
                               [f"nobody{i}@{LOCAL}" for i in range(8, 16)])
        c.cmd("QUIT")
    with srv.session(WORM) as c:
        sc.after_limit_mail = c.cmd("MAIL FROM:<w9@infected.example>")
        c.cmd("QUIT")

    # 4. a normal client of the same network
    sc.normal = []
    for i in range(3):
        sc.normal.append(srv.send(
            NORMAL, f"clerk{i}@office.example",
            [f"contact@partner{i}.example", f"buyer@partner{i + 3}.example",
             f"alice@{LOCAL}"]))
    # (the relayhost gets one transaction per recipient domain)
    cat.wait(lambda s: len([x for x in s if x.startswith("clerk")]) >= 6,
             what="the normal client's 3 messages (6 domains) at the "
             "catcher")
    time.sleep(0.5 * SLOW)      # give a wrongly released message a chance

    # what the tools say now (the tests below read these snapshots, so
    # that they do not depend on each other's order)
    sc.held = srv.queue("--held")
    sc.queue = srv.queue()
    sc.held_text = srv.sluice("queue", "list", "--held").stdout
    sc.stats = srv.sluice_json("stats")
    sc.stats_text = srv.sluice("stats").stdout
    sc.report = json.loads(srv.sluice("report", "--json",
                                      str(srv.log_path)).stdout)
    sc.report_text = srv.sluice("report", str(srv.log_path)).stdout
    sc.caught = list(cat.messages)
    return sc


def test_worm_mail_accepted_and_unknown_users_refused(worm):
    for t in worm.worm_msgs:
        assert t.mail.code == 250, t
        assert [r.code for r in t.rcpt] == [250, 250, 250, 550], t
        assert t.rcpt[3].text.startswith("5.1.1"), t
        assert t.accepted, t


def test_worm_queued_and_new_mail_held(worm):
    held = worm.held
    assert len(held) == 8, held
    assert {m["client"] for m in held} == {WORM}
    assert {m["state"] for m in held} == {"held"}
    assert sorted(m["from"] for m in held) == \
        sorted(f"<w{i}@infected.example>" for i in range(8))
    # the text listing, like mailq
    out = worm.held_text
    assert "8 messages" in out, out
    assert out.count(f"client={WORM}") == 8, out
    assert out.count(" held ") == 8, out
    # nothing of the worm is queued for delivery
    assert not [m for m in worm.queue if m["client"] == WORM and
                m["state"] != "held"], worm.queue


def test_worm_mail_never_reaches_the_relayhost(worm):
    senders = [m[0] for m in worm.caught]
    assert not [s for s in senders if s.startswith("w")], senders


def test_one_alert_and_one_hold_line(worm):
    srv = worm.srv
    alerts = srv.events("abuse-alert", rule="worm-domains")
    assert len(alerts) == 1, alerts
    a = alerts[0]
    assert a["level"] == "warning"
    assert a["source"] == f"ip:{WORM}"
    assert a["action"] == "hold"
    assert a["counter"] == "domains"
    assert a["value"] == "20" and a["limit"] == "20", a
    holds = srv.events("abuse-hold")
    assert len(holds) == 1, holds
    assert holds[0]["source"] == f"ip:{WORM}"
    assert holds[0]["queued_held"] == "6", holds     # the 6 deferred ones
    # every held message says why
    held = srv.events("held", by="abuse-rule")
    assert len(held) == 8, held
    assert {h["client"] for h in held} == {WORM}


def test_worm_rate_limited(worm):
    srv = worm.srv
    codes = [r.code for r in worm.guess.rcpt]
    # unknown users 9..12 are refused as such; the 12th starts the limit
    assert codes == [550] * 4 + [451] * 4, worm.guess
    for r in worm.guess.rcpt[4:]:
        assert r.text.startswith("4.7.1"), r
    assert worm.after_limit_mail.code == 451, worm.after_limit_mail
    assert worm.after_limit_mail.text.startswith("4.7.1")
    alerts = srv.events("abuse-alert", rule="worm-unknown")
    assert len(alerts) == 1, alerts
    assert alerts[0]["source"] == f"ip:{WORM}"
    assert alerts[0]["action"] == "tempfail"
    # the two rules, nothing else
    assert len(srv.events("abuse-alert")) == 2


def test_normal_client_keeps_sending(worm):
    srv = worm.srv
    for t in worm.normal:
        assert t.mail.code == 250, t
        assert [r.code for r in t.rcpt] == [250, 250, 250], t
        assert t.accepted, t
    got = [m for m in worm.caught if m[0].startswith("clerk")]
    assert sorted(r for m in got for r in m[1]) == sorted(
        [f"contact@partner{i}.example" for i in range(3)] +
        [f"buyer@partner{i + 3}.example" for i in range(3)])
    assert sorted(set(m[0] for m in got)) == [f"clerk{i}@office.example"
                                              for i in range(3)]
    wait_until(lambda: len(srv.maildir_files("alice")) >= 3, 10,
               what="alice's 3 messages")
    assert not srv.events("abuse-alert", source=f"ip:{NORMAL}")
    assert not [m for m in worm.queue if m["client"] == NORMAL and
                m["state"] == "held"]


def test_stats_json_shows_actions_and_top_clients(worm):
    st = worm.stats
    assert st["ok"] is True
    actions = {(a["source"], a["action"]): a for a in st["actions"]}
    assert (f"ip:{WORM}", "hold") in actions, st["actions"]
    assert actions[(f"ip:{WORM}", "hold")]["rule"] == "worm-domains"
    assert (f"ip:{WORM}", "tempfail") in actions, st["actions"]
    now = st["time"]
    hold_until = actions[(f"ip:{WORM}", "hold")]["until"]
    assert now + 3600 - 120 <= hold_until <= now + 3600, (now, hold_until)
    assert not [a for a in st["actions"] if a["source"] == f"ip:{NORMAL}"]
    top = {t["source"]: t["count"] for t in st["top_messages"]}
    assert top.get(f"ip:{WORM}") == 8, st["top_messages"]
    assert top.get(f"ip:{NORMAL}") == 3, st["top_messages"]
    assert st["top_messages"][0]["source"] == f"ip:{WORM}"
    assert st["queue"]["held"] == 8
    assert st["sources"]["tracked"] >= 3
    rules = {r["name"]: r for r in st["rules"]}
    assert rules["worm-domains"]["hits"] == 1
    assert rules["worm-unknown"]["hits"] == 1
    assert rules["worm-domains"]["limit"] == 20
    assert rules["worm-domains"]["window"] == 600
    # and as text
    out = worm.stats_text
    assert f"ip:{WORM}" in out and "hold" in out and "worm-domains" in out, \
        out


def test_report_finds_the_worm(worm):
    rep = worm.report
    assert rep["messages_in"] == 8 + 3, rep
    by_rule = {r["key"]: r["count"] for r in rep["rejections_by_rule"]}
    assert by_rule.get("unknown-user") == 8 + 4, by_rule
    assert by_rule.get("abuse-ratelimit") == 4 + 1, by_rule
    assert rep["rejections"] == 8 + 4 + 4 + 1, rep
    clients = {r["key"]: r["count"] for r in rep["top_clients"]}
    assert clients == {WORM: 8, NORMAL: 3}, clients
    senders = {r["key"]: r["count"] for r in rep["top_senders"]}
    assert senders.get("<w0@infected.example>") == 1, senders
    assert senders.get("<clerk0@office.example>") == 1, senders
    suspects = [s["key"] for s in rep["suspects"]]
    assert any(WORM in s and "worm-domains" in s for s in suspects), suspects
    assert any(WORM in s and "unknown recipients" in s for s in suspects), \
        suspects
    assert not any(NORMAL in s for s in suspects), suspects
    text = worm.report_text
    assert "messages in:  11" in text, text
    sus = text.split("suspected worms and probers", 1)[1]
    assert WORM in sus and "worm-domains" in sus, text
    assert NORMAL not in sus, text
    assert "unknown-user" in text.split("rejections by rule", 1)[1], text


def test_release_delivers_the_held_mail(worm):
    srv, cat = worm.srv, worm.cat
    out = srv.sluice("queue", "release", "--client-ip", WORM).stdout
    assert "release: 8 messages" in out, out
    cat.wait(lambda s: len([x for x in s if x.startswith("w")]) >= 8 * 3,
             what="the released worm mail (8 x 3 domains) at the catcher")
    wait_until(lambda: srv.queue() == [], 10, what="an empty queue")
    assert srv.queue("--held") == []
