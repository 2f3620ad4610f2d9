"""sluice probe against a real Postfix (Debian's), started privately on
loopback, once open (mynetworks = 0.0.0.0/0, the classic mistake) and once
closed (only 127.0.0.2 trusted; the probe comes from 127.0.0.1). Postfix
relays everything through relayhost = [127.0.0.1]:CATCH, the probe's
catcher, so delivery mode can confirm. nmap's smtp-open-relay must agree."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from probe_harness import FAST, NMAP, Postfix, ProbeProc, by_id, \
    check_run, free_port, postfix_available, run_probe, verdicts

pytestmark = pytest.mark.skipif(not postfix_available(),
                                reason="postfix not installed (or not root)")

OUTSIDE = "outside.test"


@pytest.fixture(scope="module")
def postfixes():
    """(open, closed, catcher port): two Postfix instances, started side
    by side, both relaying to the same catcher port. Their directories are
    outside pytest's tmp_path (mode 0700): user postfix must reach them."""
    catch = free_port()
    root = pathlib.Path(tempfile.mkdtemp(prefix="sluice-probe-postfix-"))
    os.chmod(root, 0o755)
    po = Postfix(root / "open", "open.postfix.test", "0.0.0.0/0", catch)
    pc = Postfix(root / "closed", "closed.postfix.test", "127.0.0.2/32",
                 catch)
    try:
        po.spawn()
        pc.spawn()
        po.start()
        pc.start()
        yield po, pc, catch
    finally:
        po.stop()
        pc.stop()
        shutil.rmtree(root, ignore_errors=True)


def delivery(p, catch, *extra):
    return run_probe("--json", *FAST, "--mode", "delivery",
                     "--catch", f"127.0.0.1:{catch}", "--outside", OUTSIDE,
                     "--wait", "8", *extra, p.spec, timeout=60)


@pytest.fixture(scope="module")
def open_delivery(postfixes):
    po, _, catch = postfixes
    return delivery(po, catch)


def test_postfix_open_confirmed_in_delivery_mode(open_delivery, postfixes):
    po = postfixes[0]
    r = open_delivery
    assert r.rc == 1, r
    t = r.one()
    assert t["verdict"] == "open", r
    assert t["target_domain"] == "open.postfix.test"
    assert "OPEN RELAY" in t["summary"]
    relay = verdicts(t, "relay")
    assert relay["relay-plain"] == "open", relay
    # every relay test reached a real verdict, and "open" is backed by a
    # token that really arrived
    assert not {"error", "timeout", "pending"} & set(relay.values()), relay
    opened = [x for x in t["tests"] if x["verdict"] == "open"]
    assert len(opened) >= 30, relay
    for x in opened:
        assert x["note"] == "relayed: token received", x
        assert x["data_reply"].startswith("250"), x
        assert x["kind"] == "relay"
    # Postfix's log agrees: it sent those messages to the catcher
    log = po.maillog()
    sent = re.findall(r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*"
                      r"status=sent", log)
    assert len(sent) >= 30, log[-3000:]


def test_postfix_open_every_token_counted(open_delivery):
    r = open_delivery
    t = r.one()
    late = [(x["id"], x["verdict"], x["note"]) for x in t["tests"]
            if x["kind"] == "relay" and x["verdict"] != "open"]
    assert late == []
    # waiting stopped as soon as every token was in
    assert r.elapsed < 8, r.elapsed


def test_postfix_closed_in_delivery_mode(postfixes):
    _, pc, catch = postfixes
    r = delivery(pc, catch)
    assert r.rc == 0, r
    t = r.one()
    assert t["verdict"] == "closed", r
    relay = verdicts(t, "relay")
    assert set(relay.values()) == {"closed"}, relay
    assert by_id(t, "relay-plain")["rcpt_reply"].startswith(
        "554 5.7.1"), t
    assert by_id(t, "control-postmaster")["verdict"] == "accepted"
    assert by_id(t, "control-postmaster-bare")["verdict"] == "accepted"
    # nothing was sent on: no DATA went through
    assert all(x["data_reply"] is None for x in t["tests"])


def test_postfix_open_anonymous_is_accepted(postfixes):
    po = postfixes[0]
    r = run_probe("--json", *FAST, "--outside", OUTSIDE,
                  "--tests", "third-party,percent-hack", po.spec)
    assert r.rc == 1, r
    t = r.one()
    assert t["verdict"] == "accepted", r
    assert "open" not in verdicts(t).values()


def nmap(port):
    return subprocess.Popen(
        [NMAP, "-Pn", "-n", "-sV", "-p", str(port), "--script",
         "smtp-open-relay", "--script-args",
         f"smtp-open-relay.domain={OUTSIDE},smtp-open-relay.ip=127.0.0.1",
         "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


@pytest.mark.skipif(NMAP is None, reason="nmap not installed")
def test_nmap_agrees(postfixes, open_delivery):
    po, pc, _ = postfixes
    # nmap on both, and the probe (anonymous) on the closed one, at once
    n_open, n_closed = nmap(po.port), nmap(pc.port)
    closed = ProbeProc("--json", *FAST, "--outside", OUTSIDE, pc.spec)
    out_open = n_open.communicate(timeout=60)[0]
    out_closed = n_closed.communicate(timeout=60)[0]
    rc = check_run(closed.wait())
    assert "smtp-open-relay:" in out_open, out_open
    assert "Server is an open relay" in out_open, out_open
    assert "smtp-open-relay:" in out_closed, out_closed
    assert "Server is an open relay" not in out_closed, out_closed
    assert "doesn't seem to be an open relay" in out_closed, out_closed
    # the probe said the same
    assert open_delivery.one()["verdict"] == "open"
    assert rc.rc == 0, rc
    assert rc.one()["verdict"] == "closed", rc


def test_catcher_answers_every_message(open_delivery, postfixes):
    po = postfixes[0]
    assert open_delivery.one()["verdict"] == "open"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        log = po.maillog()
        if "lost connection" in log:
            break
        time.sleep(0.1)
    bad = [l for l in po.maillog().splitlines()
           if "status=deferred" in l and "relay=127.0.0.1" in l]
    assert not bad, "\n".join(bad)
