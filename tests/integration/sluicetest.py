"""
sluicetest - the integration-test harness for sluiced: start a real server
on loopback, talk to it with real clients, and check after every test that
it neither crashed nor logged errors or sanitizer reports.

The fixtures that use it are in conftest.py. Test modules import helpers
from here, never from conftest: that module name is shared with other test
directories (probe/), and pytest rebinds it to whichever it loaded last.

    SLUICED=/path/to/sluiced   server binary (default: build/sluiced)
    SLUICE=/path/to/sluice     admin tool (default: next to SLUICED)

An ASan/UBSan build runs the same tests:
    make asan-bin && SLUICED=build/asan/sluiced /usr/bin/python3 -m pytest -q tests/integration
"""
import errno
import os
import pathlib
import random
import re
import selectors
import signal
import smtplib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SLUICED = os.path.abspath(os.environ.get("SLUICED",
                                         str(ROOT / "build" / "sluiced")))
SLUICE = os.path.abspath(os.environ.get(
    "SLUICE", os.path.join(os.path.dirname(SLUICED), "sluice")))
HOSTNAME = "mx.test"



def _sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# Sanitizer builds are slower to start and to answer: timeouts scale.
SLOW = 3.0 if _sanitized(SLUICED) else 1.0

# Lines that must never appear in a log or on stderr.
BAD_PATTERNS = [
    re.compile(r"\blevel=err\b"),
    re.compile(r"runtime error"),
    re.compile(r"ERROR: AddressSanitizer"),
    re.compile(r"ERROR: LeakSanitizer"),
    re.compile(r"ERROR: UndefinedBehaviorSanitizer"),
    re.compile(r"SUMMARY: (Address|Undefined|Leak)Sanitizer"),
]

