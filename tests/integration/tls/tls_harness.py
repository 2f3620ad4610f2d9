"""
tls_harness - the harness of the TLS / SMTP AUTH integration tests: a real
sluiced with several listeners (smtp, submission, submissions), each on a
free loopback port, a passwd file, an aiosmtpd relayhost catcher, a raw
SMTP client that can STARTTLS or start in TLS, drivers for the real
clients (swaks, openssl s_client, msmtp) and a private Dovecot.

Self-sufficient: nothing here imports from ../sluicetest.py or
../conftest.py (whose module names other directories share).

    SLUICED=/path/to/sluiced   server binary (default: build/sluiced)
    SLUICE=/path/to/sluice     admin tool (default: next to SLUICED)
"""
import base64
import os
import pathlib
import random
import re
import selectors
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
SLUICED = os.path.abspath(os.environ.get("SLUICED",
                                         str(ROOT / "build" / "sluiced")))
SLUICE = os.path.abspath(os.environ.get(
    "SLUICE", os.path.join(os.path.dirname(SLUICED), "sluice")))

HOSTNAME = "mx.tls.test"
LOCAL_DOMAIN = "example.test"
REMOTE = "remote.example"

# The users of the shared server (conftest.py): login -> password.
USERS = {
    "alice": "alice-secret-1",
    "bob": "bob pass with spaces",
    f"carol@{LOCAL_DOMAIN}": "carol-secret-3",
    "dave": "dave-secret-4",
}
# deny.clients of the shared server
DENIED = "127.0.0.66"
SENDER_LOGINS = [f"dave: dave@{LOCAL_DOMAIN}, dave@, .corp.test"]


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


def need_tool(name):
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.access(
        f"/usr/sbin/{name}", os.X_OK) else None)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install "
                    f"{ {'dovecot': 'dovecot-core'}.get(name, name)})")
    return path


# ---------------------------------------------------------------- ports


def _port_is_free(port):
    for host in ("127.0.0.1", "0.0.0.0"):
        s = socket.socket()
        try:
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


_handed_out = set()


def free_port():
    """A free port outside the ephemeral range, never handed out twice in
    this run (servers of one test start one after another)."""
    for _ in range(500):
        p = random.randrange(20000, 32000)
        if p not in _handed_out and _port_is_free(p):
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
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(conf_value(x) for x in v) + " ]"
    raise TypeError(f"cannot express {v!r} in libconfig")


def render_config(keys):
    """{"auth.max_failures": 4, ...} -> libconfig text (dotted keys become
    groups; None leaves the key out)."""
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


# ---------------------------------------------------------------- TLS


