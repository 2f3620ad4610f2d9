"""queue.lifetime: a message that only ever gets 4xx is bounced once it is
older than the lifetime (60 s, the smallest allowed). The case is started
at collection time (out_background.py) so the minute overlaps with the
other tests; this test runs last and waits for whatever is left."""
import time

import pytest

from out_background import LIFETIME
from out_harness import DSN, wait_until


@pytest.mark.out_background("lifetime")
def test_out_lifetime_expiry_bounces(background):
    case = background
    assert case.error is None, f"the background case did not start: " \
                               f"{case.error}"
    srv = case.srv
    left = LIFETIME + 15 - (time.monotonic() - case.t0)
    ev = wait_until(lambda: srv.events("delivery", qid=case.qid,
                                       status="bounced"),
                    max(left, 5), interval=0.2,
                    what="the expired message to bounce")
    elapsed = time.monotonic() - case.t0
    # not before the lifetime, and not much after it (retries every <=2s)
    assert elapsed >= LIFETIME - 1, elapsed
    deferred = srv.events("delivery", qid=case.qid, status="deferred")
    assert len(deferred) >= 10, "it was retried in the meantime"
    assert all("451" in d["reason"] for d in deferred)
    assert "expired" in ev[0]["reason"], ev[0]
    assert "451" in ev[0]["reason"], "the last error is kept"

    # one DSN to the local sender: failed, with the last error
    files = srv.wait_maildir("alice", 1, timeout=10)
    srv.wait_event("removed", qid=case.qid)
    assert len(srv.maildir_files("alice")) == 1
    dsn = DSN(files[0].read_bytes())
    r = dsn.rcpt("bob@expire.test")
    assert r["action"] == "failed"
    assert r["status"] == "5.4.7", r      # RFC 3463: delivery time expired
    assert "451" in r["diagnostic-code"], r
    assert "expired" in r["diagnostic-code"], r
    assert dsn.fields["x-sluice-queue-id"] == case.qid

    # the null sender's message expires too, without a bounce
    wait_until(lambda: srv.events("removed", qid=case.qid_null), 10,
               what="the null sender's message to be removed")
    assert srv.events("delivery", qid=case.qid_null, status="bounced")
    assert srv.events("bounce-suppressed", qid=case.qid_null)
    assert not [e for e in srv.events("bounce")
                if e.get("qid") == case.qid_null]
    assert len(srv.events("bounce")) == 1
    assert not srv.queue_files()
    assert not case.rcv.messages
    case.failed = False