SAN_ENV = {
    # Sanitizer reports go to stderr, which the harness keeps and scans.
    "ASAN_OPTIONS": os.environ.get(
        "ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:halt_on_error=1"),
    "UBSAN_OPTIONS": os.environ.get(
        "UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
}


def server_env(extra=None):
    env = dict(os.environ)
    env.update(SAN_ENV)
    env.update(extra or {})
    return env


# ---------------------------------------------------------------- ports


def port_is_free(port, host="127.0.0.1"):
    s = socket.socket()
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    """A port that is free now, outside the ephemeral range (so that our
    own many client connections cannot take it)."""
    for _ in range(200):
        p = random.randrange(20000, 32000)
        if port_is_free(p) and port_is_free(p, "0.0.0.0"):
            return p
    raise RuntimeError("no free port found")


# ---------------------------------------------------------------- config


def conf_value(v):
    """A Python value in libconfig syntax."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) + ("L" if v > 2**31 - 1 else "")
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{ " + " ".join(f"{k} = {conf_value(x)};"
                               for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        if all(isinstance(x, str) for x in v):
            return "[ " + ", ".join(conf_value(x) for x in v) + " ]"
        return "( " + ", ".join(conf_value(x) for x in v) + " )"
    raise TypeError(f"cannot express {v!r} in libconfig")


def render_config(keys):
    """{"listen": [...], "limits.idle_timeout": "2s"} -> libconfig text.
    A value of None leaves the key out (the built-in default applies)."""
    top, groups = [], {}
    for k, v in keys.items():
        if v is None:
            continue
        if "." in k:
            g, sub = k.split(".", 1)
            groups.setdefault(g, []).append((sub, v))
        else:
            top.append((k, v))
    out = [f"{k} = {conf_value(v)};" for k, v in top]
    for g, items in groups.items():
        out.append(f"{g} = {{")
        out += [f"  {k} = {conf_value(v)};" for k, v in items]
        out.append("};")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- log


KV_RE = re.compile(r'([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_log_line(line):
    """key=value pairs of one log line (quotes removed)."""
    d = {}
    for k, v in KV_RE.findall(line):
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = v[1:-1]
        d[k] = v
    return d


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Poll pred() until it returns something true; return that value.
    Fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout * SLOW:.1f}s waiting for "
                        f"{what}")
        time.sleep(interval)


# ---------------------------------------------------------------- raw client


class Reply:
    """One SMTP reply: code, enhanced code (if any), text lines."""

    def __init__(self, code, lines):
        self.code = code
        self.lines = lines
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})\b", lines[0]) if lines else None
        self.enh = m.group(1) if m else None
        self.text = "\n".join(lines)

    def __repr__(self):
        return f"Reply({self.code}, {self.lines!r})"

    def __str__(self):
        return "\n".join(f"{self.code} {l}" for l in self.lines)


class Closed(Exception):
    """The server closed the connection."""


class SMTPClient:
    """A raw SMTP client over a plain socket: exact bytes out, replies in."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=5.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout * SLOW)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.timeout = timeout

    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no reply in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            raise Closed("connection closed by the server")
        self.buf += chunk

    def read_line(self, timeout=None):
        """One line without CRLF (bytes). Raises Closed or socket.timeout."""
        deadline = time.monotonic() + (timeout or self.timeout) * SLOW
        while b"\n" not in self.buf:
            if self.eof:
                raise Closed("connection closed by the server")
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def read_reply(self, timeout=None):
        """One (possibly multi-line) reply."""
        lines, code = [], None
        for _ in range(1000):
            line = self.read_line(timeout).decode("latin-1")
            m = re.match(r"^(\d{3})([ -])(.*)$", line) or \
                re.match(r"^(\d{3})()$", line)
            if not m:
                raise AssertionError(f"malformed reply line {line!r}")
            c = int(m.group(1))
            if code is not None and c != code:
                raise AssertionError(f"reply code changed mid-reply: {line!r}")
            code = c
            lines.append(m.group(3))
            if m.group(2) != "-":
                return Reply(code, lines)
        raise AssertionError("reply with more than 1000 lines")

    def cmd(self, line, timeout=None):
        """Send one command line (CRLF added) and read its reply."""
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.read_reply(timeout)

    def banner(self):
        return self.read_reply()

    def ehlo(self, name="client.example"):
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, r
        return r

    def replies_until_eof(self, timeout=5.0, limit=100):
        """Every reply until the server closes (bounded in count and time)."""
        out = []
        deadline = time.monotonic() + timeout * SLOW
        for _ in range(limit):
            try:
                out.append(self.read_reply(max(deadline - time.monotonic(),
                                               0.001) / SLOW))
            except Closed:
                if self.buf.strip():
                    raise AssertionError(f"partial reply before close: "
                                         f"{self.buf!r}")
                return out
        raise AssertionError(f"more than {limit} replies: {out[:5]}...")

    def pending_replies(self, wait=0.3):
        """Replies that arrive within `wait` seconds (maybe none)."""
        out = []
        deadline = time.monotonic() + wait
        for _ in range(100):
            try:
                out.append(self.read_reply(max(deadline - time.monotonic(),
                                               0.001) / SLOW))
            except (socket.timeout, Closed):
                return out
        return out

    def expect_eof(self, timeout=5.0):
        """True if the server closes within timeout, discarding nothing
        silently: leftover bytes fail the assertion."""
        deadline = time.monotonic() + timeout * SLOW
        try:
            while True:
                self._fill(deadline)
                if len(self.buf) > 0:
                    return False
        except Closed:
            return self.buf == b""
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# ---------------------------------------------------------------- server


class Sluiced:
    """One sluiced instance in its own directory."""

    def __init__(self, root, keys=None, name="sluiced", env=None):
        self.dir = pathlib.Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.env = env or {}
        self.spool = self.dir / "spool"
        self.maildir_root = self.dir / "mail"
        self.log_path = self.dir / "sluiced.log"
        self.stderr_path = self.dir / "sluiced.stderr"
        self.conf_path = self.dir / "sluiced.conf"
        self.user_keys = dict(keys or {})
        self.auto_port = "listen" not in self.user_keys
        if self.auto_port:
            self.port = free_port()
        else:   # the first listener's port, reached on 127.0.0.1
            self.port = int(re.search(r":(\d+)$",
                                      self.user_keys["listen"][0]).group(1))
        self.proc = None
        self.starts = 0
        self.problems = []
        self.expect_start_failure = False

    # -- configuration

    def keys(self):
        k = {
            "hostname": HOSTNAME,
            "listen": [f"127.0.0.1:{self.port}"],
            "spool_dir": str(self.spool),
            "maildir_root": str(self.maildir_root),
            "log": str(self.log_path),
        }
        k.update(self.user_keys)
        return k

    def write_config(self):
        self.conf_path.write_text(render_config(self.keys()))

    # -- process

    def start(self, timeout=10.0):
        """Start (or restart, on the same spool) and wait until it serves."""
        for attempt in range(5):
            self.write_config()
            self.starts += 1
            errf = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen([SLUICED, "-c", str(self.conf_path)],
                                         stdin=subprocess.DEVNULL,
                                         stdout=errf, stderr=errf,
                                         env=server_env(self.env),
                                         cwd=self.dir)
            errf.close()
            if self._wait_ready(timeout):
                return self
            # exited early: a port race is retried with another port
            tail = self.stderr_text()[-2000:] + self.log_text()[-2000:]
            if self.auto_port and "Address already in use" in tail and \
                    attempt < 4:
                self.port = free_port()
                continue
            raise AssertionError(f"sluiced did not start (exit "
                                 f"{self.proc.returncode}):\n{tail}")
        raise AssertionError("sluiced did not start")

    def _started_count(self):
        return self.log_text().count("event=started ")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._started_count() >= self.starts:
                break
            time.sleep(0.01)
        else:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("sluiced did not log event=started in "
                                 f"time:\n{self.log_text()[-2000:]}")
        # the port accepts: connect, read the greeting, QUIT, and wait
        # until the server has reaped this probe session
        while True:
            try:
                with SMTPClient(self.port, timeout=2) as c:
                    lport = c.local_port()
                    c.banner()
                    c.send("QUIT\r\n")
                    c.replies_until_eof(timeout=5)
                break
            except (ConnectionRefusedError, socket.timeout, Closed):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.02)
        sid = wait_until(lambda: self._session_of_port(lport), 5,
                         what="the probe session's connect line")
        wait_until(lambda: f"session={sid} event=disconnect" in
                   self.log_text(), 5, what="the probe session to end")
        return True

    def _session_of_port(self, lport):
        m = re.search(rf"session=(\w+) event=connect client=127\.0\.0\.1 "
                      rf"port={lport}\b", self.log_text())
        return m.group(1) if m else None

    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """SIGTERM and wait; records problems (crash, exit code)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            tail = self.log_lines()[-3:]
            self.problems.append(
                f"{self.name}: exited before the harness stopped it (status "
                f"{self.proc.returncode}); last log lines: {tail}")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.problems.append(f"{self.name}: did not exit within "
                                     f"{timeout * SLOW:.0f}s of SIGTERM")
        rc = self.proc.returncode
        if rc < 0:
            self.problems.append(f"{self.name}: died of signal {-rc} "
                                 f"({signal.Signals(-rc).name})")
        elif rc != 0:
            self.problems.append(f"{self.name}: exited with status {rc}")
        self.proc = None
        return rc

    def kill9(self):
        """Crash it on purpose (the exit status is not a problem)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def check_output(self):
        """Problems in the log and on stderr."""
        out = []
        for what, text in (("log", self.log_text()),
                           ("stderr", self.stderr_text())):
            for line in text.splitlines():
                if any(p.search(line) for p in BAD_PATTERNS):
                    out.append(f"{self.name} {what}: {line}")
        if len(out) > 20:
            out = out[:20] + [f"... and {len(out) - 20} more"]
        return out

    def finish(self):
        """Stop and return every problem seen."""
        if self.proc is not None:
            self.stop()
        return self.problems + self.check_output()

    # -- files

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, pattern=None):
        lines = self.log_text().splitlines()
        if pattern is None:
            return lines
        rx = re.compile(pattern)
        return [l for l in lines if rx.search(l)]

    def events(self, name, **match):
        """Parsed log lines with event=name (and the given key=values)."""
        out = []
        for l in self.log_lines(rf"\bevent={re.escape(name)}\b"):
            d = parse_log_line(l)
            if d.get("event") == name and all(d.get(k) == v
                                              for k, v in match.items()):
                out.append(d)
        return out

    def wait_log(self, pattern, count=1, timeout=10.0):
        """Wait until at least count log lines match pattern; return them."""
        return wait_until(lambda: (lambda ls: ls if len(ls) >= count else None)
                          (self.log_lines(pattern)), timeout,
                          what=f"{count} log line(s) matching {pattern!r}")

    def wait_event(self, name, count=1, timeout=10.0, **match):
        return wait_until(lambda: (lambda ev: ev if len(ev) >= count else None)
                          (self.events(name, **match)), timeout,
                          what=f"{count} event={name} {match}")

    def maildir(self, user):
        return self.maildir_root / user

    def maildir_files(self, user, subs=("new", "cur")):
        out = []
        for sub in subs:
            d = self.maildir(user) / sub
            if d.is_dir():
                out += sorted(p for p in d.iterdir() if p.is_file())
        return out

    def all_maildir_files(self):
        if not self.maildir_root.is_dir():
            return []
        return sorted(p for p in self.maildir_root.glob("*/new/*")
                      if p.is_file()) + \
            sorted(p for p in self.maildir_root.glob("*/cur/*") if p.is_file())

    def wait_maildir(self, user, count=1, timeout=10.0):
        return wait_until(lambda: (lambda f: f if len(f) >= count else None)
                          (self.maildir_files(user)), timeout,
                          what=f"{count} message(s) in {user}'s Maildir")

    def queue_files(self, sub="queue"):
        d = self.spool / sub
        return sorted(p for p in d.iterdir()) if d.is_dir() else []

    def wait_queue_empty(self, timeout=10.0):
        wait_until(lambda: not self.queue_files(), timeout,
                   what="the queue to empty")

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    # -- clients

    def client(self, source=None, timeout=5.0, banner=True):
        """A raw client; reads and checks the 220 greeting by default."""
        c = SMTPClient(self.port, source=source, timeout=timeout)
        if banner:
            r = c.banner()
            assert r.code == 220, f"greeting: {r}"
        return c

    def smtp(self, source=None, helo="client.example", timeout=10.0):
        """A connected smtplib client (EHLO done)."""
        s = smtplib.SMTP(timeout=timeout * SLOW,
                         source_address=(source, 0) if source else None)
        s.connect("127.0.0.1", self.port)
        s.ehlo(helo)
        return s


