"""Configuration: checking, error reports, the broad-network guard, policy
explain, and the built-in defaults."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from sluicetest import (BAD_PATTERNS, SLOW, SLUICE, SLUICED, SMTPClient,
                      free_port, port_is_free, render_config, server_env)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True,
                          timeout=30 * SLOW, env=server_env(), **kw)


@pytest.fixture(scope="module", autouse=True)
def _sluice_tool():
    assert os.access(SLUICE, os.X_OK), f"{SLUICE} is missing: run make"


def no_sanitizer_reports(text):
    bad = [l for l in text.splitlines() if any(p.search(l) for p in BAD_PATTERNS)
           and "level=err" not in l]
    assert not bad, bad


def test_check_valid_file(tmp_path):
    f = tmp_path / "ok.conf"
    f.write_text(render_config({
        "hostname": "mx.test", "listen": ["127.0.0.1:2526"],
        "local_domains": ["example.test", ".sub.example.test"],
        "authorized_networks": ["192.0.2.0/24", "2001:db8::/32"],
        "local_users": ["alice", "bob@example.test"],
        "limits.message_size": "10m", "limits.idle_timeout": "30s",
        "deny.clients": [{"pattern": "198.51.100.0/24",
                          "reply": "554 5.7.1 no", "reason": "test"}],
    }))
    r = run([SLUICED, "-n", "-c", str(f)])
    assert r.returncode == 0, r.stderr
    assert re.search(r"\b(ok|valid)\b", r.stdout), r.stdout
    assert "WARNING" not in r.stderr
    no_sanitizer_reports(r.stderr)
    r = run([SLUICE, "check-config", str(f)])
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr


def test_printed_defaults_are_a_valid_file(tmp_path):
    r = run([SLUICED, "-p"])
    assert r.returncode == 0, r.stderr
    assert 'listen = [ "127.0.0.1:2525" ];' in r.stdout
    assert 'authorized_networks = [ "127.0.0.0/8", "::1/128" ];' in r.stdout
    f = tmp_path / "printed.conf"
    f.write_text(r.stdout)
    r2 = run([SLUICED, "-n", "-c", str(f)])
    assert r2.returncode == 0, r2.stderr
    # and it prints back the same
    r3 = run([SLUICED, "-p", "-c", str(f)])
    assert r3.stdout.splitlines()[1:] == r.stdout.splitlines()[1:]


BAD_CONF = """\
hostname = "mx.test";
no_such_key = 1;
banner = 42;
limits = {
  recipients = 0;
  errors = 5000;
  bogus = true;
};
log_level = "verbose";
refuse_broad_networks = "yes";
"""
# line -> what the report must name
BAD_LINES = {2: "no_such_key", 3: "banner", 5: "recipients", 6: "errors",
             7: "bogus", 9: "log_level", 10: "refuse_broad_networks"}


@pytest.mark.parametrize("mode", [["-n"], []], ids=["-n", "start"])
def test_every_error_reported_with_file_and_line(tmp_path, mode):
    f = tmp_path / "bad.conf"
    f.write_text(BAD_CONF)
    port_free = port_is_free(2525)
    r = run([SLUICED, *mode, "-c", str(f)])
    assert r.returncode != 0
    for line, key in BAD_LINES.items():
        hits = [l for l in r.stderr.splitlines()
                if l.startswith(f"{f}:{line}:")]
        assert hits, f"no error reported for line {line} ({key}):\n{r.stderr}"
        assert key in hits[0], hits[0]
    assert f"{f}:1:" not in r.stderr and f"{f}:4:" not in r.stderr
    no_sanitizer_reports(r.stderr)
    if port_free:    # it refused to start: nothing listens
        assert port_is_free(2525)


def test_syntax_error_reported_with_line(tmp_path):
    f = tmp_path / "syntax.conf"
    f.write_text('hostname = "mx.test";\nlisten = [ "127.0.0.1:2525" \n'
                 'banner = "x";\n')
    r = run([SLUICED, "-n", "-c", str(f)])
    assert r.returncode != 0
    assert re.search(rf"{re.escape(str(f))}:[34]:", r.stderr), r.stderr


@pytest.mark.parametrize("listen", ["0.0.0.0:{p}", "*:{p}", "[::]:{p}"])
def test_broad_network_warning_on_check(tmp_path, listen):
    f = tmp_path / "broad.conf"
    f.write_text(render_config({"listen": [listen.format(p=free_port())],
                                "authorized_networks": ["0.0.0.0/0"],
                                "spool_dir": str(tmp_path / "spool"),
                                "maildir_root": str(tmp_path / "mail")}))
    r = run([SLUICED, "-n", "-c", str(f)])
    assert r.returncode == 0, r.stderr
    assert "WARNING" in r.stderr and "0.0.0.0/0" in r.stderr, r.stderr


def test_broad_network_warning_at_start(sluiced):
    port = free_port()
    s = sluiced({"listen": [f"0.0.0.0:{port}"],
                 "authorized_networks": ["0.0.0.0/0", "10.0.0.0/8"]})
    err = s.stderr_text()
    assert "WARNING" in err and "0.0.0.0/0" in err and "open relay" in \
        err.lower(), err
    ev = s.events("config-warning", key="authorized_networks")
    assert {e["network"] for e in ev} >= {"0.0.0.0/0", "10.0.0.0/8"}, ev
    assert s.running()


def test_refuse_broad_networks(tmp_path):
    port = free_port()
    f = tmp_path / "refuse.conf"
    f.write_text(render_config({"listen": [f"0.0.0.0:{port}"],
                                "authorized_networks": ["0.0.0.0/0"],
                                "refuse_broad_networks": True,
                                "spool_dir": str(tmp_path / "spool"),
                                "maildir_root": str(tmp_path / "mail"),
                                "log": str(tmp_path / "log")}))
    r = run([SLUICED, "-c", str(f)])
    assert r.returncode != 0
    assert "WARNING" in r.stderr and "refus" in r.stderr, r.stderr
    assert port_is_free(port, "0.0.0.0")
    r = run([SLUICED, "-n", "-c", str(f)])
    assert r.returncode != 0, "a config that refuses to start is not valid"


def test_policy_explain_outsider_rejected():
    r = run([SLUICE, "policy", "explain", "--client", "192.0.2.7",
             "--from", "a@b.example", "--to", "victim@outside.example"])
    assert r.returncode == 1, r.stdout + r.stderr
    to = [l for l in r.stdout.splitlines() if l.startswith("to")]
    assert len(to) == 1, r.stdout
    assert "reject" in to[0] and "rule=relay-denied" in to[0], to[0]
    assert '550 5.7.1' in to[0], to[0]


def test_policy_explain_loopback_accepted():
    r = run([SLUICE, "policy", "explain", "--client", "127.0.0.1",
             "--from", "a@b.example", "--to", "victim@outside.example"])
    assert r.returncode == 0, r.stdout + r.stderr
    to = [l for l in r.stdout.splitlines() if l.startswith("to")]
    assert len(to) == 1 and re.search(r"\baccept\b", to[0]), r.stdout
    assert "authorized-network:127.0.0.0/8" in to[0], to[0]


def test_policy_explain_uses_config_file(tmp_path):
    f = tmp_path / "p.conf"
    f.write_text(render_config({"authorized_networks": ["127.0.0.2/32"]}))
    r = run([SLUICE, "policy", "explain", "-c", str(f), "--client",
             "127.0.0.1", "--from", "a@b.example", "--to",
             "victim@outside.example", "--to", "user%outside.example@localhost",
             "--to", "user@localhost"])
    assert r.returncode == 1, r.stdout
    to = [l for l in r.stdout.splitlines() if l.startswith("to")]
    assert len(to) == 3, r.stdout
    assert "rule=relay-denied" in to[0]
    assert "rule=percent-hack" in to[1]
    assert re.search(r"\baccept\b", to[2]) and "local-domain" in to[2]


def test_policy_explain_listener(tmp_path):
    """--listener models a listener's own networks= and its role."""
    f = tmp_path / "l.conf"
    f.write_text(render_config({"listen": [
        "127.0.0.1:2525", "127.0.0.1:2587 submission",
        "127.0.0.1:2526 networks=192.0.2.0/24"]}))
    args = [SLUICE, "policy", "explain", "-c", str(f), "--client",
            "192.0.2.7", "--to", "x@outside.example"]
    plain = run(args)
    assert plain.returncode == 1 and "relay-denied" in plain.stdout
    lan = run(args + ["--listener", "2526"])
    assert lan.returncode == 0, lan.stdout
    assert "authorized-network:192.0.2.0/24" in lan.stdout
    sub = run(args + ["--listener", "127.0.0.1:2587"])
    assert sub.returncode == 1 and "530 5.7.0" in sub.stdout, sub.stdout
    bad = run(args + ["--listener", "9999"])
    assert bad.returncode == 2 and "no such listen entry" in bad.stderr


