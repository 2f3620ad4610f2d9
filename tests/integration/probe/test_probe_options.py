"""The names the battery uses ({target}: banner, EHLO reply, the name
given, the [IP] literal, --target-domain), the options that shape the
dialogue (--helo, --outside-ip, --pace), the reply to a spoofed HELO in
the JSON, and TLS: implicit TLS (--tls) reported as TLS, --starttls
insisting against a server that has none."""
from probe_harness import FAST, by_id, run_probe

TESTS = ["--tests", "relay-plain,percent-target,percent-parent,helo-spoof"]


def names_of(t):
    """What the battery made of the target's name."""
    return {"domain": t["target_domain"],
            "postmaster": by_id(t, "control-postmaster")["rcpt_to"],
            "percent": by_id(t, "percent-target")["rcpt_to"].split("@")[-1],
            "parent": by_id(t, "percent-parent")["rcpt_to"].split("@")[-1],
            "helo": by_id(t, "helo-target")["helo"]}


def sent(srv, prefix):
    return [l.decode("latin-1") for l in srv.lines if l.startswith(prefix)]


# ---------------------------------------------------------------- names


def test_name_from_ehlo_when_the_banner_has_none(fake):
    """"220 ESMTP service ready" names no host: the EHLO reply's first word
    does, and every test (the first control too, expanded before EHLO)
    uses it."""
    srv = fake("accept-all", banner="ESMTP service ready",
               ehlo_first="mx.ehlo.test at your service")
    r = run_probe("--json", *FAST, *TESTS, srv.spec)
    t = r.one()
    assert names_of(t) == {"domain": "mx.ehlo.test",
                           "postmaster": "postmaster@mx.ehlo.test",
                           "percent": "mx.ehlo.test",
                           "parent": "ehlo.test",
                           "helo": "mx.ehlo.test"}, r
    # and that is what went over the wire
    assert "RCPT TO:<postmaster@mx.ehlo.test>" in sent(srv, b"RCPT")
    assert "EHLO mx.ehlo.test" in sent(srv, b"EHLO")
    assert not any("ESMTP" in l for l in sent(srv, b"RCPT"))


def test_name_given_when_banner_and_ehlo_have_none(fake):
    srv = fake("accept-all", banner="ESMTP service ready",
               ehlo_first="ESMTP hello")
    r = run_probe("--json", *FAST, *TESTS,
                  f"mail.given.test {srv.spec}")
    t = r.one()
    assert names_of(t)["domain"] == "mail.given.test", r
    assert names_of(t)["percent"] == "mail.given.test"
    assert names_of(t)["parent"] == "given.test"


def test_ip_literal_when_there_is_no_name(fake):
    srv = fake("accept-all", banner="localhost ESMTP",
               ehlo_first="ESMTP hello")
    r = run_probe("--json", *FAST, *TESTS, srv.spec)
    t = r.one()
    assert names_of(t) == {"domain": "[127.0.0.1]",
                           "postmaster": "postmaster@[127.0.0.1]",
                           "percent": "[127.0.0.1]",
                           "parent": "[127.0.0.1]",
                           "helo": "[127.0.0.1]"}, r


def test_banner_name_wins_over_ehlo(fake):
    srv = fake("accept-all", name="mx.banner.test",
               ehlo_first="mx.ehlo.test hi")
    t = run_probe("--json", *FAST, *TESTS, srv.spec).one()
    assert names_of(t)["domain"] == "mx.banner.test"


def test_target_domain_option(fake):
    srv = fake("accept-all", name="mx.banner.test")
    r = run_probe("--json", *FAST, *TESTS, "--target-domain",
                  "mx.given.example", srv.spec)
    t = r.one()
    assert names_of(t) == {"domain": "mx.given.example",
                           "postmaster": "postmaster@mx.given.example",
                           "percent": "mx.given.example",
                           "parent": "given.example",
                           "helo": "mx.given.example"}, r


# ---------------------------------------------------------------- dialogue