class ServerSet:
    def __init__(self, tmp_factory, prefix):
        self.tmp_factory = tmp_factory
        self.prefix = prefix
        self.servers = []

    def __call__(self, keys=None, start=True, name=None, env=None):
        name = name or f"{self.prefix}{len(self.servers)}"
        s = Sluiced(self.tmp_factory.mktemp(name), keys, name, env)
        self.servers.append(s)
        if start:
            s.start()
        return s

    def finish(self):
        problems = []
        for s in self.servers:
            problems += s.finish()
        if problems:
            pytest.fail("sluiced misbehaved:\n  " + "\n  ".join(problems),
                        pytrace=False)


# ---------------------------------------------------------------- peers


class Catcher:
    """A real SMTP peer on loopback (aiosmtpd) that keeps what it gets:
    messages = [(mail_from, rcpt_tos, content bytes, peer address)]."""

    def __init__(self, reply="250 2.0.0 Ok: caught"):
        from aiosmtpd.controller import Controller
        self.messages = []
        self.reply = reply
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1",
                                     port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content or envelope.content,
                              session.peer))
        return self.reply

    def wait(self, count=1, timeout=10.0):
        return wait_until(lambda: self.messages if len(self.messages) >= count
                          else None, timeout,
                          what=f"{count} message(s) at the catcher")

    def stop(self):
        self.controller.stop()


