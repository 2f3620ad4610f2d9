"""SIGHUP reloads the configuration: policy, lists and abuse rules change at
once, the abuse counters stay, and a broken file changes nothing."""
import os
import signal
import subprocess

from sluicetest import SLUICED, wait_until


def hup(srv):
    os.kill(srv.pid(), signal.SIGHUP)


def test_reload_changes_policy_and_keeps_counters(sluiced):
    srv = sluiced(keys={"local_domains": ["example.test"],
                        "abuse": {"rules": [
                            "burst: messages per ip >= 3 in 10m -> "
                            "tempfail 10m"]}})
    # two messages count towards the rule before the reload
    for i in range(2):
        with srv.smtp() as s:
            s.sendmail("a@b.example", [f"u{i}@example.test"],
                       "Subject: x\r\n\r\nbody\r\n")
    # a new local domain and a deny entry, same abuse rule
    srv.user_keys["local_domains"] = ["example.test", "other.test"]
    srv.user_keys["deny"] = {"senders": ["spam.example"]}
    srv.write_config()
    hup(srv)
    srv.wait_event("config-reloaded")
    with srv.smtp() as s:
        # the new domain is local now
        code, _ = s.docmd("MAIL FROM:<spam@spam.example>")
        assert code == 550, code          # the new deny list applies
        s.rset()
        s.sendmail("a@b.example", ["x@other.test"],
                   "Subject: y\r\n\r\nbody\r\n")
    # that was the third message: the counter survived the reload
    srv.wait_event("abuse-alert", rule="burst")
    with srv.smtp() as s:
        code, _ = s.docmd("MAIL FROM:<a@b.example>")
        assert code == 451, code


def test_broken_reload_keeps_old_config(sluiced):
    srv = sluiced(keys={"local_domains": ["example.test"]})
    srv.conf_path.write_text(srv.conf_path.read_text() +
                             "\nno_such_key = 1;\n")
    hup(srv)
    srv.wait_event("config-reload-failed")
    assert srv.events("config-reload-failed")[0].get("action") == \
        "keeping-old"
    with srv.smtp() as s:
        s.sendmail("a@b.example", ["u@example.test"],
                   "Subject: z\r\n\r\nbody\r\n")
    wait_until(lambda: srv.maildir_files("u"), 5, what="delivery")


def test_bounce_after_reload(sluiced):
    """The queue runner routes bounces with the policy of the reloaded
    configuration (it once kept a pointer to the freed old one: a crash
    and a lost bounce at the first failure after any SIGHUP)."""
    from sluicetest import Catcher
    rejecter = Catcher(reply="550 5.1.1 no such user here")
    try:
        # the allocator scribbles over freed memory: a stale policy shows
        srv = sluiced({"authorized_networks": ["127.0.0.1/32"],
                       "outbound.relayhost":
                           f"[127.0.0.1]:{rejecter.port}"},
                      env={"MALLOC_PERTURB_": "85"})
        for i in range(3):
            srv.user_keys["banner"] = f"reloaded {i}"
            srv.write_config()
            hup(srv)
            srv.wait_event("config-reloaded", count=i + 1)
        with srv.smtp() as s:
            s.sendmail("alice@localhost", ["bob@outside.example"],
                       "Subject: will bounce\r\n\r\nbody\r\n")
        srv.wait_event("bounce")
        files = srv.wait_maildir("alice")
        assert b"no such user here" in files[0].read_bytes()
        assert srv.running()
    finally:
        rejecter.stop()


