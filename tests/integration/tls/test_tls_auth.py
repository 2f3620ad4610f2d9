"""
SMTP AUTH (RFC 4954) in detail: PLAIN and LOGIN with and without initial
responses, cancel, bad base64, over-long lines, wrong passwords; the
failure throttle (slow, then 454 and disconnect, per client address);
SIGHUP reloading the passwd file; the Dovecot backend.
"""
import ctypes
import ctypes.util
import time

import pytest

from tls_harness import (LOCAL_DOMAIN, REMOTE, SLOW, USERS, Dovecot, b64,
                         hash_user, plain_response)

OUTSIDER = "127.0.0.2"
ALICE = ("alice", USERS["alice"])


def tls_ready(srv, listener="submissions", source=OUTSIDER):
    """A client on an encrypted session, after EHLO."""
    c = srv.client(listener, source=source)
    c.ehlo()
    if c.tls is None:
        c.starttls()
        c.ehlo()
    return c


def still_works(c, user=ALICE):
    """After an aborted exchange the session is READY: AUTH works."""
    r = c.auth_plain(*user)
    assert (r.code, r.enh) == (235, "2.7.0"), r


# ---------------------------------------------------------------- mechanisms


def test_plain_with_continuation(shared):
    """AUTH PLAIN without initial response: 334 with empty text, then the
    response on its own line."""
    with tls_ready(shared) as c:
        r = c.cmd("AUTH PLAIN")
        assert r.code == 334 and r.lines[0].strip() == "", r
        r = c.cmd(plain_response(*ALICE))
        assert (r.code, r.enh) == (235, "2.7.0"), r
        # authenticated now: relaying is allowed
        assert c.cmd(f"MAIL FROM:<alice@{LOCAL_DOMAIN}>").code == 250
        assert c.cmd(f"RCPT TO:<x@{REMOTE}>").code == 250


def test_login_two_step(shared):
    """AUTH LOGIN: 334 Username: (base64), the user, 334 Password:, the
    password, 235; logged as mech=LOGIN, without the password."""
    with tls_ready(shared, "submission") as c:
        r = c.cmd("AUTH LOGIN")
        assert r.code == 334 and r.lines[0] == b64("Username:"), r
        r = c.cmd(b64("bob"))
        assert r.code == 334 and r.lines[0] == b64("Password:"), r
        r = c.cmd(b64(USERS["bob"]))
        assert (r.code, r.enh) == (235, "2.7.0"), r
        sid = shared.session_of(c)
    ev = shared.wait_event("auth-success", session=sid)
    assert ev[0]["user"] == "bob" and ev[0]["mech"] == "LOGIN"
    assert ev[0]["client"] == OUTSIDER


def test_login_with_initial_user(shared):
    """AUTH LOGIN <base64 user>: straight to 334 Password:."""
    with tls_ready(shared) as c:
        r = c.cmd("AUTH LOGIN " + b64("alice"))
        assert r.code == 334 and r.lines[0] == b64("Password:"), r
        assert c.cmd(b64(ALICE[1])).code == 235


def test_auth_state_rules(shared):
    """AUTH twice: 503; AUTH inside a transaction: 503; an unknown
    mechanism: 504; another identity (authzid): 535."""
    with tls_ready(shared) as c:
        r = c.cmd("AUTH CRAM-MD5")
        assert (r.code, r.enh) == (504, "5.5.4"), r
        r = c.cmd("AUTH PLAIN " + plain_response(*ALICE, authzid="bob"))
        assert (r.code, r.enh) == (535, "5.7.8"), r
        # an authzid equal to the login is no change of identity
        r = c.cmd("AUTH PLAIN " + plain_response(*ALICE, authzid="alice"))
        assert (r.code, r.enh) == (235, "2.7.0"), r
        r = c.auth_plain(*ALICE)
        assert (r.code, r.enh) == (503, "5.5.1"), r
    with tls_ready(shared, "smtp", source="127.0.0.1") as c:
        assert c.cmd(f"MAIL FROM:<alice@{LOCAL_DOMAIN}>").code == 250
        r = c.auth_plain(*ALICE)
        assert r.code == 503, r


