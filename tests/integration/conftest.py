"""pytest fixtures for the sluiced integration tests; the harness itself
is sluicetest.py."""
import os
import shutil
import tempfile

import pytest

from sluicetest import SLUICED, Catcher, ServerSet


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """A private base directory for this run, unless --basetemp is given:
    pytest prunes all but the newest three /tmp/pytest-of-USER/pytest-N
    directories when a session starts, so another run on the same machine
    would delete our servers' spools and logs under them mid-test."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="sluice-it-")
        config._sluice_own_basetemp = config.option.basetemp


def pytest_unconfigure(config):
    """Remove the private base directory after a run that passed."""
    own = getattr(config, "_sluice_own_basetemp", None)
    session_failed = getattr(config, "_sluice_failed", True)
    if own and not session_failed:
        shutil.rmtree(own, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    config._sluice_failed = exitstatus != 0
    own = getattr(config, "_sluice_own_basetemp", None)
    if own and exitstatus != 0:
        terminalreporter.write_line(f"sluiced test directories (servers' "
                                    f"logs, spools, Maildirs) kept in {own}")


def _need_binary():
    if not os.access(SLUICED, os.X_OK):
        pytest.exit(f"{SLUICED} is missing: run make first", returncode=2)


@pytest.fixture
def sluiced(tmp_path_factory):
    """Factory: sluiced({"limits.errors": 5}) -> a running Sluiced.
    Every server is stopped after the test; a crash, a non-zero exit, a
    level=err line or a sanitizer report fails the test."""
    _need_binary()
    ss = ServerSet(tmp_path_factory, "sluiced")
    yield ss
    ss.finish()


@pytest.fixture(scope="module")
def sluiced_module(tmp_path_factory):
    """The same factory, for servers shared by the tests of a module."""
    _need_binary()
    ss = ServerSet(tmp_path_factory, "shared")
    yield ss
    ss.finish()


@pytest.fixture
def catcher():
    """An aiosmtpd SMTP server on loopback that records what it receives."""
    c = Catcher()
    yield c
    c.stop()
