#!/usr/bin/python3
"""mkcorpus - write the seed corpora in fuzz/corpus/<name>/.

Run from fuzz/: python3 mkcorpus.py. The queue files made by
qfile_format and the printed default configuration come from mkseeds.c
(make seeds). Each seed is
small and means something; the header formats are in fuzz.h and in the
comment at the top of each fuzz_<name>.c.
"""
import base64
import hashlib
import hmac
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def split_header(offsets):
    """fuzz.h split header: a count byte, then 16-bit LE offsets."""
    offsets = offsets[:32]
    return bytes([len(offsets)]) + b"".join(
        struct.pack("<H", o) for o in offsets)


# ---- addr: relay tricks and grammar corners ----
ADDRS = {
    "plain": "<alice@localhost>",
    "null": "<>",
    "postmaster": "<postmaster>",
    "postmaster-case": "<PostMaster>",
    "route": "<@relay.example,@b.example:user@example.net>",
    "percent": "<user%example.net@localhost>",
    "bang": "<example.net!user@localhost>",
    "quoted-at": "<\"user@example.net\"@localhost>",
    "quoted-escapes": "<\"a\\\"b\\\\c d\"@x.example>",
    "quoted-empty": "<\"\"@example.org>",
    "ipv4-literal": "<user@[192.0.2.1]>",
    "ipv6-literal": "<user@[IPv6:2001:db8::1]>",
    "ipv6-mapped": "<user@[IPv6:::ffff:192.0.2.1]>",
    "general-literal": "<user@[x-tag:some-content]>",
    "dots-hyphens": "<a.b.c@d-e.f-g.example> SIZE=10",
    "trailing-dot": "<user@localhost.>",
    "double-at": "<user@@localhost>",
    "missing-close": "<user@localhost",
    "local-64": "<" + "a" * 64 + "@example.org>",
    "local-65": "<" + "a" * 65 + "@example.org>",
    "label-63": "<u@" + "b" * 63 + ".example>",
    "path-256": "<" + "c" * 60 + "@" + ".".join(["d" * 60] * 3) + ".ex>",
    "upper": "<User@LocalHost.EXAMPLE>",
    "gt-in-quotes": "<\"a>b\"@example.org>",
    "8bit": "<j\xf6rg@example.org>",
}
for name, a in ADDRS.items():
    put("addr", name, a)

# ---- cmd: command lines without CRLF ----
CMDS = {
    "mail-params": "MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME",
    "mail-null": "MAIL FROM:<>",
    "mail-space": "MAIL FROM: <a@b.example>",
    "mail-auth": "MAIL FROM:<a@b.example> AUTH=<>",
    "mail-size-huge": "MAIL FROM:<a@b.example> SIZE=99999999999999999999999",
    "mail-dup-body": "mail from:<a@b.example> BODY=7BIT BODY=8BITMIME   ",
    "mail-unknown": "MAIL FROM:<a@b.example> SMTPUTF8",
    "rcpt": "RCPT TO:<alice@localhost>",
    "rcpt-postmaster": "RCPT TO:<Postmaster>",
    "rcpt-notify": "RCPT TO:<a@b.example> NOTIFY=NEVER",
    "rcpt-route": "RCPT TO:<@a.example:u@b.example>",
    "ehlo": "EHLO mail.example",
    "helo-literal": "HELO [192.0.2.1]",
    "helo-tab": "EHLO a\tb",
    "vrfy": "VRFY postmaster",
    "http": "GET / HTTP/1.1",
    "noop-trailing": "NOOP \t ",
}
for name, c in CMDS.items():
    put("cmd", name, c)

# ---- line: 2 bytes of cap, a split header, then bytes ----
def line_seed(cap_sel, payload, offs=()):
    return struct.pack("<H", cap_sel) + split_header(list(offs)) + payload


