"""
The web tester as a service: servers that stall, restarts (reports are
kept, a test cut short by a crash is marked so), and stopping while tests
are under way.
"""
import signal
import time

import pytest

from web_harness import SLOW, wait_until


def running(c, rid):
    return c.get(f"/api/tests/{rid}").json()["status"] in ("queued",
                                                           "running")


def test_stall_after_greeting_ends_timeout(servers):
    """A server that greets, then never answers EHLO: the report ends
    "timeout" after about two web.timeout periods, and while it waits the
    service answers pages and runs another test to its end."""
    w = servers.web({"web.timeout": "1s"})
    stall = servers.fake(replies={"EHLO": None, "HELO": None})
    quick = servers.fake()
    c = w.client("198.51.100.50")
    t0 = time.monotonic()
    rid = c.api_submit("127.0.0.1", stall.port).json()["id"]
    # meanwhile: pages at once, and a second test from start to end
    other = c.api_submit("127.0.0.1", quick.port).json()["id"]
    slowest = 0.0
    while running(c, rid):
        for path in ("/", f"/r/{rid}", "/static/app.js"):
            t1 = time.monotonic()
            assert c.get(path).status == 200
            slowest = max(slowest, time.monotonic() - t1)
        time.sleep(0.05)
        assert time.monotonic() - t0 < 30 * SLOW
    elapsed = time.monotonic() - t0
    assert slowest < 0.5 * SLOW, f"a page took {slowest:.2f}s"
    assert c.wait_report(other)["verdict"] == "closed"
    rep = c.wait_report(rid)
    assert rep["status"] == "done" and rep["verdict"] == "timeout", rep
    assert "timeout" in rep["summary"]
    assert elapsed < 15 * SLOW, f"took {elapsed:.1f}s with web.timeout 1s"
    assert stall.sessions >= 1
    page = c.get(f"/r/{rid}").text
    assert ">timeout</span>" in page and 'data-state="done"' in page


def test_stall_before_greeting_bounded_by_web_timeout(servers):
    w = servers.web({"web.timeout": "1s"})
    silent = servers.fake(banner=None)
    c = w.client("198.51.100.51")
    rid = c.api_submit("127.0.0.1", silent.port).json()["id"]
    try:
        for _ in range(3):
            assert c.get("/").status == 200
        rep = c.wait_report(rid, timeout=6)   # 2 x 1 s, and some slack
        assert rep["verdict"] == "timeout", rep
    finally:
        # (stopping during a silent wait is safe from the shutdown bug
        # below: no callback is pending)
        assert w.stop(drain=False) == []


def test_reports_survive_restart(servers):
    """Same database after a stop and a start: the permalink, its JSON, the
    history and the home page still show the report, and the service tests
    again."""
    w = servers.web()
    closed = servers.sluiced(False, w.catcher_port)
    c = w.client("198.51.100.52")
    rid = c.api_submit("127.0.0.1", closed.port).json()["id"]
    before = c.wait_report(rid)
    assert before["verdict"] == "closed"
    page_before = c.get(f"/r/{rid}").text

    problems = w.stop()
    assert not problems, problems
    w.start(keep_ports=True)
    c = w.client("198.51.100.52")
    after = c.get(f"/api/tests/{rid}").json()
    assert after == before
    page = c.get(f"/r/{rid}")
    assert page.status == 200 and ">closed</span>" in page.text
    assert "Closed: all 43 relay attempts were refused" in page.text
    assert page.text.count("<tr>") == page_before.count("<tr>")
    assert '<meta http-equiv="refresh"' not in page.text
    hist = c.get("/history?target=127.0.0.1").text
    assert f"/r/{rid}" in hist and ">closed</span>" in hist
    assert f"/r/{rid}" in c.get("/").text
    again = c.api_submit("127.0.0.1", closed.port).json()["id"]
    assert again != rid
    assert c.wait_report(again)["verdict"] == "closed"


def kill_mid_test(servers):
    """A web tester killed (SIGKILL) while a test talks to a slow server,
    then started again on the same database; (client, report id)."""
    w = servers.web()
    slow = servers.fake(delay=2.0)
    c = w.client("198.51.100.55")
    cut = c.api_submit("127.0.0.1", slow.port).json()["id"]
    wait_until(lambda: c.get(f"/api/tests/{cut}").json()["status"] ==
               "running", 10, what="the test to run")
    w.proc.send_signal(signal.SIGKILL)
    w.proc.wait(10)
    w.proc = None
    w.start(keep_ports=True)
    w.ids.clear()               # nothing runs now, whatever it says
    return c, cut


def test_test_cut_short_is_listed_interrupted(servers):
    """The history (built from the database's columns) calls a test cut
    short by a crash an error."""
    c, cut = kill_mid_test(servers)
    hist = c.get("/history?target=127.0.0.1").text
    row = [r for r in hist.split("<tr>") if f"/r/{cut}" in r]
    assert row and ">error</span>" in row[0], hist


def test_test_cut_short_is_reported_interrupted(servers):
    c, cut = kill_mid_test(servers)
    rep = c.get(f"/api/tests/{cut}").json()
    assert rep["status"] == "error" and rep["verdict"] == "error", rep
    assert "interrupted" in rep["summary"], rep
    page = c.get(f"/r/{cut}").text
    assert "interrupted" in page
    assert '<meta http-equiv="refresh"' not in page


def test_sigterm_while_a_lookup_is_pending(servers, dns):
    """A name whose lookup is never answered keeps the test resolving;
    SIGTERM then must still end the service cleanly (exit 0)."""
    dns.drop.add("blackhole.test")
    try:
        w = servers.web()
        c = w.client("198.51.100.53")
        rid = c.api_submit("blackhole.test", 25).json()["id"]
        time.sleep(0.3)
        assert running(c, rid)
        problems = w.stop(drain=False)
    finally:
        dns.drop.discard("blackhole.test")
    assert problems == [], problems
