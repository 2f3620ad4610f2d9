"""Local delivery: real clients (swaks, smtplib) -> sluiced -> Maildir."""
import email
import email.policy
import hashlib
import os
import re
import shutil
import subprocess
import uuid
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from sluicetest import header_values, split_message, wait_until


def token():
    return "TOKEN-" + uuid.uuid4().hex


def crlf(text):
    return text.replace("\n", "\r\n").encode()


def simple_message(tok, subject="test", to="user@localhost"):
    return crlf(f"From: a@b.example\nTo: {to}\nSubject: {subject}\n\n"
                f"body {tok}\n")


@pytest.fixture(scope="module")
def srv(sluiced_module):
    return sluiced_module()


def stored_one(srv, user, tok, timeout=10):
    """The one message in user's Maildir that carries tok; it must be a
    new message (MAILDIR/user/new/)."""
    def find():
        hits = [p for p in srv.maildir_files(user)
                if tok.encode() in p.read_bytes()]
        return hits or None
    hits = wait_until(find, timeout, what=f"a message with {tok} for {user}")
    assert len(hits) == 1, f"{tok} delivered {len(hits)} times to {user}"
    assert hits[0].parent == srv.maildir_root / user / "new", hits[0]
    return hits[0].read_bytes()


def test_swaks_delivers_with_trace_headers(srv):
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed")
    tok = token()
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{srv.port}",
                        "--helo", "swaks.client.example",
                        "--from", "sender@b.example", "--to", "user@localhost",
                        "--body", f"hello {tok}", "--timeout", "10"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"<-  250 2\.0\.0 Ok: queued as [0-9A-F]+", r.stdout)
    data = stored_one(srv, "user", tok)
    assert header_values(data, "Return-Path") == ["<sender@b.example>"]
    assert header_values(data, "Delivered-To") == ["user@localhost"]
    (received,) = header_values(data, "Received")
    assert "[127.0.0.1]" in received, received
    assert "swaks.client.example" in received, received
    assert "by mx.test" in received, received
    assert "for <user@localhost>" in received, received
    # the trace headers come first, in this order
    assert data.startswith(b"Return-Path: <sender@b.example>\nDelivered-To: "
                           b"user@localhost\nReceived: "), data[:200]


def test_smtplib_delivers(srv):
    tok = token()
    with srv.smtp(helo="py.client.example") as s:
        refused = s.sendmail("sender@b.example", ["user@localhost"],
                             simple_message(tok))
        assert refused == {}
    data = stored_one(srv, "user", tok)
    assert header_values(data, "Return-Path") == ["<sender@b.example>"]
    assert header_values(data, "Delivered-To") == ["user@localhost"]
    (received,) = header_values(data, "Received")
    assert re.search(r"from py\.client\.example \(\[127\.0\.0\.1\]\)",
                     received), received
    assert "with ESMTP id" in received
    _, body = split_message(data)
    assert body == f"body {tok}\n".encode()


def test_each_local_recipient_gets_one_copy(srv):
    tok = token()
    users = ["alice", "bob", "carol"]
    with srv.smtp() as s:
        assert s.sendmail("a@b.example", [f"{u}@localhost" for u in users],
                          simple_message(tok)) == {}
    for u in users:
        data = stored_one(srv, u, tok)
        assert header_values(data, "Delivered-To") == [f"{u}@localhost"]
        # several recipients: the Received header names none (no bcc leak)
        (received,) = header_values(data, "Received")
        assert "for <" not in received, received