put("line", "crlf-512", line_seed(0x8000, b"EHLO x\r\nMAIL FROM:<>\r\n", [3, 7, 8]))
put("line", "bare-lf", line_seed(0x8001, b"a\nb\r\nc\rd\r\n", [1, 2, 5]))
put("line", "toolong", line_seed(10, b"0123456789ABCDEF\r\nok\r\n", [9, 10]))
put("line", "exact-cap", line_seed(9, b"1234567\r\n12345678\r\n", [8]))
put("line", "nul-8bit", line_seed(0x8002, b"a\x00b\xffc\r\n"))
put("line", "cr-split", line_seed(0x8003, b"QUIT\r\n", [5]))
put("line", "partial", line_seed(100, b"no end yet"))

# ---- data: a split header, then what follows the 354 ----
DATA = {
    "plain": (b"Subject: x\r\n\r\nhello\r\n.\r\n", []),
    "stuffed": (b"..\r\n..x\r\n.\r\n", [1, 2]),
    "empty": (b".\r\n", []),
    "smuggle-lf": (b"a\r\n\n.\nMAIL FROM:<x@y>\r\n.\r\nQUIT\r\n", [4]),
    "smuggle-cr": (b"a\r\r.\rRCPT TO:<x@y>\r\n.\r\n", []),
    "smuggle-lf-crlf": (b"a\n.\r\nb\r\n.\r\n", [2, 3]),
    "smuggle-crlf-lf": (b"a\r\n.\nb\r\n.\r\n", [3]),
    "dot-cr-x": (b"x\r\n.\rX\r\n.\r\n", [4, 5]),
    "split-marker": (b"body\r\n.\r\nNEXT\r\n", [5, 6, 7, 8]),
    "longline": (b"x" * 1001 + b"\r\n.\r\n", []),
    "nul": (b"a\x00b\r\n.\r\n", []),
    "no-end": (b"line\r\n..\r", [3]),
}
for name, (p, offs) in DATA.items():
    put("data", name, split_header(offs) + p)

# ---- reply: what a server says, line by line ----
REPLIES = {
    "greeting": "220 mx.example ESMTP ready\r\n",
    "ehlo": "250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n"
            "250-8BITMIME\r\n250 HELP\r\n",
    "enhanced": "550-5.7.1 Relaying denied\r\n550 5.7.1 for you\r\n",
    "tempfail": "421 4.7.0 Too many errors\r\n",
    "code-only": "250\r\n354 \r\n",
    "mismatch": "250-a\r\n251 b\r\n",
    "bare-lf": "220 hi\n250 ok\n",
    "garbage": "HTTP/1.1 400 Bad Request\r\n",
    "many-lines": "".join("250-l%d\r\n" % i for i in range(66)) + "250 end\r\n",
    "bad-enh": "250 2.0 ok\r\n550 4.1.1 wrong class\r\n250 2.1000.0 x\r\n",
}
for name, r in REPLIES.items():
    put("reply", name, r)

# ---- conf: configurations (printed-defaults comes from mkseeds) ----
CONFS = {
    "empty": "",
    "minimal": 'hostname = "mx.example";\n',
    "lists": '''local_domains = [ "example.test", ".sub.example.test" ];
relay_domains = "relay.example";
local_users = [ "alice", "bob@example.test" ];
deny = {
  clients = ( "198.51.100.0/24", "2001:db8:bad::/48" );
  helo = ( "evil.example", { pattern = ".spam.example";
           reply = "550 5.7.1 No thanks"; reason = "test"; } );
  senders = ( "bad@", { pattern = "x@example.org"; reply = "451 4.7.1 Later"; } );
  recipients = ( "blocked@example.test" );
};
allow = { senders = ( "ok@spam.example" ); clients = ( "198.51.100.7" ); };
''',
    "rewrites": '''allow_percent_hack = true;
allow_bang_path = true;
allow_quoted_at = true;
accept_literals = true;
local_addresses = [ "192.0.2.1", "2001:db8::1" ];
recipient_delimiter = "";
''',
    "limits-units": '''limits: {
  message_size = "10m";
  idle_timeout = "1h";
  data_timeout = 600;
  recipients = 100000;
};
queue_retry = "1d";
log_level = "debug";
''',
    "bad-unknown-key": 'hostnam = "x";\nlimits = { foo = 1; };\n',
    "bad-types": 'listen = 5;\nlimits = { message_size = "25q"; errors = -1; };\n',
    "broad": 'authorized_networks = [ "0.0.0.0/0" ];\nrefuse_broad_networks = true;\n',
    "int64": 'limits = { message_size = 4294967296L; };\n',
}
for name, c in CONFS.items():
    put("conf", name, c)


