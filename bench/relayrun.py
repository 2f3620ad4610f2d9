#!/usr/bin/python3
"""
bench/relayrun.py - one measured point of bench/relay.sh.

smtp-source sends MESSAGES messages to the relay on 127.0.0.1:PORT (the
relay trusts loopback), each for one recipient in an outside domain that the
relay routes to Postfix's smtp-sink on 127.0.0.1:SINK_PORT. The point is
timed until smtp-sink has received every message, read from its running
counters (smtp-sink -c, SINK_OUT), while the relay's process tree (ROOT_PID
and its descendants) is sampled for memory and the TCP connections to the
sink are counted. Then, once the relay has closed all its connections to
the sink (bounded), the sink's counters and its dump files (smtp-sink -d,
one file per transaction, in SINK_DUMP) are checked: every Message-Id
smtp-source generated must be there exactly once. Prints one JSON object:

  accept_s       smtp-source start -> smtp-source exit (every DATA had a 250)
  deliver_s      smtp-source start -> smtp-sink counted MESSAGES messages
  sink_msgs      messages ("." received) smtp-sink counted, at the end
  sink_sessions  SMTP sessions smtp-sink saw end (connections from the relay)
  sink_quits     QUIT commands smtp-sink received
  conn_peak      most TCP connections to the sink open at once (sampled)
  dumps          transaction files smtp-sink wrote; ids: distinct Message-Ids
                 in them; dup_ids: Message-Ids seen more than once; foreign:
                 transactions without one of smtp-source's Message-Ids
  rcpts          recipients in all transactions (X-Rcpt-Args lines)
  close_s        last message -> the relay's last connection to the sink closed
  cpu_s, main_cpu_s, hwm_kb, rss_peak_kb, pss_peak_kb, procs_max,
  procs_seen, root_hwm_kb, others_cpus, load1: as in bench/smtprun.py
  sink_cpu_s     CPU seconds smtp-sink used until the last message
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtprun import (Mem, cpu_ticks, machine_busy_s,  # noqa: E402
                     main_thread_ticks, rusage_s)

COUNTERS = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+)")


def sink_counters(path):
    """(sessions, quits, messages) from the last record smtp-sink -c
    wrote (records end in CR), or None before the first"""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256))
            tail = f.read()
    except OSError:
        return None
    got = COUNTERS.findall(tail)
    if not got:
        return None
    return tuple(int(x) for x in got[-1])


def sink_conns(port):
    """established TCP connections whose local port is PORT (the sink's
    side of each connection the relay opened), from /proc/net/tcp"""
    n = 0
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                v = line.split()
                if v[3] == "01" and int(v[1].split(":")[1], 16) == port:
                    n += 1
    except OSError:
        pass
    return n


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0
    v = s[s.rindex(")") + 2:].split()
    return int(v[11]) + int(v[12])


def read_dumps(d, src_pid):
    """check smtp-sink's dump files: {dumps, ids, dup_ids, foreign, rcpts,
    incomplete}. smtp-source's Message-Id is <PID.FD.COUNT@helo>, hex."""
    ids = {}
    foreign = rcpts = incomplete = 0
    files = sorted(os.listdir(d)) if os.path.isdir(d) else []
    mine = re.compile(rb"^Message-Id: <(%04x\.[0-9a-f]+\.[0-9a-f]+)@"
                      % src_pid, re.M | re.I)
    for name in files:
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        rcpts += len(re.findall(rb"^X-Rcpt-Args: ", data, re.M))
        m = mine.search(data)
        if m is None:
            foreign += 1
            continue
        ids[m.group(1)] = ids.get(m.group(1), 0) + 1
        # smtp-source's body ends with a line of X's and a newline
        if not data.rstrip(b"\r\n").endswith(b"X"):
            incomplete += 1
    return {"dumps": len(files), "ids": len(ids),
            "dup_ids": sum(1 for v in ids.values() if v > 1),
            "foreign": foreign, "rcpts": rcpts, "incomplete": incomplete}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="the relay")
    ap.add_argument("--sink-port", type=int, required=True)
    ap.add_argument("--sink-out", required=True, help="smtp-sink -c output")
    ap.add_argument("--sink-dump", required=True, help="smtp-sink -d dir")
    ap.add_argument("--sink-pid", type=int, required=True)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--sessions", type=int, required=True)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--rcpt", default="box@outside.test")
    ap.add_argument("--root-pid", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--close-timeout", type=float, default=30)
    ap.add_argument("--smtp-source", default="/usr/sbin/smtp-source")
    a = ap.parse_args()

    # start_sink's readiness check was one session: wait (bounded) until
    # it is counted, so that it is not counted as the relay's
    end = time.monotonic() + 3
    base = sink_counters(a.sink_out)
    while (base is None or base[0] < 1) and time.monotonic() < end:
        time.sleep(0.02)
        base = sink_counters(a.sink_out)
    base = base or (0, 0, 0)

    mem = Mem(a.root_pid)
    mem.sample(True)
    cpu0 = cpu_ticks(a.root_pid)
    main0 = main_thread_ticks(a.root_pid)
    sink0 = proc_ticks(a.sink_pid)
    load0 = open("/proc/loadavg").read().split()[0]
    busy0 = machine_busy_s()
    kids0 = rusage_s(resource.RUSAGE_CHILDREN)
    self0 = rusage_s(resource.RUSAGE_SELF)
    cmd = [a.smtp_source, "-s", str(a.sessions), "-m", str(a.messages),
           "-l", str(a.size), "-M", "client.test", "-f",
           "sender@client.test", "-t", a.rcpt, f"127.0.0.1:{a.port}"]
    t0 = time.monotonic()
    src = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    deadline = t0 + a.timeout
    accept_s = deliver_s = None
    last_mem = last_pss = last_conn = 0.0
    conn_peak = 0
    got = 0
    while True:
        t = time.monotonic()
        if accept_s is None and src.poll() is not None:
            accept_s = t - t0
        c = sink_counters(a.sink_out)
        got = c[2] - base[2] if c else 0
        if got >= a.messages and deliver_s is None:
            deliver_s = t - t0
        if deliver_s is not None and accept_s is not None:
            break
        if t > deadline:
            break
        if t - last_conn >= 0.05:
            conn_peak = max(conn_peak, sink_conns(a.sink_port))
            last_conn = t
        if t - last_mem >= 0.2:
            pss = t - last_pss >= 1.0
            mem.sample(pss)
            last_mem = t
            if pss:
                last_pss = t
        time.sleep(0.01)
    if src.poll() is None:
        src.kill()
    out = src.communicate()[0].decode(errors="replace")
    t_end = time.monotonic()
    busy = machine_busy_s() - busy0
    source_cpu_s = rusage_s(resource.RUSAGE_CHILDREN) - kids0
    self_cpu_s = rusage_s(resource.RUSAGE_SELF) - self0
    tck = os.sysconf("SC_CLK_TCK")
    cpu_s = (cpu_ticks(a.root_pid) - cpu0) / tck
    main_cpu_s = (main_thread_ticks(a.root_pid) - main0) / tck
    sink_cpu_s = (proc_ticks(a.sink_pid) - sink0) / tck
    mem.sample(True)

    # The relay may keep connections to the sink open for a while (Postfix
    # caches them for reuse): wait, bounded, until it has closed them all,
    # so the session count is complete; then a little more, so that late
    # duplicates would be counted too.
    close_s = None
    if deliver_s is not None:
        end = time.monotonic() + a.close_timeout
        while time.monotonic() < end:
            if sink_conns(a.sink_port) == 0:
                close_s = time.monotonic() - t0 - deliver_s
                break
            time.sleep(0.05)
    time.sleep(0.5)
    c = sink_counters(a.sink_out) or base
    res = {
        "sessions": a.sessions, "messages": a.messages, "size": a.size,
        "accept_s": accept_s, "deliver_s": deliver_s,
        "sink_msgs": c[2] - base[2], "sink_sessions": c[0] - base[0],
        "sink_quits": c[1] - base[1], "conn_peak": conn_peak,
        "close_s": close_s,
        "source_rc": src.returncode, "source_out": out.strip()[-500:],
        "hwm_kb": sum(mem.hwm.values()),
        "rss_peak_kb": mem.rss_peak, "pss_peak_kb": mem.pss_peak,
        "procs_max": mem.procs_max, "procs_seen": len(mem.hwm),
        "root_hwm_kb": mem.hwm.get(a.root_pid, 0),
        "cpu_s": cpu_s, "main_cpu_s": main_cpu_s, "sink_cpu_s": sink_cpu_s,
        "load1": float(load0),
        "source_cpu_s": source_cpu_s, "self_cpu_s": self_cpu_s,
        "machine_busy_s": busy, "window_s": t_end - t0,
        "others_cpus": max(0.0, busy - cpu_s - source_cpu_s - self_cpu_s
                           - sink_cpu_s) / (t_end - t0),
    }
    res.update(read_dumps(a.sink_dump, src.pid))
    json.dump(res, sys.stdout)
    print()
    ok = (src.returncode == 0 and deliver_s is not None
          and res["sink_msgs"] == a.messages and res["dumps"] == a.messages
          and res["ids"] == a.messages and res["dup_ids"] == 0
          and res["foreign"] == 0 and res["incomplete"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
