"""sluice probe's command line: the battery listing and usage errors
(exit status 2, a message on stderr, nothing probed)."""
import re
import subprocess

import pytest

from probe_harness import FAST, probe_cmd, run_probe


def test_list_tests():
    r = run_probe("--list-tests")
    assert r.rc == 0, r
    ids = re.findall(r"^(\S+)\s+(control|relay)\s", r.text, re.M)
    assert len(ids) == 46
    assert sum(k == "relay" for _, k in ids) == 43
    assert len({i for i, _ in ids}) == len(ids), "duplicate test ids"
    kinds = dict(ids)
    assert kinds["control-postmaster"] == "control"
    assert kinds["control-auth-relay"] == "control"
    assert kinds["relay-plain"] == "relay"
    # each test shows its envelope
    assert r.text.count("MAIL FROM:<") == len(ids)


@pytest.mark.parametrize("args, message", [
    (["--tests", "nosuch", "127.0.0.1:1"], "unknown test \"nosuch\""),
    (["--mode", "delivery", "127.0.0.1:1"], "needs --catch"),
    (["--shard", "2/2", "127.0.0.1:1"], "--shard I/N"),
    (["--source", "not-an-ip", "127.0.0.1:1"], "not an IP address"),
    (["--auth", "nocolon", "127.0.0.1:1"], "--auth USER:PASS"),
    (["--timeout", "0", "127.0.0.1:1"], "--timeout"),
    (["-f", "/nonexistent/targets"], "cannot read"),
    ([], "usage:"),
])
def test_usage_errors(args, message):
    r = run_probe(*args, timeout=10)
    assert r.rc == 2, r
    assert message in r.err.decode(), r.err
    assert r.out == b"", r.out


def test_help():
    p = subprocess.run(probe_cmd("--help"), capture_output=True, timeout=10)
    assert p.returncode == 0
    assert b"usage: sluice probe" in p.stdout + p.stderr
    assert b"unrecognized" not in p.stderr


def test_tests_selects_by_id_and_trick(fake):
    srv = fake("closed")
    r = run_probe("--json", *FAST, "--tests", "relay-plain,bang-path",
                  srv.spec)
    ids = [t["id"] for t in r.one()["tests"]]
    # the controls always run; then exactly the chosen relay tests
    assert ids == ["control-postmaster", "control-postmaster-bare",
                   "relay-plain", "bang-bare", "bang-bare-from-ip",
                   "bang-target", "bang-target-from-ip", "bang-ip",
                   "bang-percent", "control-auth-relay"], ids