def test_commands_pipelined_after_auth_wait_for_it(shared):
    """AUTH, MAIL, RCPT in one write: the session holds MAIL until the
    check is done, then runs it as the authenticated user; after a
    failed AUTH the same MAIL gets 530."""
    with tls_ready(shared, "submission") as c:
        c.send("AUTH PLAIN " + plain_response(*ALICE) + "\r\n"
               f"MAIL FROM:<alice@{LOCAL_DOMAIN}>\r\nRCPT TO:<p@{REMOTE}>\r\n")
        assert [c.read_reply().code for _ in range(3)] == [235, 250, 250]
    with tls_ready(shared, "submission") as c:
        c.send("AUTH PLAIN " + plain_response("alice", "bad") + "\r\n"
               f"MAIL FROM:<alice@{LOCAL_DOMAIN}>\r\nRCPT TO:<p@{REMOTE}>\r\n")
        assert [c.read_reply().code for _ in range(3)] == [535, 530, 503]


def test_no_backend_no_auth(tls_server):
    """Neither auth.passwd_file nor auth.dovecot_socket: AUTH is not
    offered (502 if tried), the submission ports warn that nobody can
    send there."""
    srv = tls_server()
    for listener in ("submissions", "submission"):
        with tls_ready(srv, listener) as c:
            r = c.ehlo()
            assert not r.has("AUTH"), r
            r = c.auth_plain(*ALICE)
            assert (r.code, r.enh) == (502, "5.5.1"), r
            assert c.cmd(f"MAIL FROM:<alice@{LOCAL_DOMAIN}>").code == 530
    roles = sorted(e["role"] for e in srv.events("config-warning"))
    assert roles == ["submission", "submissions"], roles


def test_login_user_name_is_not_truncated(tls_server):
    long_user = "u" * 255
    srv = tls_server(users={long_user: "long-pass-6"})
    with tls_ready(srv) as c:
        still_works(c, (long_user, "long-pass-6"))
    with tls_ready(srv, "submission") as c:
        r = c.cmd("AUTH LOGIN " + b64(long_user + "zz"))
        if r.code == 334:   # refused at the password step, or at once
            r = c.cmd(b64("long-pass-6"))
        assert r.code in (501, 535), r
        assert c.cmd(f"MAIL FROM:<{long_user}@{LOCAL_DOMAIN}>").code == 530


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("first,bad", [
    ("AUTH PLAIN !!!notbase64!!!", None),
    ("AUTH PLAIN", "a$b%c"),
    ("AUTH LOGIN", "****"),
    ("AUTH LOGIN " + b64("alice"), "YWxp!!ZQ=="),
    ("AUTH PLAIN YWxpY2U", None),          # truncated base64 (no padding)
])
def test_bad_base64_is_501(shared, first, bad):
    with tls_ready(shared) as c:
        r = c.cmd(first)
        if bad is not None:
            assert r.code == 334, r
            r = c.cmd(bad)
        assert (r.code, r.enh) == (501, "5.5.2"), r
        still_works(c)


def test_malformed_plain_is_501(shared):
    """PLAIN without the two NULs is malformed (501), not a login try."""
    with tls_ready(shared) as c:
        r = c.cmd("AUTH PLAIN " + b64("alice " + ALICE[1]))
        assert r.code == 501, r
        sid = shared.session_of(c)
        still_works(c)
    assert not shared.session_events(sid, "auth-failure")


@pytest.mark.parametrize("first,steps", [
    ("AUTH PLAIN", []),
    ("AUTH LOGIN", []),
    ("AUTH LOGIN", [b64("alice")]),
])
def test_star_cancels(shared, first, steps):
    """'*' cancels the exchange: 501, no failure counted, session READY."""
    with tls_ready(shared) as c:
        assert c.cmd(first).code == 334
        for s in steps:
            assert c.cmd(s).code == 334
        r = c.cmd("*")
        assert r.code == 501, r
        sid = shared.session_of(c)
        still_works(c)
    assert not shared.session_events(sid, "auth-failure")


def test_overlong_auth_response_line(shared):
    """A response line over the AUTH line limit (12288 octets, RFC 4954 4)
    is discarded unread: 500 5.5.6; the session goes on."""
    with tls_ready(shared) as c:
        assert c.cmd("AUTH PLAIN").code == 334
        r = c.cmd("A" * 20000)
        assert (r.code, r.enh) == (500, "5.5.6"), r
        still_works(c)


def test_overlong_auth_initial_response(shared):
    """The same limit for an initial response on the AUTH command line:
    500 5.5.6 (RFC 4954: 'Authentication Exchange line is too long')."""
    with tls_ready(shared) as c:
        r = c.cmd("AUTH PLAIN " + "A" * 20000)
        assert r.code == 500, r
        assert r.enh == "5.5.6", r
        still_works(c)


