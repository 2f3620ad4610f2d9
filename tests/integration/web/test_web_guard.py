"""
The guard: with web.allow_private = false (the production setting), a
target that is or resolves to a loopback, private or otherwise reserved
address is not tested, and ports other than 25, 587 and 465 are refused.

This web instance runs in a private network namespace (unshare -n, only
its own loopback up), with its own DNS responder and a trap SMTP server on
its 127.0.0.1:25: even a broken guard could not send a packet to 10.0.0.1
or anywhere off the machine, and a connection it made to loopback would
show in the trap. Without unshare the loopback cases alone run here.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from web_harness import SLOW

CHILD = "--guard-child"

LOOPBACK = ["127.0.0.1", "127.1.2.3", "loop.test", "::1",
            "::ffff:127.0.0.1"]
ELSEWHERE = ["10.0.0.1", "ten.test", "192.168.1.1", "172.16.0.1",
             "100.64.0.1", "169.254.1.1", "0.0.0.0", "fd00::1",
             "224.0.0.1", "239.255.255.250", "240.0.0.1",
             "255.255.255.255", "192.0.2.1", "fe80::1", "ff02::1",
             "::7f00:1", "::a00:1", "::ffff:0:a00:1", "64:ff9b::a00:1",
             "2002:a00:1::1", "multicast.test"]
UNKNOWN = "nx.test"


def child(workdir, in_namespace):
    """Inside the namespace: run the web tester, try every target, print
    what came back as one JSON line."""
    from web_harness import FakeDNS, FakeSMTP, Web

    dns = FakeDNS({"loop.test": "127.0.0.1", "ten.test": "10.0.0.1",
                   "multicast.test": "224.0.0.251"})
    try:
        trap = FakeSMTP(port=25).start()
    except OSError:
        trap = None
    w = Web(workdir, {"web.allow_private": False}, dns=dns).start()
    c = w.client("198.51.100.60")
    out = {"api": {}, "form": {}, "port": {}}
    targets = LOOPBACK + (ELSEWHERE if in_namespace else []) + [UNKNOWN]
    for t in targets:
        r = c.api_submit(t, 25)
        entry = {"status": r.status, "body": r.text}
        if r.status == 202:
            rid = r.json()["id"]
            entry["report"] = c.wait_report(rid, 20)
            entry["page"] = c.get(f"/r/{rid}").text
        out["api"][t] = entry
    for t in ("127.0.0.1", "ten.test" if in_namespace else "loop.test"):
        r = c.submit(t, 25)
        entry = {"status": r.status, "location": r.headers.get("Location")}
        if r.status == 303:
            rid = entry["location"].rsplit("/", 1)[1]
            entry["report"] = c.wait_report(rid, 20)
            entry["page"] = c.get(f"/r/{rid}").text
        out["form"][t] = entry
    for port in (2525, 80, 8025):
        r = c.api_submit("127.0.0.1", port)
        out["port"][str(port)] = {"status": r.status, "body": r.text}
        r = c.submit("127.0.0.1", port)
        out["port"][f"form{port}"] = {"status": r.status, "body": r.text}
    out["trap_sessions"] = None if trap is None else trap.sessions
    out["problems"] = w.stop()
    out["log"] = w.log.read_text(errors="replace")
    if trap:
        trap.stop()
    dns.stop()
    return out


@pytest.fixture(scope="module")
def guard():
    """The child's results, with in_namespace telling which way it ran."""
    work = tempfile.mkdtemp(prefix="sluice-web-guard-")
    try:
        unshare = shutil.which("unshare")
        ok = unshare and subprocess.run([unshare, "-n", "true"],
                                        capture_output=True).returncode == 0
        if ok:
            r = subprocess.run(
                [unshare, "-n", "sh", "-c", "ip link set lo up && exec "
                 f"/usr/bin/python3 {os.path.abspath(__file__)} {CHILD} "
                 f"{work}"], capture_output=True, text=True,
                timeout=120 * SLOW)
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
            out = json.loads(r.stdout.strip().splitlines()[-1])
        else:
            out = child(work, False)
        out["in_namespace"] = bool(ok)
        yield out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_guard_service_ran_cleanly(guard):
    assert guard["problems"] == [], guard["problems"]
    assert "allow_private=no" in guard["log"]


@pytest.mark.parametrize("target", LOOPBACK + ELSEWHERE)
def test_private_target_not_tested(guard, target):
    if target not in guard["api"]:
        pytest.fail("the private network namespace (unshare -n) did not run")
    e = guard["api"][target]
    assert e["status"] == 202, e
    rep = e["report"]
    assert rep["status"] == "error" and rep["verdict"] == "error", rep
    assert len(rep["hosts"]) == 1, rep
    h = rep["hosts"][0]
    assert h["tests"] == [] and h["verdict"] == "error", h
    assert h["note"].startswith("not tested"), h
    assert h.get("banner", "") == "", h
    page = e["page"]
    assert 'data-state="error"' in page and "not tested" in page
    assert '<meta http-equiv="refresh"' not in page


def test_no_connection_was_made(guard):
    if guard["trap_sessions"] is None:
        pytest.fail("no trap on port 25 in the namespace")
    assert guard["trap_sessions"] == 0
    assert "event=web-test-done" in guard["log"]


def test_form_refuses_private_targets(guard):
    for t, e in guard["form"].items():
        assert e["status"] == 303, (t, e)
        assert e["report"]["verdict"] == "error", (t, e["report"])
        assert "not tested" in e["page"]


def test_other_ports_refused(guard):
    for k, e in guard["port"].items():
        assert e["status"] == 400, (k, e)
        assert "the port must be 25, 587 or 465" in e["body"], (k, e)


@pytest.mark.parametrize("target,why", [
    ("127.0.0.1", "loopback"), ("loop.test", "loopback"),
    ("10.0.0.1", "private"), ("ten.test", "private"),
    ("224.0.0.1", "multicast"), ("multicast.test", "multicast"),
    ("240.0.0.1", "reserved"), ("fe80::1", "link-local"),
    ("ff02::1", "multicast"), ("::7f00:1", "IPv4-compatible (deprecated)"),
    ("::ffff:0:a00:1", "private"), ("64:ff9b::a00:1", "private"),
    ("2002:a00:1::1", "private")])
def test_private_refusal_says_why(guard, target, why):
    if target not in guard["api"]:
        pytest.fail("the private network namespace (unshare -n) did not run")
    rep = guard["api"][target]["report"]
    text = rep["error"] + " " + rep["summary"]
    assert why in text and "not tested" in text, rep
    assert f"a {why} address" in guard["api"][target]["page"]


def test_unknown_name_says_why(guard):
    e = guard["api"][UNKNOWN]
    rep = e["report"]
    assert rep["verdict"] == "error", rep
    assert UNKNOWN in rep["error"], rep
    assert "refused" not in rep["hosts"][0]["note"], rep


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == CHILD:
    print(json.dumps(child(sys.argv[2], True)))
