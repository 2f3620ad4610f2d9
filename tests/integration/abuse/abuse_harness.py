"""
abuse_harness - the harness of the abuse-defense integration tests: a
real sluiced on free loopback ports with a temporary config, a raw SMTP
client that binds its source address (127.0.0.5, 127.0.0.6, ...) and can
STARTTLS, an aiosmtpd relayhost catcher that can defer on demand, the
admin tool (`sluice list|stats|queue|report`), a private dnsmasq and a DNS
"server" that never answers.

Self-sufficient: nothing here imports from ../sluicetest.py or
../conftest.py (other directories share those module names).

    SLUICED=/path/to/sluiced   server binary (default: build/sluiced)
    SLUICE=/path/to/sluice     admin tool (default: next to SLUICED)
"""
import json
import os
import pathlib
import random
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
SLUICED = os.path.abspath(os.environ.get("SLUICED",
                                         str(ROOT / "build" / "sluiced")))
SLUICE = os.path.abspath(os.environ.get(
    "SLUICE", os.path.join(os.path.dirname(SLUICED), "sluice")))
DNSMASQ = "/usr/sbin/dnsmasq"

HOSTNAME = "mx.abuse.test"
LOCAL = "example.test"          # our local domain
USERS = ["alice", "bob"]        # its only users


def _sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# Sanitizer builds are slower: every deadline scales.
SLOW = 3.0 if _sanitized(SLUICED) else 1.0

BAD_PATTERNS = [
    re.compile(r"\blevel=err\b"),
    re.compile(r"runtime error"),
    re.compile(r"ERROR: AddressSanitizer"),
    re.compile(r"ERROR: LeakSanitizer"),
    re.compile(r"ERROR: UndefinedBehaviorSanitizer"),
    re.compile(r"SUMMARY: (Address|Undefined|Leak)Sanitizer"),
]

SAN_ENV = {
    "ASAN_OPTIONS": os.environ.get(
        "ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:halt_on_error=1"),
    "UBSAN_OPTIONS": os.environ.get(
        "UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
}


def need(path, package):
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not installed (apt-get install {package})")


# ---------------------------------------------------------------- ports


def _port_is_free(port, kind=socket.SOCK_STREAM):
    for host in ("127.0.0.1", "0.0.0.0"):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


_handed_out = set()


def free_port(udp=False):
    """A free port outside the ephemeral range, never handed out twice in
    this run (TCP, or TCP and UDP for a DNS server)."""
    for _ in range(500):
        p = random.randrange(20000, 32000)
        if p in _handed_out or not _port_is_free(p):
            continue
        if udp and not _port_is_free(p, socket.SOCK_DGRAM):
            continue
        _handed_out.add(p)
        return p
    raise RuntimeError("no free port found")


# ---------------------------------------------------------------- config


def conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):     # an access-list entry: { pattern = ...; }
        return "{ " + " ".join(f"{k} = {conf_value(x)};"
                               for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        if any(isinstance(x, dict) for x in v):     # a list, not an array
            return "( " + ", ".join(conf_value(x) for x in v) + " )"
        return "[ " + ", ".join(conf_value(x) for x in v) + " ]"
    raise TypeError(f"cannot express {v!r} in libconfig")


def render_config(keys):
    """{"abuse.rules": [...], ...} -> libconfig text (dotted keys become
    groups; None leaves the key out: the built-in default applies)."""
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
    """key=value pairs of one log line (quotes removed; first wins)."""
    d = {}
    for k, v in KV_RE.findall(line):
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = v[1:-1]
        d.setdefault(k, v)
    return d


def wait_until(pred, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout * SLOW:.1f}s waiting for "
                        f"{what}")
        time.sleep(interval)


# ---------------------------------------------------------------- client


class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines
        self.text = "\n".join(lines)

    def __repr__(self):
        return f"Reply({self.code}, {self.lines!r})"

    def __str__(self):
        return "\n".join(f"{self.code} {l}" for l in self.lines)


class Closed(Exception):
    """The server closed the connection."""


