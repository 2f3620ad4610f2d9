"""
out_harness - the harness of the outbound-delivery integration tests:
a real sluiced on loopback, a real DNS server (dnsmasq) that answers for
the test domains, a hand-made DNS responder for malformed answers, and the
peers sluiced delivers to (aiosmtpd, a raw socket peer that records the
exact bytes on the wire, Postfix's smtp-sink).

Self-contained: nothing here imports ../sluicetest.py or any conftest.

    SLUICED=/path/to/sluiced   server binary (default: build/sluiced)
    SLUICE=/path/to/sluice     admin tool (default: next to SLUICED)
"""
import asyncio
import email
import email.policy
import json
import os
import pathlib
import random
import re
import shutil
import signal
import smtplib
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
SLUICED = os.path.abspath(os.environ.get("SLUICED",
                                         str(ROOT / "build" / "sluiced")))
SLUICE = os.path.abspath(os.environ.get(
    "SLUICE", os.path.join(os.path.dirname(SLUICED), "sluice")))
DNSMASQ = "/usr/sbin/dnsmasq"
SMTP_SINK = "/usr/sbin/smtp-sink"
HOSTNAME = "sluiced.test"


def _sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def _stable_copy(path, dst_dir):
    """A private copy of a binary, taken when it is not being rewritten:
    others rebuild build/ while the tests run, and a binary caught in the
    middle of a link cannot run (or runs half-written)."""
    dst = os.path.join(dst_dir, os.path.basename(path))
    deadline = time.monotonic() + 60
    while True:
        try:
            st1 = os.stat(path)
            time.sleep(0.3)
            st2 = os.stat(path)
            if (st1.st_size, st1.st_mtime_ns) == (st2.st_size,
                                                  st2.st_mtime_ns) and \
                    os.access(path, os.X_OK) and st2.st_size > 0:
                shutil.copy2(path, dst)
                if os.stat(path).st_mtime_ns == st2.st_mtime_ns:
                    return dst
        except OSError:
            pass
        if time.monotonic() > deadline:
            return path
        time.sleep(0.2)


_PRIVATE = {}


def binaries():
    """(sluiced, sluice): private copies of SLUICED and SLUICE, made once
    per run (removed at exit)."""
    if not _PRIVATE:
        import atexit
        d = tempfile.mkdtemp(prefix="sluice-out-bin-")
        atexit.register(shutil.rmtree, d, True)
        _PRIVATE["sluiced"] = _stable_copy(SLUICED, d)
        _PRIVATE["sluice"] = _stable_copy(SLUICE, d)
    return _PRIVATE["sluiced"], _PRIVATE["sluice"]


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


# ---------------------------------------------------------------- waiting


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Poll pred() until it returns something true; return that value.
    Fails the test after timeout seconds (scaled for sanitizer builds)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout * SLOW:.1f}s waiting for "
                        f"{what}")
        time.sleep(interval)


# ---------------------------------------------------------------- ports


def _bindable(host, port, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                      kind)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(hosts=("127.0.0.1",), udp=False):
    """A port free on every one of hosts (and on 0.0.0.0), outside the
    ephemeral range, so that one port can serve several loopback
    addresses (one per MX host)."""
    for _ in range(500):
        p = random.randrange(20000, 32000)
        if not _bindable("0.0.0.0", p):
            continue
        if udp and not _bindable("0.0.0.0", p, socket.SOCK_DGRAM):
            continue
        if all(_bindable(h, p) for h in hosts):
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
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(conf_value(x) for x in v) + " ]"
    raise TypeError(f"cannot express {v!r} in libconfig")


def render_config(keys):
    """{"listen": [...], "queue.retry_min": "1s"} -> libconfig text; a
    value of None leaves the key out."""
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


# ---------------------------------------------------------------- logs


