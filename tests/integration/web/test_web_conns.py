"""
The web tester's connections (src/web/conn.c): a request that does not
arrive whole within 10 s is answered 408 Request Timeout (with the
security headers) and closed; one client address holds at most 32
connections (429 beyond; the reverse proxy on 127.0.0.1 is not limited);
at 512 in all a new connection closes the one waiting longest; and through
all of it a normal visitor gets pages at once.

Clients come from other loopback addresses (127.0.x.y) so that each is a
client address of its own.
"""
import resource
import select
import socket
import time

import pytest

from web_harness import SLOW

REQUEST_SECS = 10
PER_CLIENT = 32
TOTAL = 512
HALF = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "


@pytest.fixture(scope="module", autouse=True)
def _many_sockets():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def connect(w, source, data=b""):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", w.port))
    if data:
        s.sendall(data)
    return s


def read_all(s, timeout):
    """Everything s receives until EOF or timeout; (bytes, eof)."""
    out = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out, False
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return out, False
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out, True
        if not chunk:
            return out, True
        out += chunk


def answered(socks, timeout):
    """{index: (bytes, eof)} for the sockets that got something (data or
    EOF) within timeout."""
    got = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(socks):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([s for i, s in enumerate(socks)
                                     if i not in got], [], [], left)
        for s in ready:
            i = socks.index(s)
            got[i] = read_all(s, 2)
    return got


def assert_secure(reply):
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert "\r\nContent-Security-Policy: default-src 'none'" in head, head
    assert "\r\nX-Frame-Options: DENY" in head, head
    assert "\r\nX-Content-Type-Options: nosniff" in head, head
    assert "\r\nConnection: close" in head, head


def quick_get(w, path="/"):
    t0 = time.monotonic()
    r = w.client().get(path)
    assert r.status == 200, r
    return time.monotonic() - t0


def test_hundreds_of_slow_clients_get_408_and_a_visitor_is_served(servers):
    w = servers.web()
    slow, idle = [], []
    try:
        # 300 half-sent requests from 20 addresses, 60 idle connections
        for i in range(300):
            slow.append(connect(w, f"127.0.3.{1 + i % 20}", HALF))
        for i in range(60):
            idle.append(connect(w, f"127.0.4.{1 + i % 4}"))
        t0 = time.monotonic()
        for _ in range(5):
            assert quick_get(w) < 1.0 * SLOW
        assert quick_get(w, "/static/app.js") < 1.0 * SLOW
        got = answered(slow, REQUEST_SECS + 8 * SLOW)
        elapsed = time.monotonic() - t0
        assert len(got) == len(slow), f"{len(got)} of {len(slow)} answered"
        for i, (data, eof) in got.items():
            assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), \
                (i, data[:200])
            assert_secure(data)
            assert eof, i
        assert elapsed >= REQUEST_SECS - 2, elapsed
        # idle connections (no byte of a request) are not 408'd
        assert answered(idle, 0.5) == {}
        assert quick_get(w) < 1.0 * SLOW
    finally:
        for s in slow + idle:
            s.close()
    assert "event=web-request-timeout visitor=127.0.3." in w.log.read_text()


def test_a_request_completed_in_time_is_answered(servers):
    w = servers.web()
    s = connect(w, "127.0.5.1", b"GET /static/style.css HTTP/1.1\r\n")
    try:
        for line in (b"Host: x\r\n", b"X-A: 1\r\n", b"Connection: close\r\n",
                     b"\r\n"):
            time.sleep(1.5)
            s.sendall(line)
        data, eof = read_all(s, 5 * SLOW)
        assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:200]
        assert eof
    finally:
        s.close()


def test_connections_per_client_address(servers):
    w = servers.web()
    many, proxy = [], []
    try:
        for _ in range(PER_CLIENT + 8):
            many.append(connect(w, "127.0.6.1"))
        got = answered(many, 3 * SLOW)
        refused = sorted(got)
        assert refused == list(range(PER_CLIENT, PER_CLIENT + 8)), refused
        for i in refused:
            data, eof = got[i]
            assert data.startswith(b"HTTP/1.1 429 Too Many Requests\r\n"), \
                data[:200]
            assert_secure(data)
            assert eof
        # the others still work: a whole request on one of them
        many[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close"
                        b"\r\n\r\n")
        data, _ = read_all(many[0], 5 * SLOW)
        assert data.startswith(b"HTTP/1.1 200 OK"), data[:200]
        # another address is not affected
        s = connect(w, "127.0.6.2", b"GET / HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\n\r\n")
        data, _ = read_all(s, 5 * SLOW)
        s.close()
        assert data.startswith(b"HTTP/1.1 200 OK"), data[:200]
        # the reverse proxy's address is not limited
        for _ in range(PER_CLIENT + 8):
            proxy.append(connect(w, "127.0.0.1"))
        assert answered(proxy, 2 * SLOW) == {}
    finally:
        for s in many + proxy:
            s.close()
    assert "event=web-connection-refused visitor=127.0.6.1 " \
        "reason=per-client" in w.log.read_text()


def test_at_the_total_the_longest_waiting_makes_room(servers):
    """Past 512 connections each new one closes the connection that has
    waited longest for its request: here the half-sent ones, which get
    408 long before their own deadline; the visitor is served."""
    w = servers.web()
    slow, idle = [], []
    try:
        for i in range(10):
            slow.append(connect(w, "127.0.7.1", HALF))
        time.sleep(0.3)
        for i in range(TOTAL - 10):
            idle.append(connect(w, f"127.0.8.{1 + i % 20}"))
        time.sleep(0.5)
        assert answered(slow + idle, 0.3) == {}     # 512: nobody closed
        for i in range(4):
            idle.append(connect(w, f"127.0.9.{1 + i}"))
        assert quick_get(w) < 1.0 * SLOW
        got = answered(slow, 3 * SLOW)
        assert len(got) >= 5, got          # 4 new + the visitor's
        for data, eof in got.values():
            assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), \
                data[:200]
            assert eof
        assert answered(idle, 0.3) == {}
    finally:
        for s in slow + idle:
            s.close()
    # made room for (not timed out at their own deadline)
    assert w.log.read_text().count("event=web-connection-evicted "
                            "visitor=127.0.7.1 state=reading") >= 5
