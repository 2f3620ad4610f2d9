"""
/metrics scraped by a real HTTP client (curl) parses as the Prometheus
text exposition format (version 0.0.4), checked by a small strict parser,
and its counters match what the test did. Also `sluice report` on the
same server's log.
"""
import json
import math
import re
import subprocess

import pytest

from abuse_harness import LOCAL, SLOW, free_port, transaction, wait_until

OUTSIDER = "127.0.0.2"

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE_RE = re.compile(
    rf"^(?P<name>{NAME})"
    rf"(?:\{{(?P<labels>(?:{LABEL}={LABEL_VALUE})(?:,{LABEL}={LABEL_VALUE})*"
    rf",?)?\}})?"
    rf" (?P<value>\S+)(?: (?P<ts>-?\d+))?$")
LABEL_RE = re.compile(rf"({LABEL})=({LABEL_VALUE})")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ParseError(AssertionError):
    pass


def parse_value(s, lineno):
    if s in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ParseError(f"line {lineno}: bad value {s!r}")
    return float(s)


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1),
                                                      m.group(1)), v[1:-1])


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return name


def parse_prometheus(text):
    """Strict text-format 0.0.4 parser: {family: {"type", "help",
    "samples": {(name, ((label, value), ...)): float}}}."""
    if not text.endswith("\n"):
        raise ParseError("the exposition does not end with a newline")
    families, types, helps = {}, {}, {}
    seen_series, closed = set(), set()
    current = None
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.*)$", line)
            if not m:
                if re.match(r"^# (HELP|TYPE)\b", line):
                    raise ParseError(f"line {lineno}: malformed {line!r}")
                continue        # a plain comment
            kind, name, rest = m.groups()
            if kind == "TYPE":
                if rest not in TYPES:
                    raise ParseError(f"line {lineno}: unknown type {rest!r}")
                if name in types:
                    raise ParseError(f"line {lineno}: second TYPE for {name}")
                if name in families and families[name]["samples"]:
                    raise ParseError(f"line {lineno}: TYPE for {name} after "
                                     f"its samples")
                types[name] = rest
            else:
                if name in helps:
                    raise ParseError(f"line {lineno}: second HELP for {name}")
                helps[name] = rest
            families.setdefault(name, {"samples": {}})
            if current != name:
                if name in closed:
                    raise ParseError(f"line {lineno}: {name} split in groups")
                if current:
                    closed.add(current)
                current = name
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise ParseError(f"line {lineno}: not `name{{labels}} value`: "
                             f"{line!r}")
        name = m.group("name")
        fam = family_of(name, types)
        if fam not in types:
            raise ParseError(f"line {lineno}: {name} has no # TYPE")
        if fam != current:
            if fam in closed:
                raise ParseError(f"line {lineno}: {fam} split in groups")
            if current:
                closed.add(current)
            current = fam
        labels = []
        if m.group("labels"):
            labels = [(k, unescape(v))
                      for k, v in LABEL_RE.findall(m.group("labels"))]
            if len({k for k, _ in labels}) != len(labels):
                raise ParseError(f"line {lineno}: repeated label")
        key = (name, tuple(sorted(labels)))
        if key in seen_series:
            raise ParseError(f"line {lineno}: duplicate series {key}")
        seen_series.add(key)
        v = parse_value(m.group("value"), lineno)
        if types[fam] == "counter" and not (v >= 0 or math.isnan(v)):
            raise ParseError(f"line {lineno}: negative counter")
        families[fam]["samples"][key] = v
    for name, f in families.items():
        f["type"] = types.get(name)
        f["help"] = helps.get(name)
    return families


def value(fams, name, **labels):
    fam = fams[family_of(name, {k: f["type"] for k, f in fams.items()})]
    return fam["samples"][(name, tuple(sorted(labels.items())))]


