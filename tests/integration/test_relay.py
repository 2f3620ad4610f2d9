"""The relay decision, from real sockets: outsiders (source 127.0.0.2) may
not relay by any trick; the authorized 127.0.0.1 may; deny/allow lists."""
import re
import smtplib
import uuid

import pytest

from sluicetest import free_port

OUTSIDER = "127.0.0.2"


@pytest.fixture(scope="module")
def srv(sluiced_module):
    return sluiced_module({"authorized_networks": ["127.0.0.1/32"]})


def outsider(srv, source=OUTSIDER, sender="<a@b.example>"):
    c = srv.client(source=source)
    c.ehlo("outsider.example")
    r = c.cmd(f"MAIL FROM:{sender}")
    assert r.code == 250, r
    return c


def rejections_for(srv, rcpt_shown):
    return [e for e in srv.events("rcpt-rejected") if e.get("rcpt") ==
            rcpt_shown]


def test_outsider_relay_denied(srv):
    with outsider(srv) as c:
        r = c.cmd("RCPT TO:<victim@outside.example>")
        assert (r.code, r.enh) == (550, "5.7.1"), r
        assert "Relaying denied" in r.text
        # and DATA has nothing to send to
        r = c.cmd("DATA")
        assert r.code == 503, r
    ev = rejections_for(srv, "<victim@outside.example>")
    assert ev and ev[-1]["rule"] == "relay-denied"
    assert ev[-1]["client"] == OUTSIDER
    assert ev[-1]["reply"] == "550 5.7.1"


# (RCPT argument, the rule that must refuse it)
TRICKS = [
    ("<user%outside.example@localhost>", "percent-hack"),
    ("<user%outside.example@LOCALHOST>", "percent-hack"),
    ("<user%outside.example%other.example@localhost>", "percent-hack"),
    ('<"user%outside.example"@localhost>', "percent-hack"),
    ("<outside.example!user@localhost>", "bang-path"),
    ("<OUTSIDE.EXAMPLE!user@LocalHost>", "bang-path"),
    ('<"outside.example!user"@localhost>', "bang-path"),
    ('<"user@outside.example"@localhost>', "quoted-at"),
    ('<"user@outside.example"@LOCALHOST>', "quoted-at"),
    ("<@localhost:user@outside.example>", "relay-denied"),
    ("<@localhost,@mx.test:user@outside.example>", "relay-denied"),
    ("<user@[127.0.0.1]>", "relay-denied"),
    ("<user@[IPv6:::1]>", "relay-denied"),
    ("<user%outside.example@[127.0.0.1]>", "relay-denied"),
    ("<victim@OUTSIDE.EXAMPLE>", "relay-denied"),
    ("<victim@OutSide.Example>", "relay-denied"),
    ("<victim@localhost.outside.example>", "relay-denied"),
    ("<victim@outside.localhost>", "relay-denied"),
]


@pytest.mark.parametrize("rcpt,rule", TRICKS, ids=[t[0] for t in TRICKS])
def test_relay_trick_refused(srv, rcpt, rule):
    tag = uuid.uuid4().hex[:12]
    with outsider(srv, sender=f"<trick-{tag}@b.example>") as c:
        r = c.cmd(f"RCPT TO:{rcpt}")
        assert (r.code, r.enh) == (550, "5.7.1"), (rcpt, r)
        assert c.cmd("QUIT").code == 221
    ev = [e for e in srv.events("rcpt-rejected")
          if e.get("from") == f"<trick-{tag}@b.example>"]
    assert len(ev) == 1, srv.log_lines(tag)
    assert ev[0]["rule"] == rule, ev[0]
    assert ev[0]["reply"] == "550 5.7.1"


# envelope senders that must not grant relay
SENDERS = ["<postmaster@localhost>", "<user@localhost>", "<user@LOCALHOST>",
           "<>", "<a@[127.0.0.1]>", "<postmaster@mx.test>"]


@pytest.mark.parametrize("sender", SENDERS)
def test_forged_sender_grants_nothing(srv, sender):
    with outsider(srv, sender=sender) as c:
        r = c.cmd("RCPT TO:<victim@outside.example>")
        assert (r.code, r.enh) == (550, "5.7.1"), (sender, r)
        # a local recipient is still fine with that sender
        assert c.cmd("RCPT TO:<user@localhost>").code == 250