KV_RE = re.compile(r'([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_log_line(line):
    d = {}
    for k, v in KV_RE.findall(line):
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = v[1:-1]
        d[k] = v
    return d


# ---------------------------------------------------------------- sluiced


class Sluiced:
    """One sluiced in its own directory. A string value in the keys may
    say @SELF@ for this server's own port."""

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

    def keys(self):
        k = {
            "hostname": HOSTNAME,
            "listen": [f"127.0.0.1:{self.port}"],
            "spool_dir": str(self.spool),
            "maildir_root": str(self.maildir_root),
            "log": str(self.log_path),
        }
        k.update(self.user_keys)

        def subst(v):
            if isinstance(v, str):
                return v.replace("@SELF@", str(self.port))
            if isinstance(v, (list, tuple)):
                return [subst(x) for x in v]
            return v
        return {n: subst(v) for n, v in k.items()}

    def write_config(self):
        self.conf_path.write_text(render_config(self.keys()))

    def start(self, timeout=10.0):
        """Start (or restart on the same spool) and wait until it serves."""
        self.write_config()
        self.starts += 1
        with open(self.stderr_path, "ab") as errf:
            env = dict(os.environ)
            env.update(SAN_ENV)
            self.proc = subprocess.Popen([binaries()[0], "-c",
                                          str(self.conf_path)],
                                         stdin=subprocess.DEVNULL,
                                         stdout=errf, stderr=errf, env=env,
                                         cwd=self.dir)
        deadline = time.monotonic() + timeout * SLOW
        while self.log_text().count("event=started ") < self.starts:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} did not start (exit {self.proc.returncode})"
                    f":\n{self.stderr_text()[-2000:]}{self.log_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} logged no event=started")
            time.sleep(0.01)
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=2) as s:
                    f = s.makefile("rb")
                    assert f.readline().startswith(b"220"), "no greeting"
                    s.sendall(b"QUIT\r\n")
                    f.readline()
                break
            except (ConnectionRefusedError, socket.timeout):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.02)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=25.0):
        """SIGTERM and wait; a crash or a non-zero exit is a problem."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            self.problems.append(
                f"{self.name}: exited before the harness stopped it (status "
                f"{self.proc.returncode}); last log lines: "
                f"{self.log_lines()[-3:]}")
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

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def kill9(self):
        """Crash it on purpose (not a problem)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def check_output(self):
        out = []
        for what, text in (("log", self.log_text()),
                           ("stderr", self.stderr_text())):
            for line in text.splitlines():
                if any(p.search(line) for p in BAD_PATTERNS):
                    out.append(f"{self.name} {what}: {line}")
        return out[:20]

    def finish(self):
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
        """Parsed log lines with event=name and the given key=values."""
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
                          what=f"{self.name}: {count} event={name} {match}")

    def deliveries(self, **match):
        return self.events("delivery", **match)

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

    def queue_files(self, sub="queue"):
        d = self.spool / sub
        return sorted(d.iterdir()) if d.is_dir() else []

    def wait_queue_empty(self, timeout=10.0):
        wait_until(lambda: not self.queue_files() and
                   not self.queue_files("hold"), timeout,
                   what=f"{self.name}: the queue to empty")

    # -- clients

    def smtp(self, source=None, timeout=10.0):
        s = smtplib.SMTP(timeout=timeout * SLOW,
                         source_address=(source, 0) if source else None)
        s.connect("127.0.0.1", self.port)
        s.ehlo("client.test")
        return s

    def send(self, sender, rcpts, data, source=None, mail_options=(),
             smtp=None):
        """One message; returns its queue id (from the 250 reply)."""
        s = smtp or self.smtp(source=source)
        try:
            code, resp = s.mail(sender, list(mail_options))
            assert code == 250, (code, resp)
            for r in ([rcpts] if isinstance(rcpts, str) else rcpts):
                code, resp = s.rcpt(r)
                assert code == 250, (r, code, resp)
            if isinstance(data, str):
                data = data.encode()
            code, resp = s.data(data)
            assert code == 250, (code, resp)
            m = re.search(rb"queued as (\w+)", resp)
            assert m, resp
            return m.group(1).decode()
        finally:
            if smtp is None:
                s.quit()

    def queue(self, *args, check=None):
        """`sluice queue -c CONF ARGS...` -> CompletedProcess (text)."""
        p = subprocess.run([binaries()[1], "queue", "-c", str(self.conf_path),
                            *args], capture_output=True, text=True,
                           timeout=30 * SLOW)
        if check is not None:
            assert p.returncode == check, (args, p.returncode, p.stdout,
                                           p.stderr)
        return p

    def queue_json(self, *args):
        p = self.queue("list", "--json", *args, check=0)
        d = json.loads(p.stdout)
        assert d["ok"] is True, d
        return d["messages"]


class ServerSet:
    """The sluiced factory behind the fixtures: every server is stopped
    at the end and its problems fail the test."""

    def __init__(self, tmp_factory, prefix, base_keys=None):
        self.tmp_factory = tmp_factory
        self.prefix = prefix
        self.base_keys = dict(base_keys or {})
        self.servers = []

    def __call__(self, keys=None, start=True, name=None):
        name = name or f"{self.prefix}{len(self.servers)}"
        k = dict(self.base_keys)
        k.update(keys or {})
        s = Sluiced(self.tmp_factory.mktemp(name), k, name)
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


# ---------------------------------------------------------------- spool


def queue_file(qid, sender, rcpts, data, t=None, client="192.0.2.7",
               session="0badcafe", warned=0):
    """The bytes of a queue file as sluiced writes it (src/queue/qfile.h),
    to place in spool/queue/ before a start. rcpts: (address, status,
    attempts, next attempt) tuples or plain addresses (remote, pending,
    never tried); a tuple whose attempts is None gets no retry line (a
    file from before retry lines)."""
    t = int(time.time()) if t is None else t
    out = [f"sluice-queue 1\nqid {qid}\ntime {t}\nsession {session}\n"
           f"client {client}\nhelo client.test\nproto ESMTP\n"
           f"from <{sender}>\nbody -\nwarned {warned}\n"
           f"size {len(data):020d}\n"]
    for r in rcpts:
        addr, status, attempts, nxt = (r, "P", 0, 0) if isinstance(r, str) \
            else r
        out.append(f"rcpt {status} R - <{addr}>\n")
        if attempts is not None:
            out.append(f"retry {attempts:010d} {nxt:012d}\n")
    out.append("data\n")
    return "".join(out).encode() + data