def test_long_but_legal_line_is_not_a_crash(shared):
    """Base64 that fits the line limit but decodes to more than any
    credential: refused (501 or 535), no crash, session READY."""
    with tls_ready(shared) as c:
        r = c.cmd("AUTH PLAIN " + plain_response("alice", "p" * 9000))
        assert r.code in (501, 535), r
        r = c.cmd("AUTH LOGIN " + b64("u" * 5000))
        assert r.code in (501, 535), r
        still_works(c)


# ---------------------------------------------------------------- failures


def test_wrong_password_and_unknown_user_are_535(shared):
    """Wrong password, unknown user, empty password: 535 5.7.8, each
    logged as auth-failure with user and client, never the password."""
    tries = [("alice", "wrong-password-xyz"), ("nosuchuser", "whatever-77"),
             ("alice", "")]
    with tls_ready(shared, source="127.0.0.9") as c:
        for u, p in tries:
            r = c.auth_plain(u, p)
            assert (r.code, r.enh) == (535, "5.7.8"), (u, r)
        sid = shared.session_of(c)
        r = c.cmd(f"MAIL FROM:<alice@{LOCAL_DOMAIN}>")
        assert r.code == 530, r
    ev = shared.session_events(sid, "auth-failure")
    assert [e["user"] for e in ev] == ["alice", "nosuchuser", "alice"]
    assert all(e["client"] == "127.0.0.9" for e in ev)
    log = shared.log_text()
    assert "wrong-password-xyz" not in log and "whatever-77" not in log
    for pw in USERS.values():
        assert pw not in log


def test_throttle_slow_then_block(tls_server):
    """auth.slow_after=2, auth.max_failures=4: failure 1 is answered at
    once, 2 after 1 s, 3 after 2 s (auth-throttle action=slow), 4 gets
    454 4.7.0 and the connection is closed (action=block); the address
    stays blocked even with the right password; another address is not
    affected, and is served at once while a failure reply is delayed."""
    srv = tls_server({"auth.slow_after": 2, "auth.max_failures": 4,
                      "auth.block_time": "1h"}, users={"alice": ALICE[1]})
    bad, good = "127.0.0.3", "127.0.0.4"
    c = tls_ready(srv, source=bad)
    times = []
    for i in range(2):
        t = time.monotonic()
        r = c.auth_plain("alice", f"guess-{i}")
        times.append(time.monotonic() - t)
        assert (r.code, r.enh) == (535, "5.7.8"), r
    assert times[0] < 0.9 * SLOW, times
    assert times[1] >= 0.95, times
    # failure 3 (2 s delay): meanwhile another address logs in at once
    t = time.monotonic()
    c.send(f"AUTH PLAIN {plain_response('alice', 'guess-2')}\r\n")
    srv.wait_event("auth-throttle", client=bad, action="slow", count=2)
    with tls_ready(srv, source=good) as g:
        t2 = time.monotonic()
        still_works(g)
        assert time.monotonic() - t2 < 0.9 * SLOW
    r = c.read_reply(timeout=10)
    assert (r.code, r.enh) == (535, "5.7.8"), r
    assert time.monotonic() - t >= 1.95
    slow = srv.events("auth-throttle", client=bad, action="slow")
    assert [e["delay"] for e in slow] == ["1s", "2s"], slow
    # failure 4: blocked, 454 and disconnect
    r = c.auth_plain("alice", "guess-3")
    assert (r.code, r.enh) == (454, "4.7.0"), r
    assert c.expect_eof(timeout=5), "still connected after 454"
    c.close()
    ev = srv.wait_event("auth-throttle", client=bad, action="block")
    assert ev[0]["failures"] == "4" and ev[0]["duration"] == "3600s", ev
    assert srv.events("auth-blocked", client=bad)
    # blocked: even the right password gets 454 and a disconnect
    with tls_ready(srv, source=bad) as c2:
        r = c2.auth_plain(*ALICE)
        assert (r.code, r.enh) == (454, "4.7.0"), r
        assert c2.expect_eof(timeout=5)
    # the other address: right password works, a wrong one is not slowed
    with tls_ready(srv, source=good) as g:
        t = time.monotonic()
        r = g.auth_plain("alice", "nope")
        assert r.code == 535 and time.monotonic() - t < 0.9 * SLOW, r
        still_works(g)
        assert g.cmd(f"MAIL FROM:<alice@{LOCAL_DOMAIN}>").code == 250
        assert g.cmd(f"RCPT TO:<x@{REMOTE}>").code == 250
    assert not srv.events("auth-throttle", client=good)


