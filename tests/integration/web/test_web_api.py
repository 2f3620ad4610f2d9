"""
The web tester over plain HTTP: the JSON API, and every way a request can
be wrong (bad targets and ports, huge bodies, junk URLs, missing CSRF
tokens, delivery mode without an account, too many tests, a client that
sends half a request). Each test is a visitor of its own (X-Forwarded-For
from loopback), so the per-visitor limit of one does not touch another.
"""
import re
import socket
import time

import pytest

from web_harness import SLOW, report_id

USER, PASSWORD = "bob", "hunter2 hunter2"


@pytest.fixture(scope="module")
def lab(module_servers):
    """(web, closed sluiced): one web tester and one closed sluiced for
    the module; user bob exists."""
    w = module_servers.web()
    w.add_user(USER, PASSWORD)
    closed = module_servers.sluiced(False, w.catcher_port)
    return w, closed


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def check_security_headers(r):
    for k, v in SECURITY_HEADERS.items():
        assert r.headers.get(k, "").startswith(v), (k, dict(r.headers))
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]


# ---------------------------------------------------------------- API


def test_api_submit_then_poll_until_done(lab):
    w, closed = lab
    c = w.client("198.51.100.1")
    r = c.api_submit("127.0.0.1", closed.port)
    assert r.status == 202, r
    check_security_headers(r)
    assert r.headers["Content-Type"] == "application/json"
    j = r.json()
    assert set(j) == {"id", "url", "json"}, j
    assert re.fullmatch(r"[0-9a-f]{16}", j["id"])
    assert j["url"] == f"/r/{j['id']}" and j["json"] == f"/api/tests/{j['id']}"
    statuses = []
    deadline = time.monotonic() + 30 * SLOW
    while True:
        g = c.get(j["json"])
        assert g.status == 200, g
        rep = g.json()
        statuses.append(rep["status"])
        if rep["status"] in ("done", "error"):
            break
        assert time.monotonic() < deadline, statuses
        time.sleep(0.05)
    assert set(statuses) <= {"queued", "running", "done"}, statuses
    assert rep["status"] == "done" and rep["verdict"] == "closed", rep
    assert rep["id"] == j["id"] and rep["target"] == "127.0.0.1"
    assert rep["port"] == closed.port and rep["mode"] == "anonymous"
    assert rep["finished"] >= rep["created"] > 0
    assert rep["summary"].startswith("Closed: all 43 relay attempts")
    host = rep["hosts"][0]
    assert host["address"] == "127.0.0.1" and host["verdict"] == "closed"
    assert host["banner"].startswith("220 mx.test ESMTP")
    relay = [t for t in host["tests"] if t["kind"] == "relay"]
    assert len(relay) == 43
    assert {t["verdict"] for t in relay} == {"closed"}, relay
    # the permalink shows the same
    p = c.get(j["url"])
    assert p.status == 200 and ">closed</span>" in p.text
    check_security_headers(p)


def test_api_takes_form_fields_with_csrf_token(lab):
    w, closed = lab
    c = w.client("198.51.100.2")
    token = c.csrf()
    r = c.post_form("/api/tests", {"target": "127.0.0.1", "csrf": token,
                                   "port": str(closed.port)})
    assert r.status == 202, r
    rep = c.wait_report(r.json()["id"])
    assert rep["verdict"] == "closed" and rep["port"] == closed.port
    # the token in the header does as well
    r = c.post_form("/api/tests", {"target": "127.0.0.1",
                                   "port": str(closed.port)},
                    {"X-CSRF-Token": token})
    assert r.status == 202, r
    c.wait_report(r.json()["id"])


