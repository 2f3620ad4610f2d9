"""
Relaying with TLS and SMTP AUTH: real clients (smtplib, swaks, msmtp,
openssl s_client) authenticate on the submission (STARTTLS) and
submissions (implicit TLS) ports and relay to the relayhost catcher;
nobody relays without authenticating, on any port; the Received: header
says ESMTPSA and names the TLS version; senders must belong to the user;
`sluice policy explain --auth` agrees.

The shared server (conftest.py) listens on three ports:
  smtp         role smtp, networks=127.0.0.1/32 (so 127.0.0.2 is untrusted
               there although the global authorized_networks has 127/8)
  submission   role submission (STARTTLS, AUTH required)
  submissions  role submissions (implicit TLS, AUTH required)
"""
import os
import re

import pytest

from tls_harness import (HOSTNAME, LOCAL_DOMAIN, REMOTE, SLUICE, USERS,
                         SClient, header_values, message,
                         need_tool, new_token, plain_response, run,
                         wait_until)

OUTSIDER = "127.0.0.2"
ALICE = ("alice", USERS["alice"])
SENDER = f"alice@{LOCAL_DOMAIN}"


def first_received(data):
    return header_values(data, "Received")[0]


def check_relayed(srv, token, sender=SENDER, rcpt=None, tls="TLSv1.3"):
    """The catcher got the message; its Received: header (ours, the first)
    says ESMTPSA and names the TLS version."""
    mail_from, rcpts, data = srv.catcher.wait_for(token)
    assert mail_from == sender
    if rcpt:
        assert rcpts == [rcpt]
    rec = first_received(data)
    assert f"by {HOSTNAME} (sluiced) with ESMTPSA id" in rec, rec
    assert re.search(rf"\(using {tls} with cipher \S+", rec), rec
    ev = srv.wait_event("delivery", status="sent", to=f"<{rcpts[0]}>")
    assert ev
    return rec


# ---------------------------------------------------------------- advertising


def test_ehlo_offers_starttls_then_auth(shared):
    """smtp and submission: STARTTLS before TLS and no AUTH; after TLS,
    AUTH PLAIN LOGIN and no STARTTLS. submissions: TLS at once, AUTH."""
    for name in ("smtp", "submission"):
        with shared.client(name) as c:
            r = c.ehlo()
            assert r.has("STARTTLS") and not r.has("AUTH"), (name, r)
            c.starttls()
            r = c.ehlo()
            assert not r.has("STARTTLS"), (name, r)
            assert "AUTH PLAIN LOGIN" in r.lines, (name, r)
    with shared.client("submissions") as c:
        assert c.tls in ("TLSv1.2", "TLSv1.3")
        r = c.ehlo()
        assert "AUTH PLAIN LOGIN" in r.lines and not r.has("STARTTLS"), r
        sid = shared.session_of(c)
    line = shared.wait_event("tls", session=sid)[0]["_line"]
    assert re.search(r"event=tls client=127\.0\.0\.1 using TLSv1\.[23] with "
                     r"cipher \S+", line), line


# ---------------------------------------------------------------- refusals


def test_outsider_cannot_relay_on_smtp_port(shared):
    """The 25-role listener: an untrusted client (127.0.0.2; the listener's
    networks= trusts only 127.0.0.1) gets 550 5.7.1, in clear and after
    STARTTLS without AUTH; the same with swaks."""
    for tls in (False, True):
        with shared.client("smtp", source=OUTSIDER) as c:
            c.ehlo()
            if tls:
                c.starttls()
                c.ehlo()
            assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
            r = c.cmd(f"RCPT TO:<victim@{REMOTE}>")
            assert (r.code, r.enh) == (550, "5.7.1"), (tls, r)
            # local mail is still accepted from anyone
            assert c.cmd(f"RCPT TO:<alice@{LOCAL_DOMAIN}>").code == 250
            c.cmd("QUIT")
    need_tool("swaks")
    p = run(["swaks", "--server", f"127.0.0.1:{shared.ports['smtp']}",
             "--local-interface", OUTSIDER, "--tls", "--from", SENDER,
             "--to", f"victim@{REMOTE}", "--quit-after", "RCPT"])
    assert p.returncode != 0
    assert re.search(r"<~\*? *550 5\.7\.1", p.stdout), p.stdout
    ev = shared.events("rcpt-rejected", client=OUTSIDER)
    assert len(ev) >= 3 and all(e["reply"].startswith("550") and e["rule"] == "relay-denied" for e in ev), ev