def test_reload_names_keys_that_need_a_restart(sluiced):
    """A reload applies limits.* and the AUTH limits at once; keys it cannot
    apply (queue, outbound, metrics) are named in one warning."""
    srv = sluiced(keys={"local_domains": ["example.test"]})
    with srv.smtp() as s:
        s.docmd("EHLO c.example")
        s.docmd("MAIL FROM:<a@b.example>")
        for i in range(3):
            code, _ = s.docmd(f"RCPT TO:<u{i}@example.test>")
            assert code == 250, code
    srv.user_keys["limits"] = {"recipients": 2}
    srv.user_keys["queue"] = {"retry_min": "7m"}
    srv.user_keys["metrics"] = {"listen": "127.0.0.1:1"}
    srv.write_config()
    hup(srv)
    srv.wait_event("config-reloaded")
    partial = srv.events("config-reload-partial")
    assert len(partial) == 1, partial
    keys = partial[0]["keys"].split(",")
    assert sorted(keys) == ["metrics.listen", "queue.retry_min"], keys
    with srv.smtp() as s:
        s.docmd("EHLO c.example")
        s.docmd("MAIL FROM:<a@b.example>")
        codes = [s.docmd(f"RCPT TO:<u{i}@example.test>")[0]
                 for i in range(3)]
    assert codes[:2] == [250, 250] and codes[2] == 452, codes


def test_unchanged_reload_warns_about_nothing(sluiced):
    srv = sluiced(keys={"local_domains": ["example.test"]})
    hup(srv)
    srv.wait_event("config-reloaded")
    assert srv.events("config-reload-partial") == []


# Run inside a network namespace of its own (unshare -n): sluiced listens
# on every address there ("*:PORT"), which makes it exposed in the sense of
# refuse_broad_networks, yet nothing outside the namespace can reach it.
NETNS_SCRIPT = r'''
import os, signal, smtplib, socket, subprocess, sys, time
sluiced, d, refuse = sys.argv[1], sys.argv[2], sys.argv[3]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", "10.9.9.9/32", "dev", "lo"], check=True)
conf = os.path.join(d, "ns.conf")
log = os.path.join(d, "ns.log")

def write(nets):
    open(conf, "w").write(
        'hostname = "ns.test"; listen = ["*:2525"]; '
        'local_domains = ["example.test"]; '
        f'spool_dir = "{d}/spool"; maildir_root = "{d}/mail"; '
        f'log = "{log}"; refuse_broad_networks = {refuse}; '
        f'authorized_networks = [{nets}];\n')

def relay_code():
    s = smtplib.SMTP(timeout=10, source_address=("10.9.9.9", 0))
    s.connect("10.9.9.9", 2525)
    s.ehlo("c.example")
    s.mail("a@example.test")
    code = s.rcpt("x@elsewhere.example")[0]
    s.quit()
    return code

write('"127.0.0.0/8"')
p = subprocess.Popen([sluiced, "-c", conf], stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
try:
    for _ in range(500):
        if os.path.exists(log) and "event=started" in open(log).read():
            break
        time.sleep(0.02)
    before = relay_code()
    write('"127.0.0.0/8", "10.0.0.0/8"')
    os.kill(p.pid, signal.SIGHUP)
    for _ in range(500):
        t = open(log).read()
        if "event=config-reload" in t:
            break
        time.sleep(0.02)
    time.sleep(0.2)
    after = relay_code()
    print(f"before={before} after={after}")
    sys.stdout.write(open(log).read())
finally:
    p.kill()
    p.wait()
'''


def run_in_netns(tmp_path, refuse):
    script = tmp_path / "ns.py"
    script.write_text(NETNS_SCRIPT)
    r = subprocess.run(["unshare", "-n", "/usr/bin/python3", str(script),
                        SLUICED, str(tmp_path), refuse],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_reload_refuses_broad_network_when_told_to(tmp_path):
    """refuse_broad_networks holds at a reload too: 10.0.0.0/8 on an
    exposed listener is refused and the old networks stay in force."""
    out = run_in_netns(tmp_path, "true")
    assert "before=550 after=550" in out, out
    assert "event=config-reload-failed" in out, out
    assert "refuse_broad_networks" in out, out


def test_reload_warns_about_broad_network(tmp_path):
    """Without refuse_broad_networks the reload applies, loudly."""
    out = run_in_netns(tmp_path, "false")
    assert "before=550 after=250" in out, out
    assert "OPEN RELAY RISK" in out, out
    assert "event=config-reloaded" in out, out
