"""Who may use sluiced's control socket: root, the user sluiced runs as,
and members of its group, whether it is their primary group or a
supplementary one (usermod -aG). Anyone else gets "permission denied"
from the admin tool, exit status 4, never "sluiced is not running" and
never a SIGPIPE, whether the file system refuses the connection or
sluiced does.

sluiced runs as nobody:nogroup here; the clients run under another uid
with setpriv(1)."""
import os
import pwd
import subprocess

from sluicetest import SLUICE, wait_until

OTHER_UID = 12345       # no passwd entry needed: setpriv takes numbers


def as_user(args, uid, gid, groups=None):
    """Run the admin tool as uid:gid with these supplementary groups
    (None: none)."""
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}"]
    cmd += [f"--groups={','.join(str(g) for g in groups)}"] if groups \
        else ["--clear-groups"]
    return subprocess.run(cmd + [SLUICE] + args, capture_output=True,
                          text=True, timeout=30)


def test_control_socket_peers(sluiced):
    nobody = pwd.getpwnam("nobody")
    srv = sluiced(keys={"user": "nobody"}, start=False)
    d = srv.dir     # nobody must reach its spool; so must the clients
    while str(d) not in ("/", "/tmp"):
        os.chmod(d, 0o755)
        d = d.parent
    os.makedirs(srv.spool, exist_ok=True)
    os.chmod(srv.spool, 0o700)      # as spool_open makes it
    srv.start()
    sock = str(srv.spool / "control.sock")
    st = os.stat(sock)
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert st.st_mode & 0o777 == 0o660, oct(st.st_mode)
    # the spool lets the group pass to the socket, no more
    assert os.stat(srv.spool).st_mode & 0o077 == 0o010, \
        oct(os.stat(srv.spool).st_mode)
    stats = ["stats", "--socket", sock]

    # root, and sluiced's own user
    p = subprocess.run([SLUICE] + stats, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0 and "sessions:" in p.stdout, p
    p = as_user(stats, nobody.pw_uid, nobody.pw_gid)
    assert p.returncode == 0 and "sessions:" in p.stdout, p

    # a member of sluiced's group: primary, or only supplementary
    p = as_user(stats, OTHER_UID, nobody.pw_gid)
    assert p.returncode == 0 and "sessions:" in p.stdout, p
    p = as_user(["queue", "list", "--socket", sock], OTHER_UID, OTHER_UID,
                groups=[100, nobody.pw_gid])
    assert p.returncode == 0, p
    assert p.stderr == "", p

    # a stranger: the socket's mode refuses it
    p = as_user(stats, OTHER_UID, OTHER_UID)
    assert p.returncode == 4, p
    assert p.stderr.startswith("sluice: permission denied: "), p.stderr
    assert "not running" not in p.stderr, p.stderr
    p = as_user(["queue", "--socket", sock], OTHER_UID, OTHER_UID,
                groups=[100])
    assert p.returncode == 4, p
    assert p.stderr.startswith("sluice queue: permission denied"), p.stderr

    # a stranger the file system lets through (a socket and spool opened
    # by mistake): sluiced itself refuses, says why, and logs it
    os.chmod(srv.spool, 0o711)
    os.chmod(sock, 0o666)
    for args in (stats, ["list", "--socket", sock],
                 ["queue", "hold", "--all", "--socket", sock]):
        p = as_user(args, OTHER_UID, OTHER_UID, groups=[100])
        assert p.returncode == 4, (args, p)     # not -SIGPIPE, not 3
        want = (f"permission denied: uid {OTHER_UID} is not root, sluiced's "
                f"user (uid {nobody.pw_uid}) or in its group (gid "
                f"{nobody.pw_gid})")
        assert want in p.stderr, (args, p.stderr)
        assert "not running" not in p.stderr, p.stderr
    refused = wait_until(lambda: [e for e in srv.events("control-refused")
                                  if e.get("uid") == str(OTHER_UID)], 5,
                         what="event=control-refused")
    assert len(refused) == 3, refused
    assert refused[0]["gid"] == str(OTHER_UID), refused
    assert refused[0]["level"] == "warning", refused
    # nothing was held: the refused request never ran
    assert not srv.events("queue-admin")

    # and when nothing listens, that is what the tool says (exit 3)
    srv.stop()
    p = subprocess.run([SLUICE] + stats, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 3, p
    assert "sluiced is not running" in p.stderr, p.stderr