# ---- session: 4 control bytes, a split header, a dialogue ----
def session_seed(a, b, t, cap, lines, split_at_lines=True, extra_splits=()):
    """lines: list of client lines (bytes, CRLF included); a split after
    each line models a client waiting for the reply (no pipelining)."""
    payload = b"".join(lines)
    offs = []
    if split_at_lines:
        pos = 0
        for ln in lines[:-1]:
            pos += len(ln)
            offs.append(pos)
    offs += list(extra_splits)
    return bytes([a, b, t, cap]) + split_header(offs) + payload


def L(*xs):
    return [x.encode("latin-1") if isinstance(x, str) else x for x in xs]


UNTRUSTED, TRUSTED, RICH = 1, 0, 0x08
MSG = "Subject: test\r\n\r\nHello.\r\n..stuffed\r\n.\r\n"
S = {
    "local-delivery": (UNTRUSTED, 0, 0, L(
        "EHLO client.example\r\n", "MAIL FROM:<bob@example.org>\r\n",
        "RCPT TO:<postmaster@localhost>\r\n", "DATA\r\n", MSG,
        "QUIT\r\n")),
    "trusted-relay": (TRUSTED, 0, 0, L(
        "EHLO me\r\n", "MAIL FROM:<me@localhost> SIZE=100 BODY=8BITMIME\r\n",
        "RCPT TO:<friend@example.net>\r\n", "RCPT TO:<friend@example.net>\r\n",
        "DATA\r\n", MSG, "QUIT\r\n")),
    "open-relay-probe": (UNTRUSTED, 0, 0, L(
        "HELO probe\r\n", "MAIL FROM:<spammer@example.com>\r\n",
        "RCPT TO:<victim@example.net>\r\n",
        "RCPT TO:<victim%example.net@localhost>\r\n",
        "RCPT TO:<example.net!victim@localhost>\r\n",
        "RCPT TO:<\"victim@example.net\"@localhost>\r\n",
        "RCPT TO:<@localhost:victim@example.net>\r\n",
        "RCPT TO:<victim@[192.0.2.1]>\r\n", "QUIT\r\n")),
    "rewrites-allowed": (UNTRUSTED | RICH, 0, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@example.org>\r\n",
        "RCPT TO:<victim%example.net@example.test>\r\n",
        "RCPT TO:<alice%example.test@localhost>\r\n",
        "RCPT TO:<relay.example!user@localhost>\r\n",
        "RCPT TO:<\"bob@example.test\"@example.test>\r\n",
        "RCPT TO:<alice+tag@example.test>\r\n",
        "RCPT TO:<postmaster@[192.0.2.1]>\r\n",
        "RCPT TO:<x@relay.example>\r\n", "DATA\r\n", MSG, "QUIT\r\n")),
    "rich-lists": (UNTRUSTED | RICH, 0, 0, L(
        "EHLO host.spam.example\r\n", "EHLO evil.example.\r\n",
        "EHLO good.example\r\n", "MAIL FROM:<bad@example.org>\r\n",
        "MAIL FROM:<later@example.org>\r\n", "MAIL FROM:<ok@spam.example>\r\n",
        "RCPT TO:<blocked@example.test>\r\n", "RCPT TO:<alice@sub.example.test>\r\n",
        "QUIT\r\n")),
    "denied-client": (4 | RICH, 0, 0, L("EHLO x\r\n", "QUIT\r\n")),
    "pipelined": (UNTRUSTED, 0, 0, L(
        "EHLO client.example\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@localhost>\r\n"
        "RCPT TO:<nobody@example.net>\r\nDATA\r\n",
        MSG + "QUIT\r\n")),
    "sync-violation": (UNTRUSTED, 0, 0, L(
        "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n"), False),
    "smuggling": (UNTRUSTED, 0, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@example.org>\r\n", "RCPT TO:<alice@localhost>\r\n",
        "DATA\r\n",
        "Subject: a\r\n\r\nx\n.\nMAIL FROM:<admin@localhost>\nRCPT TO:<v@example.net>\n"
        "DATA\nsmuggled\r\n.\r\n", "QUIT\r\n")),
    "bare-lf-commands": (UNTRUSTED, 0, 0, L("EHLO c\n", "HELO c\r\n", "NOOP\n", "QUIT\r\n")),
    "http-probe": (UNTRUSTED, 0, 0, L("GET / HTTP/1.0\r\nHost: x\r\n\r\n"), False),
    "too-many-errors": (UNTRUSTED, 0, 0, L(*(["XYZZY\r\n"] * 22))),
    "long-line": (UNTRUSTED, 0, 0, L("EHLO " + "a" * 600 + "\r\n",
                                     "MAIL FROM:<" + "b" * 70 + "@x.example>\r\n",
                                     "QUIT\r\n")),
    "bounce-to-postmaster": (UNTRUSTED, 0, 0, L(
        "HELO c\r\n", "MAIL FROM:<>\r\n", "RCPT TO:<postmaster>\r\n",
        "DATA\r\n", "From: MAILER-DAEMON\r\n\r\nbounce\r\n.\r\n", "QUIT\r\n")),
    "rset-two-messages": (TRUSTED, 0, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@localhost>\r\n", "RSET\r\n",
        "MAIL FROM:<a@localhost>\r\n", "RCPT TO:<b@example.net>\r\n", "DATA\r\n",
        MSG, "MAIL FROM:<a@localhost>\r\n", "RCPT TO:<c@localhost>\r\n",
        "DATA\r\n", MSG, "QUIT\r\n")),
    "misc-verbs": (UNTRUSTED, 0, 0, L(
        "NOOP\r\n", "MAIL FROM:<a@b>\r\n", "HELO c\r\n", "VRFY root\r\n", "VRFY\r\n",
        "EXPN list\r\n", "HELP\r\n", "STARTTLS\r\n", "AUTH PLAIN AAAA\r\n",
        "ETRN x\r\n", "RCPT TO:<a@localhost>\r\n", "DATA\r\n", "RSET x\r\n",
        "QUIT\r\n")),
    "mail-params": (UNTRUSTED, 0, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@b.example> SIZE=999999999999\r\n",
        "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n",
        "MAIL FROM:<a@b.example> FOO=bar\r\n", "MAIL FROM:a@b.example\r\n",
        "MAIL FROM:<j\xf6rg@b.example>\r\n", "QUIT\r\n")),
    "deferred-commit-pipelined": (UNTRUSTED, 0x02, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@example.org>\r\n", "RCPT TO:<alice@localhost>\r\n",
        "DATA\r\n", MSG + "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@localhost>\r\n",
        "QUIT\r\n")),
    "commit-tempfail": (TRUSTED, 0x08 | 0x03, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@localhost>\r\n", "RCPT TO:<b@localhost>\r\n",
        "DATA\r\n", MSG, "QUIT\r\n")),
    "oversize-longline": (UNTRUSTED | 0x20 | 0x10, 0, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@example.org>\r\n", "RCPT TO:<alice@localhost>\r\n",
        "DATA\r\n", "x" * 1200 + "\r\n" + "y" * 1000 + "\r\n.\r\n", "QUIT\r\n")),
    "too-many-rcpts": (TRUSTED | 0x40, 0, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@localhost>\r\n",
        *["RCPT TO:<u%d@example.net>\r\n" % i for i in range(5)], "QUIT\r\n")),
    "ipv6-client-literal": (3 | RICH, 0, 0, L(
        "EHLO [IPv6:2001:db8::7]\r\n", "MAIL FROM:<a@[IPv6:2001:db8::7]>\r\n",
        "RCPT TO:<alice@[IPv6:2001:db8::1]>\r\n", "RCPT TO:<alice@[IPv6:2001:db8::2]>\r\n",
        "QUIT\r\n")),
    "shutdown-in-data": (UNTRUSTED, 0x80, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@example.org>\r\n", "RCPT TO:<alice@localhost>\r\n",
        "DATA\r\n", "half a message\r\n")),
    "timeout-in-commit": (UNTRUSTED, 0x40 | 0x03, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@example.org>\r\n", "RCPT TO:<alice@localhost>\r\n",
        "DATA\r\n", MSG + "QUIT\r\n")),
}
TLS, AUTH, REQAUTH, IMPLICIT = 1, 2, 4, 8
AUTH_FAIL, AUTH_BLOCKED, AUTH_LATER, TLS_FAILS = 0x10, 0x30, 0x40, 0x80
PLAIN = base64.b64encode(b"\0alice\0secret").decode()
S.update({
    "starttls-auth-relay": (UNTRUSTED, 0, 0, L(
        "EHLO c\r\n", "STARTTLS\r\n", "EHLO c\r\n", "AUTH PLAIN " + PLAIN + "\r\n",
        "MAIL FROM:<alice@localhost>\r\n", "RCPT TO:<friend@example.net>\r\n",
        "DATA\r\n", MSG, "QUIT\r\n"), True, TLS | AUTH),
    "starttls-injection": (UNTRUSTED, 0, 0, L(
        "EHLO c\r\n", "STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n"
        "RCPT TO:<victim@example.net>\r\n",
        "EHLO c\r\n", "MAIL FROM:<a@example.org>\r\n", "QUIT\r\n"), True, TLS | AUTH),
    "auth-login-deferred": (UNTRUSTED, 0, 0, L(
        "EHLO c\r\n", "AUTH LOGIN\r\n", base64.b64encode(b"alice").decode() + "\r\n",
        base64.b64encode(b"secret").decode() + "\r\n", "AUTH LOGIN\r\n",
        "QUIT\r\n"), True, IMPLICIT | AUTH | AUTH_LATER),
    "auth-plaintext-refused": (UNTRUSTED, 0, 0, L(
        "EHLO c\r\n", "AUTH PLAIN " + PLAIN + "\r\n", "QUIT\r\n"), True, TLS | AUTH),
    "auth-errors": (UNTRUSTED, 0, 0, L(
        "EHLO c\r\n", "AUTH CRAM-MD5\r\n", "AUTH PLAIN\r\n", "!!!notbase64\r\n",
        "AUTH PLAIN =\r\n", "AUTH LOGIN\r\n", "*\r\n",
        "AUTH PLAIN " + base64.b64encode(b"bob\0alice\0pw").decode() + "\r\n",
        "AUTH PLAIN " + PLAIN + "\r\n", "QUIT\r\n"), True, IMPLICIT | AUTH | AUTH_FAIL),
    "submission-require-auth": (UNTRUSTED, 0, 0, L(
        "EHLO c\r\n", "MAIL FROM:<a@example.org>\r\n", "AUTH PLAIN " + PLAIN + "\r\n",
        "MAIL FROM:<a@example.org>\r\n", "QUIT\r\n"), True,
        IMPLICIT | AUTH | REQAUTH | AUTH_BLOCKED),
})
for name, spec in S.items():
    a, b, cap, lines = spec[:4]
    split = spec[4] if len(spec) > 4 else True
    t = spec[5] if len(spec) > 5 else 0
    put("session", name, session_seed(a, b, t, cap, lines, split))

