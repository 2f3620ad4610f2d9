"""A 250 after DATA is a promise: kill -9 sluiced while clients send, restart
it on the same spool, and every acknowledged message must be delivered
(once). Leftovers of unacknowledged messages are cleaned at restart."""
import collections
import os
import re
import smtplib
import threading
import time
import uuid

from sluicetest import SLOW

ROUNDS = 6
SEND_SECONDS = 1.5
CLIENTS = 4
TOKEN_RE = re.compile(rb"DURTOKEN-[0-9a-f]{32}")


def sender(port, idx, rnd, stop, acked, lock):
    """Send messages until told to stop; record those answered 250."""
    n = 0
    s = None
    while not stop.is_set() and n < 2000:
        try:
            if s is None:
                s = smtplib.SMTP("127.0.0.1", port, timeout=5 * SLOW)
                s.ehlo(f"client{idx}.example")
            tok = "DURTOKEN-" + uuid.uuid4().hex
            n += 1
            # a few KB, varying, so some commits are under way at the kill
            pad = os.urandom(512 * (1 + n % 16)).hex()
            msg = (f"Subject: {tok}\r\n\r\n{tok}\r\n{pad}\r\n").encode()
            if s.mail(f"c{idx}@b.example")[0] != 250:
                raise smtplib.SMTPException("MAIL refused")
            if s.rcpt(f"dur{idx}@localhost")[0] != 250:
                raise smtplib.SMTPException("RCPT refused")
            code, reply = s.data(msg)
            if code == 250:
                m = re.search(rb"queued as ([0-9A-F]+)", reply)
                with lock:
                    acked[tok] = (rnd, m.group(1).decode() if m else None)
        except (OSError, smtplib.SMTPException):
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass
            s = None
            time.sleep(0.02)
    if s is not None:
        try:
            s.close()
        except OSError:
            pass


def test_kill9_loses_no_acknowledged_message(sluiced):
    srv = sluiced()
    acked = {}
    lock = threading.Lock()
    for rnd in range(ROUNDS):
        at_start = len(acked)
        stop = threading.Event()
        threads = [threading.Thread(target=sender, daemon=True,
                                    args=(srv.port, i, rnd, stop, acked, lock))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        # one client is in the middle of DATA at the kill: its message
        # exists only in spool/tmp and was never acknowledged
        holder = srv.client()
        holder.ehlo()
        assert holder.cmd("MAIL FROM:<holder@b.example>").code == 250
        assert holder.cmd("RCPT TO:<holder@localhost>").code == 250
        assert holder.cmd("DATA").code == 354
        holder.send(b"Subject: never finished\r\n\r\nHOLDER-" +
                    uuid.uuid4().hex.encode() + b"\r\n" + b"z" * 20000)
        time.sleep(SEND_SECONDS)
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(timeout=15)
            assert not t.is_alive(), "a sender thread did not stop"
        holder.close()
        assert len(acked) > at_start, \
            f"round {rnd}: no message was acknowledged before the kill"
        leftovers = srv.queue_files("tmp")
        assert leftovers, "the unfinished message should be in spool/tmp"

        srv.start()
        # restart: tmp is cleaned, the queue is delivered
        assert srv.queue_files("tmp") == [], srv.queue_files("tmp")
        ev = srv.events("spool-clean")
        assert len(ev) == rnd + 1 and int(ev[-1]["removed"]) >= 1, ev
        srv.wait_queue_empty(timeout=30)

    assert len(acked) >= 20, f"only {len(acked)} messages acknowledged"
    counts = collections.Counter()
    for p in srv.all_maildir_files():
        for tok in set(TOKEN_RE.findall(p.read_bytes())):
            counts[tok.decode()] += 1
    missing = [(t, acked[t]) for t in acked if counts[t] == 0]
    assert not missing, (f"{len(missing)} of {len(acked)} acknowledged "
                         f"messages lost, e.g. {missing[:5]}")
    dups = {t: n for t, n in counts.items() if n > 1}
    assert not dups, f"delivered more than once: {list(dups.items())[:5]}"
    # nothing from the never-finished messages was delivered
    assert not srv.maildir_files("holder")
    # the acknowledged ones were each logged as accepted under their qid
    accepted = {e["qid"] for e in srv.events("message-accepted")}
    lost_log = [t for t, (_, q) in acked.items() if q not in accepted]
    assert not lost_log, lost_log[:5]