def test_success_after_block_expiry_forgets_failures(tls_server):
    """Blocked, the block expires, the user logs in: a later single typo
    is an ordinary 535, not an instant new block."""
    srv = tls_server({"auth.max_failures": 2, "auth.slow_after": 100,
                      "auth.block_time": 1}, users={"alice": ALICE[1]})
    ip = "127.0.0.7"
    with tls_ready(srv, source=ip) as c:
        assert c.auth_plain("alice", "x").code == 535
        assert c.auth_plain("alice", "y").code == 454
    srv.wait_event("auth-throttle", client=ip, action="block")
    time.sleep(1.2)    # auth.block_time = 1 s
    with tls_ready(srv, source=ip) as c:
        still_works(c)
    with tls_ready(srv, source=ip) as c:
        r = c.auth_plain("alice", "typo")
        assert (r.code, r.enh) == (535, "5.7.8"), r


def test_client_gone_during_delayed_failure(tls_server):
    """A client that hangs up while its failure reply is delayed: the
    server neither crashes nor leaks (the check outlives the session)."""
    srv = tls_server({"auth.slow_after": 1, "auth.max_failures": 100},
                     users={"alice": ALICE[1]})
    c = tls_ready(srv, source="127.0.0.5")
    c.send(f"AUTH PLAIN {plain_response('alice', 'x')}\r\n")
    sid = srv.session_of(c)
    srv.wait_event("auth-throttle", client="127.0.0.5", action="slow")
    c.close()
    srv.wait_event("disconnect", session=sid, timeout=5)
    time.sleep(1.2)   # the delayed answer fires after the session is gone
    with tls_ready(srv, source="127.0.0.6") as g:
        still_works(g)


def libc_crypt(password, setting):
    """crypt(3) from libcrypt (Python's crypt module is going away)."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    out = lib.crypt(password.encode(), setting.encode())
    return out.decode() if out else None


# ---------------------------------------------------------------- SIGHUP


def test_sighup_reloads_passwd_file(tls_server):
    """Add a user, HUP: the user can log in. Break the file, HUP: the log
    says passwd-reload-failed and every old user still works."""
    srv = tls_server(users={"alice": ALICE[1]},
                     allowed_errors=[r"event=passwd-reload-failed"])
    with tls_ready(srv) as c:
        assert c.auth_plain("erin", "erin-pass-5").code == 535
    srv.write_passwd({"alice": ALICE[1], "erin": "erin-pass-5"})
    srv.hup()
    srv.wait_event("passwd-reloaded", users="2")
    with tls_ready(srv, "submission") as c:
        still_works(c, ("erin", "erin-pass-5"))
    # broken: a line that is not user:hash
    srv.write_passwd({"alice": ALICE[1], "erin": "erin-pass-5"},
                     extra="this line is broken\n")
    srv.hup()
    ev = srv.wait_event("passwd-reload-failed")
    assert ev[0]["action"] == "keeping-old-file", ev
    assert "passwd" in ev[0]["problem"], ev
    assert srv.running()
    for user in (ALICE, ("erin", "erin-pass-5")):
        with tls_ready(srv) as c:
            still_works(c, user)
    # fixed again and a user removed: the removal takes effect
    srv.write_passwd({"erin": "erin-pass-5"})
    srv.hup()
    srv.wait_event("passwd-reloaded", users="1")
    with tls_ready(srv) as c:
        assert c.auth_plain(*ALICE).code == 535
        still_works(c, ("erin", "erin-pass-5"))


@pytest.mark.parametrize("method", ["METHOD_SHA512", "METHOD_BLOWFISH"])
def test_passwd_other_crypt_hashes(tls_server, method):
    """Lines made by other tools work too: sha512-crypt ($6$, as from
    `openssl passwd -6` or mkpasswd) and bcrypt ($2b$, htpasswd -B)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    m = getattr(crypt, method)
    salt = crypt.mksalt(m, rounds=256) if method == "METHOD_BLOWFISH" \
        else crypt.mksalt(m)
    line = "frank:" + crypt.crypt("frank-pass-7", salt)
    assert line.split(":")[1].startswith("$6$" if "SHA" in method else "$2")
    srv = tls_server(users={"alice": ALICE[1]})
    srv.write_passwd({"alice": ALICE[1]}, extra=line + "\n")
    srv.hup()
    srv.wait_event("passwd-reloaded", users="2")
    with tls_ready(srv) as c:
        assert c.auth_plain("frank", "wrong-pass").code == 535
    with tls_ready(srv) as c:
        still_works(c, ("frank", "frank-pass-7"))


