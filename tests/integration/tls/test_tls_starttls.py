"""
STARTTLS and implicit TLS: what a client pipelines after STARTTLS is
dropped, never executed (RFC 3207 5, the "STARTTLS command injection" of
CVE-2011-0411); TLS resets the session; a client that stalls in the
handshake is dropped after 30 s while everyone else is served; the
configured certificate (or the self-signed one) is what clients see.
"""
import signal
import socket
import ssl
import time
import warnings

import pytest

from tls_harness import (DENIED, HOSTNAME, LOCAL_DOMAIN, REMOTE, SLOW, USERS, Client,
                         Closed, client_context, make_cert, message,
                         new_token, plain_response)

ALICE = ("alice", USERS["alice"])

# The handshake timeout of sluiced (src/server/conn.c TLS_HANDSHAKE_SECS).
HANDSHAKE_SECS = 30


def client_hello():
    """The bytes of a real TLS ClientHello (as a client would send)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context().wrap_bio(inc, out, server_hostname=HOSTNAME)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = out.read()
    assert hello[:1] == b"\x16" and len(hello) > 100
    return hello


# ---------------------------------------------------------------- injection


def test_pipelined_command_after_starttls_is_discarded(shared):
    """'STARTTLS\\r\\nMAIL FROM:<x@y>\\r\\n' in one write: the 220 comes
    alone, the MAIL is dropped (logged as starttls-injection); after the
    handshake and EHLO a MAIL is accepted, not 503 nested MAIL."""
    with shared.client("smtp") as c:
        c.ehlo()
        c.send("STARTTLS\r\nMAIL FROM:<x@y>\r\n")
        r = c.read_reply()
        assert (r.code, r.enh) == (220, "2.0.0"), r
        assert r.lines == ["2.0.0 Ready to start TLS"]
        c._wrap()   # asserts that nothing followed the 220 in clear
        sid = shared.session_of(c)
        c.ehlo()
        r = c.cmd("MAIL FROM:<x@y>")
        assert (r.code, r.enh) == (250, "2.1.0"), r
        assert c.cmd("RSET").code == 250
        assert c.cmd("QUIT").code == 221
    ev = shared.wait_event("starttls-injection", session=sid)
    assert ev[0]["discarded"] == str(len("MAIL FROM:<x@y>\r\n")), ev
    # one MAIL executed in all: the one after EHLO
    assert len(shared.session_events(sid, "tls")) == 1


def test_injected_auth_and_mail_are_not_executed(shared):
    """On the submission port an attacker's pipelined AUTH (with valid
    credentials) and MAIL after STARTTLS do nothing: after the handshake
    the session is unauthenticated (AUTH offered, MAIL gets 530)."""
    with shared.client("submission", source="127.0.0.2") as c:
        c.ehlo()
        c.send("STARTTLS\r\nAUTH PLAIN " + plain_response(*ALICE) +
               f"\r\nMAIL FROM:<alice@{LOCAL_DOMAIN}>\r\n"
               f"RCPT TO:<x@{REMOTE}>\r\n")
        r = c.read_reply()
        assert r.code == 220, r
        c._wrap()
        sid = shared.session_of(c)
        r = c.ehlo()
        assert "AUTH PLAIN LOGIN" in r.lines, r
        r = c.cmd(f"MAIL FROM:<alice@{LOCAL_DOMAIN}>")
        assert (r.code, r.enh) == (530, "5.7.0"), r
        c.cmd("QUIT")
    assert shared.wait_event("starttls-injection", session=sid)
    assert not shared.session_events(sid, "auth-success")
    assert not shared.session_events(sid, "auth-failure")


def test_tls_resets_the_session(shared):
    """After the handshake the client must EHLO again (RFC 3207 4.2):
    MAIL before it is 503. STARTTLS inside a transaction is 503."""
    with shared.client("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<a@{LOCAL_DOMAIN}>").code == 250
        r = c.cmd("STARTTLS")
        assert (r.code, r.enh) == (503, "5.5.1"), r
        assert c.cmd("RSET").code == 250
        c.starttls()
        r = c.cmd(f"MAIL FROM:<a@{LOCAL_DOMAIN}>")
        assert (r.code, r.enh) == (503, "5.5.1"), r
        assert "EHLO" in r.text
        r = c.cmd("AUTH PLAIN " + plain_response(*ALICE))
        assert r.code == 503, r
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<a@{LOCAL_DOMAIN}>").code == 250


def test_starttls_refused_when_already_tls(shared):
    """STARTTLS twice, or on the implicit-TLS port: 503 5.5.1; with an
    argument: 501."""
    with shared.client("submission") as c:
        c.ehlo()
        r = c.cmd("STARTTLS now")
        assert r.code == 501, r
        c.starttls()
        c.ehlo()
        r = c.cmd("STARTTLS")
        assert (r.code, r.enh) == (503, "5.5.1"), r
        assert c.cmd("NOOP").code == 250
    with shared.client("submissions") as c:
        r = c.ehlo()
        assert not r.has("STARTTLS")
        r = c.cmd("STARTTLS")
        assert (r.code, r.enh) == (503, "5.5.1"), r


def test_cleartext_client_on_implicit_port(shared):
    """Plain SMTP on the submissions port: no greeting in clear; the
    failed handshake is logged and the connection closed."""
    s = socket.create_connection(("127.0.0.1", shared.ports["submissions"]))
    s.settimeout(5 * SLOW)
    lport = s.getsockname()[1]
    try:
        s.sendall(b"EHLO client.example\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        assert b"220" not in data and b"250" not in data, data
    finally:
        s.close()
    sid = shared.wait_event("connect", port=str(lport))[0]["session"]
    assert shared.wait_event("tls-failed", session=sid)


def test_old_tls_versions_refused(shared):
    """TLS 1.0 and 1.1 are not accepted (the server's minimum is 1.2)."""
    ctx = client_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with pytest.raises((ssl.SSLError, ConnectionResetError, Closed)):
        Client(shared.ports["submissions"], implicit=True, ctx=ctx).close()
    ctx12 = client_context()
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    with Client(shared.ports["submissions"], implicit=True, ctx=ctx12) as c:
        assert c.tls == "TLSv1.2"
        r = c.ehlo()
        assert "AUTH PLAIN LOGIN" in r.lines


def test_denied_client_on_every_port(shared):
    """deny.clients: on 465 the refusal (554 5.7.1) comes after the
    handshake, inside TLS; on the STARTTLS ports in clear. Nothing but
    QUIT works afterwards: no STARTTLS, no AUTH."""
    for listener in ("submissions", "submission", "smtp"):
        with shared.client(listener, source=DENIED, banner=False) as c:
            r = c.read_reply()
            assert (r.code, r.enh) == (554, "5.7.1"), (listener, r)
            assert (c.tls is not None) == (listener == "submissions")
            for cmd in ("EHLO client.example", "STARTTLS",
                        "AUTH PLAIN " + plain_response(*ALICE)):
                r = c.cmd(cmd)
                assert (r.code, r.enh) == (503, "5.7.1"), (listener, cmd, r)
            assert c.cmd("QUIT").code == 221
    ev = shared.events("connect-rejected", client=DENIED)
    assert len(ev) >= 3 and ev[-1]["rule"] == f"deny-client:{DENIED}"
    assert not shared.events("auth-success", client=DENIED)


def test_abrupt_close_in_tls_is_logged_like_in_clear(shared):
    with shared.client("submissions") as c:
        c.ehlo()
        sid = shared.session_of(c)
    ev = shared.wait_event("lost", session=sid)
    assert ev[0].get("state") == "ready", ev[0]["_line"]
    assert "error" not in ev[0], ev[0]["_line"]


# ---------------------------------------------------------------- stalls


def stall_and_serve(shared, stalled, hello, t0):
    def raw(port):
        s = socket.create_connection(("127.0.0.1", port))
        stalled.append(s)
        return s

    raw(shared.ports["submissions"])                 # says nothing
    raw(shared.ports["submissions"]).sendall(        # half a ClientHello
        hello[:len(hello) // 2])
    for half in (False, True):                       # 587, after STARTTLS
        c = Client(shared.ports["submission"])
        stalled.append(c.sock)
        c.ehlo()
        assert c.cmd("STARTTLS").code == 220
        if half:
            c.sock.sendall(hello[:len(hello) // 2])
    ports = [s.getsockname()[1] for s in stalled]
    sids = [shared.wait_event("connect", port=str(p))[0]["session"]
            for p in ports]

    # meanwhile: complete sessions on every port, promptly
    for listener in ("submissions", "submission", "smtp"):
        t = time.monotonic()
        token = new_token()
        rcpt = f"meanwhile-{listener}@{REMOTE}"
        with shared.client(listener, source="127.0.0.2") as c:
            c.login(*ALICE)
            assert c.cmd(f"MAIL FROM:<alice@{LOCAL_DOMAIN}>").code == 250
            assert c.cmd(f"RCPT TO:<{rcpt}>").code == 250
            assert c.cmd("DATA").code == 354
            r = c.cmd(message(token, f"alice@{LOCAL_DOMAIN}", rcpt) + ".")
            assert r.code == 250, r
            c.cmd("QUIT")
        assert time.monotonic() - t < 3 * SLOW, listener
        shared.catcher.wait_for(token)

    # the stalled ones are still connected well before the timeout ...
    for s in stalled:
        s.setblocking(False)
        try:
            assert s.recv(1, socket.MSG_PEEK) != b"", \
                "a stalled client was dropped too early"
        except BlockingIOError:
            pass
    # ... and dropped at the handshake timeout
    deadline = t0 + HANDSHAKE_SECS + 5 * SLOW
    for s in stalled:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            while s.recv(4096):
                pass   # a TLS alert may come first
        except ConnectionResetError:
            pass
        except socket.timeout:
            pytest.fail(f"stalled client not dropped after "
                        f"{time.monotonic() - t0:.1f}s")
    return sids


def test_stalled_handshakes_are_dropped_and_others_served(shared):
    """Clients that stop mid-handshake (silent on 465, half a ClientHello
    on 465, silent and half a ClientHello after STARTTLS on 587) hold no
    one up: full sessions go through meanwhile; each stalled one is
    dropped after the 30 s handshake timeout (event=tls-timeout).
    Bounded: at most ~35 s."""
    t0 = time.monotonic()
    hello = client_hello()
    stalled = []
    try:
        sids = stall_and_serve(shared, stalled, hello, t0)
    finally:
        for s in stalled:
            s.close()
    elapsed = time.monotonic() - t0
    assert elapsed >= HANDSHAKE_SECS - 1, elapsed
    for sid in sids:
        shared.wait_event("tls-timeout", session=sid, timeout=5)
        assert not shared.session_events(sid, "tls")


# ---------------------------------------------------------------- certificates


def test_configured_certificate_verifies(tls_server, tmp_path):
    """tls.cert and tls.key: the server presents that certificate, and a
    verifying client (CA = that certificate, host name checked) accepts
    it on 465 and after STARTTLS on 587."""
    crt, key = make_cert(tmp_path / "pki")
    srv = tls_server({"tls.cert": str(crt), "tls.key": str(key)},
                     users={"alice": ALICE[1]})
    ctx = client_context(cafile=crt, hostname_check=True)
    want = ssl.PEM_cert_to_DER_cert(crt.read_text())
    for listener in ("submissions", "submission"):
        with srv.client(listener, ctx=ctx) as c:
            if listener == "submission":
                c.ehlo()
                c.starttls()
            assert c.sock.getpeercert(binary_form=True) == want
            c.ehlo()
            c.login(*ALICE, ehlo=False)
    # the wrong name fails verification
    raw = socket.create_connection(("127.0.0.1", srv.ports["submissions"]))
    with pytest.raises(ssl.SSLCertVerificationError):
        ctx.wrap_socket(raw, server_hostname="other.example")
    raw.close()
    assert not (srv.spool / "tls" / "selfsigned.crt").exists()


def test_self_signed_certificate(tls_server):
    """No tls.cert: a self-signed pair in SPOOL_DIR/tls/ (key mode 0600)
    for the host name, served on both TLS ports, kept across a restart."""
    srv = tls_server(users={"alice": ALICE[1]})
    crt = srv.spool / "tls" / "selfsigned.crt"
    key = srv.spool / "tls" / "selfsigned.key"
    assert crt.exists() and key.exists()
    assert key.stat().st_mode & 0o077 == 0, oct(key.stat().st_mode)
    want = ssl.PEM_cert_to_DER_cert(crt.read_text())
    ctx = client_context(cafile=crt, hostname_check=True)
    raw = socket.create_connection(("127.0.0.1", srv.ports["submissions"]))
    with ctx.wrap_socket(raw, server_hostname=HOSTNAME) as s:
        assert s.getpeercert(binary_form=True) == want
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        assert subject["commonName"] == HOSTNAME
    with srv.client("submission") as c:
        c.ehlo()
        c.starttls()
        assert c.sock.getpeercert(binary_form=True) == want
    srv.stop()
    srv.start()
    assert ssl.PEM_cert_to_DER_cert(crt.read_text()) == want
    with srv.client("submissions") as c:
        assert c.sock.getpeercert(binary_form=True) == want
        c.login(*ALICE)


def test_sigterm_does_not_wait_for_stalled_handshakes(tls_server):
    """A stop (SIGTERM) is prompt even when clients are stalled in the TLS
    handshake, on 465 and after STARTTLS on 587: they have nothing that
    must finish."""
    srv = tls_server(users={"alice": ALICE[1]})
    socks = [socket.create_connection(("127.0.0.1",
                                       srv.ports["submissions"]))]
    c = Client(srv.ports["submission"])
    c.ehlo()
    assert c.cmd("STARTTLS").code == 220
    socks.append(c.sock)
    try:
        for s in socks:
            srv.wait_event("connect", port=str(s.getsockname()[1]))
        t = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        try:
            srv.proc.wait(3 * SLOW)
        except Exception:
            srv.proc.kill()
            srv.proc.wait()
            srv.proc = None
            pytest.fail("sluiced still running 3 s after SIGTERM with two "
                        "clients stalled in the TLS handshake")
        rc, srv.proc = srv.proc.returncode, None   # stopped here
        assert rc == 0
        assert time.monotonic() - t < 3 * SLOW
    finally:
        for s in socks:
            s.close()