def run_defaults(cwd):
    """Start sluiced with no configuration in cwd, greet it on
    127.0.0.1:2525, stop it. Returns what was seen (JSON-able)."""
    errp = os.path.join(cwd, "stderr")
    out = {"banner": None, "rc": None, "stderr": "", "dirs": {}}
    with open(errp, "wb") as errf:
        p = subprocess.Popen([SLUICED], cwd=cwd, stdin=subprocess.DEVNULL,
                             stdout=errf, stderr=errf, env=server_env())
    try:
        deadline = time.monotonic() + 10 * SLOW
        while "event=started" not in open(errp).read():
            if p.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        else:
            with SMTPClient(2525) as c:
                out["banner"] = c.banner().code
                out["quit"] = c.cmd("QUIT").code
            for d in ("var/spool/queue", "var/spool/tmp", "var/mail"):
                out["dirs"][d] = os.path.isdir(os.path.join(cwd, d))
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            out["rc"] = p.wait(20 * SLOW)
        except subprocess.TimeoutExpired:
            p.kill()
            out["rc"] = "did not stop after SIGTERM"
    out["stderr"] = open(errp).read()
    return out


def test_builtin_defaults_listen_on_2525(tmp_path):
    """No -c: the built-in defaults listen on 127.0.0.1:2525. Run in a
    private network namespace when possible (2525 may be in use by a real
    sluiced on this machine); else only if 2525 is free here."""
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True) \
        if unshare else None
    if probe is not None and probe.returncode == 0:
        r = subprocess.run(
            [unshare, "-n", "sh", "-c", "ip link set lo up && exec "
             f"{sys.executable} {__file__} --defaults-child {tmp_path}"],
            capture_output=True, text=True, timeout=60 * SLOW,
            env=server_env())
        assert r.returncode == 0, r.stdout + r.stderr
        out = json.loads(r.stdout.strip().splitlines()[-1])
    elif port_is_free(2525):
        out = run_defaults(str(tmp_path))
    else:
        pytest.skip("127.0.0.1:2525 is in use by another process and no "
                    "private network namespace (unshare -n) is available")
    assert "listen=127.0.0.1:2525 " in out["stderr"], out["stderr"]
    assert out["banner"] == 220, out
    assert out["quit"] == 221, out
    assert all(out["dirs"].values()), out["dirs"]
    assert out["rc"] == 0, out
    bad = [l for l in out["stderr"].splitlines()
           if any(x.search(l) for x in BAD_PATTERNS)]
    assert not bad, bad


