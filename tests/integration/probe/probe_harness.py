"""
Helpers for the `sluice probe` integration tests: run the probe binary,
parse its output, and start its targets on loopback -- sluiced with a
temporary configuration, private Postfix instances, and fake servers
(fakesmtp.py) that misbehave on purpose.

Self-contained: nothing here depends on ../conftest.py. (A module of its
own, not conftest.py, so that `import` never picks up the parent's
conftest module by mistake.)

    SLUICE=/path/to/sluice     the probe binary (default: build/sluice, or
                               next to $SLUICED)
    SLUICED=/path/to/sluiced   the server binary (default: build/sluiced)

With sanitizer builds (make asan-bin; SLUICED=build/asan/sluiced) a probe
run whose stderr carries a sanitizer report fails its test.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from fakesmtp import FakeSMTP, free_port  # noqa: F401  (re-exported)

ROOT = pathlib.Path(__file__).resolve().parents[3]
SLUICED = os.environ.get("SLUICED", str(ROOT / "build" / "sluiced"))
SLUICE = os.environ.get("SLUICE",
                        os.path.join(os.path.dirname(SLUICED), "sluice"))
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
NMAP = shutil.which("nmap")

# sanitizer builds are slower
SLOW = 3.0 if os.environ.get("SLUICED") or os.environ.get("SLUICE") else 1.0

# short timeouts for every probe run (seconds)
FAST = ["--timeout", "2", "--connect-timeout", "2", "-q"]

SAN_RE = re.compile(r"ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|"
                    r"runtime error|SUMMARY: \w+Sanitizer")
SAN_ENV = {
    "ASAN_OPTIONS": os.environ.get(
        "ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1:halt_on_error=1"),
    "UBSAN_OPTIONS": os.environ.get(
        "UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
}


# ---------------------------------------------------------------- probe


class ProbeRun:
    """One finished `sluice probe` run."""

    def __init__(self, args, rc, out, err, elapsed):
        self.args = args
        self.rc = rc
        self.out = out            # bytes
        self.err = err            # bytes
        self.elapsed = elapsed

    @property
    def text(self):
        return self.out.decode("latin-1")

    def json(self):
        """Every output line parsed as one JSON object (strictly: raw
        control characters inside strings are an error)."""
        objs = []
        for line in self.out.decode("utf-8").splitlines():
            if line.strip():
                objs.append(json.loads(line))
        return objs

    def targets(self):
        """{target spec: JSON object}, each target exactly once."""
        out = {}
        for o in self.json():
            assert o["target"] not in out, f"{o['target']} reported twice"
            out[o["target"]] = o
        return out

    def one(self):
        objs = self.json()
        assert len(objs) == 1, f"expected one target, got {len(objs)}:\n" \
            f"{self.text[:2000]}"
        return objs[0]

    def __repr__(self):
        return (f"ProbeRun(rc={self.rc}, {self.elapsed:.1f}s, "
                f"args={self.args!r})\nstdout: {self.text[:3000]}\n"
                f"stderr: {self.err.decode('latin-1')[:2000]}")


def probe_cmd(*args):
    return [SLUICE, "probe", *map(str, args)]


def check_sanitizers(err, what):
    text = err.decode("latin-1")
    m = SAN_RE.search(text)
    if m:
        pytest.fail(f"{what}: sanitizer report:\n{text[-4000:]}",
                    pytrace=False)


def run_probe(*args, timeout=60, stdin=None):
    """Run the probe to completion (bounded by timeout); return ProbeRun."""
    cmd = probe_cmd(*args)
    env = dict(os.environ)
    env.update(SAN_ENV)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, env=env,
                           timeout=timeout * SLOW)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"probe hung (> {timeout * SLOW:.0f}s): {cmd}\n"
                    f"stdout: {(e.stdout or b'')[-2000:]!r}", pytrace=False)
    r = ProbeRun(cmd, p.returncode, p.stdout, p.stderr,
                 time.monotonic() - t0)
    check_sanitizers(p.stderr, f"probe {cmd}")
    if p.returncode < 0:
        pytest.fail(f"probe died of signal {-p.returncode}: {r!r}",
                    pytrace=False)
    return r


class ProbeProc:
    """A probe started in the background (several run side by side)."""

    def __init__(self, *args, stdin=None):
        env = dict(os.environ)
        env.update(SAN_ENV)
        self.cmd = probe_cmd(*args)
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(self.cmd, stdin=subprocess.PIPE if stdin
                                  else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.stdin = stdin
        self.result = None

    def wait(self, timeout=60):
        if self.result is not None:
            return self.result
        try:
            out, err = self.p.communicate(self.stdin, timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            self.result = ProbeRun(self.cmd, "hung", out, err,
                                   time.monotonic() - self.t0)
            return self.result
        self.result = ProbeRun(self.cmd, self.p.returncode, out, err,
                               time.monotonic() - self.t0)
        return self.result


def check_run(r):
    """Fail on a hung, crashed or sanitizer-reporting background run."""
    if r.rc == "hung":
        pytest.fail(f"probe hung: {r!r}", pytrace=False)
    if isinstance(r.rc, int) and r.rc < 0:
        pytest.fail(f"probe died of signal {-r.rc}: {r!r}", pytrace=False)
    check_sanitizers(r.err, f"probe {r.args}")
    return r


def verdicts(obj, kind=None):
    """{test id: verdict} of one target's JSON object."""
    return {t["id"]: t["verdict"] for t in obj["tests"]
            if kind is None or t["kind"] == kind}


