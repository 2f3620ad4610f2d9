#!/usr/bin/python3
"""
bench/smtprun.py - one measured point of bench/smtp.sh.

Runs smtp-source against 127.0.0.1:PORT, then waits (bounded) until MESSAGES
files are in MAILDIR/new, while sampling the memory of the server's process
tree (ROOT_PID and its descendants). Prints one JSON object:

  accept_s     smtp-source start -> smtp-source exit (every DATA answered 250)
  deliver_s    smtp-source start -> all MESSAGES files in MAILDIR/new
  delivered    files in MAILDIR/new at the end (after a short settle time,
               so duplicates would show as delivered > messages)
  hwm_kb       sum over every process ever seen in the tree of its VmHWM
               (peak RSS; for one process this is just its VmHWM)
  rss_peak_kb  peak over samples of the summed VmRSS of the live processes
  pss_peak_kb  peak over samples of the summed Pss (smaps_rollup; shared
               pages divided among the processes sharing them)
  procs_max    most processes alive at once; procs_seen: all ever seen
  cpu_s        CPU seconds (user + system) the server's processes used from
               the start until everything was delivered
  main_cpu_s   the same for ROOT_PID's main thread alone
  others_cpus  CPUs kept busy by everything else on the machine during the
               point (all CPU time from /proc/stat, less the server's,
               smtp-source's and this script's), averaged over the point
  load1        1-minute load average at the start (the machine is shared)
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time


def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                s = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces or parens
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree(root):
    kids = children_map()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def status_kb(pid, keys):
    got = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in keys:
                    got[k] = int(line.split()[1])
    except OSError:
        return None
    return got


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Mem:
    def __init__(self, root):
        self.root = root
        self.hwm = {}		# pid -> max VmHWM seen
        self.rss_peak = 0
        self.pss_peak = 0
        self.procs_max = 0

    def sample(self, with_pss):
        pids = tree(self.root)
        rss = pss = n = 0
        for p in pids:
            st = status_kb(p, ("VmHWM", "VmRSS"))
            if not st or "VmRSS" not in st:
                continue	# gone, or a zombie
            n += 1
            rss += st["VmRSS"]
            self.hwm[p] = max(self.hwm.get(p, 0), st.get("VmHWM", 0))
            if with_pss:
                pss += pss_kb(p)
        self.rss_peak = max(self.rss_peak, rss)
        self.procs_max = max(self.procs_max, n)
        if with_pss:
            self.pss_peak = max(self.pss_peak, pss)


def cpu_ticks(root):
    """CPU time of the tree: every live process's own time, plus what the
    root collected from children it reaped (cutime, cstime)"""
    tot = 0
    for p in tree(root):
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        v = s[s.rindex(")") + 2:].split()
        tot += int(v[11]) + int(v[12])		# utime, stime
        if p == root:
            tot += int(v[13]) + int(v[14])	# cutime, cstime
    return tot


def main_thread_ticks(pid):
    """CPU time of the process's main thread (its event loop, for sluiced)"""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0
    v = s[s.rindex(")") + 2:].split()
    return int(v[11]) + int(v[12])


def machine_busy_s():
    """CPU seconds all CPUs spent not idle since boot (/proc/stat)"""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is in user)
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def rusage_s(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def count(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for e in it if e.is_file(follow_symlinks=False))
    except FileNotFoundError:
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--maildir", required=True, help="the Maildir's new/")
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--sessions", type=int, required=True)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--root-pid", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--smtp-source", default="/usr/sbin/smtp-source")
    a = ap.parse_args()

    mem = Mem(a.root_pid)
    mem.sample(True)
    cpu0 = cpu_ticks(a.root_pid)
    main0 = main_thread_ticks(a.root_pid)
    load0 = open("/proc/loadavg").read().split()[0]
    busy0 = machine_busy_s()
    kids0 = rusage_s(resource.RUSAGE_CHILDREN)
    self0 = rusage_s(resource.RUSAGE_SELF)
    cmd = [a.smtp_source, "-s", str(a.sessions), "-m", str(a.messages),
           "-l", str(a.size), "-M", "client.test", "-f",
           "sender@client.test", "-t", "box@example.test",
           f"127.0.0.1:{a.port}"]
    t0 = time.monotonic()
    src = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    deadline = t0 + a.timeout
    accept_s = deliver_s = None
    last_mem = last_pss = 0.0
    n = 0
    while True:
        t = time.monotonic()
        if accept_s is None and src.poll() is not None:
            accept_s = t - t0
        n = count(a.maildir)
        if n >= a.messages and deliver_s is None:
            deliver_s = t - t0
        if deliver_s is not None and accept_s is not None:
            break
        if t > deadline:
            break
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
    time.sleep(0.5)		# late duplicates would show up now
    mem.sample(True)
    res = {
        "sessions": a.sessions, "messages": a.messages,
        "accept_s": accept_s, "deliver_s": deliver_s,
        "delivered": count(a.maildir),
        "source_rc": src.returncode, "source_out": out.strip()[-500:],
        "hwm_kb": sum(mem.hwm.values()),
        "rss_peak_kb": mem.rss_peak, "pss_peak_kb": mem.pss_peak,
        "procs_max": mem.procs_max, "procs_seen": len(mem.hwm),
        "root_hwm_kb": mem.hwm.get(a.root_pid, 0),
        "cpu_s": cpu_s, "main_cpu_s": main_cpu_s, "load1": float(load0),
        "source_cpu_s": source_cpu_s, "self_cpu_s": self_cpu_s,
        "machine_busy_s": busy, "window_s": t_end - t0,
        "others_cpus": max(0.0, busy - cpu_s - source_cpu_s - self_cpu_s)
                       / (t_end - t0),
    }
    json.dump(res, sys.stdout)
    print()
    ok = (src.returncode == 0 and deliver_s is not None
          and res["delivered"] == a.messages)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
