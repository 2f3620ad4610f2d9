"""
web_harness - helpers for the `sluice web` integration tests: start the web
tester with a configuration of its own, the servers it tests (sluiced open
or closed, private Postfix instances, small asyncio fakes that misbehave),
a DNS responder on loopback (so no lookup ever leaves the machine), an HTTP
client with cookies, and headless Chromium through Selenium.

Self-contained: nothing here depends on ../conftest.py or on other test
directories' helpers (module names under tests/integration must be unique,
hence web_*.py and test_web_*.py).

    SLUICE=/path/to/sluice     the web tester (default: build/sluice)
    SLUICED=/path/to/sluiced   the server (default: next to $SLUICE, or
                               build/sluiced)
    SLUICE_WEB_SCREENSHOT=FILE where the open-relay report's screenshot
                               goes (docs/web-report.png for the README);
                               unset: a temporary file only

Every target and every DNS query stays on 127.0.0.0/8. The one test that
names a private address (10.0.0.1, with web.allow_private = false) runs its
web instance in a private network namespace (unshare -n), so that even a
broken guard could not send a packet off the machine.
"""
import asyncio
import http.client
import http.cookiejar
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[3]
SLUICE = os.path.abspath(os.environ.get("SLUICE",
                                        str(ROOT / "build" / "sluice")))
SLUICED = os.path.abspath(os.environ.get(
    "SLUICED", os.path.join(os.path.dirname(SLUICE), "sluiced")))
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PYTHON = "/usr/bin/python3"


def _sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SLOW = 3.0 if _sanitized(SLUICE) else 1.0

SAN_RE = re.compile(r"ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|"
                    r"runtime error|SUMMARY: \w+Sanitizer")