def client_context(cafile=None, hostname_check=False):
    """A client TLS context: no verification unless cafile is given."""
    if cafile:
        ctx = ssl.create_default_context(cafile=str(cafile))
        ctx.check_hostname = hostname_check
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def make_cert(directory, cn=HOSTNAME):
    """A self-signed certificate and key made with openssl(1)."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    crt, key = directory / "server.crt", directory / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-addext",
                    f"subjectAltName=DNS:{cn}", "-keyout", str(key),
                    "-out", str(crt)], check=True, capture_output=True,
                   timeout=30)
    return crt, key


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def plain_response(user, password, authzid=""):
    return b64(f"{authzid}\0{user}\0{password}")


# ---------------------------------------------------------------- raw client


class Reply:
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

    def has(self, keyword):
        return any(l.split(" ")[0].upper() == keyword.upper()
                   for l in self.lines[1:])


class Closed(Exception):
    """The server closed the connection."""


class Client:
    """A raw SMTP client: exact bytes out, replies in; STARTTLS (starttls())
    or TLS from the start (implicit=True)."""

    def __init__(self, port, source=None, implicit=False, timeout=5.0,
                 banner=True, ctx=None):
        self.port = port
        self.timeout = timeout
        self.ctx = ctx or client_context()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout * SLOW)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.lport = self.sock.getsockname()[1]
        self.buf = b""
        self.eof = False
        self.tls = None
        if implicit:
            self._wrap()
        if banner:
            r = self.read_reply()
            assert r.code == 220, f"greeting: {r}"
            self.greeting = r

    def _wrap(self):
        assert self.buf == b"", \
            f"server sent bytes before the TLS handshake: {self.buf!r}"
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.tls = self.sock.version()

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
        except (ConnectionResetError, ssl.SSLEOFError, BrokenPipeError):
            chunk = b""
        except ssl.SSLError as e:
            if "EOF" in str(e) or "closed" in str(e).lower():
                chunk = b""
            else:
                raise
        if not chunk:
            self.eof = True
            raise Closed("connection closed by the server")
        self.buf += chunk

    def read_line(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout) * SLOW
        while b"\n" not in self.buf:
            if self.eof:
                raise Closed("connection closed by the server")
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def read_reply(self, timeout=None):
        lines, code = [], None
        for _ in range(1000):
            line = self.read_line(timeout).decode("latin-1")
            m = re.match(r"^(\d{3})([ -]?)(.*)$", line)
            if not m:
                raise AssertionError(f"malformed reply line {line!r}")
            c = int(m.group(1))
            assert code is None or c == code, f"code changed: {line!r}"
            code = c
            lines.append(m.group(3))
            if m.group(2) != "-":
                return Reply(code, lines)
        raise AssertionError("reply with more than 1000 lines")

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.read_reply(timeout)

    def ehlo(self, name="client.example"):
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, r
        return r

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert (r.code, r.enh) == (220, "2.0.0"), r
        self._wrap()
        return r

    def auth_plain(self, user, password):
        return self.cmd(f"AUTH PLAIN {plain_response(user, password)}")

    def login(self, user, password, ehlo=True):
        """EHLO, STARTTLS (unless already TLS), EHLO, AUTH PLAIN -> 235."""
        if ehlo:
            self.ehlo()
        if self.tls is None:
            self.starttls()
            self.ehlo()
        r = self.auth_plain(user, password)
        assert (r.code, r.enh) == (235, "2.7.0"), r
        return r

    def expect_eof(self, timeout=5.0):
        """True if the server closes within timeout and sent nothing more."""
        deadline = time.monotonic() + timeout * SLOW
        try:
            while True:
                self._fill(deadline)
                if self.buf:
                    return False
        except Closed:
            return self.buf == b""
        except (socket.timeout, TimeoutError):
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


class Server:
    """One sluiced with several listeners, in its own directory.

    listeners: {name: "ROLE [networks=...]"}; each gets a free port on
    127.0.0.1 (server.ports[name]). allowed_errors: regexes of level=err
    lines that the test provokes on purpose."""

    DEFAULT_LISTENERS = {
        "smtp": "smtp networks=127.0.0.1/32",
        "submission": "submission",
        "submissions": "submissions",
    }

    def __init__(self, root, keys=None, listeners=None, users=None,
                 name="sluiced", allowed_errors=()):
        self.dir = pathlib.Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.spool = self.dir / "spool"
        self.maildir_root = self.dir / "mail"
        self.log_path = self.dir / "sluiced.log"
        self.stderr_path = self.dir / "sluiced.stderr"
        self.conf_path = self.dir / "sluiced.conf"
        self.passwd_path = self.dir / "passwd"
        self.listener_specs = dict(listeners or self.DEFAULT_LISTENERS)
        self.ports = {n: free_port() for n in self.listener_specs}
        self.user_keys = dict(keys or {})
        self.users = dict(users or {})
        self.allowed_errors = [re.compile(p) for p in allowed_errors]
        self.proc = None
        self.starts = 0
        self.problems = []
        if self.users:
            self.write_passwd(self.users)

    # -- configuration

    def role(self, name):
        return self.listener_specs[name].split()[0]

    def keys(self):
        k = {
            "hostname": HOSTNAME,
            "listen": [f"127.0.0.1:{self.ports[n]} {spec}"
                       for n, spec in self.listener_specs.items()],
            "local_domains": [LOCAL_DOMAIN],
            "spool_dir": str(self.spool),
            "maildir_root": str(self.maildir_root),
            "log": str(self.log_path),
            "auth.passwd_file": str(self.passwd_path) if self.users else None,
        }
        k.update(self.user_keys)
        return k

    def write_passwd(self, users, extra=""):
        """users {name: password} hashed by `sluice passwd` (cached)."""
        lines = [hash_user(u, p) for u, p in users.items()]
        tmp = self.passwd_path.with_suffix(".new")
        tmp.write_text("\n".join(lines) + "\n" + extra)
        os.replace(tmp, self.passwd_path)

    # -- process

    def start(self, timeout=10.0):
        self.conf_path.write_text(render_config(self.keys()))
        self.starts += 1
        errf = open(self.stderr_path, "ab")
        env = dict(os.environ)
        env.update(SAN_ENV)
        self.proc = subprocess.Popen([SLUICED, "-c", str(self.conf_path)],
                                     stdin=subprocess.DEVNULL, stdout=errf,
                                     stderr=errf, env=env, cwd=self.dir)
        errf.close()
        deadline = time.monotonic() + timeout * SLOW
        while self.log_text().count("event=started") < self.starts:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"sluiced did not start (exit {self.proc.returncode}):\n"
                    f"{self.stderr_text()[-2000:]}{self.log_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("sluiced did not log event=started")
            time.sleep(0.01)
        # every listener answers: a greeting and QUIT on each
        for name in self.ports:
            while True:
                try:
                    with self.client(name, timeout=3) as c:
                        c.cmd("QUIT")
                    break
                except (ConnectionRefusedError, socket.timeout, Closed):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=20.0):
        if self.proc is None:
            return
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

    def check_output(self):
        out = []
        for what, text in (("log", self.log_text()),
                           ("stderr", self.stderr_text())):
            for line in text.splitlines():
                if any(p.search(line) for p in BAD_PATTERNS) and not \
                        any(a.search(line) for a in self.allowed_errors):
                    out.append(f"{self.name} {what}: {line}")
        if len(out) > 20:
            out = out[:20] + [f"... and {len(out) - 20} more"]
        return out

    def finish(self):
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
        out = []
        for l in self.log_lines(rf"\bevent={re.escape(name)}\b"):
            d = parse_log_line(l)
            if d.get("event") == name and all(d.get(k) == v
                                              for k, v in match.items()):
                d["_line"] = l
                out.append(d)
        return out

    def wait_event(self, name, count=1, timeout=10.0, **match):
        return wait_until(lambda: (lambda ev: ev if len(ev) >= count else None)
                          (self.events(name, **match)), timeout,
                          what=f"{count} event={name} {match} in the log")

    def session_of(self, client):
        """The session id of a connected raw client (by its source port)."""
        def find():
            for d in self.events("connect", port=str(client.lport)):
                return d["session"]
            return None
        return wait_until(find, 5, what="the client's connect line")

    def session_events(self, sid, name=None):
        return [parse_log_line(l) for l in self.log_lines(
            rf"session={sid} ") if name is None or f"event={name} " in l + " "]

    def maildir_files(self, user):
        out = []
        for sub in ("new", "cur"):
            d = self.maildir_root / user / sub
            if d.is_dir():
                out += sorted(p for p in d.iterdir() if p.is_file())
        return out

    def wait_maildir(self, user, count=1, timeout=10.0):
        return wait_until(lambda: (lambda f: f if len(f) >= count else None)
                          (self.maildir_files(user)), timeout,
                          what=f"{count} message(s) in {user}'s Maildir")

    # -- clients

    def client(self, listener="smtp", source=None, timeout=5.0, banner=True,
               ctx=None):
        return Client(self.ports[listener], source=source,
                      implicit=self.role(listener) == "submissions",
                      timeout=timeout, banner=banner, ctx=ctx)

    def smtplib(self, listener, source=None, timeout=10.0):
        """An smtplib client: STARTTLS done on smtp/submission, SMTP_SSL on
        submissions; EHLO done after TLS."""
        src = (source, 0) if source else None
        if self.role(listener) == "submissions":
            s = smtplib.SMTP_SSL("127.0.0.1", self.ports[listener],
                                 timeout=timeout * SLOW, source_address=src,
                                 context=client_context())
        else:
            s = smtplib.SMTP("127.0.0.1", self.ports[listener],
                             timeout=timeout * SLOW, source_address=src)
            s.ehlo("client.example")
            s.starttls(context=client_context())
        s.ehlo("client.example")
        return s


_hash_cache = {}


def hash_user(user, password):
    """'user:hash' from `sluice passwd USER` (password on stdin)."""
    key = (user, password)
    if key not in _hash_cache:
        p = subprocess.run([SLUICE, "passwd", user], input=password + "\n",
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, f"sluice passwd: {p.stderr}"
        line = p.stdout.strip()
        assert line.startswith(f"{user}:$"), line
        _hash_cache[key] = line
    return _hash_cache[key]


class ServerSet:
    def __init__(self, tmp_factory, prefix):
        self.tmp_factory = tmp_factory
        self.prefix = prefix
        self.servers = []

    def __call__(self, keys=None, listeners=None, users=None, start=True,
                 allowed_errors=()):
        name = f"{self.prefix}{len(self.servers)}"
        s = Server(self.tmp_factory.mktemp(name), keys, listeners, users,
                   name, allowed_errors)
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


# ---------------------------------------------------------------- catcher


class Catcher:
    """aiosmtpd on loopback, the relayhost: keeps (from, rcpts, data)."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.messages = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1",
                                     port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content or envelope.content))
        return "250 2.0.0 Ok: caught"

    def find(self, token):
        return [m for m in self.messages if token.encode() in m[2]]

    def wait_for(self, token, timeout=10.0):
        return wait_until(lambda: self.find(token), timeout,
                          what=f"a message with {token} at the catcher")[0]

    def stop(self):
        self.controller.stop()