# ---- qfile: valid-*.qf come from mkseeds (qfile_format); these are
# hand-made variants: a file part-delivered in place, a newer version's
# extra key, and two broken ones ----
QF = ("sluice-queue 1\nqid 18c2f3a4b5c00002\ntime 1732464925\n"
      "session 7f3a2c01\nclient 2001:db8::7\nhelo -\nproto SMTP\n"
      "from <>\nbody -\nsize 00000000000000000006\n"
      "rcpt D L alice <alice@localhost>\nrcpt F R - <x@example.net>\n"
      "retry 0000000004 001732468525\nrcpt N R - <y@example.net>\n"
      "rcpt P L postmaster <postmaster>\n%sdata\nhi\r\n\r\n")
put("qfile", "hand-statuses.qf", QF % "")
put("qfile", "hand-future-key.qf", QF % "priority high\n")
put("qfile", "hand-no-size.qf", QF.replace("size 00000000000000000006\n", "") % "")
put("qfile", "hand-truncated.qf", (QF % "")[:200])

# ---- tokscan: 3 control bytes, the envelope's recipient lines, a
# message; the proofs are made under fuzz_tokscan.c's key, so that the
# "genuine" seeds are what the probe really sent ----
TS_KEY = b"fuzz-key-fuzz-key-fuzz-key-fuzz\0"
TS_TOK = "3c9a0f17e2b4"