def test_api_cross_site_posts_refused(lab):
    """What a page on another site can make a visitor's browser send
    without a CORS preflight (a form, or text/plain) starts no test:
    a form needs the CSRF token, and JSON needs its Content-Type."""
    w, closed = lab
    before = w.output().count("event=web-test ")
    c = w.client("198.51.100.12")
    c.csrf()                                 # the visitor has a cookie
    fields = {"target": "127.0.0.1", "port": str(closed.port)}
    r = c.post_form("/api/tests", fields)    # no token
    assert r.status == 403, r
    assert "CSRF" in r.json()["error"]
    check_security_headers(r)
    r = c.post_form("/api/tests", dict(fields, csrf="0" * 32))
    assert r.status == 403, r
    r = c.post_form("/api/tests", fields, {"X-CSRF-Token": "1" * 32})
    assert r.status == 403, r
    # a stranger (no cookie) with a token seen elsewhere
    stranger = w.client("198.51.100.12")
    r = stranger.post_form("/api/tests", dict(fields, csrf=c.csrf()))
    assert r.status == 403, r
    # JSON as text/plain (a simple cross-site request), or typeless
    body = ('{"target": "127.0.0.1", "port": %d}' % closed.port).encode()
    for ctype in ("text/plain", "text/plain; charset=utf-8",
                  "multipart/form-data; boundary=x", "application/jsonx"):
        r = c.request("POST", "/api/tests", body, {"Content-Type": ctype})
        assert r.status == 415, (ctype, r)
        assert "application/json" in r.json()["error"]
    status, _ = raw_headers(raw(w, b"POST /api/tests HTTP/1.1\r\nHost: x\r\n"
                                   b"Connection: close\r\nContent-Length: "
                                   + str(len(body)).encode() + b"\r\n\r\n"
                                   + body))
    assert status.startswith("HTTP/1.1 415"), status
    assert w.output().count("event=web-test ") == before
    # while real JSON needs no token
    r = c.request("POST", "/api/tests", body,
                  {"Content-Type": "Application/JSON; charset=utf-8"})
    assert r.status == 202, r
    c.wait_report(r.json()["id"])


def test_api_delivery_needs_session_and_its_token(lab):
    w, closed = lab
    c = w.client("198.51.100.3")
    body = {"target": "127.0.0.1", "port": closed.port, "mode": "delivery"}
    r = c.post_json("/api/tests", body)
    assert r.status == 403, r
    assert "signed-in" in r.json()["error"]
    c.login(USER, PASSWORD)
    r = c.post_json("/api/tests", body)          # no X-CSRF-Token
    assert r.status == 403, r
    r = c.post_json("/api/tests", body, {"X-CSRF-Token": "0" * 32})
    assert r.status == 403, r
    token = [k.value for k in c.jar if k.name == "sluice_csrf"][0]
    r = c.post_json("/api/tests", body, {"X-CSRF-Token": token})
    assert r.status == 202, r
    rep = c.wait_report(r.json()["id"])
    assert rep["mode"] == "delivery" and rep["verdict"] == "closed", rep


def test_api_help_page(lab):
    w, _ = lab
    r = w.client().get("/api/help")
    assert r.status == 200 and "POST /api/tests" in r.text


# ---------------------------------------------------------------- refusals


def test_form_delivery_refused_without_login(lab):
    w, closed = lab
    c = w.client("198.51.100.4")
    r = c.submit("127.0.0.1", closed.port, mode="delivery")
    assert r.status == 403, r
    assert "delivery mode is for signed-in users" in r.text
    assert 'name="target"' in r.text        # the form again
    check_security_headers(r)


def test_post_without_csrf_token_refused(lab):
    w, closed = lab
    before = w.output().count("event=web-test ")
    fields = {"target": "127.0.0.1", "port": str(closed.port)}

    # a cookie, but no token in the form
    c = w.client("198.51.100.5")
    good = c.csrf()
    r = c.post_form("/test", fields)
    assert r.status == 403, r
    assert "CSRF" in r.text
    check_security_headers(r)
    # a token, but a different one than the cookie's
    r = c.post_form("/test", dict(fields, csrf="0123456789abcdef" * 2))
    assert r.status == 403, r
    # no cookie at all (a cross-site form), with a token seen elsewhere
    stranger = w.client("198.51.100.5")
    r = stranger.post_form("/test", dict(fields, csrf=good))
    assert r.status == 403, r
    # sign-in and sign-out forms too
    r = c.post_form("/login", {"user": USER, "password": PASSWORD})
    assert r.status == 403, r
    assert not [k for k in c.jar if k.name == "sluice_session"]
    c.login(USER, PASSWORD)
    r = c.post_form("/logout", {})
    assert r.status == 403, r
    assert "signed in as" in c.get("/").text
    assert w.output().count("event=web-test ") == before
    # and with the token all goes through
    r = c.post_form("/test", dict(fields, csrf=good))
    assert r.status == 303, r
    r = c.post_form("/logout", {"csrf": good})
    assert r.status == 303, r
    assert "signed in as" not in c.get("/").text


def test_wrong_password_refused(lab):
    w, _ = lab
    c = w.client("198.51.100.6")
    token = c.csrf("/login")
    r = c.post_form("/login", {"csrf": token, "user": USER,
                               "password": "wrong"})
    assert r.status == 403, r
    assert "wrong user name or password" in r.text
    assert not [k for k in c.jar if k.name == "sluice_session"]


