#!/usr/bin/python3
"""mkcorpus - write the seed corpora in fuzz/corpus/<name>/.

Run from fuzz/: python3 mkcorpus.py. The queue files made by
qfile_format and the printed default configuration come from mkseeds.c
(make seeds). Each seed is
small and means something; the header formats are in fuzz.h and in the
comment at the top of each fuzz_<name>.c.
"""
import base64
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