SAN_ENV = {
    "ASAN_OPTIONS": os.environ.get(
        "ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:halt_on_error=1"),
    "UBSAN_OPTIONS": os.environ.get(
        "UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
}

TEST_DOMAIN = "outside.test"


def server_env():
    env = dict(os.environ)
    env.update(SAN_ENV)
    return env


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (callers retry on EADDRINUSE)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """pred() until it is true (returns its value) or the deadline."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout * SLOW:.0f}s "
                                 f"waiting for {what}")
        time.sleep(interval)


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
    raise TypeError(v)


def render_config(keys):
    """{"log": ..., "web.listen": ...} -> libconfig text (dotted keys
    become groups)."""
    lines, groups = [], {}
    for key, v in keys.items():
        if "." in key:
            g, sub = key.split(".", 1)
            groups.setdefault(g, []).append(f"  {sub} = {conf_value(v)};")
        else:
            lines.append(f"{key} = {conf_value(v)};")
    for g, sub in groups.items():
        lines += [f"{g} = {{", *sub, "};"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- DNS


def _dns_name(name):
    """A name in DNS wire form (no compression)."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def ptr_name(ip):
    """The PTR query name of an IPv4 or IPv6 address."""
    if ":" in ip:
        nib = socket.inet_pton(socket.AF_INET6, ip).hex()
        return ".".join(reversed(nib)) + ".ip6.arpa"
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


class FakeDNS:
    """A UDP DNS responder on 127.0.0.1 answering from tables: A records
    (a: {name: address}), MX records (mx: {domain: [(preference, host),
    ...]}) and PTR records (ptr: {address: name}, kept as .ptr
    {ptr_name(address): name}); NODATA for other types of those names,
    NXDOMAIN for everything else. The tables may be changed while it
    runs. Names in .drop are never answered. Every query
    is recorded in .queries as (name, qtype)."""

    def __init__(self, a=None, host="127.0.0.1", mx=None, ptr=None):
        self.a = {k.lower(): v for k, v in (a or {}).items()}
        self.mx = {k.lower(): v for k, v in (mx or {}).items()}
        self.ptr = {ptr_name(k): v for k, v in (ptr or {}).items()}
        self.drop = set()
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.spec = f"{host}:{self.port}"
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _answer(self, pkt):
        tid, flags, qd = struct.unpack(">HHH", pkt[:6])
        if qd != 1:
            return None
        i, labels = 12, []
        while pkt[i]:
            n = pkt[i]
            labels.append(pkt[i + 1:i + 1 + n])
            i += 1 + n
        i += 1
        qtype, _qclass = struct.unpack(">HH", pkt[i:i + 4])
        question = pkt[12:i + 4]
        name = b".".join(labels).decode("ascii", "replace").lower()
        self.queries.append((name, qtype))
        if name in self.drop:
            return None
        answers = b""
        an = 0
        if name in self.a or name in self.mx or name in self.ptr:
            rcode = 0
            if qtype == 1 and name in self.a:
                answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + \
                    socket.inet_aton(self.a[name])
                an = 1
            elif qtype == 15 and name in self.mx:
                for pref, host in self.mx[name]:
                    rdata = struct.pack(">H", pref) + _dns_name(host)
                    answers += b"\xc0\x0c" + struct.pack(
                        ">HHIH", 15, 1, 60, len(rdata)) + rdata
                    an += 1
            elif qtype == 12 and name in self.ptr:
                rdata = _dns_name(self.ptr[name])
                answers = b"\xc0\x0c" + struct.pack(
                    ">HHIH", 12, 1, 60, len(rdata)) + rdata
                an = 1
        else:
            rcode = 3
        flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        return struct.pack(">HHHHHH", tid, flags, 1, an, 0, 0) + question + \
            answers

    def _loop(self):
        while not self._stop:
            try:
                pkt, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                resp = self._answer(pkt)
            except (IndexError, struct.error):
                resp = None
            if resp:
                try:
                    self.sock.sendto(resp, peer)
                except OSError:
                    pass

    def stop(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


# ---------------------------------------------------------------- HTTP


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.text[:500]!r}>"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


class Client:
    """A visitor: urllib with a cookie jar, redirects not followed, and an
    optional X-Forwarded-For (the web tester trusts it from loopback, so
    each test can be a visitor of its own for the per-IP limits)."""

    def __init__(self, base, visitor=None, timeout=10, ids=None):
        self.base = base
        self.visitor = visitor
        self.timeout = timeout
        self.ids = ids if ids is not None else []   # reports it started
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.visitor:
            h.setdefault("X-Forwarded-For", self.visitor)
        req = urllib.request.Request(self.base + path, data=body, headers=h,
                                     method=method)
        try:
            with self.opener.open(req, timeout=self.timeout * SLOW) as r:
                resp = Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            resp = Response(e.code, e.headers, e.read())
        if method == "POST" and resp.status in (202, 303):
            m = re.fullmatch(r"/r/([0-9a-f]+)", resp.headers.get(
                "Location", "")) if resp.status == 303 else re.search(
                rb'"id":"([0-9a-f]+)"', resp.body)
            if m:
                rid = m.group(1)
                self.ids.append(rid.decode() if isinstance(rid, bytes)
                                else rid)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post_form(self, path, fields, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path,
                            urllib.parse.urlencode(fields).encode(), h)

    def post_json(self, path, obj, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", path, json.dumps(obj).encode(), h)

    def csrf(self, path="/"):
        """The form's CSRF token (fetching the page sets the cookie)."""
        r = self.get(path)
        m = re.search(r'name="csrf" value="([0-9a-f]+)"', r.text)
        assert m, f"no CSRF field on {path}: {r!r}"
        return m.group(1)

    def login(self, user, password):
        token = self.csrf("/login")
        r = self.post_form("/login", {"csrf": token, "user": user,
                                      "password": password})
        assert r.status == 303, r
        return r

    def submit(self, target, port, mode="anonymous"):
        """The home page's form: POST /test; the Response (303 to
        /r/ID when accepted)."""
        token = self.csrf("/")
        return self.post_form("/test", {"csrf": token, "target": target,
                                        "port": str(port), "mode": mode})

    def api_submit(self, target, port, mode="anonymous"):
        return self.post_json("/api/tests", {"target": target, "port": port,
                                             "mode": mode})

    def wait_report(self, rid, timeout=40, what=None):
        """GET /api/tests/ID until its status is done or error."""
        last = {}

        def done():
            nonlocal last
            r = self.get(f"/api/tests/{rid}")
            assert r.status == 200, r
            last = r.json()
            return last if last["status"] in ("done", "error") else None
        try:
            return wait_until(done, timeout, 0.2,
                              what or f"report {rid} to finish")
        except AssertionError as e:
            raise AssertionError(f"{e}; last: {json.dumps(last)[:3000]}")


def report_id(resp):
    """The ID from a 303 to /r/ID."""
    assert resp.status == 303, resp
    loc = resp.headers["Location"]
    m = re.fullmatch(r"/r/([0-9a-f]+)", loc)
    assert m, loc
    return m.group(1)


# ---------------------------------------------------------------- web


class Web:
    """`sluice web` on a loopback port, with its own database and log."""

    def __init__(self, root, keys=None, dns=None):
        self.dir = pathlib.Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keys = dict(keys or {})
        self.dns = dns
        self.port = None
        self.catcher_port = None
        self.proc = None
        self.log = self.dir / "web.log"
        self.errpath = self.dir / "web.stderr"
        self.conf = self.dir / "web.conf"
        self.database = self.dir / "web.db"
        self.ids = []

    def config(self):
        k = {"log": str(self.log),
             "web.listen": f"127.0.0.1:{self.port}",
             "web.database": str(self.database),
             "web.allow_private": True,
             "web.test_domain": TEST_DOMAIN,
             "web.catcher": f"127.0.0.1:{self.catcher_port}",
             "web.timeout": "5s",
             "web.wait": "5s",
             "web.target_cache": "0",
             "web.per_ip": 64}
        if self.dns is not None:
            k["outbound.resolver"] = self.dns.spec
        k.update(self.keys)
        return render_config(k)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def client(self, visitor=None):
        """A visitor; the reports it starts are noted, and stop() lets
        them finish first."""
        return Client(self.base, visitor, ids=self.ids)

    def add_user(self, name, password):
        r = subprocess.run([SLUICE, "web", "-c", str(self.conf), "user",
                            "add", name], input=password + "\n",
                           capture_output=True, text=True, env=server_env(),
                           timeout=30 * SLOW)
        assert r.returncode == 0, r.stdout + r.stderr

    def _up(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            c.request("GET", "/static/style.css")
            ok = c.getresponse().status == 200
            c.close()
            return ok
        except OSError:
            return False

    def start(self, timeout=15, keep_ports=False):
        """Start (or start again, on the same ports and database when
        keep_ports)."""
        for _attempt in range(3):
            if not keep_ports or self.port is None:
                self.port = free_port()
                self.catcher_port = free_port()
            self.conf.write_text(self.config())
            with open(self.errpath, "ab") as ef:
                self.proc = subprocess.Popen(
                    [SLUICE, "web", "-c", str(self.conf)],
                    stdin=subprocess.DEVNULL, stdout=ef, stderr=ef,
                    env=server_env(), cwd=self.dir)
            deadline = time.monotonic() + timeout * SLOW
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._up():
                    return self
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if "cannot listen" not in self.output() and \
                    "in use" not in self.output():
                break
            keep_ports = False
        raise AssertionError(f"sluice web did not start:\n{self.output()}")

    def output(self):
        out = ""
        for p in (self.errpath, self.log):
            try:
                out += p.read_text(errors="replace")[-4000:]
            except FileNotFoundError:
                pass
        return out

    def drain(self, timeout=30):
        """Wait until no report started through our clients runs (stopping
        the service under a running test is a test of its own)."""
        c = Client(self.base)
        deadline = time.monotonic() + timeout * SLOW
        for rid in self.ids:
            while time.monotonic() < deadline:
                try:
                    r = c.get(f"/api/tests/{rid}")
                except OSError:
                    return
                if r.status != 200 or r.json()["status"] not in (
                        "queued", "running"):
                    break
                time.sleep(0.05)
        self.ids.clear()

    def stop(self, drain=True):
        """SIGTERM (after drain() unless drain=False); the problems seen
        (crash, bad exit, errors logged)."""
        problems = []
        if self.proc is None:
            return problems
        if drain and self.proc.poll() is None:
            self.drain()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("sluice web did not exit on SIGTERM")
        if self.proc.returncode != 0:
            problems.append(f"sluice web exit status {self.proc.returncode}")
        out = self.output()
        if SAN_RE.search(out) or "level=err " in out:
            problems.append("sluice web logged errors:\n" + out)
        self.proc = None
        return problems


# ---------------------------------------------------------------- sluiced


def wait_banner(port, timeout, proc=None, host="127.0.0.1"):
    """True once a 220 greeting is read from host:port (False if proc
    exits first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.settimeout(max(deadline - time.monotonic(), 0.1))
                data = b""
                while b"\n" not in data:
                    chunk = s.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


class Sluiced:
    """sluiced on a loopback port. open=True: it relays for everyone
    (authorized_networks 0.0.0.0/0) to relayhost [127.0.0.1]:relay_port;
    open=False: only 127.0.0.2 may relay, and the web tester connects
    from 127.0.0.1."""

    def __init__(self, root, open_relay, relay_port, dns=None,
                 hostname="mx.test"):
        self.dir = pathlib.Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.open = open_relay
        self.relay_port = relay_port
        self.dns = dns
        self.hostname = hostname
        self.port = None
        self.proc = None
        self.log = self.dir / "sluiced.log"
        self.errpath = self.dir / "sluiced.stderr"

    def config(self):
        k = {"hostname": self.hostname,
             "listen": [f"127.0.0.1:{self.port}"],
             "spool_dir": str(self.dir / "spool"),
             "maildir_root": str(self.dir / "mail"),
             "log": str(self.log),
             "authorized_networks": ["0.0.0.0/0" if self.open
                                     else "127.0.0.2/32"],
             "outbound.relayhost": f"[127.0.0.1]:{self.relay_port}",
             # the default rules block a client after 30 denied relay
             # attempts (one test): the tests here make many
             "abuse.rules": []}
        if self.dns is not None:
            k["outbound.resolver"] = self.dns.spec
        return render_config(k)

    def start(self, timeout=10):
        for _attempt in range(3):
            self.port = free_port()
            conf = self.dir / "sluiced.conf"
            conf.write_text(self.config())
            with open(self.errpath, "ab") as ef:
                self.proc = subprocess.Popen(
                    [SLUICED, "-c", str(conf)], stdin=subprocess.DEVNULL,
                    stdout=ef, stderr=ef, env=server_env(), cwd=self.dir)
            if wait_banner(self.port, timeout * SLOW, self.proc):
                return self
            if "in use" not in self.output():
                break
        raise AssertionError(f"sluiced did not start:\n{self.output()}")

    def output(self):
        out = ""
        for p in (self.errpath, self.log):
            try:
                out += p.read_text(errors="replace")[-3000:]
            except FileNotFoundError:
                pass
        return out

    def stop(self):
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("sluiced did not exit on SIGTERM")
        if self.proc.returncode != 0:
            problems.append(f"sluiced exit status {self.proc.returncode}")
        if SAN_RE.search(self.output()):
            problems.append("sluiced sanitizer report:\n" + self.output())
        self.proc = None
        return problems


# ---------------------------------------------------------------- postfix


def postfix_available():
    return os.access(POSTFIX, os.X_OK) and \
        os.path.exists("/etc/postfix/master.cf") and os.geteuid() == 0


class Postfix:
    """A private Postfix instance on 127.0.0.1:port, relaying what it
    relays to [127.0.0.1]:relay_port (the web tester's catcher). Its
    directory must be reachable by user postfix (not under a 0700 dir)."""

    def __init__(self, root, name, mynetworks, relay_port):
        self.dir = pathlib.Path(root)
        self.name = name
        self.mynetworks = mynetworks
        self.relay_port = relay_port
        self.port = free_port()
        self.conf = self.dir / "etc"
        self.logpath = self.dir / "maillog"
        self.proc = None
        self.log = None

    def write(self):
        for d in ("etc", "queue", "data"):
            (self.dir / d).mkdir(parents=True, exist_ok=True)
        main = f"""\
compatibility_level = 3.6
queue_directory = {self.dir}/queue
data_directory = {self.dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {self.name}
mydomain = {self.name}
myorigin = $myhostname
mydestination = $myhostname, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = {self.mynetworks}
mynetworks_style = host
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
relayhost = [127.0.0.1]:{self.relay_port}
alias_maps =
alias_database =
local_recipient_maps =
disable_dns_lookups = yes
smtp_host_lookup = native
maillog_file = /dev/stdout
smtpd_banner = $myhostname ESMTP Postfix
smtpd_error_sleep_time = 0s
smtpd_tls_security_level = none
smtp_tls_security_level = none
smtputf8_enable = no
biff = no
append_dot_mydomain = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""
        (self.conf / "main.cf").write_text(main)
        out = []
        for line in pathlib.Path("/etc/postfix/master.cf").read_text() \
                .splitlines():
            if line and not line[0].isspace() and not line.startswith("#"):
                f = line.split()
                if len(f) >= 8:
                    if f[0] == "smtp" and f[1] == "inet":
                        f[0] = f"127.0.0.1:{self.port}"
                    f[4] = "n"          # no chroot
                    line = "  ".join(f[:8]) + (" " + " ".join(f[8:])
                                               if len(f) > 8 else "")
            out.append(line)
        (self.conf / "master.cf").write_text("\n".join(out) + "\n")
        subprocess.run(["chown", "-R", "postfix", str(self.dir / "data")],
                       check=True)

    def spawn(self):
        self.write()
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([POSTFIX, "-c", str(self.conf),
                                      "start-fg"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        return self

    def start(self, timeout=30):
        if self.proc is None:
            self.spawn()
        if not wait_banner(self.port, timeout * SLOW, self.proc):
            self.stop()
            raise AssertionError(f"postfix {self.name} did not start:\n"
                                 f"{self.maillog()[-3000:]}")
        return self

    def maillog(self):
        try:
            return self.logpath.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        subprocess.run([POSTFIX, "-c", str(self.conf), "stop"],
                       capture_output=True, timeout=30)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.proc = None


# ---------------------------------------------------------------- fakes


class FakeSMTP:
    """A tiny asyncio SMTP server in a thread of its own.

    banner: bytes sent on connect (None: never send anything: a server
    that stalls). replies: {VERB: bytes} for the commands it answers
    (default "250 ok"); DATA is answered with replies["DATA"] and, when
    that is a 354, the message is read up to the dot and answered with
    replies["."]. A reply may be a function of the command line. By
    default the server is closed: mail for its postmaster is accepted,
    every other recipient refused. A reply of None: the server stops
    answering there (reads and ignores the rest). delay: seconds before
    each reply. host: the loopback address it listens on. .sessions
    counts connections; .rcpts lists the RCPT lines seen."""

    DEFAULT = {"EHLO": b"250-fake.test\r\n250 8BITMIME\r\n",
               "HELO": b"250 fake.test\r\n",
               "MAIL": b"250 2.1.0 ok\r\n",
               "RCPT": lambda line: b"250 2.1.5 ok\r\n"
               if re.search(rb"<postmaster(@fake\.test)?>", line, re.I)
               else b"550 5.7.1 relaying denied\r\n",
               "DATA": b"554 5.5.1 no valid recipients\r\n",
               ".": b"250 2.0.0 queued\r\n",
               "RSET": b"250 2.0.0 ok\r\n",
               "NOOP": b"250 2.0.0 ok\r\n",
               "QUIT": b"221 2.0.0 bye\r\n"}

    def __init__(self, banner=b"220 fake.test ESMTP\r\n", replies=None,
                 delay=0.0, port=0, host="127.0.0.1"):
        self.banner = banner
        self.want_port = port
        self.host = host
        self.delay = delay
        self.replies = dict(self.DEFAULT)
        self.replies.update(replies or {})
        self.sessions = 0
        self.rcpts = []
        self.error = None
        self.loop = None
        self.server = None
        self.port = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        assert self._ready.wait(10), "fake SMTP server did not start"
        if self.error:
            raise self.error
        return self

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.server = self.loop.run_until_complete(
                asyncio.start_server(self._session, self.host,
                                     self.want_port))
        except OSError as e:
            self.error = e
            self.loop.close()
            self.loop = None
            self._ready.set()
            return
        self.port = self.server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _session(self, reader, writer):
        self.sessions += 1
        try:
            if self.banner is None:
                # stall: read (and ignore) whatever comes, answer nothing
                while await reader.read(4096):
                    pass
                return
            writer.write(self.banner)
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    return
                verb = line.split(b" ", 1)[0].strip().upper() \
                    .decode("latin-1")
                if verb == "RCPT":
                    self.rcpts.append(line)
                reply = self.replies.get(verb, b"250 2.0.0 ok\r\n")
                if callable(reply):
                    reply = reply(line)
                if reply is None:
                    while await reader.read(4096):
                        pass
                    return
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(reply)
                await writer.drain()
                if verb == "DATA" and reply.startswith(b"354"):
                    while True:
                        body = await reader.readline()
                        if not body or body in (b".\r\n", b".\n"):
                            break
                    writer.write(self.replies["."])
                    await writer.drain()
                if verb == "QUIT":
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    def stop(self):
        if self.loop is None:
            return

        async def _close():
            self.server.close()
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()
        asyncio.run_coroutine_threadsafe(_close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# ---------------------------------------------------------------- browser


def browser_available():
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


def chrome(user_data_dir, javascript=True, width=1280, height=1600):
    """Headless Chromium (as root: no sandbox) through chromedriver. An
    alert is left open (unhandledPromptBehavior=ignore) so a test can look
    for it with driver.switch_to.alert."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--no-first-run", "--no-default-browser-check",
              "--disable-extensions", "--disable-features=Translate,"
              "OptimizationHints,MediaRouter,AutofillServerCommunication",
              "--password-store=basic", "--use-mock-keychain",
              f"--user-data-dir={user_data_dir}",
              f"--window-size={width},{height}"):
        opts.add_argument(a)
    if not javascript:
        opts.add_experimental_option("prefs", {
            "profile.managed_default_content_settings.javascript": 2,
            "profile.default_content_setting_values.javascript": 2})
    opts.set_capability("unhandledPromptBehavior", "ignore")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, log_output=subprocess.DEVNULL) \
        if _service_takes_log_output() else Service(CHROMEDRIVER)
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(20 * SLOW)
    # a fixed viewport, whatever the window decorations take
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1,
        "mobile": False})
    return d


def _service_takes_log_output():
    import inspect
    from selenium.webdriver.chrome.service import Service
    return "log_output" in inspect.signature(Service.__init__).parameters


class DelayProxy:
    """A TCP proxy on 127.0.0.1 in front of upstream_port that holds each
    chunk the server sends for `delay` seconds: a real server, slowed down
    so that a report page can be seen filling in."""

    def __init__(self, upstream_port, delay=0.05):
        self.upstream = upstream_port
        self.delay = delay
        self.loop = None
        self.server = None
        self.port = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        assert self._ready.wait(10), "proxy did not start"
        return self

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._session, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _pipe(self, reader, writer, delay):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if delay:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def _session(self, creader, cwriter):
        try:
            sreader, swriter = await asyncio.open_connection(
                "127.0.0.1", self.upstream)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(self._pipe(creader, swriter, 0),
                             self._pipe(sreader, cwriter, self.delay))

    def stop(self):
        if self.loop is None:
            return

        async def _close():
            self.server.close()
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()
        asyncio.run_coroutine_threadsafe(_close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