def test_listener_networks_replace_authorized_networks(shared):
    """networks= on the smtp listener trusts 127.0.0.1 there (relay without
    AUTH), while 127.0.0.2, in the global authorized_networks, is not."""
    with shared.client("smtp", source="127.0.0.1") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<x@{REMOTE}>").code == 250
        c.cmd("QUIT")


@pytest.mark.parametrize("listener", ["submission", "submissions"])
@pytest.mark.parametrize("source", ["127.0.0.1", OUTSIDER])
def test_submission_ports_require_auth(shared, listener, source):
    """587 and 465: MAIL without AUTH is 530 5.7.0, also after STARTTLS
    and also from a trusted address; RCPT then finds no transaction."""
    with shared.client(listener, source=source) as c:
        c.ehlo()
        if listener == "submission":
            r = c.cmd(f"MAIL FROM:<{SENDER}>")
            assert (r.code, r.enh) == (530, "5.7.0"), r
            c.starttls()
            c.ehlo()
        r = c.cmd(f"MAIL FROM:<{SENDER}>")
        assert (r.code, r.enh) == (530, "5.7.0"), r
        r = c.cmd(f"RCPT TO:<x@{REMOTE}>")
        assert r.code == 503, r
        c.cmd("QUIT")


@pytest.mark.parametrize("listener", ["smtp", "submission"])
@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_auth_before_tls_is_refused(shared, listener, mech):
    """AUTH in clear: 538 5.7.11, whatever the mechanism, even with a
    correct initial response; nothing is logged as a login."""
    with shared.client(listener, source=OUTSIDER) as c:
        c.ehlo()
        arg = plain_response(*ALICE) if mech == "PLAIN" else ""
        r = c.cmd(f"AUTH {mech} {arg}".rstrip())
        assert (r.code, r.enh) == (538, "5.7.11"), r
        sid = shared.session_of(c)
        # still no relaying
        r = c.cmd(f"MAIL FROM:<{SENDER}>")
        if listener == "submission":
            assert r.code == 530, r
        else:
            assert r.code == 250
            assert c.cmd(f"RCPT TO:<x@{REMOTE}>").code == 550
        c.cmd("QUIT")
    assert not shared.session_events(sid, "auth-success")


# ---------------------------------------------------------------- relaying


@pytest.mark.parametrize("listener", ["submission", "submissions", "smtp"])
def test_smtplib_authenticated_relay(shared, listener):
    """smtplib: starttls() + login() on 587 (and on the 25-role port, from
    an untrusted address), SMTP_SSL + login() on 465; the message reaches
    the relayhost with ESMTPSA in its Received: header."""
    token = new_token()
    rcpt = f"friend-{listener}@{REMOTE}"
    s = shared.smtplib(listener, source=OUTSIDER)
    try:
        assert s.login(*ALICE)[0] == 235
        s.sendmail(SENDER, [rcpt], message(token, SENDER, rcpt))
    finally:
        s.quit()
    check_relayed(shared, token, rcpt=rcpt)
    ev = [e for e in shared.events("auth-success", user="alice",
                                   client=OUTSIDER)]
    assert ev and ev[-1]["mech"] == "PLAIN"


