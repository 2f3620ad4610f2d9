"""
The service's limits and cookies: delivery tests per account per day
(web.per_user), tests at once (web.concurrency) with a visible queue and
429 once web.queue_max wait, and cookies marked Secure when the reverse
proxy says the visitor came over HTTPS (X-Forwarded-Proto, trusted from
127.0.0.1 only).
"""
import http.client
import re

from web_harness import SLOW, wait_until

USER, PASSWORD = "dave", "a long pass phrase"


def signed_in(w, visitor, user=USER, password=PASSWORD):
    c = w.client(visitor)
    c.login(user, password)
    token = [k.value for k in c.jar if k.name == "sluice_csrf"][0]
    return c, token


def delivery(c, token, port):
    return c.post_json("/api/tests", {"target": "127.0.0.1", "port": port,
                                      "mode": "delivery"},
                       {"X-CSRF-Token": token})


def test_delivery_tests_per_account(servers):
    w = servers.web({"web.per_user": 2})
    w.add_user(USER, PASSWORD)
    w.add_user("erin", PASSWORD)
    fake = servers.fake()
    c, token = signed_in(w, "198.51.100.90")
    for _ in range(2):
        r = delivery(c, token, fake.port)
        assert r.status == 202, r
        c.wait_report(r.json()["id"], 30)
    r = delivery(c, token, fake.port)
    assert r.status == 429, r
    assert "delivery tests for today are used up" in r.json()["error"]
    # the form says the same
    r = c.submit("127.0.0.1", fake.port, mode="delivery")
    assert r.status == 429 and "used up" in r.text, r
    # from another address too: the limit is the account's
    c2, token2 = signed_in(w, "198.51.100.91")
    assert delivery(c2, token2, fake.port).status == 429
    # anonymous tests are not counted against it
    r = c.api_submit("127.0.0.1", fake.port)
    assert r.status == 202, r
    c.wait_report(r.json()["id"])
    # another account is not affected
    c3, token3 = signed_in(w, "198.51.100.92", "erin")
    r = delivery(c3, token3, fake.port)
    assert r.status == 202, r
    c3.wait_report(r.json()["id"], 30)


def test_concurrency_queue_and_queue_full(servers):
    """One test at a time, two may wait: the waiting ones show their
    place (JSON and page), the next gets 429, and the queue drains in
    order."""
    w = servers.web({"web.concurrency": 1, "web.queue_max": 2,
                     "web.timeout": "1s"})
    stall = servers.fake(banner=None)
    quick = servers.fake()
    c = w.client("198.51.100.93")
    a = c.api_submit("127.0.0.1", stall.port).json()["id"]
    wait_until(lambda: c.get(f"/api/tests/{a}").json()["status"] ==
               "running", 10, what="the first test to run")
    b = c.api_submit("127.0.0.1", quick.port).json()["id"]
    d = c.api_submit("127.0.0.1", quick.port).json()["id"]
    rb, rd = (c.get(f"/api/tests/{x}").json() for x in (b, d))
    assert (rb["status"], rb["queue_position"]) == ("queued", 1), rb
    assert (rd["status"], rd["queue_position"]) == ("queued", 2), rd
    page = c.get(f"/r/{d}").text
    assert "place 2 in the queue" in page
    assert '<meta http-equiv="refresh"' in page
    r = c.api_submit("127.0.0.1", quick.port)
    assert r.status == 429 and "busy" in r.json()["error"], r
    r = c.submit("127.0.0.1", quick.port)
    assert r.status == 429 and "the tester is busy" in r.text, r
    assert quick.sessions == 0            # nothing ran beside the first
    # the first ends; the queue moves up
    wait_until(lambda: c.get(f"/api/tests/{a}").json()["status"] == "done",
               15, what="the first test to end")
    def d_moved():
        j = c.get(f"/api/tests/{d}").json()
        return j["status"] != "queued" or j["queue_position"] == 1
    wait_until(d_moved, 15, 0.02, "the last to move up")
    assert c.wait_report(b)["verdict"] == "closed"
    assert c.wait_report(d)["verdict"] == "closed"
    assert c.get(f"/api/tests/{a}").json()["verdict"] == "timeout"
    # and there is room again
    r = c.api_submit("127.0.0.1", quick.port)
    assert r.status == 202, r
    c.wait_report(r.json()["id"])


def cookies(resp):
    return [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]


def raw_get(w, headers, source="127.0.0.1", method="GET", path="/",
            body=None):
    conn = http.client.HTTPConnection("127.0.0.1", w.port,
                                      timeout=10 * SLOW,
                                      source_address=(source, 0))
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    r.read()
    conn.close()
    return r


def test_secure_cookies_behind_https_proxy(servers):
    w = servers.web()
    w.add_user(USER, PASSWORD)
    via_https = {"X-Forwarded-For": "198.51.100.94",
                 "X-Forwarded-Proto": "https"}
    ck = cookies(raw_get(w, via_https))
    assert len(ck) == 1 and ck[0].startswith("sluice_csrf="), ck
    assert ck[0].endswith("; Secure"), ck
    # plain HTTP through the proxy: not Secure
    ck = cookies(raw_get(w, {"X-Forwarded-Proto": "http"}))
    assert ck and "Secure" not in ck[0], ck
    # the header from anyone but the proxy is not believed
    ck = cookies(raw_get(w, {"X-Forwarded-Proto": "https"},
                         source="127.0.0.2"))
    assert ck and "Secure" not in ck[0], ck
    # the session cookie of a sign-in over HTTPS is Secure too
    r = raw_get(w, via_https, path="/login")
    csrf = re.search(r"sluice_csrf=([0-9a-f]+)", cookies(r)[0]).group(1)
    body = f"csrf={csrf}&user={USER}&password=a+long+pass+phrase"
    r = raw_get(w, dict(via_https, Cookie=f"sluice_csrf={csrf}",
                        **{"Content-Type":
                           "application/x-www-form-urlencoded"}),
                method="POST", path="/login", body=body)
    assert r.status == 303, r.status
    ck = cookies(r)
    session = [x for x in ck if x.startswith("sluice_session=")]
    assert session and "; Secure" in session[0] and "HttpOnly" in \
        session[0] and "SameSite=Strict" in session[0], ck