UNQUALIFIED = [("RCPT", "<user>"), ("RCPT", "<victim>"), ("RCPT", "<user@>"),
               ("RCPT", "<@localhost:user>"), ("MAIL", "<user>"),
               ("MAIL", "<user@>"), ("MAIL", "<@localhost>")]


@pytest.mark.parametrize("source", [OUTSIDER, "127.0.0.1"])
@pytest.mark.parametrize("verb,arg", UNQUALIFIED,
                         ids=[f"{v}:{a}" for v, a in UNQUALIFIED])
def test_unqualified_address_501(srv, source, verb, arg):
    """An address without a domain is a syntax error (RFC 5321 4.1.2),
    for outsiders and for authorized clients alike (which would otherwise
    queue mail for the empty domain)."""
    with srv.client(source=source) as c:
        c.ehlo()
        if verb == "RCPT":
            assert c.cmd("MAIL FROM:<a@b.example>").code == 250
            r = c.cmd(f"RCPT TO:{arg}")
        else:
            r = c.cmd(f"MAIL FROM:{arg}")
        assert r.code == 501, (verb, arg, r)


def test_authorized_client_relays(sluiced, catcher):
    """From 127.0.0.1 (authorized) mail for an outside domain is accepted
    and relayed: here to a real SMTP peer, the configured relayhost."""
    srv = sluiced({"authorized_networks": ["127.0.0.1/32"],
                   "outbound.relayhost": f"[127.0.0.1]:{catcher.port}"})
    tok = "TOKEN-" + uuid.uuid4().hex
    with srv.smtp(helo="trusted.example") as s:
        s.mail("a@b.example")
        code, msg = s.rcpt("victim@outside.example")
        assert code == 250, msg
        code, msg = s.data(f"Subject: relay\r\n\r\n{tok}\r\n".encode())
        assert code == 250, msg
    qid = re.search(rb"queued as ([0-9A-F]+)", msg).group(1).decode()
    (mail_from, rcpts, content, peer) = catcher.wait()[0]
    assert mail_from == "a@b.example"
    assert rcpts == ["victim@outside.example"]
    assert tok.encode() in content
    assert re.search(rb"Received: from trusted\.example \(\[127\.0\.0\.1\]\)",
                     content), content[:300]
    (d,) = srv.wait_event("delivery", qid=qid, status="sent")
    assert d["to"] == "<victim@outside.example>"
    srv.wait_queue_empty()
    # and nothing was delivered locally
    assert not [p for p in srv.all_maildir_files()
                if tok.encode() in p.read_bytes()]


def test_authorized_relay_waits_in_queue(sluiced):
    """The next hop is down: the accepted message waits in spool/queue."""
    srv = sluiced({"authorized_networks": ["127.0.0.1/32"],
                   "outbound.relayhost": f"[127.0.0.1]:{free_port()}",
                   "outbound.connect_timeout": "2s",
                   "queue.retry_min": "1h"})
    tok = "TOKEN-" + uuid.uuid4().hex
    with srv.smtp() as s:
        s.mail("a@b.example")
        assert s.rcpt("victim@outside.example")[0] == 250
        code, msg = s.data(f"Subject: relay\r\n\r\n{tok}\r\n".encode())
        assert code == 250, msg
    qid = re.search(rb"queued as ([0-9A-F]+)", msg).group(1).decode()
    (d,) = srv.wait_event("delivery", qid=qid)
    assert d["status"] == "deferred", d
    assert d["to"] == "<victim@outside.example>"
    qf = srv.spool / "queue" / qid
    assert qf.is_file(), srv.queue_files()
    assert tok.encode() in qf.read_bytes()
    ev = srv.events("message-accepted", qid=qid)
    assert ev and ev[0]["to"] == "<victim@outside.example>"


def test_outsider_smtplib_refused(srv):
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=10,
                      source_address=(OUTSIDER, 0)) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as ei:
            s.sendmail("a@b.example", ["victim@outside.example"],
                       b"Subject: x\r\n\r\nx\r\n")
        code, msg = ei.value.recipients["victim@outside.example"]
        assert code == 550 and msg.startswith(b"5.7.1"), msg


