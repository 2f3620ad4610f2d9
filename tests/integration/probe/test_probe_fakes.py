"""sluice probe against fake servers that misbehave on purpose (fakesmtp.py):
4xx, auth walls, stalls, drops, error limits, replies split into single
bytes, hostile bytes, garbage, tarpits, AUTH, IPv6.

The scenarios are independent, so one module fixture starts every fake
server and runs every probe side by side; each test then reads its own
scenario's result. The slowest scenario (a stall) bounds the time."""
import base64
import socket

import pytest

from probe_harness import FAST, FakeSMTP, ProbeProc, by_id, check_run, \
    free_port, verdicts

T1 = ["--timeout", "1", "--connect-timeout", "1", "-q"]
LOCALFORMS = {"bang-bare", "percent-quoted", "quoted-at",
              "bang-bare-from-ip", "percent-quoted-from-ip",
              "quoted-at-from-ip"}


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


# name: (behaviour, FakeSMTP keywords, probe arguments ("{catch}" is a
# free port for the catcher), host)
SCENARIOS = {
    "accept-all": ("accept-all", {}, ["--json", *FAST], "127.0.0.1"),
    "accept-all-delivery": ("accept-all", {}, [
        "--json", *FAST, "--mode", "delivery", "--catch",
        "127.0.0.1:{catch}", "--outside", "outside.test", "--wait", "2"],
        "127.0.0.1"),
    "relay-async": ("relay-async", {}, [
        "--json", *FAST, "--mode", "delivery", "--catch",
        "127.0.0.1:{catch}", "--outside", "outside.test", "--wait", "10",
        "--tests", "relay-plain,relay-null-sender,percent-target"],
        "127.0.0.1"),
    "relay-sync": ("relay-sync", {}, [
        "--json", *FAST, "--mode", "delivery", "--catch",
        "127.0.0.1:{catch}", "--outside", "outside.test", "--wait", "10",
        "--tests", "relay-plain,relay-null-sender,percent-target"],
        "127.0.0.1"),
    "closed": ("closed", {}, ["--json", *FAST], "127.0.0.1"),
    "greylist": ("greylist", {}, ["--json", *FAST], "127.0.0.1"),
    "auth-required": ("auth-required", {}, ["--json", *FAST], "127.0.0.1"),
    "stall": ("stall", {}, ["--json", *T1], "127.0.0.1"),
    "stall-rcpt": ("stall-rcpt", {}, ["--json", *T1], "127.0.0.1"),
    "drop": ("drop", {}, ["--json", *FAST], "127.0.0.1"),
    "drop-rcpt": ("drop-rcpt", {}, ["--json", *FAST], "127.0.0.1"),
    "error-limit-5": ("error-limit", {"error_limit": 5}, ["--json", *FAST],
                      "127.0.0.1"),
    "error-limit-3": ("error-limit", {"error_limit": 3}, ["--json", *FAST],
                      "127.0.0.1"),
    "split": ("split", {}, ["--json", *FAST], "127.0.0.1"),
    "hostile-json": ("hostile", {}, ["--json", "-v", *FAST], "127.0.0.1"),
    "hostile-text": ("hostile", {}, ["-v", *FAST], "127.0.0.1"),
    "garbage": ("garbage", {}, ["--json", *FAST], "127.0.0.1"),
    "tarpit": ("tarpit", {"delay": 3.0}, ["--json", *T1], "127.0.0.1"),
    "tarpit-ok": ("tarpit", {"delay": 0.2}, [
        "--json", *FAST, "--tests", "relay-plain"], "127.0.0.1"),
    "busy": ("busy", {}, ["--json", *FAST], "127.0.0.1"),
    "refuse": ("refuse", {}, ["--json", *FAST], "127.0.0.1"),
    "refused-port": (None, {}, ["--json", *FAST], "127.0.0.1"),
    "auth": ("auth-relay", {}, ["--json", "-v", *FAST, "--auth",
                                "probe:secret"], "127.0.0.1"),
    "auth-wrong": ("auth-relay", {}, ["--json", *FAST, "--auth",
                                      "probe:wrong"], "127.0.0.1"),
    "verbose-text": ("closed", {}, ["-v", *FAST, "--tests", "relay-plain"],
                     "127.0.0.1"),
}
if have_ipv6():
    SCENARIOS["ipv6-accept-all"] = ("accept-all", {}, [
        "--json", *FAST, "--tests", "relay-plain,relay-sender-ip,percent-ip"],
        "::1")
    SCENARIOS["ipv6-closed"] = ("closed", {}, ["--json", *FAST], "::1")


