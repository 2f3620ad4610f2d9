"""Postfix's smtp-source as a client: concurrent sessions, messages over one
connection, several recipients each."""
import os
import subprocess

import pytest

from sluicetest import SLOW

SMTP_SOURCE = "/usr/sbin/smtp-source"

pytestmark = pytest.mark.skipif(not os.access(SMTP_SOURCE, os.X_OK),
                                reason="postfix (smtp-source) not installed")


def source(srv, *args):
    r = subprocess.run([SMTP_SOURCE, *args, f"127.0.0.1:{srv.port}"],
                       capture_output=True, text=True, timeout=60 * SLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_smtp_source_50_messages(sluiced):
    srv = sluiced()
    source(srv, "-s", "5", "-m", "50", "-f", "a@b.example",
           "-t", "user@localhost")
    srv.wait_maildir("user", 50, timeout=30)
    srv.wait_queue_empty()
    files = srv.maildir_files("user")
    assert len(files) == 50
    assert len(srv.events("message-accepted")) == 50
    for f in files:
        data = f.read_bytes()
        assert data.startswith(b"Return-Path: <a@b.example>\nDelivered-To: "
                               b"user@localhost\nReceived: from ")
        assert b"La de da de da 1." in data


def test_smtp_source_reused_connections_many_rcpts(sluiced):
    srv = sluiced()
    # -d: all messages of a session over one connection; -r 3 -N: three
    # numbered recipients per message; -l: 20 KB messages
    source(srv, "-d", "-s", "4", "-m", "40", "-l", "20000", "-r", "3", "-N",
           "-f", "a@b.example", "-t", "user@localhost")
    srv.wait_queue_empty(timeout=30)
    files = srv.all_maildir_files()
    assert len(files) == 120
    assert len(srv.events("message-accepted")) == 40
    assert all(e["nrcpt"] == "3" for e in srv.events("message-accepted"))
    sessions = srv.events("disconnect")
    # 4 smtp-source sessions (+ the harness's start-up probe)
    assert len([s for s in sessions if s["messages"] != "0"]) == 4
    assert all(os.path.getsize(f) > 20000 for f in files)