def ts_proof(token):
    return hmac.new(TS_KEY, token.encode(), hashlib.sha256).hexdigest()[:32]


def ts_seed(flags, rcpts, msg, copies=0):
    env = "".join(r + "\n" for r in rcpts)
    return bytes([flags, len(rcpts), copies]) + env.encode("latin-1") + \
        (msg.encode("latin-1") if isinstance(msg, str) else msg)


TS_HDR = ("X-Sluice-Probe: token=%s proof=%s test=relay-plain "
          "target=192.0.2.25:25" % (TS_TOK, ts_proof(TS_TOK)))
TS_RELAY = "sluice-relay-%s@catcher.example" % TS_TOK
TS_SENDER = "sluice-probe-%s@catcher.example" % TS_TOK
TS_ORIG = ("Received: from probe.example (probe.example [198.51.100.9])\r\n"
           "\tby mx.example.org with ESMTP id 4Xk2\r\n"
           "From: <%s>\r\nTo: <%s>\r\n%s\r\n"
           "Subject: sluice relay test %s\r\n"
           "Date: Mon, 25 Nov 2024 16:15:25 +0000\r\n"
           "Message-ID: <%s.relay-plain@probe.example>\r\n\r\n"
           "Token %s.\r\n" % (TS_SENDER, TS_RELAY, TS_HDR, TS_TOK, TS_TOK,
                              TS_TOK))
