"""nmap's smtp-open-relay script, run against sluiced: closed for an
outsider, open for a deliberately open configuration.

nmap runs the script only on ports it recognises as SMTP, hence -sV. Its
stock probe database does not know sluiced, so after a soft "smtp" match it
tries every other probe and waits out their read timeouts (~20 s a scan);
a one-line --versiondb that hard-matches our greeting makes -sV finish at
once. The relay tests themselves are nmap's, unchanged."""
import shutil
import subprocess

import pytest

from sluicetest import SLOW

NMAP = shutil.which("nmap")
VERSIONDB = (
    "Probe TCP NULL q||\n"
    "totalwaitms 6000\n"
    "match smtp m|^220 [-.\\w]+ ESMTP sluiced\\r\\n| p/sluiced/\n")

pytestmark = pytest.mark.skipif(NMAP is None, reason="nmap is not installed")


def nmap_relay(srv, tmp_path):
    db = tmp_path / "nmap-service-probes"
    db.write_text(VERSIONDB)
    r = subprocess.run(
        [NMAP, "-n", "-Pn", "-sV", "--versiondb", str(db),
         "-p", str(srv.port), "--script", "smtp-open-relay",
         "--script-args",
         "smtp-open-relay.domain=outside.example,smtp-open-relay.ip=127.0.0.1",
         "127.0.0.1"],
        capture_output=True, text=True, timeout=120 * SLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{srv.port}/tcp open  smtp" in r.stdout, r.stdout
    lines = [l for l in r.stdout.splitlines() if "smtp-open-relay" in l]
    assert len(lines) == 1, r.stdout
    return lines[0], r.stdout


def test_nmap_finds_no_open_relay(sluiced, tmp_path):
    # 127.0.0.1 (where nmap connects from) is an outsider here; nmap aims
    # its %-hack, bang-path and quoted tricks at the greeting's host name,
    # so that name is one of our local domains, as on a real MX
    srv = sluiced({"authorized_networks": ["127.0.0.2/32"],
                   "local_domains": ["localhost", "mx.test"]})
    line, out = nmap_relay(srv, tmp_path)
    assert "doesn't seem to be an open relay" in line, out
    assert "is an open relay" not in out
    # nmap really tried: many refusals, by several rules; nothing accepted
    rules = {e["rule"] for e in srv.events("rcpt-rejected")}
    assert len(srv.events("rcpt-rejected")) >= 10, srv.log_lines("rcpt")
    assert {"relay-denied", "percent-hack", "bang-path"} <= \
        rules, rules
    assert not srv.events("message-accepted")


def test_nmap_finds_open_relay(sluiced, tmp_path):
    srv = sluiced({"authorized_networks": ["0.0.0.0/0"],
                   "local_domains": ["localhost", "mx.test"]})
    line, out = nmap_relay(srv, tmp_path)
    assert "Server is an open relay" in line, out
