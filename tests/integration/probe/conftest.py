"""
Fixtures for the `sluice probe` integration tests; the helpers are in
probe_harness.py, the fake servers in fakesmtp.py. Nothing here depends on
../conftest.py.
"""
import os

import pytest

from probe_harness import SLUICE, SLUICED, FakeSMTP, Sluiced


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_relayhost: needs sluiced's relayhost key "
        "(remove the marker when it lands)")


@pytest.fixture(scope="session", autouse=True)
def _probe_binaries():
    for b in (SLUICE, SLUICED):
        if not os.access(b, os.X_OK):
            pytest.exit(f"{b} is missing: run make first", returncode=2)


@pytest.fixture
def sluiced(tmp_path):
    """Factory: sluiced({"authorized_networks": [...]}, role=None) ->
    running Sluiced (role: its listener's, e.g. "submissions").
    Stopped after the test; a crash or error output fails the test."""
    servers = []

    def make(keys=None, start=True, role=None):
        s = Sluiced(tmp_path / f"sluiced{len(servers)}", keys, role)
        servers.append(s)
        return s.start() if start else s

    yield make
    problems = []
    for s in servers:
        problems += s.stop()
    if problems:
        pytest.fail("sluiced misbehaved:\n" + "\n".join(problems),
                    pytrace=False)


# ---------------------------------------------------------------- fakes


@pytest.fixture
def fake():
    """Factory: fake("greylist", **kw) -> a running FakeSMTP, stopped after
    the test."""
    servers = []

    def make(behaviour="accept-all", **kw):
        s = FakeSMTP(behaviour, **kw).start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def sluiced_module(tmp_path_factory):
    """The sluiced factory, for servers shared by a module's tests."""
    servers = []

    def make(keys=None):
        s = Sluiced(tmp_path_factory.mktemp("sluiced"), keys)
        servers.append(s)
        return s.start()

    yield make
    problems = []
    for s in servers:
        problems += s.stop()
    if problems:
        pytest.fail("sluiced misbehaved:\n" + "\n".join(problems),
                    pytrace=False)
