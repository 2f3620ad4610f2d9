"""
The web tester against a real Postfix (Debian's), started privately on
loopback: once open (mynetworks = 0.0.0.0/0, the classic mistake) and once
closed (only 127.0.0.2 trusted; the tester comes from 127.0.0.1). Both
relay whatever they relay to the web tester's catcher, so delivery mode
can confirm. Tests go through the JSON API as a signed-in user (session
cookie and X-CSRF-Token), the report pages over plain HTTP.
"""
import os
import pathlib
import re
import shutil
import tempfile

import pytest

from web_harness import Postfix, postfix_available

# Postfix comes from scripts/deps.sh; without it these fail, not skip.
assert postfix_available(), "postfix is not installed (scripts/deps.sh)"

USER, PASSWORD = "carol", "postfix tester"


@pytest.fixture(scope="module")
def lab(module_servers):
    """(web, signed-in client, open Postfix, closed Postfix). Postfix's
    directories are outside pytest's (mode 0700) tmp: user postfix must
    reach them."""
    w = module_servers.web()
    w.add_user(USER, PASSWORD)
    root = pathlib.Path(tempfile.mkdtemp(prefix="sluice-web-postfix-"))
    os.chmod(root, 0o755)
    po = Postfix(root / "open", "open.postfix.test", "0.0.0.0/0",
                 w.catcher_port)
    pc = Postfix(root / "closed", "closed.postfix.test", "127.0.0.2/32",
                 w.catcher_port)
    try:
        po.spawn()
        pc.spawn()
        po.start()
        pc.start()
        c = w.client("198.51.100.70")
        c.login(USER, PASSWORD)
        yield w, c, po, pc
    finally:
        po.stop()
        pc.stop()
        shutil.rmtree(root, ignore_errors=True)


def run(c, port, mode):
    token = [k.value for k in c.jar if k.name == "sluice_csrf"][0]
    r = c.post_json("/api/tests", {"target": "127.0.0.1", "port": port,
                                   "mode": mode}, {"X-CSRF-Token": token})
    assert r.status == 202, r
    rid = r.json()["id"]
    return rid, c.wait_report(rid, 60)


def test_open_postfix_is_open(lab):
    w, c, po, _ = lab
    rid, rep = run(c, po.port, "delivery")
    assert rep["status"] == "done" and rep["verdict"] == "open", rep
    assert rep["summary"].startswith("OPEN RELAY"), rep["summary"]
    h = rep["hosts"][0]
    assert h["banner"] == "220 open.postfix.test ESMTP Postfix", h["banner"]
    relay = {t["id"]: t for t in h["tests"] if t["kind"] == "relay"}
    assert relay["relay-plain"]["verdict"] == "open"
    opened = [t for t in relay.values() if t["verdict"] == "open"]
    assert len(opened) >= 30, {k: t["verdict"] for k, t in relay.items()}
    for t in opened:
        assert t["note"] == "relayed: token received", t
        assert t["data_reply"].startswith("250"), t
    # Postfix's own log agrees: it handed them to the catcher
    log = po.maillog()
    sent = re.findall(rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{w.catcher_port}"
                      r".*status=sent", log)
    assert len(sent) >= len(opened), log[-3000:]
    page = c.get(f"/r/{rid}").text
    assert ">open</span>" in page and "How to close it" in page
    assert "relayed: token received" in page


def test_open_postfix_anonymous_mode(lab):
    """Anonymous mode sends no message: the relay attempts are accepted,
    which it reports without claiming a confirmed open relay."""
    _, c, po, _ = lab
    _, rep = run(c, po.port, "anonymous")
    assert rep["status"] == "done", rep
    assert rep["verdict"] == "accepted", rep
    relay = [t for t in rep["hosts"][0]["tests"] if t["kind"] == "relay"]
    assert all(t["data_reply"] is None for t in relay), relay[:3]
    assert relay[0]["rcpt_reply"].startswith("250"), relay[0]


@pytest.mark.parametrize("mode", ["delivery", "anonymous"])
def test_closed_postfix_is_closed(lab, mode):
    _, c, _, pc = lab
    rid, rep = run(c, pc.port, mode)
    assert rep["status"] == "done" and rep["verdict"] == "closed", rep
    h = rep["hosts"][0]
    assert h["banner"] == "220 closed.postfix.test ESMTP Postfix"
    relay = [t for t in h["tests"] if t["kind"] == "relay"]
    assert len(relay) == 43 and {t["verdict"] for t in relay} == {"closed"}
    assert any("Relay access denied" in t["rcpt_reply"] for t in relay)
    page = c.get(f"/r/{rid}").text
    assert ">closed</span>" in page and "How to close it" not in page