def place_queue_file(srv, qid, *a, **kw):
    """Write a queue file into srv's spool (queue/), as if a previous run
    had left it there."""
    d = srv.spool / "queue"
    d.mkdir(parents=True, exist_ok=True)
    (d / qid).write_bytes(queue_file(qid, *a, **kw))
    return d / qid


def rcpt_statuses(path):
    """{address: (status, attempts, next)} from a queue file's envelope
    (attempts and next are None without a retry line)."""
    head = path.read_bytes().split(b"\ndata\n", 1)[0].decode()
    out, last = {}, None
    for line in head.split("\n"):
        if line.startswith("rcpt "):
            _, st, _cls, _mb, addr = line.split(" ", 4)
            last = addr.strip("<>")
            out[last] = (st, None, None)
        elif line.startswith("retry ") and last:
            _, a, n = line.split(" ")
            out[last] = (out[last][0], int(a), int(n))
    return out


# ---------------------------------------------------------------- strace


STRACE = shutil.which("strace") or "/usr/bin/strace"


class Strace:
    """strace attached to every thread of a running process, to slow down
    or fail system calls on purpose (-e inject=...). stop() detaches."""

    def __init__(self, pid, inject, trace="fdatasync", workdir=None):
        self.pid = pid
        d = pathlib.Path(workdir or tempfile.mkdtemp(prefix="out-strace-"))
        self.out = d / f"strace-{pid}.out"
        self.err = d / f"strace-{pid}.err"
        with open(self.err, "wb") as errf:
            self.proc = subprocess.Popen(
                [STRACE, "-f", "-qq", "-o", str(self.out), "-e",
                 f"trace={trace}", "-e", f"inject={inject}", "-p", str(pid)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=errf)
        # attached once every thread shows a tracer
        want = {t for t in os.listdir(f"/proc/{pid}/task")}

        def attached():
            if self.proc.poll() is not None:
                raise AssertionError("strace exited: " +
                                     self.err.read_text())
            n = 0
            for t in want:
                try:
                    with open(f"/proc/{pid}/task/{t}/status") as f:
                        if re.search(r"^TracerPid:\s*[1-9]", f.read(),
                                     re.M):
                            n += 1
                except OSError:
                    n += 1      # gone
            return n == len(want)
        wait_until(attached, 10, what=f"strace attached to {pid}")

    def calls(self):
        try:
            return self.out.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)    # detaches
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- DNS

# The zone dnsmasq serves to every test. Each test owns its names; MX
# hosts resolve to distinct loopback addresses, and a test's receivers
# listen on those addresses on one port of its own (given to sluiced with
# a route "DOMAIN DOMAIN:PORT": the domain's MX hosts at that port).
ZONE_MX = [
    ("pref.test", "mx1.pref.test", 10),
    ("pref.test", "mx2.pref.test", 20),
    ("eq.test", "mxa.eq.test", 10),
    ("eq.test", "mxb.eq.test", 10),
    ("dead.test", "mx.dead.test", 10),     # MX host with no address
    ("nullmx.test", ".", 0),                # RFC 7505 null MX
    ("bad.test", "mx.bad.test", 10),        # served by dnsmasq: sane
    ("backup.test", "mx1.backup.test", 10),  # primary (a receiver)
    ("backup.test", "mx2.backup.test", 20),  # the sluiced under test
    ("v6.test", "mx.v6.test", 10),          # an MX with only an AAAA
]
ZONE_A = [
    ("mx1.pref.test", "127.0.0.2"),
    ("mx2.pref.test", "127.0.0.3"),
    ("mxa.eq.test", "127.0.0.4"),
    ("mxb.eq.test", "127.0.0.5"),
    ("implicit.test", "127.0.0.6"),         # A only: implicit MX
    ("mx.bad.test", "127.0.0.7"),
    ("mx1.backup.test", "127.0.0.8"),
    ("mx2.backup.test", "127.0.0.9"),
    ("mx.v6.test", "::1"),                  # AAAA only
]
# nx.test and anything else under .test: NXDOMAIN (--local=/test/)


def dns_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(name, qtype, port, host="127.0.0.1", timeout=2.0):
    """(rcode, ancount) of one UDP query."""
    tid = random.randrange(65536)
    pkt = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0) + dns_name(name) + \
        struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, (host, port))
        r = s.recv(4096)
    flags, _, an = struct.unpack(">HHH", r[2:8])
    return flags & 15, an