if __name__ == "__main__" and sys.argv[1:2] == ["--defaults-child"]:
    print(json.dumps(run_defaults(sys.argv[2])))


CHECKED_CONF = """listen = [ "127.0.0.1:2600",
  "127.0.0.1:2601 bogus" ];
authorized_networks = [ "127.0.0.1/32",
   "10.0.0.1/8" ];
local_domains = [ "a.test", "b@c" ];
abuse = { rules = [ "x: messages per ip >= 3 in 10m -> tempfail 10m",
   "foo: bar" ]; };
outbound = { routes = [ "a.test [127.0.0.1]:25",
   "b.test nonsense:x:y" ]; };
deny = { clients = [ "192.0.2.0/24",
   "not-a-network" ]; };
"""


def test_value_errors_name_the_line_of_the_element(tmp_path):
    """Errors found after parsing (networks, domains, listeners, rules,
    routes, access lists) name the line of the offending list element."""
    f = tmp_path / "checked.conf"
    f.write_text(CHECKED_CONF)
    r = run([SLUICED, "-n", "-c", str(f)])
    assert r.returncode != 0
    want = {2: "listen", 4: "authorized_networks", 5: "local_domains",
            7: "abuse.rules", 9: "outbound.routes", 11: "deny.clients"}
    for line, key in want.items():
        hits = [l for l in r.stderr.splitlines()
                if l.startswith(f"{f}:{line}: {key}")]
        assert hits, f"no error for line {line} ({key}):\n{r.stderr}"
    assert f"{f}:0:" not in r.stderr, r.stderr
    no_sanitizer_reports(r.stderr)