def test_8bit_body_is_byte_exact(srv):
    tok = token()
    # every byte value except NUL, CR and LF, on several lines
    allbytes = bytes(b for b in range(1, 256) if b not in (10, 13))
    body = b"\r\n".join([tok.encode(), allbytes, allbytes[::-1],
                         "Grüße, ça va? Ελληνικά 日本語".encode("utf-8"),
                         bytes(range(0x80, 0x100))]) + b"\r\n"
    msg = (b"From: a@b.example\r\nTo: user@localhost\r\nSubject: 8bit\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
    with srv.smtp() as s:
        assert s.has_extn("8bitmime")
        assert s.sendmail("a@b.example", ["user@localhost"], msg,
                          mail_options=["BODY=8BITMIME"]) == {}
    data = stored_one(srv, "user", tok)
    # stored with LF line ends; every other byte as sent
    assert data.endswith(msg.replace(b"\r\n", b"\n"))
    _, stored_body = split_message(data)
    assert stored_body == body.replace(b"\r\n", b"\n")
    ev = [e for e in srv.events("message-accepted") if e.get("to") ==
          "<user@localhost>" and "body" in e and e["size"] == str(len(msg))]
    assert ev and ev[-1]["body"] == "8bit", srv.log_lines("message-accepted")


def test_10mb_attachment_intact(srv):
    tok = token()
    blob = os.urandom(10 * 1024 * 1024)
    m = MIMEMultipart()
    m["From"] = "a@b.example"
    m["To"] = "user@localhost"
    m["Subject"] = tok
    m.attach(MIMEText(f"see attachment {tok}\n"))
    m.attach(MIMEApplication(blob, Name="blob.bin"))
    raw = m.as_bytes(policy=email.policy.SMTP)
    with srv.smtp(timeout=60) as s:
        assert s.sendmail("a@b.example", ["user@localhost"], raw) == {}
    data = stored_one(srv, "user", tok, timeout=30)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    parts = [p for p in parsed.iter_attachments()]
    assert len(parts) == 1
    got = parts[0].get_payload(decode=True)
    assert len(got) == len(blob)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob).hexdigest()
    # and the whole message body, not just the attachment
    _, body = split_message(data)
    _, sent_body = split_message(raw.replace(b"\r\n", b"\n"))
    assert hashlib.sha256(body).hexdigest() == \
        hashlib.sha256(sent_body).hexdigest()


DOT_LINES = [".", "..", "...", ". leading dot and space", ".starts with dot",
             "..two dots", "end.", " .space then dot", ".\t.tab", "." * 80]


def test_dot_stuffing_smtplib(srv):
    tok = token()
    body = "\n".join([tok] + DOT_LINES + ["last"]) + "\n"
    msg = crlf("From: a@b.example\nSubject: dots\n\n" + body)
    with srv.smtp() as s:
        assert s.sendmail("a@b.example", ["user@localhost"], msg) == {}
    data = stored_one(srv, "user", tok)
    _, stored = split_message(data)
    assert stored == body.encode()


def test_dot_stuffing_raw(srv):
    """Stuffed by hand: the server must remove exactly one leading dot."""
    tok = token()
    lines = [tok] + DOT_LINES
    wire = "".join(("." + l if l.startswith(".") else l) + "\r\n"
                   for l in lines)
    with srv.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.example>").code == 250
        assert c.cmd("RCPT TO:<user@localhost>").code == 250
        assert c.cmd("DATA").code == 354
        c.send("Subject: raw dots\r\n\r\n" + wire + ".\r\n")
        r = c.read_reply()
        assert r.code == 250, r
        assert c.cmd("QUIT").code == 221
    data = stored_one(srv, "user", tok)
    _, stored = split_message(data)
    assert stored == ("\n".join(lines) + "\n").encode()


def test_long_lines_intact(srv):
    tok = token()
    long1 = "x" * 5000
    long2 = "".join(chr(0x21 + i % 90) for i in range(5000))
    body = f"{tok}\n{long1}\n{long2}\n.{long1}\n"
    msg = crlf("From: a@b.example\nSubject: long\n\n" + body)
    with srv.smtp() as s:
        assert s.sendmail("a@b.example", ["user@localhost"], msg) == {}
    data = stored_one(srv, "user", tok)
    _, stored = split_message(data)
    assert stored == body.encode()


def test_100_recipients_then_452(srv):
    tok = token()
    users = [f"u{i:03d}" for i in range(1, 102)]
    with srv.smtp() as s:
        assert s.mail("a@b.example")[0] == 250
        for u in users[:100]:
            code, msg = s.rcpt(f"{u}@localhost")
            assert code == 250, (u, code, msg)
        code, msg = s.rcpt(f"{users[100]}@localhost")
        assert code == 452, msg
        assert msg.startswith(b"4.5.3"), msg
        # 452 is not an error: the transaction goes on with 100
        code, msg = s.data(simple_message(tok))
        assert code == 250, msg
    srv.wait_queue_empty(timeout=30)
    for u in users[:100]:
        stored_one(srv, u, tok)
    assert srv.maildir_files(users[100]) == []


@pytest.fixture(scope="module")
def small(sluiced_module):
    return sluiced_module({"limits.message_size": 2048})