class Dnsmasq:
    """dnsmasq on 127.0.0.1:PORT serving ZONE_* and nothing else."""

    def __init__(self, workdir):
        self.port = free_port(udp=True)
        self.workdir = pathlib.Path(workdir)
        self.log = self.workdir / "dnsmasq.log"
        args = [DNSMASQ, f"--port={self.port}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--keep-in-foreground", "--pid-file=", "--local=/test/",
                "--log-queries", f"--log-facility={self.log}",
                "--user=root", "--group=root"]
        args += [f"--mx-host={d},{h},{p}" for d, h, p in ZONE_MX]
        args += [f"--host-record={n},{a}" for n, a in ZONE_A]
        with open(self.workdir / "dnsmasq.stderr", "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=err)
        deadline = time.monotonic() + 10
        while True:
            try:
                if dns_query("pref.test", 15, self.port, timeout=0.3)[1] == 2:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("dnsmasq did not start: " + (
                    self.workdir / "dnsmasq.stderr").read_text())
            time.sleep(0.05)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class BadDNS:
    """A DNS responder (UDP and TCP on one port) that answers each name
    with a chosen malformation. Names (MX queries):
      servfail.*  SERVFAIL             trunc.*    packet cut inside the answer
      loop.*      name pointer loop    ptrout.*   pointer past the end
      count.*     ancount 40, 1 answer rdlen.*    RDLENGTH past the end
      garbage.*   random answer bytes  label.*    reserved label type 0x80
      longname.*  MX host of 321 octets (the limit is 255)
      tc.*        TC bit set (TCP then gets a cut-off answer)
      good.*      a sane MX -> mx.good.* -> 127.0.0.7
    A and AAAA queries: an address for mx.good.*, else NXDOMAIN."""

    def __init__(self):
        self.port = free_port(udp=True)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)
        self.queries = []
        self.stopping = False
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self._tcp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    @staticmethod
    def _question(pkt):
        i = 12
        labels = []
        while pkt[i]:
            n = pkt[i]
            labels.append(pkt[i + 1:i + 1 + n].decode("latin-1"))
            i += 1 + n
        qtype, = struct.unpack(">H", pkt[i + 1:i + 3])
        return ".".join(labels).lower(), qtype, pkt[12:i + 5]

    def answer(self, pkt, tcp=False):
        tid = pkt[:2]
        name, qtype, question = self._question(pkt)
        self.queries.append((name, qtype, tcp))
        head = name.split(".")[0]

        def hdr(flags, an, rcode=0):
            return tid + struct.pack(">HHHHH", 0x8180 | flags | rcode, 1, an,
                                     0, 0)

        def rr(rtype, rdata, owner=b"\xc0\x0c"):
            return owner + struct.pack(">HHIH", rtype, 1, 60,
                                       len(rdata)) + rdata

        if qtype in (1, 28):
            if name.startswith("mx.good.") and qtype == 1:
                return hdr(0x400, 1) + question + rr(1, bytes([127, 0, 0, 7]))
            return hdr(0x400, 0, 3) + question
        good_mx = rr(15, b"\0\x0a" + dns_name("mx." + name))
        if head == "good":
            return hdr(0x400, 1) + question + good_mx
        if head == "servfail":
            return hdr(0, 0, 2) + question
        if head == "trunc":
            full = hdr(0x400, 1) + question + good_mx
            return full[:len(full) - 7]
        if head == "loop":
            off = 12 + len(question)      # the answer's owner points to itself
            return hdr(0x400, 1) + question + rr(
                15, b"\0\x0a" + dns_name("mx." + name),
                owner=struct.pack(">H", 0xc000 | off))
        if head == "ptrout":
            return hdr(0x400, 1) + question + rr(15, b"\0\x0a\xc0\xff\xf0")
        if head == "count":
            return hdr(0x400, 40) + question + good_mx
        if head == "rdlen":
            return hdr(0x400, 1) + question + b"\xc0\x0c" + struct.pack(
                ">HHIH", 15, 1, 60, 0xffff) + b"\0\x0a" + dns_name("x.y")
        if head == "garbage":
            rnd = random.Random(7)
            return hdr(0x400, 3) + question + bytes(rnd.randrange(256)
                                                    for _ in range(200))
        if head == "label":
            return hdr(0x400, 1) + question + rr(
                15, b"\0\x0a\x85abcde\0")
        if head == "longname":
            # five 63-octet labels: a 321-octet name (the limit is 255)
            chain = (b"\x3f" + b"a" * 63) * 5 + b"\0"
            return hdr(0x400, 1) + question + rr(15, b"\0\x0a" + chain)
        if head == "tc":
            if tcp:
                return None     # the TCP side answers with a cut-off message
            return hdr(0x200 | 0x400, 0) + question
        return hdr(0x400, 0, 3) + question

    def _udp_loop(self):
        while not self.stopping:
            try:
                pkt, addr = self.udp.recvfrom(4096)
            except OSError:
                return
            try:
                r = self.answer(pkt)
                if r:
                    self.udp.sendto(r, addr)
            except Exception:       # a malformed query: ignore it
                pass

    def _tcp_loop(self):
        while not self.stopping:
            try:
                c, _ = self.tcp.accept()
            except OSError:
                return
            try:
                c.settimeout(2)
                data = c.recv(4096)
                if len(data) >= 14:
                    pkt = data[2:]
                    r = self.answer(pkt, tcp=True)
                    if r is None:       # promise 300 octets, send 5, close
                        c.sendall(struct.pack(">H", 300) + pkt[:2] + b"\x81")
                    else:
                        c.sendall(struct.pack(">H", len(r)) + r)
            except OSError:
                pass
            finally:
                c.close()

    def stop(self):
        self.stopping = True
        for s in (self.udp, self.tcp):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


