"""
out_background - cases that need more wall-clock time than a test should
take, started when the tests are collected and checked by a test that
runs last (conftest.py moves tests marked out_background to the end).

"lifetime": queue.lifetime cannot be set under 60 s, so a message to a
receiver that always answers 451 has to wait a minute before it bounces.
Its directory is outside pytest's base directory (pytest empties that
when the first test asks for a temporary directory); it is removed at the
end unless the test that checked the case failed.
"""
import shutil
import tempfile
import time

from out_harness import Receiver, Sluiced

LIFETIME = 60           # the smallest queue.lifetime sluiced accepts
MESSAGE = (b"From: alice@localhost\r\nTo: bob@expire.test\r\n"
           b"Subject: lifetime test\r\nMessage-ID: <lifetime@client.test>\r\n"
           b"\r\nThis message can never be delivered.\r\n")


class LifetimeCase:
    """A receiver that always says 451 and a sluiced that gives up after
    queue.lifetime: one message from a local sender (bounced to her
    Maildir) and one from the null sender (dropped without a bounce)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-out-bg-")
        self.error = None
        self.rcv = self.srv = None
        self.failed = False     # kept on disk only after a failed check
        try:
            self.rcv = Receiver(rcpt=lambda addr, n:
                                "451 4.3.0 Temporary trouble (test)")
            self.srv = Sluiced(self.dir + "/sluiced", {
                "outbound.routes": [f"expire.test [127.0.0.1]:"
                                    f"{self.rcv.port}"],
                "outbound.resolver": "127.0.0.1:1",   # no lookups here
                "queue.lifetime": f"{LIFETIME}s",
                "queue.retry_min": "1s",
                "queue.retry_max": "2s",
                "queue.delay_warning": "0",
            }, "lifetime")
            self.srv.start()
            self.t0 = time.monotonic()
            self.qid = self.srv.send("alice@localhost", ["bob@expire.test"],
                                     MESSAGE)
            self.qid_null = self.srv.send("", ["carol@expire.test"], MESSAGE)
        except Exception as e:      # reported by the test that checks it
            self.error = f"{type(e).__name__}: {e}"

    def finish(self):
        problems = []
        if self.srv:
            problems += self.srv.finish()
        if self.rcv:
            self.rcv.stop()
            self.rcv = None
        self.failed = bool(problems) or self.failed
        return problems

    def cleanup(self):
        if self.srv and self.srv.proc:
            self.srv.finish()
        if self.rcv:
            self.rcv.stop()
        if not self.failed:
            shutil.rmtree(self.dir, ignore_errors=True)


CASES = {"lifetime": LifetimeCase}


def _registry(config):
    if not hasattr(config, "_out_background"):
        config._out_background = {}
    return config._out_background


def start(config, name):
    reg = _registry(config)
    if name not in reg:
        reg[name] = CASES[name]()


def get(config, name):
    return _registry(config)[name]


def stop_all(config):
    for case in _registry(config).values():
        case.cleanup()