BAD_TARGETS = ["not a host!", "http://example.com/", "a" * 300,
               "example.com:25", "mx.example.com/path", "x@example.com",
               "", "   ", "-bad.example", "a..b.example", "localhost",
               "exa mple.com", "<script>alert(1)</script>.test"]


@pytest.mark.parametrize("target", BAD_TARGETS, ids=range(len(BAD_TARGETS)))
def test_bad_target_refused(lab, target):
    w, _ = lab
    c = w.client("198.51.100.7")
    r = c.api_submit(target, 25)
    assert r.status == 400, r
    assert "host name, address or domain" in r.json()["error"]
    r = c.submit(target, 25)
    assert r.status == 400, r
    assert re.search(r'<p class="error">[^<]*(host name, address or '
                     r'domain)', r.text), r.text[:3000]
    assert "<script>alert" not in r.text
    check_security_headers(r)


def test_bad_form_port_refused(lab):
    w, _ = lab
    c = w.client("198.51.100.8")
    for port in ("0", "70000", "x", "25x", "-1"):
        r = c.submit("127.0.0.1", port)
        assert r.status == 400, (port, r)
        assert "and a port" in r.text


def test_bad_api_port_refused(lab):
    w, _ = lab
    c = w.client("198.51.100.9")
    for port in (70000, 65536, "x", -1, 0):
        r = c.post_json("/api/tests", {"target": "127.0.0.1", "port": port})
        assert r.status == 400, (port, r)
    r = c.post_form("/api/tests", {"target": "127.0.0.1", "port": "70000",
                                   "csrf": c.csrf()})
    assert r.status == 400, r


def test_malformed_api_bodies(lab):
    w, _ = lab
    c = w.client("198.51.100.10")
    for body in (b'{"target": "a', b"{", b"[1]", b"{}", b'{"target": 5}',
                 b"\xff\xfe\x00"):
        r = c.request("POST", "/api/tests", body,
                      {"Content-Type": "application/json"})
        assert r.status == 400, (body, r)
        assert "error" in r.json()


def test_huge_body_refused(lab):
    w, closed = lab
    c = w.client("198.51.100.11")
    token = c.csrf()
    big = {"csrf": token, "target": "127.0.0.1", "port": str(closed.port),
           "junk": "x" * 9000}
    r = c.post_form("/test", big)
    assert r.status == 413, r
    check_security_headers(r)
    r = c.request("POST", "/api/tests", b'{"target": "' + b"a" * 9000 +
                  b'"}', {"Content-Type": "application/json"})
    assert r.status == 413, r
    check_security_headers(r)
    r = c.post_form("/login", {"csrf": token, "user": "u",
                               "password": "p" * 20000})
    assert r.status == 413, r
    check_security_headers(r)
    # announced, never sent: refused on the header alone
    status, h = raw_headers(raw(w, b"POST /api/tests HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: 100000000\r\n\r\n"))
    assert status.startswith("HTTP/1.1 413"), status
    check_security_headers(type("R", (), {"headers": h}))
    # the same on a connection that served a page before (keep-alive)
    both = raw(w, b"GET /static/style.css HTTP/1.1\r\nHost: x\r\n\r\n"
               b"POST /api/tests HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: 100000000\r\n\r\n")
    first, rest = both.split(b"HTTP/1.1 413", 1)
    assert first.startswith(b"HTTP/1.1 200 OK"), both[:300]
    status, h = raw_headers(b"HTTP/1.1 413" + rest)
    check_security_headers(type("R", (), {"headers": h}))
    # a malformed request line: evhttp's 400, with our headers
    status, h = raw_headers(raw(w, b"GET\r\n\r\n"))
    assert status.startswith("HTTP/1.") and " 400 " in status, status
    check_security_headers(type("R", (), {"headers": h}))
    # a body just under the limit is read
    r = c.post_form("/test", dict(big, junk="x" * 7000))
    assert r.status == 303, r
    assert c.get("/").status == 200


JUNK = ["/nope", "/r/", "/r/zzzz", "/r/" + "a" * 300, "/r/0123456789abcdef",
        "/r/0123456789ABCDEF", "/r/0123456789abcdef?fragment=1",
        "/api/tests/", "/api/tests/0123456789abcdef", "/api/tests/../../x",
        "/static/", "/static/../../etc/passwd", "/static/app.js/x",
        "/%00", "//", "/index.html", "/" + "x" * 5000, "/r/%2e%2e%2f"]