# ---------------------------------------------------------------- TLS


def make_cert(directory, cn="rcv.test"):
    """A self-signed EC certificate and key (PEM) in directory."""
    d = pathlib.Path(directory)
    cert, key = d / "rcv.crt", d / "rcv.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj",
                    f"/CN={cn}"], check=True, capture_output=True)
    return cert, key


def server_tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


# ---------------------------------------------------------------- peers


class Message:
    """One transaction as a receiver saw it."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return (f"Message(from={self.mail_from!r}, to={self.rcpt_tos!r}, "
                f"{len(self.content)} bytes, tls={self.tls})")

    def header(self, name):
        return header_values(self.content, name)


class Receiver:
    """aiosmtpd on host:port. Behaviour:
      rcpt: {address: reply or [reply, reply, ...]} (a list is used in
            turn, its last entry repeats) or callable(address, n) -> reply;
            a reply of None accepts
      data: reply after the data ("250 ..." default), or callable(msg)
      data_delay: seconds to wait before that reply
      commit_early: record the message before that wait (as a server that
            stores the message and then dies before its 250 gets out)
      tls: (cert, key) to offer STARTTLS; require_starttls
      auth: {user: password} (AUTH PLAIN/LOGIN, only after STARTTLS)
    Records: messages (accepted transactions), rcpts (address, reply),
    mails (MAIL options), sessions (connections seen)."""

    def __init__(self, host="127.0.0.1", port=None, rcpt=None, data=None,
                 data_delay=0.0, tls=None, require_starttls=False, auth=None,
                 name="rcv.test", commit_early=False):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword
        self.host = host
        self.port = port or free_port((host,))
        self.rcpt_rule = rcpt or {}
        self.data_rule = data or "250 2.0.0 Ok: stored"
        self.data_delay = data_delay
        self.commit_early = commit_early
        self.messages = []
        self.rcpts = []
        self.mails = []
        self.peers = []
        self.auth_attempts = []
        self._rcpt_n = {}
        self.lock = threading.Lock()
        kw = {}
        if tls:
            kw["tls_context"] = server_tls_context(*tls)
            kw["require_starttls"] = require_starttls
        if auth is not None:
            def authenticator(server, session, envelope, mechanism, data):
                ok = isinstance(data, LoginPassword) and \
                    auth.get(data.login.decode()) == data.password.decode()
                self.auth_attempts.append((mechanism, data.login.decode(),
                                           data.password.decode(), ok))
                return AuthResult(success=ok, handled=False)
            kw["authenticator"] = authenticator
            kw["auth_require_tls"] = True
        self.controller = Controller(_Handler(self), hostname=host,
                                     port=self.port, server_hostname=name,
                                     **kw)
        self.controller.start()

    def _rcpt_reply(self, address):
        with self.lock:
            n = self._rcpt_n.get(address.lower(), 0)
            self._rcpt_n[address.lower()] = n + 1
        rule = self.rcpt_rule
        if callable(rule):
            return rule(address, n)
        r = rule.get(address.lower())
        if isinstance(r, list):
            return r[min(n, len(r) - 1)]
        return r

    def wait(self, count=1, timeout=10.0):
        return wait_until(lambda: self.messages if len(self.messages) >= count
                          else None, timeout,
                          what=f"{count} message(s) at {self.host}:"
                               f"{self.port}")

    def stop(self):
        try:
            self.controller.stop()
        except Exception:
            pass


class _Handler:
    def __init__(self, rcv):
        self.rcv = rcv

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        self.rcv.peers.append(session.peer)
        return responses

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        self.rcv.mails.append((address, list(mail_options)))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        reply = self.rcv._rcpt_reply(address)
        self.rcv.rcpts.append((address, reply))
        if reply is None:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 Ok"
        return reply

    async def handle_DATA(self, server, session, envelope):
        rcv = self.rcv
        msg = Message(mail_from=envelope.mail_from,
                      mail_options=list(envelope.mail_options),
                      rcpt_tos=list(envelope.rcpt_tos),
                      content=bytes(envelope.original_content),
                      peer=session.peer, tls=session.ssl is not None,
                      auth=getattr(session, "login_data", None) or
                      getattr(session, "auth_data", None),
                      authenticated=getattr(session, "authenticated", False),
                      helo=session.host_name, at=None)
        reply = rcv.data_rule(msg) if callable(rcv.data_rule) else \
            rcv.data_rule
        msg.at = time.monotonic()
        if rcv.commit_early and reply.startswith("2"):
            rcv.messages.append(msg)
        if rcv.data_delay:
            await asyncio.sleep(rcv.data_delay)
        msg.replied = time.monotonic()
        if not rcv.commit_early and reply.startswith("2"):
            rcv.messages.append(msg)
        return reply


class RawPeer:
    """A socket-level peer on host:port (host may be a list of addresses,
    all on the one port), one thread per connection.
    mode:
      capture  a small ESMTP server (PIPELINING, 8BITMIME, SIZE) that keeps
               the exact bytes of every DATA (still dot-stuffed, without the
               final ".") in .transactions, and every command line in .lines;
               it answers MAIL after 0.2 s and keeps in tx["pipelined"]
               what the client had sent after MAIL by then
      stall    accepts the connection and never says anything
      garbage  greets with binary junk and never a valid reply
      longline greets with 100 kB without a line end
      badcode  a multi-line greeting whose code changes mid-reply
      dropmail closes the connection when MAIL arrives
      badtls   offers STARTTLS, says 220, then sends junk instead of TLS
      helo     a pre-ESMTP server: EHLO is an unknown command
      slowdata reads at most 8 kB per 10 ms (a slow link), small SO_RCVBUF
    In capture mode:
      reply(kind, line, conn, tx) may answer a command its own way:
               kind is "MAIL", "RCPT", "DATA" (before 354) or "END" (after
               the data: line is then the data), conn the connection's
               number (0 first), tx the transaction's number on it (0
               first: each MAIL begins one); it returns the reply (bytes
               with CRLF; a 421 is followed by a close, as servers do), b""
               to close the connection without a word, or None for the
               usual answer
      after_tx(conn, tx) runs after each final reply to the data: None
               (go on), b"" (close the connection) or bytes to send first
               (b"421 ...\r\n") and then close
      mail_delay is the wait before answering MAIL (0.2 s)
    Records: .connections (count), .max_concurrent, .transactions, .lines,
    and .sessions: one dict per connection, in order of arrival, with
    "lines" (its command lines), "times" (time.monotonic() of each),
    "transactions" (its tx dicts), "quit" (QUIT seen), "closed" (when the
    connection ended) and "closed_by" ("client" or "peer")."""

    def __init__(self, host="127.0.0.1", port=None, mode="capture",
                 data_reply=b"250 2.0.0 Ok: raw\r\n", reply=None,
                 after_tx=None, mail_delay=0.2):
        hosts = [host] if isinstance(host, str) else list(host)
        self.host = hosts[0]
        self.port = port or free_port(hosts)
        self.mode = mode
        self.data_reply = data_reply
        self.reply = reply
        self.after_tx = after_tx
        self.mail_delay = mail_delay
        self.sessions = []
        self.connections = 0
        self.concurrent = 0
        self.max_concurrent = 0
        self.gone = set()
        self.count_lock = threading.Lock()
        self.transactions = []
        self.lines = []
        self.socks = []
        self.stopping = False
        self.listeners = []
        self.threads = []
        for h in hosts:
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if mode == "slowdata":
                ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
            ls.bind((h, self.port))
            ls.listen(64)
            self.listeners.append(ls)
            t = threading.Thread(target=self._accept, args=(ls,),
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def _accept(self, ls):
        while not self.stopping:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            with self.count_lock:
                self.connections += 1
                self.concurrent += 1
                self.max_concurrent = max(self.max_concurrent,
                                          self.concurrent)
            self.socks.append(c)
            with self.count_lock:
                sess = {"lines": [], "times": [], "transactions": [],
                        "quit": False, "opened": time.monotonic(),
                        "closed": None, "closed_by": None,
                        "n": len(self.sessions)}
                self.sessions.append(sess)
            threading.Thread(target=self._serve, args=(c, sess),
                             daemon=True).start()

    def _gone(self, c):
        """c no longer counts as a concurrent connection (once)."""
        with self.count_lock:
            if id(c) not in self.gone:
                self.gone.add(id(c))
                self.concurrent -= 1

    def _serve(self, c, sess):
        try:
            c.settimeout(30)
            m = self.mode
            if m == "stall":
                while not self.stopping and c.recv(4096):
                    pass
                return
            if m == "garbage":
                c.sendall(b"\x00\xff\xfe garbage \x01\x02\x03\r\n"
                          b"HTTP/1.1 400 Bad Request\r\n\r\n")
                while not self.stopping and c.recv(4096):
                    pass
                return
            if m == "longline":
                c.sendall(b"220" + b"x" * 100000)
                while not self.stopping and c.recv(4096):
                    pass
                return
            if m == "badcode":
                c.sendall(b"220-raw.test hello\r\n354 changed my mind\r\n")
                while not self.stopping and c.recv(4096):
                    pass
                return
            self._smtp(c, sess)
        except OSError:
            pass
        finally:
            if sess["closed"] is None:
                sess["closed"] = time.monotonic()
                sess["closed_by"] = sess["closed_by"] or "client"
            self._gone(c)
            try:
                c.close()
            except OSError:
                pass

    def _smtp(self, c, sess):
        buf = bytearray()
        ntx = 0

        def custom(kind, line):
            """The test's own reply (b"" closes), or None."""
            if self.reply is None:
                return None
            return self.reply(kind, line, sess["n"], ntx - 1)

        def hang_up():
            sess["closed_by"] = "peer"
            sess["closed"] = time.monotonic()
            c.shutdown(socket.SHUT_RDWR)

        slow = self.mode == "slowdata"

        def readline(limit):
            while b"\n" not in buf and len(buf) < limit:
                chunk = c.recv(8192 if slow else 65536)
                if slow:
                    time.sleep(0.01)
                if not chunk:
                    return b""
                buf.extend(chunk)
            n = buf.find(b"\n") + 1 if b"\n" in buf else limit
            line = bytes(buf[:n])
            del buf[:n]
            return line

        def drain_now():
            """What the client has sent so far without waiting for us."""
            c.setblocking(False)
            try:
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    buf.extend(chunk)
            except BlockingIOError:
                pass
            finally:
                c.setblocking(True)
                c.settimeout(30)

        c.sendall(b"220 raw.test ESMTP\r\n")
        tx = None
        while True:
            line = readline(100000)
            if not line:
                return
            self.lines.append(line)
            sess["lines"].append(line)
            sess["times"].append(time.monotonic())
            cmd = line[:4].upper()
            if cmd == b"MAIL":
                ntx += 1
            own = custom(cmd.decode("latin-1"), line) \
                if cmd in (b"MAIL", b"RCPT", b"DATA") else None
            if own == b"" or (own and own.startswith(b"421")):
                if own:
                    c.sendall(own)
                hang_up()
                return
            if cmd == b"EHLO" and self.mode == "helo":
                c.sendall(b"500 5.5.1 Command unrecognized\r\n")
            elif cmd == b"EHLO":
                ext = [b"raw.test", b"PIPELINING", b"8BITMIME",
                       b"SIZE 100000000"]
                if self.mode == "badtls":
                    ext.append(b"STARTTLS")
                c.sendall(b"".join(b"250-" + e + b"\r\n" for e in ext[:-1]) +
                          b"250 " + ext[-1] + b"\r\n")
            elif cmd == b"HELO":
                c.sendall(b"250 raw.test\r\n")
            elif cmd == b"STAR" and self.mode == "badtls":
                c.sendall(b"220 2.0.0 go ahead\r\n")
                c.sendall(b"this is not a TLS server hello\r\n" * 4)
                return
            elif cmd == b"MAIL":
                if self.mode == "dropmail":
                    return
                # wait a little before answering: a pipelining client has
                # sent its RCPTs and DATA by then
                time.sleep(self.mail_delay)
                drain_now()
                if own:
                    c.sendall(own)
                    continue
                if tx is not None:
                    c.sendall(b"503 5.5.1 Error: nested MAIL command\r\n")
                    continue
                tx = {"mail": line, "rcpts": [], "data": None,
                      "pipelined": bytes(buf), "conn": sess["n"]}
                c.sendall(b"250 2.1.0 Ok\r\n")
            elif cmd == b"RCPT":
                if tx is None:
                    c.sendall(b"503 5.5.1 Error: need MAIL command\r\n")
                elif own:
                    c.sendall(own)
                else:
                    tx["rcpts"].append(line)
                    c.sendall(b"250 2.1.5 Ok\r\n")
            elif cmd == b"DATA":
                if own:
                    c.sendall(own)
                    continue
                if tx is None or not tx["rcpts"]:
                    c.sendall(b"554 5.5.1 Error: no valid recipients\r\n")
                    continue
                c.sendall(b"354 go ahead\r\n")
                data = bytearray()
                while True:
                    dl = readline(1 << 20)
                    if not dl:
                        return
                    if dl == b".\r\n":
                        break
                    data += dl
                tx["data"] = bytes(data)
                own = custom("END", tx["data"])
                if own == b"" or (own and own.startswith(b"421")):
                    if own:
                        c.sendall(own)
                    hang_up()
                    return
                tx["reply"] = own or self.data_reply
                if tx["reply"].startswith(b"2"):
                    self.transactions.append(tx)
                sess["transactions"].append(tx)
                tx = None
                c.sendall(own or self.data_reply)
                then = self.after_tx(sess["n"], ntx - 1) if self.after_tx \
                    else None
                if then is not None:
                    if then:
                        c.sendall(then)
                    hang_up()
                    return
            elif cmd == b"QUIT":
                sess["quit"] = True
                # the client may open its next connection as soon as it
                # reads 221: this one stops counting before that
                self._gone(c)
                c.sendall(b"221 2.0.0 Bye\r\n")
                return
            elif cmd == b"RSET":
                tx = None
                c.sendall(b"250 2.0.0 Ok\r\n")
            else:
                c.sendall(b"502 5.5.1 what?\r\n")

    def wait(self, count=1, timeout=10.0):
        return wait_until(lambda: self.transactions
                          if len(self.transactions) >= count else None,
                          timeout, what=f"{count} transaction(s) at raw peer")

    def stop(self):
        self.stopping = True
        for ls in self.listeners:
            try:
                ls.shutdown(socket.SHUT_RDWR)   # wakes accept()
            except OSError:
                pass
            try:
                ls.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(5)
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