# ---------------------------------------------------------------- messages


def message(token, sender, rcpt, subject="tls test"):
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject} "
            f"{token}\r\nMessage-ID: <{token}@client.example>\r\n\r\n"
            f"body {token}\r\n")


def new_token():
    return f"tok{random.getrandbits(48):012x}"


def header_values(data, name):
    """Unfolded values of a header field (CRLF or LF line ends)."""
    data = data.replace(b"\r\n", b"\n")
    head = data.split(b"\n\n", 1)[0]
    unfolded = re.sub(rb"\n[ \t]+", b" ", head)
    out = []
    for line in unfolded.split(b"\n"):
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == name.lower().encode():
            out.append(v.strip().decode("latin-1"))
    return out


# ---------------------------------------------------------------- tools


def run(argv, input=None, timeout=30, env=None):
    """Run a client tool; returns CompletedProcess (text)."""
    return subprocess.run(argv, input=input, capture_output=True, text=True,
                          timeout=timeout * SLOW, env=env)


class SClient:
    """openssl s_client driven line by line (no pipelining of EHLO)."""

    def __init__(self, port, starttls=False, timeout=10.0):
        argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                "-quiet", "-nocommands", "-servername", HOSTNAME]
        if starttls:
            argv += ["-starttls", "smtp"]
        self.timeout = timeout
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.sel = selectors.DefaultSelector()
        os.set_blocking(self.p.stdout.fileno(), False)
        self.sel.register(self.p.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.eof = False

    def read_line(self):
        deadline = time.monotonic() + self.timeout * SLOW
        while b"\n" not in self.buf:
            if self.eof:
                raise Closed("s_client ended")
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no line from s_client")
            if self.sel.select(left):
                chunk = self.p.stdout.read(65536)
                if not chunk:
                    self.eof = True
                else:
                    self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def read_reply(self):
        lines = []
        while True:
            line = self.read_line()
            m = re.match(r"^(\d{3})([ -]?)(.*)$", line)
            assert m, f"not a reply line from s_client: {line!r}"
            lines.append(m.group(3))
            if m.group(2) != "-":
                return Reply(int(m.group(1)), lines)

    def cmd(self, line):
        self.p.stdin.write(line.encode() + b"\r\n")
        self.p.stdin.flush()
        return self.read_reply()

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        stderr = self.p.stderr.read().decode(errors="replace")
        self.p.stdout.close()
        self.p.stderr.close()
        self.sel.close()
        return stderr


# ---------------------------------------------------------------- Dovecot


class Dovecot:
    """A private Dovecot that only runs its auth service: passwd-file
    users, the auth-client socket at self.socket (mode 0666)."""

    def __init__(self, root, users, auth_as_root=True):
        self.dir = pathlib.Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.base = self.dir / "run"
        self.conf = self.dir / "dovecot.conf"
        self.log = self.dir / "dovecot.log"
        # the test directories are root's, mode 0700: Dovecot's auth
        # process reads the users file as root (else it cannot: a
        # passdb failure, which test_dovecot_internal_failure wants)
        self.users_file = self.dir / "users"
        self.socket = self.base / "auth-client"
        self.users_file.write_text("".join(f"{u}:{pw}::::::\n"
                                           for u, pw in users.items()))
        self.conf.write_text(f"""\
base_dir = {self.base}
state_dir = {self.dir}/state
instance_name = sluice-tls-test-{os.getpid()}-{random.getrandbits(24):x}
protocols =
ssl = no
log_path = {self.log}
info_log_path = {self.log}
debug_log_path = {self.log}
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
auth_verbose = yes
passdb {{
  driver = passwd-file
  args = {self.users_file}
}}
userdb {{
  driver = passwd-file
  args = {self.users_file}
  default_fields = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  {"user = root" if auth_as_root else ""}
  unix_listener auth-client {{
    mode = 0666
  }}
}}
service auth-worker {{
  {"user = root" if auth_as_root else ""}
}}
service anvil {{
  chroot =
}}
""")
        self.proc = None

    def start(self, timeout=15.0):
        binary = need_tool("dovecot")
        self.proc = subprocess.Popen([binary, "-F", "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL,
                                     stdout=open(self.dir / "stdout", "wb"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.proc.poll() is not None:
                raise AssertionError(
                    "dovecot did not start:\n" +
                    (self.dir / "stdout").read_text(errors="replace") +
                    (self.log.read_text(errors="replace")
                     if self.log.exists() else ""))
            if time.monotonic() > deadline:
                raise AssertionError("dovecot: no auth-client socket")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