class Result:
    def __init__(self, fake, spec, run):
        self.fake = fake
        self.spec = spec
        self.run = run

    def one(self):
        return self.run.one()


@pytest.fixture(scope="module")
def runs():
    fakes, procs = {}, {}
    try:
        for name, (beh, kw, args, host) in SCENARIOS.items():
            catch = free_port()
            if beh is None:
                spec, f = f"127.0.0.1:{free_port()}", None
            else:
                if beh.startswith("relay-"):
                    kw = dict(kw, relay_to=("127.0.0.1", catch))
                f = FakeSMTP(beh, host=host, **kw).start()
                spec = f.spec
            fakes[name] = (f, spec)
            a = [x.replace("{catch}", str(catch)) for x in args]
            procs[name] = ProbeProc(*a, spec)
        out = {}
        for name, p in procs.items():
            f, spec = fakes[name]
            out[name] = Result(f, spec, p.wait(timeout=60))
        yield out
    finally:
        for p in procs.values():
            if p.p.poll() is None:
                p.p.kill()
                p.p.wait()
        for f, _ in fakes.values():
            if f is not None:
                f.stop()


def get(runs, name):
    r = runs[name]
    check_run(r.run)
    return r


def relay_verdicts(r):
    return set(verdicts(r.one(), "relay").values())


# ---------------------------------------------------------------- (d)


def test_accept_all_anonymous_is_accepted(runs):
    r = get(runs, "accept-all")
    assert r.run.rc == 1, r.run
    t = r.one()
    assert t["verdict"] == "accepted", r.run
    v = verdicts(t, "relay")
    assert v["relay-plain"] == "accepted"
    # forms with no outside domain are told apart
    for tid in LOCALFORMS:
        assert v[tid] == "ambiguous-local", (tid, v[tid])
    assert set(v.values()) == {"accepted", "ambiguous-local"}, v


def test_accept_all_delivery_is_accepted_never_open(runs):
    r = get(runs, "accept-all-delivery")
    assert r.run.rc == 1, r.run
    t = r.one()
    assert t["verdict"] == "accepted", r.run
    assert "not confirmed" in t["summary"]
    relay = [x for x in t["tests"] if x["kind"] == "relay"]
    assert "open" not in {x["verdict"] for x in relay}
    for x in relay:
        # DATA really went through, and the note says nothing came back
        assert x["data_reply"].startswith("250"), x
        assert x["note"] == "accepted, not relayed within 2s", x
    # the fake got one tokened message per relay test
    msgs = r.fake.messages
    assert len(msgs) == len(relay)
    for x in relay:
        assert sum(f"X-Sluice-Probe: token={x['token']} ".encode() in m
                   for m in msgs) == 1, x["id"]


def check_relayed(r):
    t = r.one()
    assert r.run.rc == 1, r.run
    # the fake really relayed every message to the probe's catcher
    assert len(r.fake.relayed) == 3, r.fake.relayed
    relay = verdicts(t, "relay")
    assert relay == {"relay-plain": "open", "relay-null-sender": "open",
                     "percent-target": "open"}, (relay, r.run)
    for x in t["tests"]:
        if x["kind"] == "relay":
            assert x["note"] == "relayed: token received", x
    assert t["verdict"] == "open"
    # no waiting for tokens that were all in (--wait 10; the margin is
    # for sanitizer builds running every scenario at once)
    assert r.run.elapsed < 8, r.run


def test_relay_after_250_is_open(runs):
    check_relayed(get(runs, "relay-async"))