class SmtpSink:
    """Postfix's smtp-sink on host:port, dumping every transaction to its
    own file (-d) in a world-writable directory (it runs as nobody); with
    count, its running counters (-c) are kept for counters()."""

    COUNTERS = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+)")

    def __init__(self, host="127.0.0.1", port=None, args=(), count=False):
        self.host = host
        self.port = port or free_port((host,))
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="out-sink-"))
        os.chmod(self.dir, 0o777)
        self.out = None
        out = subprocess.DEVNULL
        if count:
            fd, self.out = tempfile.mkstemp(prefix="out-sink-counters-")
            out = fd
            args = ["-c", *args]
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "nobody", "-d", str(self.dir) + "/%H%M%S.",
             *args, f"{host}:{self.port}", "64"],
            stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.PIPE)
        if count:
            os.close(fd)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((host, self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    raise AssertionError("smtp-sink did not start: " +
                                         self.proc.stderr.read().decode())
                time.sleep(0.05)

    def dumps(self):
        return [p.read_bytes() for p in sorted(self.dir.iterdir())]

    def counters(self):
        """(sessions ended, QUITs, messages) from smtp-sink -c, or None
        before its first record (records end in CR, not LF)."""
        with open(self.out, "rb") as f:
            got = self.COUNTERS.findall(f.read())
        return tuple(int(x) for x in got[-1]) if got else None

    def wait(self, count=1, timeout=10.0):
        return wait_until(lambda: (lambda d: d if len(d) >= count else None)
                          (self.dumps()), timeout,
                          what=f"{count} dump(s) from smtp-sink")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.out:
            os.unlink(self.out)


# ---------------------------------------------------------------- messages


def split_message(data):
    """(header block, body) of a message with CRLF or LF line ends."""
    m = re.search(rb"\r?\n\r?\n", data)
    if not m:
        return data, b""
    return data[:m.start()], data[m.end():]


def header_values(data, name):
    head, _ = split_message(data)
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", head)
    out = []
    for line in re.split(rb"\r?\n", unfolded):
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == name.lower().encode():
            out.append(v.strip().decode("latin-1"))
    return out


def strip_trace(content):
    """The message as submitted: content minus the Received: header(s)
    sluiced put on top (which end at the first line that does not start
    with 'Received:' or whitespace)."""
    pos = 0
    while content.startswith(b"Received:", pos):
        nxt = content.index(b"\n", pos) + 1
        while content[nxt:nxt + 1] in (b" ", b"\t"):
            nxt = content.index(b"\n", nxt) + 1
        pos = nxt
    return content[pos:]


def unstuff(wire):
    """SMTP DATA bytes as sent (CRLF lines, dot-stuffed) -> the message."""
    lines = wire.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


class DSN:
    """A delivery status notification: .msg (email.message), .fields (the
    per-message block), .rcpts (per-recipient blocks, dicts with lower-case
    keys), .text (the human part), .headers_part (returned headers)."""

    def __init__(self, raw):
        self.raw = raw
        self.msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert self.msg.get_content_type() == "multipart/report", \
            self.msg.get_content_type()
        assert self.msg.get_param("report-type") == "delivery-status"
        parts = self.msg.get_payload()
        assert isinstance(parts, list) and len(parts) >= 2, parts
        assert parts[0].get_content_type() == "text/plain"
        self.text = parts[0].get_payload(decode=True).decode("ascii")
        ds = [p for p in parts
              if p.get_content_type() == "message/delivery-status"]
        assert len(ds) == 1, [p.get_content_type() for p in parts]
        blocks = ds[0].get_payload()
        assert isinstance(blocks, list) and len(blocks) >= 2, blocks
        self.fields = {k.lower(): v for k, v in blocks[0].items()}
        self.rcpts = [{k.lower(): v for k, v in b.items()} for b in blocks[1:]]
        rh = [p for p in parts if p.get_content_type() in
              ("text/rfc822-headers", "message/rfc822")]
        self.headers_part = rh[0].as_bytes() if rh else b""

    @property
    def subject(self):
        return self.msg["Subject"]

    def rcpt(self, address):
        for r in self.rcpts:
            if r.get("final-recipient", "").split(";")[-1].strip().lower() \
                    == address.lower():
                return r
        raise AssertionError(f"no block for {address} in {self.rcpts}")


def maildir_dsns(srv, user):
    return [DSN(p.read_bytes()) for p in srv.maildir_files(user)]
