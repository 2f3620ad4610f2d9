"""Delivery mode, where what comes back decides: accept-then-bounce is a
bounce, never "open"; a token that arrived proves relaying even when the
session then timed out; a token copied from a live report but sent without
the run's proof counts for nothing; relayed mail found in a Maildir; and
the progress line on a terminal."""
import os
import pty
import re
import select
import smtplib
import subprocess
import time

from probe_harness import FAST, SAN_ENV, ProbeProc, by_id, check_run, \
    check_sanitizers, free_port, probe_cmd, run_probe, verdicts

T1 = ["--timeout", "1", "--connect-timeout", "1", "-q"]
TOKEN_RE = re.compile(rb"X-Sluice-Probe: token=([0-9a-f]{12}) "
                      rb"proof=([0-9a-f]{32}) ")


def delivery(catch, *extra):
    return ["--json", "--mode", "delivery", "--catch", f"127.0.0.1:{catch}",
            "--outside", "outside.test", *extra]


# ---------------------------------------------------------------- bounces


def test_accept_then_bounce_is_not_open(fake):
    """The server says 250 to everything and later bounces each message to
    its sender through the catcher. For relay-sender-is-rcpt the sender is
    the relay recipient itself, so the bounce (null sender, original
    attached) is addressed to sluice-relay-TOKEN: still a bounce."""
    catch = free_port()
    srv = fake("bounce-async", relay_to=("127.0.0.1", catch),
               relay_delay=0.2)
    r = run_probe(*delivery(catch, *FAST, "--wait", "10", "--tests",
                            "relay-sender-is-rcpt,relay-plain"), srv.spec)
    t = r.one()
    # both bounces were sent (the probe may have ended, its token seen,
    # before the fake read the reply to its final dot: the notes below
    # show that both reached the catcher)
    deadline = time.monotonic() + 5
    while len(srv.bounced) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(srv.bounced) == 2, srv.bounced
    rl = by_id(t, "relay-sender-is-rcpt")
    assert any(to == f"<{rl['mail_from']}>" for to, _ in srv.bounced)
    assert rl["mail_from"] == rl["rcpt_to"]
    v = verdicts(t, "relay")
    assert "open" not in v.values(), (v, r)
    assert t["verdict"] == "accepted", r
    assert r.rc == 1, r
    for tid in ("relay-sender-is-rcpt", "relay-plain"):
        x = by_id(t, tid)
        assert x["verdict"] == "accepted", x
        assert x["note"] == "accepted, then bounced", x
    assert "2 of them came back as bounces" in t["summary"], t["summary"]
    # no waiting for the full --wait: both tokens came back
    assert r.elapsed < 8, r


# ---------------------------------------------------------------- timeout


def test_token_then_timeout_is_open(fake):
    """The server relays the message, then never answers the final dot:
    the token in the catcher proves relaying, whatever the session did."""
    catch = free_port()
    srv = fake("relay-stall", relay_to=("127.0.0.1", catch))
    r = run_probe(*delivery(catch, *T1, "--wait", "3", "--tests",
                            "relay-plain"), srv.spec)
    t = r.one()
    assert srv.relayed and srv.relayed[0][1] is True, srv.relayed
    x = by_id(t, "relay-plain")
    assert x["data_reply"] is None, x          # the dot was never answered
    assert x["verdict"] == "open", (x, r)
    assert x["note"].startswith("relayed: token received (then: "), x
    assert t["verdict"] == "open", r
    assert r.rc == 1, r


# ---------------------------------------------------------------- forgery


def send(port, mail_from, rcpt, data):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("visitor.example")
        s.sendmail(mail_from, [rcpt], data)


def wait_for(pred, secs, what):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def forge_during_wait(fake, forge, wait="4"):
    """Probe an accept-all fake (it delivers nothing) in delivery mode; once
    it has the test message, call forge(catch port, message) while the probe
    waits. The probe's result."""
    catch = free_port()
    srv = fake("accept-all")
    p = ProbeProc(*delivery(catch, *FAST, "-v", "--wait", wait, "--tests",
                            "relay-plain"), srv.spec)
    try:
        msg = wait_for(lambda: srv.messages and srv.messages[0], 20,
                       "the test message")
        forge(catch, msg)
    finally:
        r = check_run(p.wait(timeout=30))
    return r, msg