def test_passwd_hashes_from_sluice_passwd(tmp_path):
    """`sluice passwd USER` reads the password on stdin and prints
    USER:hash, a crypt(3) hash that differs each time (salted)."""
    a = hash_user("frank", "pw-one")
    from tls_harness import _hash_cache
    _hash_cache.clear()
    b = hash_user("frank", "pw-one")
    assert a.startswith("frank:$") and b.startswith("frank:$")
    assert a != b
    h = a.split(":", 1)[1]
    assert libc_crypt("pw-one", h) == h
    assert libc_crypt("pw-two", h) != h


# ---------------------------------------------------------------- Dovecot


def test_dovecot_backend(tls_server, dovecot, tls_catcher):
    """auth.dovecot_socket: a {PLAIN} user and a {SHA512-CRYPT} user that
    Dovecot knows log in (PLAIN and LOGIN) and relay; an unknown user and
    a wrong password are refused with 535."""
    srv = tls_server({"auth.dovecot_socket": str(dovecot.socket),
                      "outbound.relayhost": f"[127.0.0.1]:{tls_catcher.port}"})
    with tls_ready(srv, source="127.0.0.20") as c:
        still_works(c, ("dove", dovecot.passwords["dove"]))
        assert c.cmd(f"MAIL FROM:<dove@{LOCAL_DOMAIN}>").code == 250
        assert c.cmd(f"RCPT TO:<x@{REMOTE}>").code == 250
    crypt_user = f"crypt@{LOCAL_DOMAIN}"
    with tls_ready(srv, "submission", source="127.0.0.21") as c:
        r = c.cmd("AUTH LOGIN " + b64(crypt_user))
        assert r.code == 334, r
        r = c.cmd(b64(dovecot.passwords[crypt_user]))
        assert (r.code, r.enh) == (235, "2.7.0"), r
        assert c.cmd(f"MAIL FROM:<{crypt_user}>").code == 250
        assert c.cmd(f"RCPT TO:<dc@{REMOTE}>").code == 250
        assert c.cmd("DATA").code == 354
        assert c.cmd("Subject: dovecot-relay\r\n\r\nhi\r\n.").code == 250
    tls_catcher.wait_for("dovecot-relay")
    # separate addresses: Dovecot delays repeated failures per address
    for src, (u, p) in (("127.0.0.22", ("stranger", "dove-pass-1")),
                        ("127.0.0.23", ("dove", "not-the-password"))):
        with tls_ready(srv, source=src) as c:
            r = c.auth_plain(u, p)
            assert (r.code, r.enh) == (535, "5.7.8"), (u, r)
            assert c.cmd(f"MAIL FROM:<{u}@{LOCAL_DOMAIN}>").code == 530
    users = [e["user"] for e in srv.events("auth-success")]
    assert users == ["dove", crypt_user], users
    assert [e["user"] for e in srv.events("auth-failure")] == \
        ["stranger", "dove"]


def test_dovecot_unreachable_is_temporary(tls_server, tmp_path):
    """No Dovecot behind the socket: 454 4.7.0 (try later), not 535, and
    it does not count as a failed password."""
    srv = tls_server({"auth.dovecot_socket": str(tmp_path / "nothing"),
                      "auth.max_failures": 2})
    for _ in range(3):
        with tls_ready(srv, source="127.0.0.24") as c:
            r = c.auth_plain("dove", "dove-pass-1")
            assert (r.code, r.enh) == (454, "4.7.0"), r
            # a temporary failure keeps the session
            assert c.cmd("NOOP").code == 250
    assert srv.events("auth-backend-error", backend="dovecot")
    assert not srv.events("auth-throttle")


def test_dovecot_internal_failure_is_temporary(tls_server, tmp_path):
    """A Dovecot whose passdb fails (its users file unreadable to the auth
    process) answers FAIL code=temp_fail: sluiced must say 454 4.7.0."""
    d = Dovecot(tmp_path / "dovecot-broken", {"dove": "{PLAIN}dove-pass-1"},
                auth_as_root=False)
    d.start()
    try:
        srv = tls_server({"auth.dovecot_socket": str(d.socket)})
        with tls_ready(srv, source="127.0.0.25") as c:
            r = c.auth_plain("dove", "dove-pass-1")
            assert (r.code, r.enh) == (454, "4.7.0"), r
    finally:
        d.stop()