def by_id(obj, tid):
    for t in obj["tests"]:
        if t["id"] == tid:
            return t
    raise AssertionError(f"no test {tid} in {verdicts(obj)}")


# ---------------------------------------------------------------- sluiced


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


class Sluiced:
    """sluiced on a loopback port with a configuration of its own."""

    HOSTNAME = "mx.test"

    def __init__(self, root, keys=None, role=None):
        self.dir = pathlib.Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keys = dict(keys or {})
        self.role = role          # listener role ("submissions"), or None
        self.port = None
        self.proc = None
        self.log = self.dir / "sluiced.log"
        self.errpath = self.dir / "sluiced.stderr"

    def config(self):
        k = {"hostname": self.HOSTNAME,
             "listen": [f"127.0.0.1:{self.port}" +
                        (f" {self.role}" if self.role else "")],
             "spool_dir": str(self.dir / "spool"),
             "maildir_root": str(self.dir / "mail"),
             "log": str(self.log)}
        k.update(self.keys)
        lines = []
        groups = {}
        for key, v in k.items():
            if "." in key:
                g, sub = key.split(".", 1)
                groups.setdefault(g, []).append(f"  {sub} = "
                                                f"{conf_value(v)};")
            else:
                lines.append(f"{key} = {conf_value(v)};")
        for g, sub in groups.items():
            lines += [f"{g} = {{", *sub, "};"]
        return "\n".join(lines) + "\n"

    def start(self, timeout=10):
        for _attempt in range(3):
            self.port = free_port()
            conf = self.dir / "sluiced.conf"
            conf.write_text(self.config())
            env = dict(os.environ)
            env.update(SAN_ENV)
            with open(self.errpath, "ab") as ef:
                self.proc = subprocess.Popen(
                    [SLUICED, "-c", str(conf)], stdin=subprocess.DEVNULL,
                    stdout=ef, stderr=ef, env=env, cwd=self.dir)
            if wait_banner(self.port, timeout * SLOW, self.proc,
                           tls=self.role == "submissions"):
                return self
            if "Address already in use" not in self.output():
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
        """SIGTERM; the problems seen (crash, bad exit, sanitizer)."""
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
        if SAN_RE.search(self.output()) or "level=err " in self.output():
            problems.append("sluiced logged errors:\n" + self.output())
        self.proc = None
        return problems

    @property
    def spec(self):
        return f"127.0.0.1:{self.port}"


def wait_banner(port, timeout, proc=None, host="127.0.0.1", tls=False):
    """True once a 220 greeting is read from host:port (False if proc
    exits first); tls: the port speaks TLS at once (submissions)."""
    deadline = time.monotonic() + timeout
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=2) as raw, \
                    (ctx.wrap_socket(raw) if tls else raw) as s:
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


# ---------------------------------------------------------------- postfix


class Postfix:
    """A private Postfix instance on 127.0.0.1:port, relaying everything
    it relays to [127.0.0.1]:relay_port (the probe's catcher)."""

    def __init__(self, root, name, mynetworks, relay_port):
        self.dir = pathlib.Path(root)
        self.name = name
        self.mynetworks = mynetworks
        self.relay_port = relay_port
        self.port = free_port()
        self.conf = self.dir / "etc"
        self.logpath = self.dir / "maillog"
        self.proc = None

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
        """Start without waiting (instances start side by side)."""
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

    @property
    def spec(self):
        return f"127.0.0.1:{self.port}"


def postfix_available():
    return os.access(POSTFIX, os.X_OK) and \
        os.path.exists("/etc/postfix/master.cf") and os.geteuid() == 0
