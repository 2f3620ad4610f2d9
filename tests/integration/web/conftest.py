"""
Fixtures for the `sluice web` integration tests. The helpers are in
web_harness.py; nothing here depends on ../conftest.py (its fixtures are
not used, and it does not matter whether it is loaded).

    make && /usr/bin/python3 -m pytest -q tests/integration/web

Needs Debian's chromium, chromium-driver and python3-selenium for the
browser tests (they fail without them: scripts/deps.sh installs them) and postfix for the
Postfix ones. Every server runs on 127.0.0.1 and every DNS query goes to a
responder on loopback (FakeDNS).
"""
import os
import pathlib
import shutil
import tempfile

import pytest

from web_harness import SLUICE, SLUICED, DelayProxy, FakeDNS, FakeSMTP, \
    Sluiced, Web, browser_available, chrome


@pytest.fixture(scope="session", autouse=True)
def _web_binaries():
    for b in (SLUICE, SLUICED):
        if not os.access(b, os.X_OK):
            pytest.exit(f"{b} is missing: run make first", returncode=2)


@pytest.fixture(scope="session")
def dns():
    """The DNS responder every server here uses: loop.test is 127.0.0.1,
    everything else does not exist."""
    d = FakeDNS({"loop.test": "127.0.0.1"})
    yield d
    d.stop()


class _Servers:
    """Everything a test (or module) started, stopped at its end; a web
    tester or sluiced that crashed or logged errors fails the test."""

    def __init__(self, root, dns):
        self.root = pathlib.Path(root)
        self.dns = dns
        self.items = []

    def web(self, keys=None, start=True):
        w = Web(self.root / f"web{len(self.items)}", keys, dns=self.dns)
        self.items.append(w)
        return w.start() if start else w

    def sluiced(self, open_relay, relay_port):
        s = Sluiced(self.root / f"sluiced{len(self.items)}", open_relay,
                    relay_port, dns=self.dns)
        self.items.append(s)
        return s.start()

    def fake(self, **kw):
        f = FakeSMTP(**kw)
        self.items.append(f)
        return f.start()

    def proxy(self, upstream_port, delay):
        p = DelayProxy(upstream_port, delay)
        self.items.append(p)
        return p.start()

    def finish(self):
        problems = []
        for it in reversed(self.items):
            got = it.stop()
            if isinstance(got, list):
                problems += got
        self.items = []
        return problems


@pytest.fixture
def servers(tmp_path, dns):
    """servers.web({...}), servers.sluiced(open, relay_port),
    servers.fake(banner=..., replies=...), servers.proxy(port, delay)."""
    s = _Servers(tmp_path, dns)
    yield s
    problems = s.finish()
    if problems:
        pytest.fail("a server misbehaved:\n" + "\n".join(problems),
                    pytrace=False)


@pytest.fixture(scope="module")
def module_servers(tmp_path_factory, dns):
    """The same, for servers shared by a module's tests."""
    s = _Servers(tmp_path_factory.mktemp("shared"), dns)
    yield s
    problems = s.finish()
    if problems:
        pytest.fail("a shared server misbehaved:\n" + "\n".join(problems),
                    pytrace=False)


@pytest.fixture(scope="session")
def _chromium():
    if not browser_available():
        pytest.fail("needs Debian's chromium (scripts/deps.sh installs it), chromium-driver and "
                    "python3-selenium")
    udd = tempfile.mkdtemp(prefix="sluice-web-chromium-")
    d = chrome(udd)
    yield d
    d.quit()
    shutil.rmtree(udd, ignore_errors=True)


@pytest.fixture
def browser(_chromium):
    """Headless Chromium with JavaScript (one for the session), without
    cookies from earlier tests (cookies ignore the port: every web instance
    here is 127.0.0.1)."""
    _chromium.delete_all_cookies()
    yield _chromium
    try:
        _chromium.switch_to.alert.dismiss()
    except Exception:
        pass
    _chromium.delete_all_cookies()


@pytest.fixture
def browser_nojs(tmp_path):
    """A second headless Chromium, with JavaScript disabled."""
    if not browser_available():
        pytest.fail("needs Debian's chromium (scripts/deps.sh installs it), chromium-driver and "
                    "python3-selenium")
    udd = tempfile.mkdtemp(prefix="sluice-web-chromium-nojs-")
    d = chrome(udd, javascript=False)
    yield d
    d.quit()
    shutil.rmtree(udd, ignore_errors=True)
