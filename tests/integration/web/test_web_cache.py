"""
web.target_cache > 0: a target is not tested again within the period.
The key is the target in its one form (case, trailing dot, IPv4-mapped
IPv6, IPv6 text) and, once names are resolved, the tested address with
the port and mode: another name of the address, or a domain whose MX host
it is, reuses the result (also of a test still under way) and sends the
server nothing.
"""
import time

from web_harness import wait_until

CACHE = {"web.target_cache": "10m"}


def rcpts_of(rep):
    """RCPT commands a report's tests sent."""
    return sum(1 for h in rep["hosts"] for t in h["tests"]
               if t.get("rcpt_reply"))


def test_spellings_of_one_address_are_one_test(servers):
    w = servers.web(CACHE)
    fake = servers.fake()
    c = w.client("198.51.100.70")
    first = c.api_submit("127.0.0.1", fake.port).json()["id"]
    rep = c.wait_report(first)
    assert rep["verdict"] == "closed", rep
    sessions, rcpts = fake.sessions, len(fake.rcpts)
    assert rcpts == rcpts_of(rep) > 30
    for t in ("::ffff:127.0.0.1", "0:0:0:0:0:ffff:7f00:1", "::FFFF:7F00:1",
              "[127.0.0.1]", "127.0.0.1.", " 127.0.0.1 "):
        r = c.api_submit(t, fake.port)
        assert r.status == 202, (t, r)
        assert r.json()["id"] == first, t
    r = c.submit("0:0:0:0:0:ffff:7f00:1", fake.port)
    assert r.status == 303 and r.headers["Location"] == f"/r/{first}", r
    assert fake.sessions == sessions and len(fake.rcpts) == rcpts
    # the history has one row for all of them
    hist = c.get("/history?target=::ffff:127.0.0.1").text
    assert hist.count("/r/") == 1 and f"/r/{first}" in hist, hist
    # another port is another test
    other = servers.fake()
    second = c.api_submit("::ffff:127.0.0.1", other.port).json()["id"]
    assert second != first
    rep2 = c.wait_report(second)
    assert rep2["target"] == "127.0.0.1" and other.sessions > 0


def test_other_names_of_a_tested_address_reuse_its_result(servers, dns):
    """A name of the address, and a domain whose MX host resolves to it,
    get the earlier result without a connection."""
    dns.a.update({"alias.cache.test": "127.0.0.1",
                  "mx.cachedom.test": "127.0.0.1"})
    dns.mx["cachedom.test"] = [(10, "mx.cachedom.test")]
    w = servers.web(CACHE)
    fake = servers.fake()
    c = w.client("198.51.100.71")
    first = c.api_submit("127.0.0.1", fake.port).json()["id"]
    rep1 = c.wait_report(first)
    sessions, rcpts = fake.sessions, len(fake.rcpts)
    for t in ("alias.cache.test", "cachedom.test", "mx.cachedom.test"):
        rid = c.api_submit(t, fake.port).json()["id"]
        assert rid != first, t
        rep = c.wait_report(rid, 10)
        assert rep["status"] == "done", rep
        assert rep["verdict"] == rep1["verdict"] == "closed", rep
        h = rep["hosts"][0]
        assert h["reused_from"] == first, h
        assert h["reused_time"] == rep1["created"]
        assert h["tests"] == rep1["hosts"][0]["tests"]
        assert h["address"] == "127.0.0.1"
        page = c.get(f"/r/{rid}").text
        assert f'href="/r/{first}"' in page and "not tested again" in page
    assert fake.sessions == sessions and len(fake.rcpts) == rcpts
    # the anonymous result is not a delivery result: mode is in the key
    w2 = servers.web(CACHE)
    c2 = w2.client("198.51.100.71")
    a = c2.api_submit("127.0.0.1", fake.port).json()["id"]
    c2.wait_report(a)
    w2.add_user("carol", "pass phrase 1")
    c2.login("carol", "pass phrase 1")
    token = [k.value for k in c2.jar if k.name == "sluice_csrf"][0]
    before = len(fake.rcpts)
    r = c2.post_json("/api/tests", {"target": "alias.cache.test",
                                    "port": fake.port, "mode": "delivery"},
                     {"X-CSRF-Token": token})
    assert r.status == 202, r
    rep = c2.wait_report(r.json()["id"], 60)
    assert "reused_from" not in rep["hosts"][0], rep["hosts"][0]
    assert len(fake.rcpts) > before


def test_a_test_under_way_is_followed_not_repeated(servers, dns):
    dns.a["follow.cache.test"] = "127.0.0.1"
    w = servers.web(CACHE)
    slow = servers.fake(delay=0.04)
    c = w.client("198.51.100.72")
    first = c.api_submit("127.0.0.1", slow.port).json()["id"]
    wait_until(lambda: c.get(f"/api/tests/{first}").json()["status"] ==
               "running", 10, what="the first test to run")
    second = c.api_submit("follow.cache.test", slow.port).json()["id"]
    assert second != first
    notes = set()
    while True:
        rep2 = c.get(f"/api/tests/{second}").json()
        if rep2["status"] in ("done", "error"):
            break
        notes.add(rep2["hosts"][0].get("note", "") if rep2["hosts"] else "")
        time.sleep(0.1)
    rep1 = c.wait_report(first, 60)
    assert f"being tested by report {first}" in " ".join(notes), notes
    assert rep2["status"] == "done" and rep2["verdict"] == rep1["verdict"]
    assert rep2["hosts"][0]["reused_from"] == first
    assert rep2["hosts"][0]["tests"] == rep1["hosts"][0]["tests"]
    # the server saw one test, not two
    assert len(slow.rcpts) == rcpts_of(rep1), (len(slow.rcpts),
                                               rcpts_of(rep1))


def test_without_the_cache_every_test_runs(servers, dns):
    dns.a["nocache.cache.test"] = "127.0.0.1"
    w = servers.web()                   # target_cache 0
    fake = servers.fake()
    c = w.client("198.51.100.73")
    a = c.api_submit("127.0.0.1", fake.port).json()["id"]
    rep = c.wait_report(a)
    b = c.api_submit("::ffff:127.0.0.1", fake.port).json()["id"]
    d = c.api_submit("nocache.cache.test", fake.port).json()["id"]
    assert len({a, b, d}) == 3
    for rid in (b, d):
        assert "reused_from" not in c.wait_report(rid)["hosts"][0]
    assert len(fake.rcpts) == 3 * rcpts_of(rep)