class SMTPClient:
    """A raw SMTP client from a chosen source address; can STARTTLS."""

    def __init__(self, port, source=None, timeout=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout * SLOW)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _line(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout) * SLOW
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no reply in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                raise Closed("connection closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def reply(self, timeout=None):
        lines, code = [], None
        while True:
            line = self._line(timeout)
            m = re.match(r"^(\d{3})([ -]?)(.*)$", line)
            if not m:
                raise AssertionError(f"malformed reply line {line!r}")
            code = int(m.group(1))
            lines.append(m.group(3))
            if m.group(2) != "-":
                return Reply(code, lines)

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r.code == 220, r
        assert self.buf == b""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)
        return r

    def closed_soon(self, timeout=5.0):
        """True if the server closes the connection within timeout."""
        try:
            self._line(timeout)
        except Closed:
            return True
        except socket.timeout:
            return False
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


def message(mail_from, rcpts, subject="test", body="Hello.\r\n"):
    return (f"From: <{mail_from}>\r\nTo: <{rcpts[0]}>\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{random.getrandbits(64):x}"
            f"@client.example>\r\n\r\n{body}")


class Transaction:
    """What happened to one message: the replies to MAIL, each RCPT, DATA."""

    def __init__(self):
        self.mail = None
        self.rcpt = []
        self.data = None

    @property
    def accepted(self):
        return self.data is not None and self.data.code == 250

    def __repr__(self):
        return (f"Transaction(mail={self.mail}, rcpt={self.rcpt}, "
                f"data={self.data})")


def transaction(c, mail_from, rcpts, subject="test"):
    """MAIL, RCPTs, and DATA if any RCPT was accepted; on an open client."""
    t = Transaction()
    t.mail = c.cmd(f"MAIL FROM:<{mail_from}>")
    if t.mail.code != 250:
        return t
    for r in rcpts:
        t.rcpt.append(c.cmd(f"RCPT TO:<{r}>"))
    if not any(r.code == 250 for r in t.rcpt):
        c.cmd("RSET")
        return t
    r = c.cmd("DATA")
    assert r.code == 354, r
    c.send(message(mail_from, rcpts, subject) + ".\r\n")
    t.data = c.reply()
    return t


# ---------------------------------------------------------------- peers


class Catcher:
    """The relayhost: an aiosmtpd server on loopback that keeps what it
    gets, or answers 451 while .defer is set.
    messages = [(mail_from, rcpt_tos, content bytes)]"""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.messages = []
        self.attempts = 0
        self.defer = False
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1",
                                     port=self.port,
                                     server_hostname="catcher.abuse.test")
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.attempts += 1
            if self.defer:
                return "451 4.3.0 catcher deferring on purpose"
            self.messages.append((envelope.mail_from,
                                  list(envelope.rcpt_tos),
                                  envelope.original_content or
                                  envelope.content))
        return "250 2.0.0 Ok: caught"

    def senders(self):
        with self.lock:
            return [m[0] for m in self.messages]

    def wait(self, pred, timeout=10.0, what="messages at the catcher"):
        return wait_until(lambda: pred(self.senders()), timeout, what=what)

    def stop(self):
        self.controller.stop()