# ---------------------------------------------------------------- misc


def read_message(path):
    return pathlib.Path(path).read_bytes()


def split_message(data):
    """(header block, body) of a stored message (LF line ends)."""
    head, _, body = data.partition(b"\n\n")
    return head, body


def header_values(data, name):
    """Unfolded values of a header field in a stored message."""
    head, _ = split_message(data)
    unfolded = re.sub(rb"\n[ \t]+", b" ", head)
    out = []
    for line in unfolded.split(b"\n"):
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == name.lower().encode():
            out.append(v.strip().decode("latin-1"))
    return out


def open_many(port, sources, per_source, timeout=20.0, batch=None):
    """Open len(sources)*per_source connections (non-blocking connects,
    all at once, or `batch` at a time, each batch greeted before the next)
    and return (socks, {sock: greeting bytes}) for those greeted in time."""
    addrs = [src for src in sources for _ in range(per_source)]
    batch = batch or len(addrs)
    socks, greet = [], {}
    deadline = time.monotonic() + timeout * SLOW
    for start in range(0, len(addrs), batch):
        sel = selectors.DefaultSelector()
        pending = 0
        for src in addrs[start:start + batch]:
            s = socket.socket()
            s.bind((src, 0))
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            assert err in (0, errno.EINPROGRESS), os.strerror(err)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, [s, b""])
            pending += 1
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.2):
                s, buf = key.data
                try:
                    chunk = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionError:
                    chunk = b""
                key.data[1] = buf = buf + chunk
                if b"\n" in buf or not chunk:
                    greet[s] = buf
                    sel.unregister(s)
                    pending -= 1
        sel.close()
    return socks, greet