def test_catcher_answers_the_last_message(runs):
    r = get(runs, "relay-async")
    assert [ok for _, ok in r.fake.relayed] == [True, True, True]


def test_relay_before_250_is_open(runs):
    check_relayed(get(runs, "relay-sync"))


# ---------------------------------------------------------------- (e)


def test_greylist_is_tempfail(runs):
    r = get(runs, "greylist")
    t = r.one()
    assert t["verdict"] == "tempfail", r.run
    # a 4xx is never called closed
    assert relay_verdicts(r) == {"tempfail"}
    assert by_id(t, "relay-plain")["rcpt_reply"] == \
        "451 4.7.1 Greylisted, try again later"
    assert "test again later" in t["summary"]
    assert r.run.rc in (0, 2), r.run        # no hit (see the report)


def test_auth_required(runs):
    r = get(runs, "auth-required")
    t = r.one()
    assert t["verdict"] == "auth-required", r.run
    assert relay_verdicts(r) == {"auth-required"}
    assert by_id(t, "relay-plain")["mail_reply"].startswith("530 5.7.0")
    assert r.run.rc == 0, r.run


def test_closed_fake(runs):
    r = get(runs, "closed")
    t = r.one()
    assert (r.run.rc, t["verdict"]) == (0, "closed"), r.run
    assert relay_verdicts(r) == {"closed"}
    assert by_id(t, "control-postmaster")["verdict"] == "accepted"


def test_stall_is_timeout(runs):
    r = get(runs, "stall")
    t = r.one()
    assert t["verdict"] == "timeout", r.run
    assert r.run.rc == 2, r.run
    assert {x["verdict"] for x in t["tests"]
            if x["id"] != "control-auth-relay"} == {"timeout"}
    # bounded: the probe's own reconnect limit (10) times --timeout 1
    assert r.run.elapsed < 30, r.run


def test_auth_control_skipped_even_when_target_fails(runs):
    for name in ("stall", "drop", "error-limit-3"):
        t = get(runs, name).one()
        assert by_id(t, "control-auth-relay")["verdict"] == "skipped", name


def test_stall_gives_up_after_two_sessions(runs):
    r = get(runs, "stall")
    assert r.fake.n_sessions() <= 2, r.fake.n_sessions()
    assert r.run.elapsed < 2 * 1 + 2.5, r.run


def test_stall_at_rcpt_is_timeout(runs):
    r = get(runs, "stall-rcpt")
    t = r.one()
    assert t["verdict"] == "timeout", r.run
    assert r.run.rc == 2, r.run
    assert by_id(t, "control-postmaster")["verdict"] == "timeout"
    assert r.run.elapsed < 30, r.run


def test_stall_at_rcpt_gives_up_after_two_sessions(runs):
    r = get(runs, "stall-rcpt")
    assert r.fake.n_sessions() <= 2, r.fake.n_sessions()


def test_drop_is_error(runs):
    r = get(runs, "drop")
    t = r.one()
    assert t["verdict"] == "error", r.run
    assert r.run.rc == 2, r.run
    assert {x["verdict"] for x in t["tests"]
            if x["id"] != "control-auth-relay"} == {"error"}
    assert "closed" in by_id(t, "control-postmaster")["note"]
    # bounded reconnects
    assert 2 <= r.fake.n_sessions() <= 12


def test_drop_at_rcpt_is_error(runs):
    r = get(runs, "drop-rcpt")
    t = r.one()
    assert t["verdict"] == "error", r.run
    assert r.run.rc == 2, r.run
    # each test is retried once on a new session, the total is bounded
    assert 2 <= r.fake.n_sessions() <= 12
    assert by_id(t, "control-postmaster")["verdict"] == "error"


def check_error_limit(r):
    t = r.one()
    assert t["verdict"] == "closed", r.run
    assert r.run.rc == 0, r.run
    v = verdicts(t)
    assert by_id(t, "control-auth-relay")["verdict"] == "skipped"
    del v["control-auth-relay"]
    # every test got a real verdict: reconnecting after each 421
    assert set(verdicts(t, "relay").values()) == {"closed"}, v
    assert by_id(t, "control-postmaster")["verdict"] == "accepted"
    assert r.fake.n_sessions() > 1