def test_copied_token_without_proof_is_not_counted(fake):
    def forge(catch, msg):
        token = TOKEN_RE.search(msg).group(1).decode()
        rcpt = f"sluice-relay-{token}@outside.test"
        # the token, as a live report shows it, with no proof, then with
        # a made-up one: envelope and header as a relay would deliver
        for proof in ("", " proof=" + "0" * 32, " proof=" + "ab" * 16):
            send(catch, f"sluice-probe-{token}@outside.test", rcpt,
                 f"From: <x@outside.test>\r\nTo: <{rcpt}>\r\n"
                 f"X-Sluice-Probe: token={token}{proof} test=relay-plain\r\n"
                 f"\r\nsluice relay test {token}\r\n")

    r, msg = forge_during_wait(fake, forge)
    t = r.one()
    x = by_id(t, "relay-plain")
    assert x["verdict"] == "accepted", (x, r)
    assert t["verdict"] == "accepted" and r.rc == 1, r
    assert "without the probe's proof" in x["note"], x
    # the run's proof never shows: not in the report, the JSON or the
    # transcript (-v), so no visitor can copy it
    proof = TOKEN_RE.search(msg).group(2)
    assert proof not in r.out and proof not in r.err
    assert "(message, " in t["transcript"]


def test_genuine_copy_with_proof_is_counted(fake):
    """The control of the test above: the same path, with the real message
    (as an open relay would pass it on), is "open"."""
    def forward(catch, msg):
        token = TOKEN_RE.search(msg).group(1).decode()
        body = b"\r\n".join(l[1:] if l.startswith(b".") else l
                            for l in msg.split(b"\r\n"))
        send(catch, f"sluice-probe-{token}@outside.test",
             f"sluice-relay-{token}@outside.test", body)

    r, _ = forge_during_wait(fake, forward, wait="10")
    t = r.one()
    assert by_id(t, "relay-plain")["verdict"] == "open", r
    assert t["verdict"] == "open" and r.rc == 1, r
    assert r.elapsed < 8, r         # the token came: no full wait


# ---------------------------------------------------------------- Maildir


def maildir(tmp_path):
    d = tmp_path / "Maildir"
    for sub in ("tmp", "new", "cur"):
        (d / sub).mkdir(parents=True)
    return d


def test_maildir_delivery_is_open(fake, tmp_path):
    d = maildir(tmp_path)
    srv = fake("deliver-maildir", maildir=str(d))
    r = run_probe("--json", *FAST, "--mode", "delivery", "--maildir", str(d),
                  "--outside", "outside.test", "--wait", "10", "--tests",
                  "relay-plain,relay-null-sender,percent-target", srv.spec)
    t = r.one()
    assert len(os.listdir(d / "new")) == 3
    assert verdicts(t, "relay") == {"relay-plain": "open",
                                    "relay-null-sender": "open",
                                    "percent-target": "open"}, r
    assert t["verdict"] == "open" and r.rc == 1, r
    assert r.elapsed < 8, r         # no full --wait


def test_maildir_without_proof_is_not_counted(fake, tmp_path):
    """Messages dropped into the Maildir with the right token but no proof
    (anyone who can write there) count for nothing."""
    d = maildir(tmp_path)
    srv = fake("accept-all")
    p = ProbeProc("--json", *FAST, "--mode", "delivery", "--maildir",
                  str(d), "--outside", "outside.test", "--wait", "3",
                  "--tests", "relay-plain", srv.spec)
    try:
        msg = wait_for(lambda: srv.messages and srv.messages[0], 20,
                       "the test message")
        token = TOKEN_RE.search(msg).group(1).decode()
        (d / "new" / "1.forged").write_bytes(
            f"Return-Path: <x@outside.test>\r\n"
            f"Delivered-To: sluice-relay-{token}@outside.test\r\n"
            f"X-Sluice-Probe: token={token} test=relay-plain\r\n\r\n"
            f"hi\r\n".encode())
    finally:
        r = check_run(p.wait(timeout=30))
    t = r.one()
    x = by_id(t, "relay-plain")
    assert x["verdict"] == "accepted", (x, r)
    assert "without the probe's proof" in x["note"], x


# ---------------------------------------------------------------- progress


def test_progress_line_in_delivery_mode(fake):
    """On a terminal the progress line counts targets done, in delivery
    mode too (their verdicts come only after the wait)."""
    catch = free_port()
    srv = fake("accept-all")
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.update(SAN_ENV)
    proc = subprocess.Popen(probe_cmd("--timeout", "2", "--mode",
                                      "delivery", "--catch",
                                      f"127.0.0.1:{catch}", "--outside",
                                      "outside.test", "--wait", "1",
                                      "--tests", "relay-plain", srv.spec),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave, env=env)
    os.close(slave)
    err = b""
    try:
        out, _ = proc.communicate(timeout=30)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(master)
    check_sanitizers(err, "probe (progress)")
    assert proc.returncode == 1, (out, err)
    assert b"probe: 1 done, 0 running, 1 open or accepting relay" in err, err
