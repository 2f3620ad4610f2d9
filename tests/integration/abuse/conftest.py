"""
Fixtures of the abuse-defense integration tests (the harness is
abuse_harness.py; nothing here depends on ../conftest.py):

  abuse_server   factory, per test: abuse_server(keys) -> a running
                 sluiced on free ports with a temporary config
  abuse_shared   the same factory, shared by the tests of a module
  relay_catcher  aiosmtpd relayhost catcher (per module): relayed mail
                 never leaves the machine

Every sluiced is stopped with SIGTERM at the end; the test (or the
module's last test) fails if it crashed, exited non-zero, stopped before
that, logged level=err, or printed a sanitizer report.

    /usr/bin/python3 -m pytest -q tests/integration/abuse
    SLUICED=build/asan/sluiced /usr/bin/python3 -m pytest -q tests/integration/abuse
"""
import os
import shutil
import tempfile

import pytest

from abuse_harness import SLUICE, SLUICED, Catcher, ServerSet


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """A private base directory (pytest prunes /tmp/pytest-of-USER when
    another run starts), unless one is already set."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="sluice-abuse-")
        config._abuse_own_basetemp = config.option.basetemp


def pytest_sessionfinish(session, exitstatus):
    session.config._abuse_failed = exitstatus != 0


def pytest_unconfigure(config):
    own = getattr(config, "_abuse_own_basetemp", None)
    if own and not getattr(config, "_abuse_failed", True):
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _abuse_binaries():
    for b in (SLUICED, SLUICE):
        if not os.access(b, os.X_OK):
            pytest.exit(f"{b} is missing: run make first", returncode=2)


@pytest.fixture
def abuse_server(tmp_path_factory):
    ss = ServerSet(tmp_path_factory, "sluiced")
    yield ss
    ss.finish()


@pytest.fixture(scope="module")
def abuse_shared(tmp_path_factory):
    ss = ServerSet(tmp_path_factory, "shared")
    yield ss
    ss.finish()


@pytest.fixture(scope="module")
def relay_catcher():
    c = Catcher()
    yield c
    c.stop()
