"""
DNS blocklists against a real DNS server on loopback (a private dnsmasq):
a listed client is refused at RCPT (554 5.7.1 naming the zone and its
TXT) except for postmaster, trusted and authenticated clients; an unlisted
one is served; a DNS server that never answers does not block mail (the
greeting comes within dnsbl.timeout).

Only 127.0.0.1 is trusted here, so 127.0.0.5 (listed) and 127.0.0.6 (not
listed) are outsiders sending to a local user.
"""
import base64
import time

import pytest

from abuse_harness import (LOCAL, SLOW, BlackHoleDNS, Dnsmasq, SMTPClient,
                           make_passwd, transaction, wait_until)

LISTED = "127.0.0.5"        # A and TXT under bl.test
UNLISTED = "127.0.0.6"
LISTED_NO_TXT = "127.0.0.7"   # A only
ZONE = "bl.test"
TXT = "listed for testing"
PASSWORDS = {"alice": "alice-secret-1"}


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    d = Dnsmasq(tmp_path_factory.mktemp("dnsmasq"),
                records=[(f"5.0.0.127.{ZONE}", "127.0.0.2"),
                         (f"7.0.0.127.{ZONE}", "127.0.0.2"),
                         (f"1.0.0.127.{ZONE}", "127.0.0.2")],
                txts=[(f"5.0.0.127.{ZONE}", TXT)],
                local_zones=["nx.test"])
    d.start()
    yield d
    d.stop()


def dnsbl_keys(resolver_port, zones=(ZONE,), timeout="5s", **extra):
    k = {"authorized_networks": ["127.0.0.1/32"],
         "dnsbl.zones": list(zones), "dnsbl.timeout": timeout,
         "outbound.resolver": f"127.0.0.1:{resolver_port}"}
    k.update(extra)
    return k


@pytest.fixture(scope="module")
def srv(abuse_shared, dns, tmp_path_factory):
    pw = make_passwd(tmp_path_factory.mktemp("pw") / "passwd", PASSWORDS)
    return abuse_shared(dnsbl_keys(dns.port, **{
        "auth.passwd_file": str(pw)}))


def timed_greeting(srv, source):
    t0 = time.monotonic()
    c = srv.client(source, timeout=20)
    return c, time.monotonic() - t0


def test_listed_client_refused_at_rcpt(srv):
    c, took = timed_greeting(srv, LISTED)
    with c:
        assert c.greeting.code == 220, c.greeting
        assert took < 2.0 * SLOW, took
        assert c.cmd("EHLO client.example").code == 250
        t = transaction(c, "someone@listed.example",
                        [f"alice@{LOCAL}", f"postmaster@{LOCAL}"])
        c.cmd("QUIT")
    r = t.rcpt[0]
    assert r.code == 554, r
    assert r.text.startswith("5.7.1"), r
    assert f"[{LISTED}]" in r.text and f"blocked using {ZONE}: {TXT}" in \
        r.text, r
    assert t.rcpt[1].code == 250, "postmaster must still be reachable"
    assert t.accepted
    ev = srv.events("dnsbl-listed", client=LISTED)
    assert ev and ev[0]["zone"] == ZONE, ev
    rej = srv.events("rcpt-rejected", client=LISTED)
    assert [e["rule"] for e in rej] == [f"dnsbl:{ZONE}"], rej


def test_listed_without_txt(srv):
    with srv.session(LISTED_NO_TXT) as c:
        t = transaction(c, "x@listed.example", [f"alice@{LOCAL}"])
    assert t.rcpt[0].code == 554, t
    assert t.rcpt[0].text.endswith(f"blocked using {ZONE}"), t


def test_unlisted_client_served(srv):
    c, took = timed_greeting(srv, UNLISTED)
    with c:
        assert c.greeting.code == 220 and took < 2.0 * SLOW, (c.greeting,
                                                             took)
        assert c.cmd("EHLO client.example").code == 250
        t = transaction(c, "friend@fine.example", [f"alice@{LOCAL}"])
        c.cmd("QUIT")
    assert [r.code for r in t.rcpt] == [250], t
    assert t.accepted, t
    wait_until(lambda: srv.maildir_files("alice"), 10,
               what="the unlisted client's message in alice's Maildir")
    assert not srv.events("dnsbl-listed", client=UNLISTED)


def test_trusted_client_not_checked(srv, dns):
    """127.0.0.1 is listed in the zone too, but it is trusted."""
    with srv.session("127.0.0.1") as c:
        t = transaction(c, "me@example.test", [f"alice@{LOCAL}"])
    assert t.accepted, t
    assert not srv.events("dnsbl-listed", client="127.0.0.1")
    assert f"1.0.0.127.{ZONE}" not in dns.log.read_text()


def test_authenticated_client_exempt(srv):
    with srv.session(LISTED) as c:
        c.starttls()
        assert c.cmd("EHLO client.example").code == 250
        tok = base64.b64encode(f"\0alice\0{PASSWORDS['alice']}".encode())
        r = c.cmd(f"AUTH PLAIN {tok.decode()}")
        assert r.code == 235, r
        t = transaction(c, f"alice@{LOCAL}", [f"bob@{LOCAL}"])
        c.cmd("QUIT")
    assert t.rcpt[0].code == 250, t


def test_stats_count_listed_clients(srv):
    before = srv.sluice_json("stats")
    with srv.session(LISTED) as c:
        t = transaction(c, "x@listed.example", [f"bob@{LOCAL}"])
        c.cmd("QUIT")
    assert t.rcpt[0].code == 554, t
    after = srv.sluice_json("stats")
    assert after["server"]["dnsbl_listed"] == \
        before["server"]["dnsbl_listed"] + 1, (before, after)
    assert after["rejections"].get("dnsbl") == \
        before["rejections"].get("dnsbl", 0) + 1, after["rejections"]


def test_two_zones_listed_in_one(abuse_server, dns):
    """Listed in the first zone, unknown to the second (NXDOMAIN): still
    refused, every time."""
    srv = abuse_server(dnsbl_keys(dns.port, zones=(ZONE, "nx.test")))
    codes = []
    for _ in range(5):
        with srv.session(LISTED) as c:
            t = transaction(c, "x@listed.example", [f"alice@{LOCAL}"])
            c.cmd("QUIT")
        codes.append(t.rcpt[0].code)
    assert codes == [554] * 5, codes
    with srv.session(UNLISTED) as c:
        t = transaction(c, "x@fine.example", [f"alice@{LOCAL}"])
    assert t.rcpt[0].code == 250, t


def test_silent_dns_server_does_not_block_mail(abuse_server):
    hole = BlackHoleDNS()
    try:
        srv = abuse_server(dnsbl_keys(hole.port, timeout="2s"))
        clients = []
        for src in (LISTED, UNLISTED):     # two at once
            t0 = time.monotonic()
            clients.append((SMTPClient(srv.port, source=src, timeout=20),
                            t0))
        for c, t0 in clients:
            with c:
                g = c.reply(timeout=20)
                took = time.monotonic() - t0
                assert g.code == 220, g
                assert 1.5 <= took <= 2.0 + 1.5 * SLOW, took
                assert c.cmd("EHLO client.example").code == 250
                t = transaction(c, "x@somewhere.example", [f"alice@{LOCAL}"])
                assert t.accepted, t
                c.cmd("QUIT")
        assert hole.queries >= 1, "the DNS server was never asked"
        assert len(srv.events("dnsbl-timeout")) == 2
        assert not srv.events("dnsbl-listed")
    finally:
        # stop sluiced while lookups may still be pending, then the hole
        for s in abuse_server.servers:
            s.stop()
        hole.stop()