TS_DSN = (
    "Return-Path: <>\r\nReceived: from mx.example.org\r\n"
    "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
    "To: <%s>\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
    "report-type=delivery-status;\r\n\tboundary=\"B1.mx\"\r\n\r\n"
    "This is a MIME-encapsulated message.\r\n\r\n--B1.mx\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    "<%s>: host victim.example said: 550 5.7.1 Relaying denied\r\n\r\n"
    "--B1.mx\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.example.org\r\n\r\n"
    "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.7.1\r\n\r\n"
    "--B1.mx\r\nContent-Type: message/rfc822\r\n\r\n%s\r\n"
    "--B1.mx\r\nContent-Type: text/rfc822-headers\r\n\r\n%s\r\n"
    "--B1.mx--\r\n" % (TS_SENDER, TS_RELAY, TS_RELAY, TS_ORIG,
                       TS_ORIG.split("\r\n\r\n")[0]))
TOKSCAN = {
    # what a relay hands on: the probe's message, a few headers added
    "relayed-genuine": ts_seed(0, [TS_RELAY], "Return-Path: <%s>\r\n"
                               "Delivered-To: %s\r\n%s" % (TS_SENDER,
                                                           TS_RELAY, TS_ORIG)),
    "relayed-maildir": ts_seed(8, [], "Return-Path: <%s>\r\n"
                               "Delivered-To: %s\r\n%s" % (TS_SENDER,
                                                           TS_RELAY, TS_ORIG)),
    "relayed-framed": ts_seed(2 | 8, [TS_RELAY], "Subject: x\r\n\r\nbody\r\n"),
    "relayed-bare-lf": ts_seed(0, [TS_RELAY], TS_ORIG.replace("\r\n", "\n")),
    "sent-back": ts_seed(0, [TS_SENDER], TS_ORIG),
    "sent-back-and-relayed": ts_seed(0, [TS_SENDER, TS_RELAY.upper()], TS_ORIG),
    # accept-then-bounce: a DSN with the original and its headers
    "dsn-bounce": ts_seed(1, [TS_SENDER], TS_DSN),
    "dsn-to-relay-rcpt": ts_seed(1, [TS_RELAY], TS_DSN),
    "dsn-maildir": ts_seed(8, [], TS_DSN),
    "dsn-framed": ts_seed(1 | 4 | 8, [TS_SENDER], "From: MAILER-DAEMON\r\n"
                          "Subject: failure notice\r\n\r\nSorry.\r\n"),
    "bounce-quoted": ts_seed(1, [TS_SENDER], "From: MAILER-DAEMON\r\n\r\n"
                             + "".join("> " + ln + "\r\n" for ln in
                                       TS_ORIG.split("\r\n"))),
    # forgeries: the token as a live report shows it, no valid proof
    "forged-proof": ts_seed(0, [TS_RELAY], "X-Sluice-Probe: token=%s proof="
                            "%s test=relay-plain\r\n\r\nhi\r\n"
                            % (TS_TOK, "0" * 32)),
    "forged-no-proof": ts_seed(0, [TS_RELAY], "X-Sluice-Probe: token=%s\r\n"
                               "\r\n" % TS_TOK),
    "forged-upper": ts_seed(0, [TS_RELAY], "x-sluice-probe: token=%s "
                            "proof=%s\r\n\r\n" % (TS_TOK.upper(),
                                                  ts_proof(TS_TOK).upper())),
    "forged-two-tokens": ts_seed(2, [], "X-Sluice-Probe: token=aaaaaaaaaaaa "
                                 "token=%s proof=%s;proof=%s\r\n\r\n"
                                 % (TS_TOK, "1" * 32, ts_proof(TS_TOK))),
    # folding: tabs, spaces, CRLF and bare LF, a value cut at 1023 bytes
    "folded": ts_seed(0, [TS_RELAY], "From: <a@b>\r\nX-Sluice-Probe:\r\n"
                      "\ttoken=%s\r\n proof=%s\r\n\ttest=relay-plain\r\n"
                      "\r\nbody\r\n" % (TS_TOK, ts_proof(TS_TOK))),
    "folded-lf-cr": ts_seed(0, [TS_RELAY], "X-Sluice-Probe: token=%s\n"
                            "\tproof=%s\r\r\n\r\n" % (TS_TOK,
                                                      ts_proof(TS_TOK))),
    "folded-long": ts_seed(0, [TS_RELAY], "X-Sluice-Probe: " +
                           "\r\n ".join(["x" * 70] * 15) +
                           " token=%s proof=%s\r\n\r\n"
                           % (TS_TOK, ts_proof(TS_TOK))),
    # huge headers: the probe header past the 64 KiB a Maildir file is read
    "huge-headers": ts_seed(8, [], "".join(
        "Received: from hop%d.example by hop%d.example; "
        "Mon, 25 Nov 2024 16:15:25 +0000\r\n" % (i, i + 1)
        for i in range(850)) + TS_ORIG),
    "huge-one-line": ts_seed(0, [TS_RELAY], "Subject: " + "y" * 5000 +
                             "\r\n" + TS_ORIG),
    # NULs: in the name, in the value, in the body
    "nul-value": ts_seed(0, [TS_RELAY], "X-Sluice-Probe: \0token=%s proof=%s"
                         "\r\n\r\n" % (TS_TOK, ts_proof(TS_TOK))),
    "nul-name": ts_seed(8, [], "X-Sluice\0-Probe: token=%s\r\n" % TS_TOK +
                        TS_ORIG),
    "nul-body": ts_seed(0, [TS_RELAY, "\0" + TS_RELAY], TS_ORIG + "\0\0\0" +
                        TS_HDR + "\0\r\n"),
    # the envelope: many recipients (the catcher takes 1000)
    "many-rcpts": ts_seed(0, ["rcpt%d-%s" % (i, "z" * 200) for i in range(3)],
                          TS_ORIG, copies=255),
    "header-only": ts_seed(0, [], TS_HDR),
    "empty": ts_seed(0, [], ""),
}
for name, data in TOKSCAN.items():
    put("tokscan", name, data)

