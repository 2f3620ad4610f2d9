"""Started as root with `user` set, sluiced binds, then runs as that user
(and cannot get root back), and still receives and delivers mail."""
import os
import pwd

import pytest

from sluicetest import wait_until


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_drops_to_configured_user(sluiced, tmp_path):
    nobody = pwd.getpwnam("nobody")
    srv = sluiced(keys={"user": "nobody", "local_domains": ["example.test"]},
                  start=False)
    # the unprivileged user must reach its spool: open the test's dirs
    d = srv.dir
    while str(d) not in ("/", "/tmp"):
        os.chmod(d, 0o755)
        d = d.parent
    srv.start()
    status = open(f"/proc/{srv.pid()}/status").read()
    uids = [l for l in status.splitlines() if l.startswith("Uid:")][0]
    assert uids.split()[1:] == [str(nobody.pw_uid)] * 4, uids
    assert srv.events("privileges-dropped")
    with srv.smtp() as s:
        s.sendmail("a@b.example", ["u@example.test"],
                   "Subject: p\r\n\r\nbody\r\n")
    wait_until(lambda: srv.maildir_files("u"), 5, what="delivery")
    f = srv.maildir_files("u")[0]
    assert os.stat(f).st_uid == nobody.pw_uid


def test_unknown_user_refuses_to_start(tmp_path):
    """Fail closed: a user that does not exist is a startup error."""
    import subprocess
    from sluicetest import SLUICED, free_port
    conf = tmp_path / "bad-user.conf"
    conf.write_text(f'listen = "127.0.0.1:{free_port()}";\n'
                    f'spool_dir = "{tmp_path}/spool";\n'
                    f'maildir_root = "{tmp_path}/mail";\n'
                    'user = "no-such-user-here";\n')
    p = subprocess.run([SLUICED, "-c", str(conf)], cwd=tmp_path,
                       capture_output=True, timeout=20)
    assert p.returncode == 1
    assert b"no-such-user-here" in p.stderr


def test_reload_needs_files_the_user_can_read(sluiced):
    """After dropping privileges SIGHUP re-reads the configuration as the
    run user: a root-only file is reported at start (with the fix), its
    reload fails without changing anything, and root:GROUP 0640 works."""
    import grp
    import signal
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    srv = sluiced(keys={"user": "nobody", "local_domains": ["example.test"]},
                  start=False)
    d = srv.dir
    while str(d) not in ("/", "/tmp"):
        os.chmod(d, 0o755)
        d = d.parent
    srv.write_config()
    srv.start()
    # start() rewrote the file as root (0644): make it root-only and HUP
    os.chmod(srv.conf_path, 0o600)
    os.kill(srv.pid(), signal.SIGHUP)
    srv.wait_event("config-reload-failed")
    # the start-up check sees what a reload will see
    srv2 = sluiced(keys={"user": "nobody"}, start=False)
    d = srv2.dir
    while str(d) not in ("/", "/tmp"):
        os.chmod(d, 0o755)
        d = d.parent
    srv2.write_config()
    os.chmod(srv2.conf_path, 0o600)
    real_write = srv2.write_config
    srv2.write_config = lambda: (real_write(), os.chmod(srv2.conf_path,
                                                         0o600))
    srv2.start()
    (w,) = srv2.events("config-warning", file="config")
    assert f"chown root:{group}" in w["fix"], w
    # root:GROUP 0640 is enough for the reload
    os.chown(srv.conf_path, 0, nobody.pw_gid)
    os.chmod(srv.conf_path, 0o640)
    os.kill(srv.pid(), signal.SIGHUP)
    srv.wait_event("config-reloaded")