# ---------------------------------------------------------------- lists


@pytest.fixture(scope="module")
def lists(sluiced_module):
    return sluiced_module({
        "authorized_networks": ["127.0.0.1/32"],
        "deny.clients": [
            {"pattern": "127.0.0.3",
             "reply": "554 5.7.1 Go away, custom text",
             "reason": "test"},
            "127.0.2.0/24",
        ],
        "allow.clients": ["127.0.2.7", "127.0.0.2"],
        "deny.senders": ["spam.example", ".evil.example", "bulk@",
                         {"pattern": "x@temp.example",
                          "reply": "450 4.7.1 Try later"}],
        "allow.senders": ["friend@spam.example"],
        "deny.recipients": ["blocked@localhost", "postmaster@localhost"],
        "allow.recipients": [],
        "deny.helo": ["bad.helo.example", ".evilhelo.example"],
        "allow.helo": ["ok.evilhelo.example"],
    })


def test_deny_client_custom_reply(lists):
    with lists.client(source="127.0.0.3", banner=False) as c:
        r = c.banner()
        assert r.code == 554 and r.text == "5.7.1 Go away, custom text", r
        r = c.cmd("EHLO x.example")
        assert r.code == 503, r
        r = c.cmd("MAIL FROM:<a@b.example>")
        assert r.code == 503, r
        assert c.cmd("QUIT").code == 221
    ev = lists.events("connect-rejected", client="127.0.0.3")
    assert ev and ev[-1]["rule"].startswith("deny-client:127.0.0.3"), ev


def test_deny_client_network_and_allow_exception(lists):
    with lists.client(source="127.0.2.9", banner=False) as c:
        r = c.banner()
        assert (r.code, r.enh) == (554, "5.7.1"), r
    with lists.client(source="127.0.2.7") as c:   # allow.clients exception
        c.ehlo()


def test_allow_client_never_grants_relay(lists):
    # 127.0.0.2 is in allow.clients, not in authorized_networks
    with lists.client(source="127.0.0.2") as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.example>").code == 250
        r = c.cmd("RCPT TO:<victim@outside.example>")
        assert (r.code, r.enh) == (550, "5.7.1"), r


@pytest.mark.parametrize("sender,code", [
    ("<a@spam.example>", 550), ("<A@SPAM.EXAMPLE>", 550),
    ("<friend@spam.example>", 250), ("<a@sub.evil.example>", 550),
    ("<bulk@anywhere.example>", 550), ("<ok@other.example>", 250),
    ("<x@temp.example>", 450), ("<>", 250)])
def test_deny_senders(lists, sender, code):
    with lists.client(source="127.0.0.2") as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:{sender}")
        assert r.code == code, (sender, r)
        if code == 550:
            assert r.enh == "5.7.1", r
    if code != 250:
        ev = [e for e in lists.events("mail-rejected")
              if e.get("from", "").lower() == sender.lower()]
        assert ev and ev[-1]["rule"].startswith("deny-sender:"), ev


@pytest.mark.parametrize("rcpt,code", [
    ("<blocked@localhost>", 550), ("<BLOCKED@localhost>", 550),
    ("<other@localhost>", 250), ("<postmaster>", 250)])
def test_deny_recipients(lists, rcpt, code):
    with lists.client(source="127.0.0.2") as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@b.example>").code == 250
        r = c.cmd(f"RCPT TO:{rcpt}")
        assert r.code == code, (rcpt, r)
        if code == 550:
            assert r.enh == "5.7.1", r


@pytest.mark.parametrize("helo,code", [
    ("bad.helo.example", 550), ("BAD.HELO.EXAMPLE.", 550),
    ("x.evilhelo.example", 550), ("ok.evilhelo.example", 250),
    ("good.example", 250)])
def test_deny_helo(lists, helo, code):
    with lists.client(source="127.0.0.2") as c:
        r = c.cmd(f"EHLO {helo}")
        assert r.code == code, (helo, r)
        if code == 550:
            assert r.enh == "5.7.1"
            # refused HELO: no transaction may start
            assert c.cmd("MAIL FROM:<a@b.example>").code == 503
    if code == 550:
        ev = [e for e in lists.events("helo-rejected")
              if e.get("helo", "").lower() == helo.lower()]
        assert ev and ev[-1]["rule"].startswith("deny-helo:"), ev