def curl(url, *extra):
    p = subprocess.run(["curl", "-sS", "--max-time", str(int(10 * SLOW)),
                        "-D", "-", *extra, url], capture_output=True)
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.decode("utf-8").partition("\r\n\r\n")
    status = int(head.split()[1])
    headers = {}
    for l in head.split("\r\n")[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def test_parser_is_strict():
    good = ("# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
            "# TYPE b gauge\nb{x=\"1\",y=\"q\\\"\\n\"} 2.5\nb{x=\"2\"} -1\n")
    fams = parse_prometheus(good)
    assert value(fams, "b", x="1", y='q"\n') == 2.5
    for bad in ["a 1\n",                                    # no TYPE
                "# TYPE a counter\na 1",                    # no newline
                "# TYPE a counter\na{x=1} 1\n",             # unquoted
                "# TYPE a counter\na 1\na 2\n",             # duplicate
                "# TYPE a counter\na one\n",                # value
                "# TYPE a counter\na -1\n",                 # negative
                "# TYPE a counter\n# TYPE a counter\na 1\n",
                "# TYPE a foo\na 1\n",
                "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"\"} 2\n",
                "# TYPE a gauge\na  1\n"]:
        with pytest.raises(ParseError):
            parse_prometheus(bad)


@pytest.fixture(scope="module")
def srv(abuse_shared):
    return abuse_shared({
        "authorized_networks": ["127.0.0.1/32"],
        "metrics.listen": f"127.0.0.1:{free_port()}",
    })


def url(srv, path="/metrics"):
    return f"http://{srv.user_keys['metrics.listen']}{path}"


def scrape(srv):
    status, headers, body = curl(url(srv))
    assert status == 200, (status, body[:200])
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), \
        headers
    return parse_prometheus(body), body


@pytest.fixture(scope="module")
def activity(srv):
    """What the tests count: 3 messages from the trusted client, 2 relay
    attempts and an unknown user from an outsider. The scrape before."""
    before, _ = scrape(srv)
    for i in range(3):
        t = srv.send("127.0.0.1", f"me{i}@example.test", [f"alice@{LOCAL}"])
        assert t.accepted, t
    for i in range(2):
        with srv.session(OUTSIDER) as c:
            t = transaction(c, "x@outside.example",
                            [f"x@relay{i}.example"] +
                            ([f"nobody@{LOCAL}"] if i == 0 else []))
            c.cmd("QUIT")
        assert t.rcpt[0].code == 550, t
    wait_until(lambda: len(srv.events("disconnect")) >= 6, 5,
               what="the sessions to end")
    wait_until(lambda: len(srv.events("delivery", status="sent")) >= 3, 10,
               what="3 local deliveries")
    return before


def test_metrics_parse_and_count(srv, activity):
    before = activity
    assert value(before, "sluice_messages_accepted_total") == 0
    fams, body = scrape(srv)
    for name, f in fams.items():
        assert name.startswith("sluice_"), name
        assert f["type"] in ("counter", "gauge"), (name, f["type"])
        assert f["help"], f"{name} has no HELP"
        if f["type"] == "counter":
            assert name.endswith("_total"), name
    assert value(fams, "sluice_messages_accepted_total") == 3
    assert value(fams, "sluice_rejections_total", rule="relay-denied") == 2
    assert value(fams, "sluice_rejections_total", rule="unknown-user") == 1
    assert value(fams, "sluice_sessions_total") == \
        len(srv.events("connect")), body
    assert value(fams, "sluice_sessions_active") == 0
    assert value(fams, "sluice_message_bytes_total") > 0
    assert value(fams, "sluice_queue_messages", state="held") == 0
    assert value(fams, "sluice_auth_total", result="failure") == 0
    assert value(fams, "sluice_abuse_alerts_total",
                 rule="relay-probing") == 0
    assert value(fams, "sluice_abuse_sources_tracked") >= 2
    assert value(fams, "sluice_deliveries_total", result="sent") == 3
    # counters never go down between scrapes
    for fam in ("sluice_sessions_total", "sluice_messages_accepted_total"):
        assert value(fams, fam) >= value(before, fam)


def test_metrics_only_get_metrics(srv):
    status, _, _ = curl(url(srv, "/nope"))
    assert status == 404
    status, _, _ = curl(url(srv), "-X", "POST", "--data", "x=1")
    assert status != 200
    status, _, _ = curl(url(srv, "/metrics?x=1"))
    assert status == 200