def test_error_limit_reconnects_and_finishes(runs):
    r = get(runs, "error-limit-5")
    check_error_limit(r)
    # every session but the last ended with the server's 421
    assert r.fake.n_sessions() >= 43 // 5


def test_error_limit_3_reconnects_and_finishes(runs):
    check_error_limit(get(runs, "error-limit-3"))


def test_split_replies_parse_like_whole_ones(runs):
    whole, split = get(runs, "accept-all"), get(runs, "split")
    t = split.one()
    assert split.run.rc == 1, split.run
    assert t["verdict"] == "accepted", split.run
    assert verdicts(t) == verdicts(whole.one())
    # the multi-line EHLO reply, received byte by byte, was understood
    assert t["esmtp"] is True
    assert t["ehlo"].split("\n") == ["split.fake.test greets you",
                                     "PIPELINING", "SIZE 10240000",
                                     "ENHANCEDSTATUSCODES", "8BITMIME",
                                     "HELP"]
    assert t["banner"] == "220 split.fake.test ESMTP fake"
    assert split.fake.n_sessions() == 1


def printable(data):
    """Bytes that are not printable ASCII or a newline."""
    return sorted({b for b in data if not (0x20 <= b < 0x7f or b == 0x0a)})


def test_hostile_text_report_is_clean(runs):
    r = get(runs, "hostile-text")
    assert r.run.rc == 1, r.run
    out = r.run.out
    assert b"\x1b" not in out and b"\x00" not in out
    assert printable(out) == [], printable(out)
    # shown escaped, not dropped
    assert b"\\x1b[31m" in out
    assert out.split(b"\n")[0].split() == [r.spec.encode(), b"accepted"]


def test_hostile_json_is_clean(runs):
    r = get(runs, "hostile-json")
    assert r.run.rc == 1, r.run
    out = r.run.out
    assert printable(out) == [], printable(out)
    assert b"<script>" not in out          # escaped as \u003c
    t = r.one()                             # strict JSON parse
    assert t["verdict"] == "accepted"
    assert "\x1b[31m" in t["banner"]        # faithful once decoded
    assert "<script>alert(1)</script>" in t["banner"]
    assert "\x1b[31m" in by_id(t, "relay-plain")["rcpt_reply"]


def test_hostile_transcript_survives_nul(runs):
    text = get(runs, "hostile-text").run.text
    assert "\n    C: QUIT" in text
    t = get(runs, "hostile-json").one()
    assert "C: QUIT" in t["transcript"]
    # 2 controls and 43 relay attempts (no --auth)
    assert t["transcript"].count("C: RCPT TO:") == 45


def test_verbose_transcript_lines_not_marked_cut(runs):
    lines = get(runs, "verbose-text").run.text.splitlines()
    assert "    C: QUIT" in lines, lines[-8:]
    assert not [l for l in lines if l.startswith("    C: ") and
                l.endswith("...")]


def test_verbose_text_has_every_test_and_transcript(runs):
    text = get(runs, "verbose-text").run.text
    for tid in ("control-postmaster", "control-postmaster-bare",
                "relay-plain", "control-auth-relay"):
        assert tid in text
    assert "  transcript:\n" in text
    assert "C: RCPT TO:<postmaster@closed.fake.test>" in text


def test_garbage_is_error(runs):
    r = get(runs, "garbage")
    t = r.one()
    assert t["verdict"] == "error", r.run
    assert r.run.rc == 2, r.run
    assert t["tests"] == []
    assert printable(r.run.out) == []


def test_garbage_says_why(runs):
    t = get(runs, "garbage").one()
    assert "SMTP" in t["note"], t


def test_tarpit_is_timeout(runs):
    r = get(runs, "tarpit")
    t = r.one()
    assert t["verdict"] == "timeout", r.run
    assert r.run.rc == 2


def test_tarpit_is_not_an_answer(runs):
    r = get(runs, "tarpit")
    t = r.one()
    assert t["verdict"] in ("timeout", "error"), r.run
    assert r.run.rc == 2
    assert r.run.elapsed < 15, r.run