# ---- jsonp: bodies POSTed to sluice web's API, the probe's report, and
# what is not JSON ----
JREPORT = (
    '{"id":"j7f3a2c01","status":"done","verdict":"closed","created":'
    '1732464925,"target":"mx.example.org","port":25,"mode":"anonymous",'
    '"summary":"closed: 0 of 2 relay attempts accepted","error":"",'
    '"queue_position":0,"hosts":[{"host":"mx.example.org","address":'
    '"192.0.2.25","verdict":"closed","summary":"closed","ptr":'
    '"mx.example.org","banner":"220 mx.example.org ESMTP \\u003cok\\u003e",'
    '"ehlo":"250-mx.example.org\\r\\n250 8BITMIME","starttls_offered":true,'
    '"tls":"","note":null,"seconds":1.250,"transcript":"\\u00e9\\t\\u0001",'
    '"tests":[{"id":"relay-plain","description":"plain relay","trick":"",'
    '"mail_from":"\\u003csluice-probe-3c9a0f17e2b4@catcher.example\\u003e",'
    '"rcpt_to":"\\u003cvictim@example.net\\u003e","mail_reply":"250 ok",'
    '"rcpt_reply":"550 5.7.1 Relaying denied","data_reply":"","verdict":'
    '"refused","note":"","rcpt_seconds":0.012},{"id":"relay-percent",'
    '"verdict":"pending","rcpt_seconds":-0.0}]}]}')