def test_report_on_this_log(srv, activity):
    rep = json.loads(srv.sluice("report", "--json",
                                str(srv.log_path)).stdout)
    assert rep["messages_in"] == 3
    by_rule = {r["key"]: r["count"] for r in rep["rejections_by_rule"]}
    assert by_rule == {"relay-denied": 2, "unknown-user": 1}, by_rule
    assert rep["relay_denials"] == 2
    assert {r["key"]: r["count"] for r in rep["relay_denials_by_client"]} \
        == {OUTSIDER: 2}
    assert rep["sessions"] == len(srv.events("connect"))
    assert rep["delivered_local"] == 3, rep
    assert rep["suspects"] == [], rep["suspects"]
    text = srv.sluice("report", str(srv.log_path)).stdout
    assert "messages in:  3 " in text, text
    assert "rejections:   3, of which relay denials 2" in text, text


def test_metrics_listen_must_be_loopback(abuse_server, tmp_path):
    """metrics.listen takes a loopback address only (the endpoint has no
    TLS or login): anything else is refused at config load, by sluiced -n,
    at start and at a reload, with an error that names the key."""
    from abuse_harness import SLUICED, render_config
    port = free_port()
    for bad in ("0.0.0.0", "192.0.2.1", "[::]", "[2001:db8::1]", "mx.test",
                ""):
        conf = tmp_path / "bad.conf"
        conf.write_text(render_config({
            "listen": [f"127.0.0.1:{port}"], "spool_dir": str(tmp_path),
            "metrics.listen": f"{bad}:{port}"}))
        p = subprocess.run([SLUICED, "-n", "-c", str(conf)],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 1, (bad, p.stdout, p.stderr)
        assert "metrics.listen" in p.stderr, (bad, p.stderr)
        if bad:
            assert "not a loopback address" in p.stderr, (bad, p.stderr)
    for good in ("127.0.0.1", "127.0.0.2", "[::1]"):
        conf = tmp_path / "good.conf"
        conf.write_text(render_config({
            "listen": [f"127.0.0.1:{port}"], "spool_dir": str(tmp_path),
            "metrics.listen": f"{good}:{port}"}))
        p = subprocess.run([SLUICED, "-n", "-c", str(conf)],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 0, (good, p.stdout, p.stderr)
    # a running server keeps its metrics when a reload asks for more
    srv = abuse_server({"metrics.listen": f"127.0.0.1:{free_port()}"})
    line = srv.reload(metrics__listen=f"0.0.0.0:{free_port()}")
    assert "event=config-reload-failed" in line, line
    assert "not a loopback address" in line, line


def test_report_counts_refusals_at_connect(abuse_server):
    """`sluice report` counts the connections refused before SMTP (an
    abuse block: event=connect-refused) and those refused by a deny list
    (connect-rejected) among the rejections, by rule."""
    srv = abuse_server({"abuse.rules": [
        "conn-flood: connections per ip >= 2 in 1m -> block 10m"]})
    flood, denied = "127.0.3.1", "127.0.3.2"
    srv.sluice("list", "add", "deny", "client", denied)
    for _ in range(2):
        with srv.client(flood) as c:
            assert c.greeting.code == 220, c.greeting
            c.cmd("QUIT")
    for _ in range(3):
        with srv.client(flood) as c:
            assert c.greeting.code == 421, c.greeting
    with srv.client(denied) as c:
        assert c.greeting.code == 554, c.greeting
        c.cmd("QUIT")
    wait_until(lambda: len(srv.events("connect-refused")) == 3, 5,
               what="3 connect-refused lines")
    rep = json.loads(srv.sluice("report", "--json",
                                str(srv.log_path)).stdout)
    by_rule = {r["key"]: r["count"] for r in rep["rejections_by_rule"]}
    assert by_rule == {"abuse-block": 3, "runtime-deny-client": 1}, by_rule
    assert rep["rejections"] == 4, rep
    text = srv.sluice("report", str(srv.log_path)).stdout
    assert re.search(r"^ +3  abuse-block$", text, re.M), text
    assert "rejections:   4, of which relay denials 0" in text, text
