"""sluice probe against sluiced itself: closed to a stranger, open when it
trusts everyone (accepted in anonymous mode, open once relayed mail comes
back to the probe's catcher)."""
import re
import subprocess

import pytest

from probe_harness import FAST, SLUICED, by_id, free_port, run_probe, \
    verdicts

OUTSIDER = "127.0.0.2"
# The full battery (43 relay attempts) stays under the 100 relay denials
# of sluiced's default relay-probing rule: a stranger's run is answered
# like any stranger, every attempt 550.
# test_sluiced_blocks_repeated_batteries shows what repeating it earns.
EXEMPT = {}


def test_sluiced_closed_to_an_outsider(sluiced):
    # sluiced accepts mail for its own name, trusts only 127.0.0.1; the
    # probe connects from 127.0.0.2
    srv = sluiced({"authorized_networks": ["127.0.0.1/32"],
                   "local_domains": ["mx.test", "localhost"], **EXEMPT})
    r = run_probe("--json", "--source", OUTSIDER, *FAST, srv.spec)
    assert r.rc == 0, r
    t = r.one()
    assert t["verdict"] == "closed", r
    assert t["target_domain"] == "mx.test"      # from the banner
    relay = verdicts(t, "relay")
    assert len(relay) >= 30
    assert set(relay.values()) == {"closed"}, relay
    # the positive controls pass, so "closed" means something
    assert by_id(t, "control-postmaster")["verdict"] == "accepted"
    assert by_id(t, "control-postmaster-bare")["verdict"] == "accepted"
    assert by_id(t, "control-auth-relay")["verdict"] == "skipped"
    # every refusal is quoted with sluiced's own reply
    plain = by_id(t, "relay-plain")
    assert plain["rcpt_reply"].startswith("550 5.7.1"), plain
    # the probe really came from --source
    log = srv.log.read_text()
    assert re.search(r"event=connect client=127\.0\.0\.2\b", log), log[-2000:]


def test_sluiced_default_local_domains(sluiced):
    """Only authorized_networks set (local_domains stays "localhost"):
    still closed, exit 0, and the bare <postmaster> control passes.
    (postmaster@mx.test, the banner's name, is refused as relaying: see
    the report -- a sluiced default, not a probe matter.)"""
    srv = sluiced({"authorized_networks": ["127.0.0.1/32"], **EXEMPT})
    r = run_probe("--json", "--source", OUTSIDER, *FAST, srv.spec)
    assert r.rc == 0, r
    t = r.one()
    assert t["verdict"] == "closed", r
    assert set(verdicts(t, "relay").values()) == {"closed"}
    assert by_id(t, "control-postmaster-bare")["verdict"] == "accepted"


def test_sluiced_blocks_repeated_batteries(sluiced):
    """sluiced's defaults, no exemption: one battery is refused test by
    test ("closed"); repeated within ten minutes, the relay-probing rule
    blocks the prober after a few runs. The probe must say so (a 4xx is never
    "closed", and never a hit), not report the server open."""
    srv = sluiced({"authorized_networks": ["127.0.0.1/32"]})
    first = run_probe("--json", "--source", OUTSIDER, *FAST, srv.spec)
    assert first.rc == 0 and first.one()["verdict"] == "closed", first
    assert "abuse-alert" not in srv.log.read_text()
    for runs in range(2, 8):
        r = run_probe("--json", "--source", OUTSIDER, *FAST, srv.spec)
        if r.one()["verdict"] != "closed":
            break
    t = r.one()
    relay = verdicts(t, "relay")
    assert "abuse-alert rule=relay-probing" in srv.log.read_text()
    assert not {"open", "accepted"} & set(relay.values()), relay
    assert r.rc == 2 and t["verdict"] == "tempfail", r
    blocked = [x for x in t["tests"] if x["verdict"] == "tempfail"]
    assert blocked and all("blocked" in (x["rcpt_reply"] or x["mail_reply"]
                                         or x["note"] or t["note"])
                           for x in blocked), blocked


def test_sluiced_text_report_closed(sluiced):
    srv = sluiced({"authorized_networks": ["127.0.0.1/32"],
                   "local_domains": ["mx.test"], **EXEMPT})
    r = run_probe("--source", OUTSIDER, *FAST, srv.spec)
    assert r.rc == 0, r
    first = r.text.splitlines()[0]
    assert first.split() == [srv.spec, "closed"], r.text
    assert "controls accepted: 2/2" in r.text
    assert r.text.rstrip().endswith(
        "1 target: 0 open or accepting relay, 0 could not be tested")


