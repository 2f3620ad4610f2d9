"""
Fixtures of the TLS / SMTP AUTH integration tests (the harness is
tls_harness.py; nothing here depends on ../conftest.py):

  tls_server     factory, per test: tls_server(keys, listeners, users)
                 -> a running sluiced with an smtp, a submission and a
                 submissions listener, each on its own free port
  tls_catcher    aiosmtpd relayhost catcher (per module)
  shared         one sluiced per module, relaying to tls_catcher, with the
                 users of USERS; checked after every test that uses it
  dovecot        a private Dovecot auth service (per module)

Every sluiced is stopped with SIGTERM at the end; the test fails if it
crashed, exited non-zero, stopped before that, logged level=err (unless
the test provoked that line on purpose) or printed a sanitizer report.
"""
import os
import shutil
import subprocess
import tempfile

import pytest

from tls_harness import (BAD_PATTERNS, LOCAL_DOMAIN, SENDER_LOGINS, SLUICE,
                         SLUICED, USERS, DENIED, Catcher, Dovecot, ServerSet,
                         need_tool)

@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """A private base directory (pytest prunes /tmp/pytest-of-USER when
    another run starts), unless one is already set."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="sluice-tls-")
        config._tls_own_basetemp = config.option.basetemp


def pytest_sessionfinish(session, exitstatus):
    session.config._tls_failed = exitstatus != 0


def pytest_unconfigure(config):
    own = getattr(config, "_tls_own_basetemp", None)
    if own and not getattr(config, "_tls_failed", True):
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _tls_binaries():
    for b in (SLUICED, SLUICE):
        if not os.access(b, os.X_OK):
            pytest.exit(f"{b} is missing: run make first", returncode=2)


@pytest.fixture
def tls_server(tmp_path_factory):
    ss = ServerSet(tmp_path_factory, "sluiced")
    yield ss
    ss.finish()


@pytest.fixture(scope="module")
def tls_catcher():
    c = Catcher()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def _shared_set(tmp_path_factory, tls_catcher):
    ss = ServerSet(tmp_path_factory, "shared")
    srv = ss({"outbound.relayhost": f"[127.0.0.1]:{tls_catcher.port}",
              "auth.sender_logins": SENDER_LOGINS,
              "deny.clients": [DENIED],
              # the shared server is not the place to test throttling
              "auth.max_failures": 1000, "auth.slow_after": 1000},
             users=USERS)
    srv.catcher = tls_catcher
    yield ss, srv
    ss.finish()


@pytest.fixture
def shared(_shared_set):
    """The module's shared server; after the test it must still run and
    must not have logged anything bad since the test began."""
    ss, srv = _shared_set
    assert srv.running(), "the shared sluiced is not running"
    before = len(srv.log_text().splitlines())
    yield srv
    problems = []
    if not srv.running():
        problems.append(f"shared sluiced died (status "
                        f"{srv.proc.returncode if srv.proc else '?'})")
    new = srv.log_text().splitlines()[before:]
    problems += [l for l in new if any(p.search(l) for p in BAD_PATTERNS)]
    problems += [l for l in srv.stderr_text().splitlines()
                 if any(p.search(l) for p in BAD_PATTERNS)]
    if problems:
        pytest.fail("shared sluiced misbehaved:\n  " +
                    "\n  ".join(problems[:20]), pytrace=False)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory):
    need_tool("dovecot")
    h = subprocess.run(["openssl", "passwd", "-6", "crypt-pass-2"],
                       capture_output=True, text=True, check=True).stdout
    users = {"dove": "{PLAIN}dove-pass-1",
             f"crypt@{LOCAL_DOMAIN}": "{SHA512-CRYPT}" + h.strip()}
    d = Dovecot(tmp_path_factory.mktemp("dovecot"), users)
    d.passwords = {"dove": "dove-pass-1",
                   f"crypt@{LOCAL_DOMAIN}": "crypt-pass-2"}
    d.start()
    yield d
    d.stop()