@pytest.mark.parametrize("path", JUNK, ids=range(len(JUNK)))
def test_junk_urls_404(lab, path):
    w, _ = lab
    r = w.client().get(path)
    assert r.status == 404, (path, r)
    check_security_headers(r)


def raw(w, data, timeout=5):
    """Send bytes on a new connection; every byte of the answer."""
    s = socket.create_connection(("127.0.0.1", w.port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


def raw_headers(data):
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    return lines[0], {k.strip(): v.strip() for k, v in
                      (ln.split(":", 1) for ln in lines[1:])}


def test_other_methods_refused(lab):
    w, _ = lab
    c = w.client()
    for m in ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
        r = c.request(m, "/")
        assert r.status == 405, (m, r)
        assert r.headers["Allow"] == "GET, HEAD, POST"
        check_security_headers(r)
    # a method evhttp does not know: its own 501, with our headers
    status, h = raw_headers(raw(w, b"BREW / HTTP/1.1\r\nHost: x\r\n"
                                   b"Connection: close\r\n\r\n"))
    assert status.startswith("HTTP/1.1 501"), status
    check_security_headers(type("R", (), {"headers": h}))
    assert c.get("/test").status == 404       # POST only
    assert c.request("POST", "/", b"").status == 404


def test_head_served_like_get(lab):
    w, _ = lab
    c = w.client()
    for path in ("/", "/static/style.css", "/login"):
        assert c.request("HEAD", path).status == 200, path


def test_security_headers_everywhere(lab):
    w, _ = lab
    c = w.client()
    for path in ("/", "/login", "/history?target=127.0.0.1",
                 "/static/style.css", "/static/app.js", "/api/help"):
        r = c.get(path)
        assert r.status == 200, path
        check_security_headers(r)
    cookie = c.get("/").headers  # a fresh visitor gets the CSRF cookie
    fresh = w.client().get("/")
    sc = fresh.headers["Set-Cookie"]
    assert sc.startswith("sluice_csrf=") and "HttpOnly" in sc and \
        "SameSite=Strict" in sc, sc
    assert "Set-Cookie" not in cookie      # a known visitor keeps it


def test_rate_limit_per_visitor(servers):
    w = servers.web({"web.per_ip": 2})
    fake = servers.fake()
    a = w.client("198.51.100.20")
    for _ in range(2):
        report_id(a.submit("127.0.0.1", fake.port))
    r = a.submit("127.0.0.1", fake.port)
    assert r.status == 429, r
    assert "too many tests from your address" in r.text
    assert "<h1>Please wait</h1>" in r.text
    check_security_headers(r)
    r = a.api_submit("127.0.0.1", fake.port)
    assert r.status == 429 and "too many tests" in r.json()["error"], r
    # another visitor is not affected
    b = w.client("198.51.100.21")
    assert b.api_submit("127.0.0.1", fake.port).status == 202


def test_slow_client_does_not_block(lab):
    """Clients that send half a request (a header line, a body) hold
    nothing up: other visitors are served at once, and each half request
    is answered once it is complete."""
    w, _ = lab
    c = w.client()
    halves = []
    for part in (b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                 b"POST /api/tests HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 40\r\n"
                 b"\r\n{\"target\": \"exa",
                 b"GE"):
        s = socket.create_connection(("127.0.0.1", w.port), timeout=5)
        s.sendall(part)
        halves.append(s)
    try:
        for _ in range(5):
            t0 = time.monotonic()
            assert c.get("/").status == 200
            assert c.get("/static/app.js").status == 200
            assert time.monotonic() - t0 < 1.0 * SLOW
        # the first is completed and answered
        halves[0].sendall(b"1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = halves[0].recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
    finally:
        for s in halves:
            s.close()
    assert c.get("/").status == 200


def test_transcript_shown_past_a_nul_byte(servers):
    w = servers.web()
    fake = servers.fake(banner=b"220 nul.test ESMTP \x00hidden\r\n")
    c = w.client("198.51.100.30")
    rid = c.api_submit("127.0.0.1", fake.port).json()["id"]
    rep = c.wait_report(rid)
    assert "C: EHLO" in rep["hosts"][0]["transcript"]     # the JSON has it
    page = c.get(f"/r/{rid}").text
    transcript = page.split('<pre class="transcript">', 1)[1].split(
        "</pre>", 1)[0]
    assert "C: EHLO" in transcript and "RCPT TO" in transcript, transcript
    assert "\\x00" in transcript or "?" in transcript