def test_sluiced_open_anonymous_is_accepted(sluiced):
    srv = sluiced({"authorized_networks": ["0.0.0.0/0"]})
    r = run_probe("--json", *FAST, srv.spec)
    assert r.rc == 1, r
    t = r.one()
    # anonymous mode cannot confirm: accepted, never open
    assert t["verdict"] == "accepted", r
    v = verdicts(t, "relay")
    assert v["relay-plain"] == "accepted"
    assert "open" not in v.values()
    assert "not confirmed" in t["summary"]
    # and nothing was sent: no DATA in anonymous mode
    assert "event=message-accepted" not in srv.log.read_text()


def relayhost_key():
    """The key sluiced accepts for the smarthost: "relayhost", or
    "outbound.relayhost" (as in the work in progress); "relayhost" when
    neither is known yet (sluiced then refuses to start: xfail)."""
    try:
        p = subprocess.run([SLUICED, "-p"], capture_output=True, text=True,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "relayhost"
    group = ""
    for line in p.stdout.splitlines():
        m = re.match(r"^(\w+) = \{", line)
        if m:
            group = m.group(1)
            continue
        if line.startswith("}"):
            group = ""
            continue
        if re.match(r"^\s*relayhost = ", line):
            return f"{group}.relayhost" if group else "relayhost"
    return "relayhost"


def test_sluiced_open_confirmed_through_catcher(sluiced):
    catch = free_port()
    srv = sluiced({"authorized_networks": ["0.0.0.0/0"],
                   relayhost_key(): f"[127.0.0.1]:{catch}"})
    r = run_probe("--json", *FAST, "--mode", "delivery",
                  "--catch", f"127.0.0.1:{catch}", "--outside",
                  "outside.test", "--wait", "8",
                  "--tests", "relay-plain,relay-null-sender,percent-target",
                  srv.spec, timeout=60)
    assert r.rc == 1, r
    t = r.one()
    assert t["verdict"] == "open", r
    plain = by_id(t, "relay-plain")
    assert plain["verdict"] == "open", plain
    assert plain["note"] == "relayed: token received"
    assert plain["data_reply"].startswith("250")
    assert "OPEN RELAY" in t["summary"]


def sluiced_has_auth():
    try:
        out = subprocess.run([SLUICED, "-p"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return re.search(r"^\s*passwd_file = ", out, re.M) is not None


@pytest.fixture
def sluiced_with_auth(sluiced, tmp_path):
    if not sluiced_has_auth():
        pytest.skip("sluiced has no SMTP AUTH yet (auth.passwd_file)")
    h = subprocess.run(["openssl", "passwd", "-6", "secret"],
                       capture_output=True, text=True, check=True)
    pw = tmp_path / "passwd"
    pw.write_text(f"probe:{h.stdout.strip()}\n")
    # AUTH is offered only after STARTTLS (self-signed certificate)
    return sluiced({"authorized_networks": ["127.0.0.1/32"],
                    "local_domains": ["mx.test"],
                    "auth.passwd_file": str(pw),
                    "auth.sender_check": False, **EXEMPT})


def test_sluiced_auth_relay_tests_stay_closed(sluiced_with_auth):
    srv = sluiced_with_auth
    r = run_probe("--json", "--source", OUTSIDER, *FAST, "--auth",
                  "probe:secret", srv.spec)
    t = r.one()
    assert t["tls"] and t["tls"].startswith("version=TLS"), t["tls"]
    # the EHLO after STARTTLS no longer lists it; it was offered all the same
    assert t["starttls_offered"] is True, t
    assert t["verdict"] == "closed", r
    assert set(verdicts(t, "relay").values()) == {"closed"}
    assert r.rc == 0, r


def test_sluiced_auth_positive_control(sluiced_with_auth):
    srv = sluiced_with_auth
    r = run_probe("--json", "--source", OUTSIDER, *FAST, "--auth",
                  "probe:secret", srv.spec)
    t = r.one()
    ctl = by_id(t, "control-auth-relay")
    assert ctl["verdict"] == "accepted", ctl
    assert t["verdict"] == "closed" and r.rc == 0, r
    # no credentials in clear: sluiced never saw AUTH without TLS
    assert "538 5.7.11" not in srv.output()