JSONS = {
    "api-anonymous": '{"target":"mx.example.org","port":25,"mode":"anonymous"}',
    "api-delivery": '{"target":"192.0.2.1","port":587,"mode":"delivery"}',
    "api-target-only": '{"target":"[2001:db8::1]"}',
    "api-ws": ' {\r\n\t"target" : "mx.example.org" ,\n "port" : 2525 }\n',
    "api-port-edges": '{"port":65535.5,"target":"a","port":1e999}',
    "api-port-string": '{"port":"25","mode":null,"target":["x"]}',
    "api-dup-keys": '{"target":"a.example","target":"b.example","":0}',
    "probe-report": JREPORT,
    "control-reply": '{"ok":false,"error":"unknown command"}',
    "control-stats": '{"ok":true,"server":{"sessions_active":3,'
                     '"sessions_total":1e3,"bytes":18446744073709551616},'
                     '"rules":[{"name":"r","limit":100,"window":600}],'
                     '"entries":[]}',
    "deep-64": "[" * 64 + "1" + "]" * 64,
    "deep-65": "[" * 65 + "1" + "]" * 65,
    "deep-65-empty": "[" * 65 + "]" * 65,
    "deep-objects": '{"a":' * 70 + "0" + "}" * 70,
    "deep-unclosed": "[" * 3000,
    "numbers": "[0,-0,1.5,-1.5e-3,1E+2,1e308,1e309,-1e999,4.9e-324,1e-400,"
               "123456789012345678901234567890,0.%s]" % ("1" * 61),
    "number-63": "1" * 63,
    "number-64": "1" * 64,
    "numbers-lenient": "[+1,01,.5,1.,-.5,00]",
    "numbers-words": "[0x10,Infinity,-NaN,1e]",
    "escapes": r'["\"\\\/\b\f\n\r\t","\u0041\u00e9\u20ac\uD83D\uDE00","\u007f"]',
    "escape-nul": r'{"target":"a\u0000b","k\u0000":"\u0000"}',
    "escape-short": r'["\u12",","x"]',
    "escape-bad-hex": r'["\u00G0","\x41","\'"]',
    "raw-nul-string": '{"target":"mx.example.org\0.evil.example","port":25}',
    "raw-nul-number": '{"port":25\0}',
    "raw-nul-alone": "\0",
    "raw-control": '{"target":"a\tb\x01c\nd"}',
    "utf8-valid": '{"target":"b\xc3\xbccher.example","n":"\xe2\x82\xac"}',
    "utf8-invalid": '["\xff\xfe","\xc3\x28","\xc0\xaf","\xed\xa0\x80",'
                    '"\xf4\x90\x80\x80","\xe2\x82"]',
    "literals": "[true,false,null,[],{},\"\"]",
    "literals-bad": "[tru,nul,True,falsey]",
    "trailing": '{"a":1,}',
    "trailing-garbage": '{"a":1} x',
    "single-quotes": "{'target':'x'}",
    "empty": "",
    "ws-only": " \r\n\t",
}
for name, j in JSONS.items():
    put("jsonp", name, j)