def test_ipv6_listener_delivers(sluiced):
    """A listener on [::1]: the client's IPv6 address is logged and
    written in the Received: line as an IPv6 literal."""
    p4, p6 = free_port(), free_port()
    srv = sluiced({"listen": [f"127.0.0.1:{p4}", f"[::1]:{p6}"],
                   "local_domains": ["example.test"]})
    s = smtplib.SMTP(timeout=10)
    s.connect("::1", p6)
    s.ehlo("v6.example")
    s.sendmail("a@b.example", ["u@example.test"], b"Subject: v6\r\n\r\nx\r\n")
    s.quit()
    srv.wait_event("message-accepted", client="::1")
    f = srv.wait_maildir("u")[0]
    assert b"[IPv6:::1]" in f.read_bytes()[:500], f.read_bytes()[:500]


def test_listener_networks_trust_only_that_port(sluiced):
    """networks= on one listener trusts those clients there and nowhere
    else: the same client is refused relay on the other port."""
    p1, p2 = free_port(), free_port()
    srv = sluiced({"listen": [f"127.0.0.1:{p1}",
                              f"127.0.0.1:{p2} networks=127.0.0.3/32"],
                   "authorized_networks": ["192.0.2.1/32"]})
    codes = {}
    for port in (p1, p2):
        s = smtplib.SMTP(timeout=10, source_address=("127.0.0.3", 0))
        s.connect("127.0.0.1", port)
        s.ehlo("lan.example")
        s.mail("pc@lan.example")
        codes[port] = s.rcpt("x@outside.example")[0]
        s.quit()
    assert codes == {p1: 550, p2: 250}, codes


def test_postmaster_at_hostname_from_anyone(sluiced):
    """RFC 5321 4.5.1: a default-ish sluiced (hostname mx.test, local
    domain localhost) accepts <postmaster@mx.test> from an outsider and
    delivers it like postmaster@localhost (to the postmaster mailbox);
    anyone else at mx.test is still relaying. `sluice probe`'s positive
    control, postmaster at the banner's name, is accepted."""
    import json
    import subprocess

    from sluicetest import SLUICE, wait_until
    srv = sluiced({"authorized_networks": ["127.0.0.1/32"],
                   "postmaster": "hostmaster"})
    with srv.client(source=OUTSIDER) as c:
        c.ehlo("outsider.example")
        assert c.cmd("MAIL FROM:<complaint@outside.example>").code == 250
        r = c.cmd("RCPT TO:<Postmaster@MX.TEST>")
        assert (r.code, r.enh) == (250, "2.1.5"), r
        r = c.cmd("RCPT TO:<alice@mx.test>")
        assert (r.code, r.enh) == (550, "5.7.1"), r
        assert "Relaying denied" in r.text, r
        r = c.cmd("RCPT TO:<postmaster@mx.test.outside.example>")
        assert r.code == 550, r
        assert c.cmd("DATA").code == 354
        c.send("Subject: complaint\r\n\r\nabout your users\r\n.\r\n")
        assert c.read_reply().code == 250
        c.cmd("QUIT")
    files = wait_until(lambda: srv.maildir_files("hostmaster"), 10,
                       what="delivery to the postmaster mailbox")
    assert len(files) == 1, files
    assert b"about your users" in files[0].read_bytes()
    assert not srv.maildir_files("postmaster")
    denied = [e["rcpt"] for e in srv.events("rcpt-rejected",
                                            rule="relay-denied")]
    assert denied == ["<alice@mx.test>",
                      "<postmaster@mx.test.outside.example>"], denied
    p = subprocess.run([SLUICE, "probe", "--json", "--source", OUTSIDER,
                        "--timeout", "5", "--connect-timeout", "5", "-q",
                        f"127.0.0.1:{srv.port}"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p
    t = [json.loads(l) for l in p.stdout.splitlines() if l.strip()][0]
    steps = {s["id"]: s for s in t["tests"]}
    assert t["target_domain"] == "mx.test", t["target_domain"]
    assert steps["control-postmaster"]["verdict"] == "accepted", \
        steps["control-postmaster"]
    assert t["verdict"] == "closed", t["summary"]
