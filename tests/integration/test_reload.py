"""SIGHUP reloads the configuration: policy, lists and abuse rules change at
once, the abuse counters stay, and a broken file changes nothing."""
import os
import signal

from sluicetest import wait_until


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
