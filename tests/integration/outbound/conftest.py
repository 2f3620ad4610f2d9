"""
Fixtures for the outbound-delivery tests (sluiced's queue runner, SMTP
client, DNS routing, DSNs and `sluice queue`). The helpers are in
out_harness.py; nothing here depends on ../conftest.py or ../sluicetest.py.

    /usr/bin/python3 -m pytest -q tests/integration/outbound
    SLUICED=build/asan/sluiced /usr/bin/python3 -m pytest -q tests/integration/outbound

One test has to wait out queue.lifetime (60 s at least): its sluiced is
started at collection time and checked by the last test, so that the wait
overlaps with everything else (see out_background.py).
"""
import os
import shutil
import tempfile

import pytest

import out_background
from out_harness import (DNSMASQ, SLUICE, SLUICED, SMTP_SINK, BadDNS,
                         Dnsmasq, RawPeer, Receiver, ServerSet, SmtpSink,
                         make_cert)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line(
        "markers", "out_background(name): the test checks a case that "
        "out_background started at collection time (it runs last)")
    # a private base directory (unless a parent conftest or --basetemp set
    # one): pytest prunes /tmp/pytest-of-USER while other runs use it
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="sluice-out-")
        config._out_own_basetemp = config.option.basetemp


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Tests that check a background case run last."""
    bg = [i for i in items if i.get_closest_marker("out_background")]
    for b in bg:
        items.remove(b)
    items.extend(bg)


def pytest_collection_finish(session):
    """Start the background cases that the selected tests check."""
    if session.config.option.collectonly:
        return
    for item in session.items:
        m = item.get_closest_marker("out_background")
        if m:
            out_background.start(session.config, m.args[0])


def pytest_unconfigure(config):
    out_background.stop_all(config)
    own = getattr(config, "_out_own_basetemp", None)
    if own and not getattr(config, "_out_failed", True):
        shutil.rmtree(own, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    config._out_failed = exitstatus != 0
    own = getattr(config, "_out_own_basetemp", None)
    if own and exitstatus != 0:
        terminalreporter.write_line(f"outbound test directories (logs, "
                                    f"spools, Maildirs) kept in {own}")
    for name, case in getattr(config, "_out_background", {}).items():
        if case.failed:
            terminalreporter.write_line(f"background case {name} kept in "
                                        f"{case.dir}")


@pytest.fixture(scope="session", autouse=True)
def _out_binaries():
    for b in (SLUICED, SLUICE):
        if not os.access(b, os.X_OK):
            pytest.exit(f"{b} is missing: run make first", returncode=2)


@pytest.fixture(scope="session")
def dns(tmp_path_factory):
    """dnsmasq on loopback serving out_harness.ZONE_*."""
    if not os.access(DNSMASQ, os.X_OK):
        pytest.skip(f"{DNSMASQ} is missing (apt-get install dnsmasq-base; "
                    f"scripts/deps.sh does)")
    d = Dnsmasq(tmp_path_factory.mktemp("dnsmasq"))
    yield d
    d.stop()


@pytest.fixture
def bad_dns():
    d = BadDNS()
    yield d
    d.stop()


@pytest.fixture
def sluiced(tmp_path_factory, dns):
    """Factory: sluiced({"outbound.routes": [...]}) -> a running Sluiced,
    resolving with the test dnsmasq, retrying after 1-2 s. Every server is
    stopped after the test; a crash, a non-zero exit, a level=err line or
    a sanitizer report fails the test."""
    ss = ServerSet(tmp_path_factory, "mta", {
        "outbound.resolver": dns.address,
        "outbound.connect_timeout": "2s",
        "outbound.timeout": "10s",
        "queue.retry_min": "1s",
        "queue.retry_max": "2s",
    })
    yield ss
    ss.finish()


@pytest.fixture
def peers():
    """Factory of peers, all stopped after the test (before the servers:
    this fixture is set up after `sluiced` when a test names it later):
    peers.aiosmtpd(...), peers.raw(...), peers.sink(...)."""
    made = []

    class Peers:
        @staticmethod
        def aiosmtpd(*a, **kw):
            r = Receiver(*a, **kw)
            made.append(r)
            return r

        @staticmethod
        def raw(*a, **kw):
            r = RawPeer(*a, **kw)
            made.append(r)
            return r

        @staticmethod
        def sink(*a, **kw):
            if not os.access(SMTP_SINK, os.X_OK):
                pytest.skip(f"{SMTP_SINK} is missing (apt-get install "
                            f"postfix; scripts/deps.sh does)")
            r = SmtpSink(*a, **kw)
            made.append(r)
            return r

    yield Peers
    for r in reversed(made):
        r.stop()


@pytest.fixture(scope="session")
def tls_pair(tmp_path_factory):
    """(cert, key) of a self-signed receiver certificate."""
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def background(request):
    """The background case named by the test's out_background marker."""
    name = request.node.get_closest_marker("out_background").args[0]
    case = out_background.get(request.config, name)
    case.failed = True      # until the test says otherwise
    yield case
    problems = case.finish()
    if problems:
        pytest.fail("sluiced misbehaved:\n  " + "\n  ".join(problems),
                    pytrace=False)