def test_helo_option(fake):
    srv = fake("accept-all")
    r = run_probe("--json", *FAST, "--helo", "prober.example.test",
                  "--tests", "relay-plain,helo-localhost", srv.spec)
    t = r.one()
    assert by_id(t, "relay-plain")["helo"] == "prober.example.test"
    ehlos = sent(srv, b"EHLO")
    assert ehlos[0] == "EHLO prober.example.test", ehlos
    # the spoofed HELO, then our own name again for the next test
    assert "EHLO localhost" in ehlos
    assert set(ehlos) == {"EHLO prober.example.test", "EHLO localhost"}


def test_outside_ip_option(fake):
    srv = fake("accept-all")
    r = run_probe("--json", *FAST, "--outside-ip", "198.51.100.7",
                  "--tests", "literal-outside", srv.spec)
    x = by_id(r.one(), "literal-outside")
    assert x["rcpt_to"].endswith("@[198.51.100.7]"), x
    assert f"<{x['rcpt_to']}>" in srv.rcpts


def test_pace_option(fake):
    srv = fake("accept-all")
    r = run_probe("--json", *FAST, "--pace", "300", "--tests",
                  "relay-plain,relay-null-sender", srv.spec)
    assert r.rc == 1, r
    sess = srv.sessions[0]
    mails = [tm for l, tm in zip(sess.lines, sess.times)
             if l.startswith(b"MAIL")]
    assert len(mails) == 4, sess.lines        # 2 controls, 2 relay tests
    gaps = [b - a for a, b in zip(mails, mails[1:])]
    assert min(gaps) >= 0.28, gaps
    # and without --pace there is no such pause
    fast = fake("accept-all")
    run_probe("--json", *FAST, "--tests", "relay-plain,relay-null-sender",
              fast.spec)
    s2 = fast.sessions[0]
    m2 = [tm for l, tm in zip(s2.lines, s2.times) if l.startswith(b"MAIL")]
    assert max(b - a for a, b in zip(m2, m2[1:])) < 0.2


def test_spoofed_helo_reply_in_json(fake):
    srv = fake("accept-all")
    r = run_probe("--json", *FAST, "--tests", "relay-plain,helo-spoof",
                  srv.spec)
    t = r.one()
    for tid in ("helo-target", "helo-localhost", "helo-ip"):
        x = by_id(t, tid)
        assert x["helo_reply"].startswith(
            "250 accept-all.fake.test greets you / PIPELINING"), x
    assert by_id(t, "relay-plain")["helo_reply"] is None
    assert by_id(t, "helo-ip")["helo"] == "[127.0.0.1]"


# ---------------------------------------------------------------- TLS


def test_implicit_tls_is_reported(sluiced):
    """--tls against sluiced's submissions listener (TLS from the first
    byte): the session was TLS, and both reports say so."""
    srv = sluiced({"authorized_networks": ["127.0.0.1/32"],
                   "local_domains": ["mx.test"]}, role="submissions")
    r = run_probe("--json", "--tls", *FAST, "--tests", "relay-plain",
                  srv.spec)
    t = r.one()
    assert t["tls"] and t["tls"].startswith("version=TLS"), t["tls"]
    assert t["starttls_offered"] is False
    # a submissions port wants AUTH before any mail
    assert t["verdict"] == "auth-required", r
    text = run_probe("--tls", *FAST, "--tests", "relay-plain",
                     srv.spec).text
    assert "  tls: version=TLS" in text, text


def test_starttls_insisted_on_but_not_offered(fake):
    srv = fake("closed")
    r = run_probe("--json", "--starttls", *FAST, srv.spec)
    t = r.one()
    assert t["verdict"] == "error", r
    assert r.rc == 2, r
    assert t["tls"] is None
    assert {x["note"] for x in t["tests"] if x["verdict"] != "skipped"} == \
        {"STARTTLS required but not offered or failed"}, t["tests"]
    # nothing was tried in clear
    assert "STARTTLS" in sent(srv, b"STARTTLS")
    assert sent(srv, b"MAIL") == [] and sent(srv, b"RCPT") == []