def test_size_param_over_limit_552(small):
    with small.smtp() as s:
        assert "2048" in s.esmtp_features.get("size", "")
        code, msg = s.mail("a@b.example", ["SIZE=4096"])
        assert code == 552, msg
        assert msg.startswith(b"5.3.4"), msg
        code, msg = s.mail("a@b.example", ["SIZE=1000"])
        assert code == 250, msg


def test_data_over_limit_552(small):
    tok = token()
    big = simple_message(tok + " " + "y" * 4000)
    with small.smtp() as s:
        # no SIZE= announced: the limit must hold on the data itself
        assert s.mail("a@b.example")[0] == 250
        assert s.rcpt("user@localhost")[0] == 250
        code, msg = s.data(big)
        assert code == 552, msg
        assert msg.startswith(b"5.3.4"), msg
        # the session goes on: a small message in the same session passes
        tok2 = token()
        assert s.mail("a@b.example")[0] == 250
        assert s.rcpt("user@localhost")[0] == 250
        code, msg = s.data(simple_message(tok2))
        assert code == 250, msg
    stored_one(small, "user", tok2)
    small.wait_queue_empty()
    assert not [p for p in small.maildir_files("user")
                if tok.encode() in p.read_bytes()]
    assert small.events("message-rejected", rule="message-size")


@pytest.fixture(scope="module")
def users_srv(sluiced_module):
    return sluiced_module({"local_users": ["alice", "bob@localhost"]})


def test_unknown_user_550_511(users_srv):
    with users_srv.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.example>").code == 250
        for rcpt in ["nobody@localhost", "alicex@localhost", "ALICE2@localhost"]:
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert (r.code, r.enh) == (550, "5.1.1"), (rcpt, r)
        for rcpt in ["alice@localhost", "ALICE@LOCALHOST", "bob@localhost"]:
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code == 250, (rcpt, r)
    assert users_srv.events("rcpt-rejected", rule="unknown-user")


def test_postmaster_always_accepted(users_srv):
    tok = token()
    with users_srv.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.example>").code == 250
        for rcpt in ["<postmaster>", "<postmaster@localhost>",
                     "<PostMaster@LocalHost>"]:
            r = c.cmd(f"RCPT TO:{rcpt}")
            assert r.code == 250, (rcpt, r)
        assert c.cmd("DATA").code == 354
        c.send(simple_message(tok) + b".\r\n")
        assert c.read_reply().code == 250
    users_srv.wait_queue_empty()
    # three addresses of one mailbox: stored and delivered once, to the
    # first of them (sluiced(8): one copy per local mailbox)
    files = [p for p in users_srv.maildir_files("postmaster")
             if tok.encode() in p.read_bytes()]
    assert len(files) == 1, files
    assert header_values(files[0].read_bytes(), "Delivered-To") == \
        ["postmaster"]


def test_recipient_delimiter(users_srv):
    tok = token()
    with users_srv.smtp() as s:
        assert s.sendmail("a@b.example", ["alice+lists@localhost"],
                          simple_message(tok)) == {}
    data = stored_one(users_srv, "alice", tok)
    assert header_values(data, "Delivered-To") == ["alice+lists@localhost"]
    assert not (users_srv.maildir_root / "alice+lists").exists()


def test_message_accepted_log_line(srv):
    tok = token()
    msg = simple_message(tok)
    with srv.smtp(helo="logcheck.example") as s:
        s.mail("log-sender@b.example")
        s.rcpt("alice@localhost")
        s.rcpt("bob@localhost")
        code, reply = s.data(msg)
        assert code == 250
    m = re.search(rb"queued as ([0-9A-F]+)", reply)
    assert m, reply
    qid = m.group(1).decode()
    (ev,) = srv.wait_event("message-accepted", qid=qid)
    assert re.fullmatch(r"[0-9a-f]{8}", ev["session"])
    assert ev["client"] == "127.0.0.1"
    assert ev["helo"] == "logcheck.example"
    assert ev["from"] == "<log-sender@b.example>"
    assert ev["nrcpt"] == "2"
    assert ev["to"] == "<alice@localhost>,<bob@localhost>"
    assert ev["size"] == str(len(msg))
    # and both deliveries are logged under that qid
    deliveries = srv.wait_event("delivery", count=2, qid=qid)
    assert sorted(d["to"] for d in deliveries) == ["<alice@localhost>",
                                                   "<bob@localhost>"]
    assert all(d["status"] == "sent" for d in deliveries)