@pytest.mark.parametrize("listener,flag,mech", [
    ("submission", "--tls", "PLAIN"),
    ("submissions", "--tlsc", "LOGIN"),
])
def test_swaks_authenticated_relay(shared, listener, flag, mech):
    need_tool("swaks")
    token = new_token()
    rcpt = f"swaks-{mech.lower()}@{REMOTE}"
    p = run(["swaks", "--server", f"127.0.0.1:{shared.ports[listener]}",
             "--local-interface", OUTSIDER, flag, "--auth", mech,
             "--auth-user", ALICE[0], "--auth-password", ALICE[1],
             "--from", SENDER, "--to", rcpt, "--header",
             f"Subject: swaks {token}", "--body", f"body {token}"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "235 2.7.0" in p.stdout
    if mech == "LOGIN":   # two steps: 334 Username, 334 Password
        assert "334 VXNlcm5hbWU6" in p.stdout
        assert "334 UGFzc3dvcmQ6" in p.stdout
    check_relayed(shared, token, rcpt=rcpt)
    assert any(e["mech"] == mech for e in shared.events("auth-success",
                                                        client=OUTSIDER))


@pytest.mark.parametrize("listener", ["submission", "submissions"])
def test_msmtp_authenticated_relay(shared, listener, tmp_path):
    """msmtp, as a mail user agent would: STARTTLS on 587, implicit TLS on
    465; it checks the server's self-signed certificate (from
    SPOOL/tls/) by pinning it as its trust file."""
    need_tool("msmtp")
    token = new_token()
    rcpt = f"msmtp-{listener}@{REMOTE}"
    user, pw = "bob", USERS["bob"]
    sender = f"bob@{LOCAL_DOMAIN}"
    crt = shared.spool / "tls" / "selfsigned.crt"
    conf = tmp_path / "msmtprc"
    conf.write_text(f"""\
account default
host 127.0.0.1
port {shared.ports[listener]}
source_ip {OUTSIDER}
from {sender}
auth {"plain" if listener == "submission" else "login"}
user {user}
password {pw}
tls on
tls_starttls {"on" if listener == "submission" else "off"}
tls_trust_file {crt}
tls_host_override {HOSTNAME}
logfile {tmp_path}/msmtp.log
""")
    os.chmod(conf, 0o600)
    p = run(["msmtp", "-C", str(conf), "-f", sender, rcpt],
            input=message(token, sender, rcpt).replace("\r\n", "\n"))
    assert p.returncode == 0, p.stdout + p.stderr
    rec = check_relayed(shared, token, sender=sender, rcpt=rcpt)
    assert "ESMTPSA" in rec


@pytest.mark.parametrize("listener", ["submission", "submissions"])
def test_openssl_s_client_authenticated_relay(shared, listener):
    """openssl s_client -starttls smtp (587) and plain s_client (465),
    one command at a time: AUTH PLAIN, MAIL, RCPT, DATA."""
    need_tool("openssl")
    token = new_token()
    rcpt = f"sclient-{listener}@{REMOTE}"
    sc = SClient(shared.ports[listener], starttls=listener == "submission")
    try:
        if listener == "submissions":
            r = sc.read_reply()
            assert r.code == 220, r
        r = sc.cmd("EHLO sclient.example")
        assert r.code == 250 and "AUTH PLAIN LOGIN" in r.lines, r
        r = sc.cmd("AUTH PLAIN " + plain_response(*ALICE))
        assert (r.code, r.lines[0][:5]) == (235, "2.7.0"), r
        assert sc.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert sc.cmd(f"RCPT TO:<{rcpt}>").code == 250
        assert sc.cmd("DATA").code == 354
        r = sc.cmd(message(token, SENDER, rcpt) + ".")
        assert r.code == 250, r
        assert sc.cmd("QUIT").code == 221
    finally:
        err = sc.close()
    check_relayed(shared, token, rcpt=rcpt)
    assert "error" not in err.lower() or "verify error" in err.lower(), err


# ---------------------------------------------------------------- Received:


def test_received_header_words(shared):
    """Local delivery shows the protocol word of RFC 3848: ESMTP in clear,
    ESMTPS with TLS only (and the TLS version), ESMTPSA with AUTH too."""
    got = {}
    for how in ("ESMTP", "ESMTPS", "ESMTPSA"):
        token = new_token()
        with shared.client("smtp", source=OUTSIDER) as c:
            c.ehlo()
            if how != "ESMTP":
                c.starttls()
                c.ehlo()
                tls = c.tls
            if how == "ESMTPSA":
                assert c.auth_plain(*ALICE).code == 235
            assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
            assert c.cmd(f"RCPT TO:<dave@{LOCAL_DOMAIN}>").code == 250
            assert c.cmd("DATA").code == 354
            r = c.cmd(message(token, SENDER, f"dave@{LOCAL_DOMAIN}") + ".")
            assert r.code == 250, r
            c.cmd("QUIT")
        def find():
            for f in shared.maildir_files("dave"):
                if token.encode() in f.read_bytes():
                    return f
        f = wait_until(find, 10, what=f"the {how} message in dave's Maildir")
        got[how] = first_received(f.read_bytes())
    assert " with ESMTP id " in got["ESMTP"] and "using" not in got["ESMTP"]
    assert " with ESMTPS id " in got["ESMTPS"]
    assert f"(using {tls} with cipher" in got["ESMTPS"], got["ESMTPS"]
    assert " with ESMTPSA id " in got["ESMTPSA"]
    assert f"(using {tls} with cipher" in got["ESMTPSA"], got["ESMTPSA"]
    # the authenticated user is not named to the recipients
    assert "alice" not in got["ESMTPSA"]


# ---------------------------------------------------------------- senders


@pytest.mark.parametrize("login,sender,ok", [
    ("alice", f"alice@{LOCAL_DOMAIN}", True),
    ("alice", f"ALICE@{LOCAL_DOMAIN.upper()}", True),
    ("alice", f"alice+lists@{LOCAL_DOMAIN}", True),
    ("alice", "", True),                          # bounces: null sender
    ("alice", f"bob@{LOCAL_DOMAIN}", False),
    ("alice", f"alice@{REMOTE}", False),
    ("alice", "alice@sub.example.test", False),
    ("bob", f"alice@{LOCAL_DOMAIN}", False),
    (f"carol@{LOCAL_DOMAIN}", f"carol@{LOCAL_DOMAIN}", True),
    (f"carol@{LOCAL_DOMAIN}", f"carol@{REMOTE}", False),
    ("dave", f"dave@{LOCAL_DOMAIN}", True),       # auth.sender_logins
    ("dave", "dave@anywhere.example", True),
    ("dave", "boss@hq.corp.test", True),
    ("dave", f"eve@{LOCAL_DOMAIN}", False),
])
def test_sender_must_belong_to_user(shared, login, sender, ok):
    """After AUTH, MAIL FROM must be one of the user's addresses (the login
    if it is an address, LOGIN@ a local domain, or auth.sender_logins);
    else 553 5.7.1, logged with the rule."""
    with shared.client("submissions", source=OUTSIDER) as c:
        c.ehlo()
        assert c.auth_plain(login, USERS[login]).code == 235
        r = c.cmd(f"MAIL FROM:<{sender}>")
        if ok:
            assert r.code == 250, r
            assert c.cmd(f"RCPT TO:<x@{REMOTE}>").code == 250
        else:
            assert (r.code, r.enh) == (553, "5.7.1"), r
            sid = shared.session_of(c)
            ev = wait_until(lambda: shared.session_events(sid,
                                                          "mail-rejected"),
                            5, what="mail-rejected")
            assert ev[0]["rule"] == f"sender-login-mismatch:{login}", ev
            # the session goes on: an owned sender is accepted afterwards
            own = login if "@" in login else f"{login}@{LOCAL_DOMAIN}"
            assert c.cmd(f"MAIL FROM:<{own}>").code == 250
        c.cmd("QUIT")


# ---------------------------------------------------------------- explain


def test_policy_explain_auth(shared):
    """sluice policy explain --auth USER with the server's own config:
    accept (rule authenticated:USER); without --auth: relay denied; with
    someone else's sender: 553."""
    conf = str(shared.conf_path)
    base = [SLUICE, "policy", "explain", "-c", conf, "--client",
            "192.0.2.7", "--to", f"x@{REMOTE}"]
    p = run(base + ["--auth", "alice", "--from", SENDER])
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"^to\s+<x@remote\.example>\s+accept\s+"
                     r"rule=authenticated:alice", p.stdout, re.M), p.stdout
    assert re.search(r"^result\s+accepted", p.stdout, re.M), p.stdout

    p = run(base + ["--from", SENDER])
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"^to\s+\S+\s+reject\s+reply=\"550 5\.7\.1", p.stdout,
                     re.M), p.stdout

    p = run(base + ["--auth", "alice", "--from", f"bob@{LOCAL_DOMAIN}"])
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"^from\s+\S+\s+reject\s+reply=\"553 5\.7\.1",
                     p.stdout, re.M), p.stdout