class Dnsmasq:
    """A private dnsmasq on 127.0.0.1:port, answering only what it is
    told (--host-record / --txt-record), NXDOMAIN for --local zones."""

    def __init__(self, directory, records=(), txts=(), local_zones=()):
        need(DNSMASQ, "dnsmasq-base")
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(udp=True)
        self.log = self.dir / "dnsmasq.log"
        args = [DNSMASQ, f"--port={self.port}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--keep-in-foreground", f"--pid-file={self.dir}/pid",
                "--log-facility=-", "--log-queries"]
        args += [f"--host-record={n},{a}" for n, a in records]
        args += [f"--txt-record={n},{t}" for n, t in txts]
        args += [f"--local=/{z}/" for z in local_zones]
        self.args = args
        self.proc = None

    def start(self):
        errf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=errf, stderr=errf)
        errf.close()
        # ready when it answers a query for a name it was given
        wait_until(self._answers, 10, interval=0.05,
                   what=f"dnsmasq on port {self.port}")
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("dnsmasq exited:\n" +
                                 self.log.read_text(errors="replace"))
        q = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x05probe\x04test\x00\x00\x01\x00\x01")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(q, ("127.0.0.1", self.port))
            data, _ = s.recvfrom(4096)
            return data[:2] == b"\x12\x34"
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class BlackHoleDNS:
    """A UDP port that swallows every query and never answers."""

    def __init__(self):
        self.port = free_port(udp=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.queries = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                self.sock.recvfrom(4096)
                self.queries += 1
            except socket.timeout:
                continue
            except OSError:
                return

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


# ---------------------------------------------------------------- server


class Sluiced:
    """One sluiced in its own directory, on free ports."""

    def __init__(self, root, keys=None, name="sluiced"):
        self.dir = pathlib.Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.spool = self.dir / "spool"
        self.maildir_root = self.dir / "mail"
        self.log_path = self.dir / "sluiced.log"
        self.stderr_path = self.dir / "sluiced.stderr"
        self.conf_path = self.dir / "sluiced.conf"
        self.user_keys = dict(keys or {})
        self.port = free_port()
        self.proc = None
        self.starts = 0
        self.problems = []
        self.allowed_bad = []   # patterns a test provoked on purpose

    def keys(self):
        k = {
            "hostname": HOSTNAME,
            "listen": [f"127.0.0.1:{self.port}"],
            "spool_dir": str(self.spool),
            "maildir_root": str(self.maildir_root),
            "log": str(self.log_path),
            "local_domains": [LOCAL],
            "local_users": USERS,
        }
        k.update(self.user_keys)
        return k

    def start(self, timeout=15.0):
        """Start (or restart on the same spool) and wait until it serves."""
        for attempt in range(5):
            self.conf_path.write_text(render_config(self.keys()))
            self.starts += 1
            errf = open(self.stderr_path, "ab")
            env = dict(os.environ)
            env.update(SAN_ENV)
            self.proc = subprocess.Popen([SLUICED, "-c", str(self.conf_path)],
                                         stdin=subprocess.DEVNULL,
                                         stdout=errf, stderr=errf, env=env,
                                         cwd=self.dir)
            errf.close()
            if self._wait_ready(timeout):
                return self
            tail = self.stderr_text()[-2000:] + self.log_text()[-2000:]
            if "Address already in use" in tail and attempt < 4:
                self.port = free_port()
                for k, v in list(self.user_keys.items()):
                    if k == "metrics.listen":
                        self.user_keys[k] = f"127.0.0.1:{free_port()}"
                continue
            raise AssertionError(f"sluiced did not start (exit "
                                 f"{self.proc.returncode}):\n{tail}")
        raise AssertionError("sluiced did not start")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout * SLOW
        while self.log_text().count("event=started ") < self.starts:
            if self.proc.poll() is not None:
                return False
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("sluiced did not log event=started:\n"
                                     + self.log_text()[-2000:])
            time.sleep(0.01)
        while True:     # the port answers (from 127.0.0.1: trusted)
            try:
                with SMTPClient(self.port, timeout=3) as c:
                    r = c.reply()
                    assert r.code == 220, r
                    c.cmd("QUIT")
                return True
            except (ConnectionRefusedError, socket.timeout, Closed):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.02)

    def reload(self, **changes):
        """Rewrite the config with changes (dotted keys as "a__b") and send
        SIGHUP; wait for the reload's log line, which is returned."""
        for k, v in changes.items():
            self.user_keys[k.replace("__", ".")] = v
        self.conf_path.write_text(render_config(self.keys()))
        n = len(self.log_lines(r"event=config-reload"))
        self.proc.send_signal(signal.SIGHUP)
        return wait_until(lambda: self.log_lines(r"event=config-reload")[n:],
                          10, what="the reload's log line")[0]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """SIGTERM and wait; a crash or a bad exit is a problem."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            self.problems.append(
                f"{self.name}: exited before the harness stopped it (status "
                f"{self.proc.returncode}); last log lines: "
                f"{self.log_text().splitlines()[-3:]}")
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

    def check_output(self, since_line=0):
        out = []
        for what, text in (("log", self.log_text()),
                           ("stderr", self.stderr_text())):
            lines = text.splitlines()
            if what == "log":
                lines = lines[since_line:]
            for line in lines:
                if any(p.search(line) for p in BAD_PATTERNS) and not any(
                        re.search(a, line) for a in self.allowed_bad):
                    out.append(f"{self.name} {what}: {line}")
        if len(out) > 20:
            out = out[:20] + [f"... and {len(out) - 20} more"]
        return out

    def finish(self):
        if self.proc is not None:
            self.stop()
        return self.problems + self.check_output()

    # -- files and log

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
        out = []
        for l in self.log_lines(rf"\bevent={re.escape(name)}\b"):
            d = parse_log_line(l)
            if d.get("event") == name and all(d.get(k) == v
                                              for k, v in match.items()):
                out.append(d)
        return out

    def wait_event(self, name, count=1, timeout=10.0, **match):
        return wait_until(lambda: (lambda ev: ev if len(ev) >= count else None)
                          (self.events(name, **match)), timeout,
                          what=f"{count} event={name} {match}")

    def maildir_files(self, user):
        out = []
        for sub in ("new", "cur"):
            d = self.maildir_root / user / sub
            if d.is_dir():
                out += sorted(p for p in d.iterdir() if p.is_file())
        return out

    # -- clients and tools

    def client(self, source=None, timeout=10.0, greeting=True):
        c = SMTPClient(self.port, source=source, timeout=timeout)
        if greeting:
            c.greeting = c.reply()
        return c

    def session(self, source, helo="client.example"):
        """A client that was greeted 220 and said EHLO."""
        c = self.client(source)
        assert c.greeting.code == 220, f"greeting for {source}: {c.greeting}"
        r = c.cmd(f"EHLO {helo}")
        assert r.code == 250, r
        return c

    def send(self, source, mail_from, rcpts, subject="test"):
        """One message in its own session; the Transaction."""
        with self.session(source) as c:
            t = transaction(c, mail_from, rcpts, subject)
            c.cmd("QUIT")
        return t

    def sluice(self, *args, check=True, stdin=None, timeout=30,
               socket=False):
        """Run the admin tool against this server (found through the
        config, or with socket=True through --socket); CompletedProcess."""
        where = ["--socket", str(self.spool / "control.sock")] if socket \
            else ["-c", str(self.conf_path)]
        cmd = [SLUICE, args[0], *where, *args[1:]] \
            if args[0] in ("list", "stats", "queue") else [SLUICE, *args]
        env = dict(os.environ)
        env.update(SAN_ENV)
        p = subprocess.run(cmd, capture_output=True, text=True, input=stdin,
                           timeout=timeout * SLOW, env=env)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> {p.returncode}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        for line in p.stderr.splitlines():
            if any(pat.search(line) for pat in BAD_PATTERNS):
                self.problems.append(f"sluice {args[0]}: {line}")
        return p

    def sluice_json(self, *args, socket=False):
        return json.loads(self.sluice(*args, "--json", socket=socket).stdout)

    def queue(self, *selectors):
        """`sluice queue list --json SELECTORS` -> the messages."""
        return self.sluice_json("queue", "list", *selectors)["messages"]


class ServerSet:
    """Every sluiced a test (or module) made; checked when it ends."""

    def __init__(self, tmp_factory, prefix):
        self.tmp_factory = tmp_factory
        self.prefix = prefix
        self.servers = []

    def __call__(self, keys=None, start=True):
        name = f"{self.prefix}{len(self.servers)}"
        s = Sluiced(self.tmp_factory.mktemp(name), keys, name)
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


# ---------------------------------------------------------------- misc


def make_passwd(path, users):
    """auth.passwd_file lines made by `sluice passwd USER`."""
    lines = []
    for user, pw in users.items():
        p = subprocess.run([SLUICE, "passwd", user], input=pw + "\n",
                           capture_output=True, text=True, check=True)
        lines.append(p.stdout.strip())
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    return path