def test_slow_server_within_timeout_is_tested(runs):
    r = get(runs, "tarpit-ok")
    t = r.one()
    assert t["verdict"] == "accepted", r.run
    assert by_id(t, "relay-plain")["rcpt_seconds"] >= 0.15


def test_busy_greeting_is_tempfail(runs):
    r = get(runs, "busy")
    t = r.one()
    assert t["verdict"] == "tempfail", r.run
    assert "421" in t["note"]
    # the summary says the session was turned away, not "0 attempts"
    assert "before any relay attempt" in t["summary"], t["summary"]
    assert "421" in t["summary"], t["summary"]


def test_busy_greeting_is_no_hit(runs):
    r = get(runs, "busy")
    assert r.one()["verdict"] in ("tempfail", "error"), r.run
    assert r.run.rc != 1


def test_refused_greeting_refuses_all(runs):
    r = get(runs, "refuse")
    t = r.one()
    assert t["verdict"] == "refuses-all", r.run
    assert "554 5.7.1" in t["note"]
    assert r.run.rc != 1


def test_connection_refused_is_error(runs):
    r = get(runs, "refused-port")
    t = r.one()
    assert t["verdict"] == "error", r.run
    assert r.run.rc == 2, r.run


# ---------------------------------------------------------------- (g)


def test_auth_positive_control(runs):
    r = get(runs, "auth")
    t = r.one()
    assert t["auth_offered"] is True
    ctl = by_id(t, "control-auth-relay")
    assert ctl["verdict"] == "accepted", ctl
    assert ctl["rcpt_reply"].startswith("250")
    # the relay tests ran unauthenticated and keep their own verdicts
    assert relay_verdicts(r) == {"closed"}
    assert t["verdict"] == "closed", r.run
    assert r.run.rc == 0, r.run
    # only the control's own session was authenticated, and it tried
    # nothing but the control
    authed = [s for s in r.fake.sessions if s.authed]
    assert len(authed) == 1
    rl = ctl["rcpt_to"]
    assert authed[0].rcpts == [f"<{rl}>"], authed[0].rcpts
    assert all(not s.authed for s in r.fake.sessions
               if any("sluice-relay-" in x and rl not in x
                      for x in s.rcpts))


def test_auth_credentials_stay_out_of_the_report(runs):
    out = get(runs, "auth").run.out
    assert b"AUTH PLAIN credentials sent" in out    # the transcript says so
    assert b"secret" not in out
    assert base64.b64encode(b"\0probe\0secret") not in out
    assert b"C: AUTH PLAIN " not in out


def test_auth_wrong_password(runs):
    r = get(runs, "auth-wrong")
    t = r.one()
    ctl = by_id(t, "control-auth-relay")
    assert ctl["verdict"] not in ("accepted", "open", "skipped"), ctl
    assert ctl["note"].startswith("535"), ctl
    assert relay_verdicts(r) == {"closed"}
    assert t["verdict"] == "closed"
    assert not any(s.authed for s in r.fake.sessions)


# ---------------------------------------------------------------- (h)


@pytest.mark.skipif(not have_ipv6(), reason="no IPv6 loopback")
def test_ipv6_target(runs):
    r = get(runs, "ipv6-accept-all")
    assert r.spec.startswith("[::1]:")
    t = r.one()
    assert t["target"] == r.spec
    assert (t["address"], t["verdict"]) == ("::1", "accepted"), r.run
    assert by_id(t, "relay-sender-ip")["mail_from"].endswith(
        "@[IPv6:::1]")
    assert by_id(t, "percent-ip")["rcpt_to"].endswith("@[IPv6:::1]")
    assert r.fake.sessions[0].peer[0] == "::1"


@pytest.mark.skipif(not have_ipv6(), reason="no IPv6 loopback")
def test_ipv6_closed(runs):
    r = get(runs, "ipv6-closed")
    assert (r.run.rc, r.one()["verdict"]) == (0, "closed"), r.run
