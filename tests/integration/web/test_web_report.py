"""
What a report says: a mail domain tested at each of its MX hosts (by
preference, at most five), each host's own progress while the test runs,
its reverse DNS name, and advice on closing a relay that names the tricks
that worked (a server open only to the percent hack gets the percent-hack
advice; a partly open one, accepting only addresses with no domain, gets
advice too).
"""
import re
import time

from web_harness import SLOW, ptr_name

# (preference, name, loopback address, reply delay)
MXS = [(20, "mx-a.pref.test", "127.0.10.2", 0.03),
       (10, "mx-b.pref.test", "127.0.10.1", 0.0),
       (30, "mx-c.pref.test", "127.0.10.3", 0.0),
       (50, "mx-e.pref.test", "127.0.10.5", 0.0),
       (40, "mx-d.pref.test", "127.0.10.4", 0.0),
       (60, "mx-f.pref.test", "127.0.10.6", 0.0)]


def done_tests(h):
    return sum(1 for t in h["tests"] if t["verdict"] != "pending")


def test_domain_tested_at_each_mx_by_preference(servers, dns):
    fakes = {}
    port = 0
    for pref, name, ip, delay in sorted(MXS, key=lambda m: m[2]):
        f = servers.fake(host=ip, port=port, delay=delay)
        port = f.port
        fakes[name] = f
        dns.a[name] = ip
    dns.mx["pref.test"] = [(p, n) for p, n, _, _ in MXS]
    dns.ptr[ptr_name("127.0.10.1")] = "reverse-b.pref.test"
    w = servers.web()
    c = w.client("198.51.100.80")
    rid = c.api_submit("pref.test", port).json()["id"]
    # while it runs: each host has its own progress
    seen_split, pages = False, []
    deadline = time.monotonic() + 60 * SLOW
    while time.monotonic() < deadline:
        rep = c.get(f"/api/tests/{rid}").json()
        if rep["status"] in ("done", "error"):
            break
        hs = rep["hosts"]
        if len(hs) == 5 and hs[0]["verdict"] == "closed" and \
                0 < done_tests(hs[1]) < len(hs[1]["tests"]):
            seen_split = True
            pages.append(c.get(f"/r/{rid}?fragment=1").text)
        time.sleep(0.05)
    rep = c.wait_report(rid, 60)
    assert seen_split, "never saw the first MX done while the second ran"
    progress = re.findall(r"(\d+) of (\d+) tests done", pages[-1])
    assert len(progress) == 5, progress
    assert len({p for p in progress}) > 1, progress
    # preference order, five at most; the sixth never contacted
    assert [h["host"] for h in rep["hosts"]] == [
        "mx-b.pref.test", "mx-a.pref.test", "mx-c.pref.test",
        "mx-d.pref.test", "mx-e.pref.test"], rep["hosts"]
    assert [h["address"] for h in rep["hosts"]] == [
        "127.0.10.1", "127.0.10.2", "127.0.10.3", "127.0.10.4", "127.0.10.5"]
    for h in rep["hosts"]:
        assert h["verdict"] == "closed", h
        assert fakes[h["host"]].sessions > 0
    assert fakes["mx-f.pref.test"].sessions == 0
    assert rep["verdict"] == "closed" and rep["status"] == "done"
    # reverse DNS: the name where there is one
    assert rep["hosts"][0]["ptr"] == "reverse-b.pref.test"
    assert rep["hosts"][1]["ptr"] == ""
    assert ("1.10.0.127.in-addr.arpa", 12) in dns.queries
    page = c.get(f"/r/{rid}").text
    assert re.search(r"<th>Reverse DNS</th><td>reverse-b\.pref\.test</td>",
                     page), page[:3000]
    assert "How to close it" not in page


def percent_only(line):
    if re.search(rb"<postmaster(@fake\.test)?>", line, re.I) or \
            (b"%" in line and b"!" not in line):
        return b"250 2.1.5 ok\r\n"
    return b"550 5.7.1 relaying denied\r\n"


def no_domain_only(line):
    rcpt = line.split(b":", 1)[1]
    if re.search(rb"<postmaster(@fake\.test)?>", line, re.I) or \
            b"@" not in rcpt:
        return b"250 2.1.5 ok\r\n"
    return b"550 5.7.1 relaying denied\r\n"


def advice_of(page):
    m = re.search(r'<section class="advice">(.*?)</section>', page, re.S)
    assert m, "no advice on the page"
    return m.group(1)


def test_open_only_to_the_percent_hack_gets_that_advice(servers):
    w = servers.web()
    fake = servers.fake(replies={"RCPT": percent_only})
    c = w.client("198.51.100.81")
    rid = c.api_submit("127.0.0.1", fake.port).json()["id"]
    rep = c.wait_report(rid)
    assert rep["verdict"] == "accepted", rep
    worked = {t["trick"] for t in rep["hosts"][0]["tests"]
              if t["verdict"] in ("accepted", "open") and
              t["kind"] == "relay"}
    assert worked == {"percent-hack"}, worked
    a = advice_of(c.get(f"/r/{rid}").text)
    assert "The percent hack" in a
    assert "allow_percent_hack = no" in a
    assert "FEATURE(`loose_relay_check')" in a
    assert "percent_hack_domains" in a
    # "user%elsewhere" with no domain was accepted too: partly open
    assert "Addresses with no domain" in a
    # nothing about tricks that did not work
    for other in ("swap_bangpath", "DontPruneRoutes", "check_helo_access",
                  "allow_domain_literals", "relay_local_from",
                  "It relays for anyone", "resolve_dequoted_address"):
        assert other not in a, other
    # the general advice stays
    assert "In any case" in a and "reject_unauth_destination" in a


def test_partly_open_server_gets_advice(servers):
    w = servers.web()
    fake = servers.fake(replies={"RCPT": no_domain_only})
    c = w.client("198.51.100.82")
    rid = c.api_submit("127.0.0.1", fake.port).json()["id"]
    rep = c.wait_report(rid)
    assert rep["verdict"] == "ambiguous-local", rep
    a = advice_of(c.get(f"/r/{rid}").text)
    assert "Addresses with no domain" in a
    assert "reject_non_fqdn_recipient" in a
    assert "The percent hack" not in a and "UUCP bang paths" not in a
    assert "In any case" in a
