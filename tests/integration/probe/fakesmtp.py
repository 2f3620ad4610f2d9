"""
A small SMTP server that misbehaves on purpose, for testing `sluice probe`.

Raw asyncio (not aiosmtpd), so every byte it sends is under the test's
control. Each instance listens on its own loopback port and runs its own
event loop in a background thread:

    with FakeSMTP("greylist") as srv:
        probe(f"127.0.0.1:{srv.port}")
        srv.rcpts      # what the probe tried

Behaviours (the `behaviour` argument):

  accept-all     250 to everything, 354 to DATA, 250 after the data;
                 delivers nothing
  closed         a correct closed server: accepts postmaster (bare, or at
                 its own name), refuses every other recipient with
                 550 5.7.1 Relaying denied
  greylist       451 4.7.1 Greylisted, try again later at every RCPT
  auth-required  530 5.7.0 Authentication required at MAIL
  auth-relay     offers AUTH PLAIN/LOGIN; an authenticated session may
                 relay (250), others are "closed" as above
  stall          the greeting, then never answers EHLO (or anything else)
  stall-rcpt     answers up to MAIL, never answers RCPT
  drop           closes right after the greeting
  drop-rcpt      closes the connection on RCPT
  split          accept-all, but every reply goes out one byte at a time
                 with tiny pauses (multi-line EHLO too)
  hostile        accept-all whose greeting and replies carry ANSI escapes,
                 <script> tags, NUL and other control bytes, non-ASCII
                 bytes and very long lines; 250 to RCPT
  garbage        non-SMTP bytes instead of a greeting
  error-limit    "closed", and after `error_limit` error replies in a
                 session the next command gets 421 and the connection is
                 closed (as Postfix's smtpd_hard_error_limit does)
  tarpit         accept-all, every reply (the greeting too) `delay`
                 seconds late (any behaviour takes `delay`, too)
  relay-async    an open relay: accepts everything and, `relay_delay`
                 seconds after its 250 to the message (in the background,
                 as from a queue), relays it to `relay_to` (HOST, PORT)
  relay-sync     the same, but relays the message *before* answering 250
                 (as an in-line proxy or a before-queue filter does)
  relay-stall    relays the message (as relay-sync) and then never
                 answers the final "." (the session times out)
  bounce-async   accepts everything and, `relay_delay` seconds after its
                 250 to the message, sends a delivery status notification
                 (null sender, multipart/report, the original message
                 attached) back to the message's sender, through
                 `relay_to`: accept-then-bounce
  deliver-maildir  accepts everything and delivers each message, with
                 Return-Path and Delivered-To, into the Maildir `maildir`
                 (as a local delivery agent does)
  busy           421 4.3.2 greeting, then closes (a server that is full)
  refuse         554 5.7.1 greeting (refuses this client outright)

`banner` replaces the greeting's text ("220 {banner}"), `ehlo_first` the
first line of the EHLO reply (default "{name} greets you").

Everything received is recorded (`lines`, `rcpts`, `sessions`), and the
number of sessions open at once across all instances is tracked, so tests
can check the probe's concurrency bound.
"""
import asyncio
import base64
import os
import random
import socket
import threading
import time

BEHAVIOURS = ("accept-all", "closed", "greylist", "auth-required",
              "auth-relay", "stall", "stall-rcpt", "drop", "drop-rcpt",
              "split", "hostile", "garbage", "error-limit", "tarpit",
              "busy", "refuse", "relay-async", "relay-sync", "relay-stall",
              "bounce-async", "deliver-maildir")

# hostile content: terminal escapes, HTML, NUL/BEL/backspace, non-ASCII
ESC_RED = b"\x1b[31m"
SCRIPT = b"<script>alert(1)</script>"
HOSTILE_BITS = (ESC_RED + b"\x1b[2J\x1b]0;pwned\x07" + SCRIPT +
                b" nul\x00byte bell\x07 bs\x08 del\x7f hi\xff\xfe\xc3\xa9 "
                b"csi\x9b31m" + b"\x1b[0m")


class _Counter:
    """Sessions open right now, and the most ever, across all instances."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0

    def enter(self):
        with self.lock:
            self.now += 1
            self.max = max(self.max, self.now)

    def leave(self):
        with self.lock:
            self.now -= 1

    def reset(self):
        with self.lock:
            self.max = self.now


CONCURRENT = _Counter()


class Session:
    """What one connection did."""

    def __init__(self, n, peer):
        self.n = n
        self.peer = peer
        self.lines = []          # command lines received (bytes)
        self.times = []          # when each line came (time.monotonic())
        self.authed = False
        self.rcpts = []          # RCPT arguments (str)
        self.mail_from = None    # MAIL FROM argument of the transaction
        self.tx_rcpts = []       # recipients of the transaction
        self.messages = 0
        self.errors = 0
        self.started = time.monotonic()
        self.ended = None
        self.counted = False     # in the concurrency counter now


class FakeSMTP:
    def __init__(self, behaviour="accept-all", host="127.0.0.1", name=None,
                 delay=0.0, byte_delay=0.0005, error_limit=5,
                 users=(("probe", "secret"),), counter=CONCURRENT,
                 relay_to=None, relay_delay=0.3, banner=None,
                 ehlo_first=None, maildir=None):
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.behaviour = behaviour
        self.host = host
        self.name = name or f"{behaviour}.fake.test"
        self.delay = delay           # tarpit: seconds before every reply
        self.byte_delay = byte_delay  # split: seconds between bytes
        self.error_limit = error_limit
        self.users = dict(users)
        self.counter = counter
        self.relay_to = relay_to      # relay-*: (host, port) to relay to
        self.relay_delay = relay_delay  # relay-async: seconds in "queue"
        self.relayed = []             # relay-*: (rcpts, ok) per message
        self.banner = banner          # greeting text after "220 "
        self.ehlo_first = ehlo_first  # first line of the EHLO reply
        self.maildir = maildir        # deliver-maildir: the Maildir
        self.bounced = []             # bounce-async: (to, ok) per DSN
        self.port = None
        self.sessions = []
        self.messages = []           # message bodies received (bytes)
        self._loop = None
        self._thread = None
        self._server = None
        self._tasks = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout=10.0):
        ready = threading.Event()
        err = []

        def run():
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                self._server = loop.run_until_complete(asyncio.start_server(
                    self._handle, self.host, 0, family=fam,
                    limit=1 << 20, reuse_address=True))
                self.port = self._server.sockets[0].getsockname()[1]
            except Exception as e:   # reported to start()
                err.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True,
                                        name=f"fakesmtp-{self.behaviour}")
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("fake SMTP server did not start")
        if err:
            raise err[0]
        return self

    async def _shutdown(self):
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self._server.wait_closed()

    def stop(self, timeout=10.0):
        if self._loop is None or self._thread is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._loop.stop)
        except RuntimeError:
            pass      # loop already closed
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("fake SMTP server did not stop")
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def spec(self):
        """The target as the probe takes it: 127.0.0.1:PORT or [::1]:PORT."""
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"{h}:{self.port}"

    # ------------------------------------------------------------ records

    @property
    def rcpts(self):
        with self._lock:
            return [r for s in self.sessions for r in s.rcpts]

    @property
    def lines(self):
        with self._lock:
            return [l for s in self.sessions for l in s.lines]

    def n_sessions(self):
        with self._lock:
            return len(self.sessions)

    # ------------------------------------------------------------ server

    def _handle(self, reader, writer):
        task = asyncio.ensure_future(self._session(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, writer, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.behaviour == "split":
            for i in range(len(data)):
                writer.write(data[i:i + 1])
                await writer.drain()
                if self.byte_delay:
                    await asyncio.sleep(self.byte_delay)
            return
        writer.write(data)
        await writer.drain()

    async def _reply(self, sess, writer, code, *lines):
        """A (multi-line) reply; counts errors for error-limit."""
        out = b""
        lines = [l.encode("latin-1") if isinstance(l, str) else l
                 for l in lines] or [b""]
        for i, l in enumerate(lines):
            sep = b" " if i == len(lines) - 1 else b"-"
            out += str(code).encode() + sep + l + b"\r\n"
        if code >= 400:
            sess.errors += 1
        await self._send(writer, out)

    def _banner(self):
        if self.behaviour == "busy":
            return f"421 4.3.2 {self.name} Service busy, try later\r\n" \
                .encode()
        if self.behaviour == "refuse":
            return f"554 5.7.1 {self.name} No SMTP service for you\r\n" \
                .encode()
        if self.behaviour == "hostile":
            return (b"220-" + self.name.encode() + b" " + HOSTILE_BITS +
                    b"\r\n220-" + b"A" * 1500 + b"\r\n220 " + HOSTILE_BITS +
                    b" ESMTP\r\n")
        if self.banner is not None:
            return f"220 {self.banner}\r\n".encode()
        return f"220 {self.name} ESMTP fake\r\n".encode()

    def _ehlo_lines(self):
        if self.behaviour == "hostile":
            return [self.name.encode() + b" " + HOSTILE_BITS,
                    b"PIPELINING", b"X-" + b"B" * 1800, HOSTILE_BITS,
                    b"8BITMIME"]
        lines = [self.ehlo_first or f"{self.name} greets you",
                 "PIPELINING", "SIZE 10240000",
                 "ENHANCEDSTATUSCODES", "8BITMIME"]
        if self.behaviour in ("auth-relay", "auth-required"):
            lines.append("AUTH PLAIN LOGIN")
        lines.append("HELP")
        return lines

    def _local(self, arg):
        """Is this RCPT argument the fake's postmaster?"""
        a = arg.strip()
        if a.startswith("<") and a.endswith(">"):
            a = a[1:-1]
        a = a.lower()
        return a in ("postmaster", f"postmaster@{self.name.lower()}")

    async def _session(self, reader, writer):
        peer = writer.get_extra_info("peername")
        with self._lock:
            sess = Session(len(self.sessions), peer)
            self.sessions.append(sess)
        self.counter.enter()
        sess.counted = True
        b = self.behaviour
        try:
            if b == "garbage":
                await self._send(writer, b"\x16\x03\x01\x02\x00\x01\x00\x01"
                                 b"\xfc\x03\x03 HTTP/1.1 400 Bad Request\r\n"
                                 b"\x00\xff\xfe garbage \x1b[0m\r\n")
                await self._drain_input(reader, 10)
                return
            await self._send(writer, self._banner())
            if b in ("drop", "busy"):
                return
            await self._commands(sess, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            sess.ended = time.monotonic()
            self._leave(sess)
            try:
                writer.close()
            except Exception:
                pass

    def _leave(self, sess):
        if sess.counted:
            sess.counted = False
            self.counter.leave()

    async def _drain_input(self, reader, secs):
        """Read and ignore until the peer closes (bounded in time)."""
        try:
            await asyncio.wait_for(self._eat(reader), secs)
        except asyncio.TimeoutError:
            pass

    @staticmethod
    async def _eat(reader):
        while await reader.read(65536):
            pass

    async def _commands(self, sess, reader, writer):
        b = self.behaviour
        for _ in range(10000):          # bounded: a probe sends far fewer
            line = await reader.readline()
            if not line:
                return
            with self._lock:
                sess.lines.append(line.rstrip(b"\r\n"))
                sess.times.append(time.monotonic())
            if b == "stall":
                continue                 # never answer anything
            if b == "error-limit" and sess.errors >= self.error_limit:
                await self._reply(sess, writer, 421,
                                  f"4.7.0 {self.name} Error: too many "
                                  f"errors")
                return
            text = line.rstrip(b"\r\n").decode("latin-1")
            verb = text.split(" ", 1)[0].upper()
            arg = text[len(verb):].strip()
            if verb == "EHLO":
                await self._reply(sess, writer, 250, *self._ehlo_lines())
            elif verb == "HELO":
                await self._reply(sess, writer, 250, self.name)
            elif verb == "MAIL":
                if b == "auth-required" and not sess.authed:
                    await self._reply(sess, writer, 530,
                                      "5.7.0 Authentication required")
                else:
                    sess.mail_from = arg.split(":", 1)[1].strip() \
                        if ":" in arg else ""
                    sess.tx_rcpts = []
                    await self._reply(sess, writer, 250, "2.1.0 Ok")
            elif verb == "RCPT":
                a = arg.split(":", 1)[1].strip() if ":" in arg else arg
                with self._lock:
                    sess.rcpts.append(a)
                if not await self._rcpt(sess, writer, a):
                    return
            elif verb == "DATA":
                await self._reply(sess, writer, 354,
                                  "End data with <CR><LF>.<CR><LF>")
                body = await self._read_data(reader)
                if body is None:
                    return
                with self._lock:
                    sess.messages += 1
                    self.messages.append(body)
                if b in ("relay-sync", "relay-stall"):
                    await self._relay(sess, body)
                if b == "relay-stall":
                    await asyncio.sleep(3600)   # cancelled at stop
                    return
                if b == "deliver-maildir":
                    self._deliver(sess.mail_from, list(sess.tx_rcpts), body)
                if b == "hostile":
                    await self._reply(sess, writer, 250,
                                      b"2.0.0 queued " + HOSTILE_BITS)
                else:
                    await self._reply(sess, writer, 250,
                                      "2.0.0 Ok: queued as FAKE1")
                if b == "relay-async":
                    # queued: relayed a moment later, in the background
                    rcpts, frm = list(sess.tx_rcpts), sess.mail_from
                    t = asyncio.ensure_future(self._relay_later(
                        frm, rcpts, body, self.relay_delay))
                    self._tasks.add(t)
                    t.add_done_callback(self._tasks.discard)
                if b == "bounce-async" and sess.mail_from not in ("<>", ""):
                    t = asyncio.ensure_future(self._bounce_later(
                        sess.mail_from, list(sess.tx_rcpts), body,
                        self.relay_delay))
                    self._tasks.add(t)
                    t.add_done_callback(self._tasks.discard)
            elif verb in ("RSET", "NOOP"):
                await self._reply(sess, writer, 250, "2.0.0 Ok")
            elif verb == "QUIT":
                # the client is done: it may start its next session as
                # soon as it has the 221, before this one is torn down
                self._leave(sess)
                await self._reply(sess, writer, 221, "2.0.0 Bye")
                return
            elif verb == "AUTH" and b in ("auth-relay", "auth-required"):
                await self._auth(sess, reader, writer, arg)
            elif verb == "STARTTLS":
                await self._reply(sess, writer, 454,
                                  "4.7.0 TLS not available")
            else:
                await self._reply(sess, writer, 502,
                                  "5.5.2 Error: command not recognized")

    async def _rcpt(self, sess, writer, a):
        """Answer one RCPT; False if the connection is to end."""
        b = self.behaviour
        if b == "greylist":
            await self._reply(sess, writer, 451,
                              "4.7.1 Greylisted, try again later")
        elif b == "stall-rcpt":
            await asyncio.sleep(3600)     # never answers (cancelled at stop)
        elif b == "drop-rcpt":
            return False
        elif b == "hostile":
            await self._reply(sess, writer, 250,
                              b"2.1.5 " + HOSTILE_BITS + b" " + b"C" * 1900)
        elif b in ("closed", "error-limit", "auth-relay"):
            if self._local(a) or (b == "auth-relay" and sess.authed):
                await self._reply(sess, writer, 250, "2.1.5 Ok")
            else:
                await self._reply(sess, writer, 550,
                                  f"5.7.1 {a}: Relaying denied")
        else:
            sess.tx_rcpts.append(a)
            await self._reply(sess, writer, 250, "2.1.5 Ok")
        return True

    async def _relay_later(self, mail_from, rcpts, body, delay):
        await asyncio.sleep(delay)
        await self._relay_env(mail_from, rcpts, body)

    def _dsn(self, sender, rcpts, body):
        """A delivery status notification (RFC 3464) for sender: the
        failed recipients, and the original message attached (body is
        still dot-stuffed, as received)."""
        orig = b"\r\n".join(l[1:] if l.startswith(b".") else l
                             for l in body.split(b"\r\n"))
        bnd = "dsn-boundary-42"
        per = "".join(f"\r\nFinal-Recipient: rfc822; {r.strip('<>')}\r\n"
                      f"Action: failed\r\nStatus: 5.7.1\r\n"
                      for r in rcpts)
        head = (f"From: MAILER-DAEMON@{self.name}\r\n"
                f"To: {sender}\r\n"
                f"Subject: Undelivered Mail Returned to Sender\r\n"
                f"MIME-Version: 1.0\r\n"
                f"Content-Type: multipart/report; report-type=delivery-"
                f"status;\r\n\tboundary=\"{bnd}\"\r\n\r\n"
                f"--{bnd}\r\nContent-Type: text/plain\r\n\r\n"
                f"Your message could not be delivered: relaying denied."
                f"\r\n\r\n--{bnd}\r\n"
                f"Content-Type: message/delivery-status\r\n\r\n"
                f"Reporting-MTA: dns; {self.name}\r\n{per}\r\n"
                f"--{bnd}\r\nContent-Type: message/rfc822\r\n\r\n")
        msg = head.encode("latin-1") + orig + \
            f"\r\n--{bnd}--\r\n".encode()
        # dot-stuffed again for the wire
        return b"\r\n".join(b"." + l if l.startswith(b".") else l
                             for l in msg.split(b"\r\n"))

    async def _bounce_later(self, sender, rcpts, body, delay):
        await asyncio.sleep(delay)
        dsn = self._dsn(sender, rcpts, body)
        ok = False
        try:
            ok = await asyncio.wait_for(
                self._smtp_send("<>", [sender], dsn), 10)
        except (OSError, asyncio.TimeoutError, ValueError):
            ok = False
        with self._lock:
            self.bounced.append((sender, ok))

    def _deliver(self, sender, rcpts, body):
        """Write the message into the Maildir, once per recipient."""
        orig = b"\r\n".join(l[1:] if l.startswith(b".") else l
                             for l in body.split(b"\r\n"))
        for n, r in enumerate(rcpts):
            top = (f"Return-Path: {sender or '<>'}\r\n"
                   f"Delivered-To: {r.strip('<>')}\r\n").encode("latin-1")
            name = f"{time.time():.6f}.{id(body)}_{n}.fake"
            tmp = os.path.join(self.maildir, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(top + orig)
            os.rename(tmp, os.path.join(self.maildir, "new", name))

    async def _relay(self, sess, body):
        await self._relay_env(sess.mail_from, list(sess.tx_rcpts), body)

    async def _relay_env(self, mail_from, rcpts, body, timeout=10):
        """Send the message on to relay_to, as an MTA would; record
        whether the receiver said 250 to it."""
        ok = False
        try:
            ok = await asyncio.wait_for(
                self._smtp_send(mail_from or "<>", rcpts, body), timeout)
        except (OSError, asyncio.TimeoutError, ValueError):
            ok = False
        with self._lock:
            self.relayed.append((rcpts, ok))

    async def _smtp_send(self, mail_from, rcpts, body):
        host, port = self.relay_to
        reader, writer = await asyncio.open_connection(host, port)
        try:
            async def reply():
                for _ in range(100):
                    line = await reader.readline()
                    if not line:
                        raise ValueError("relay target closed")
                    if line[3:4] != b"-":
                        return int(line[:3])
                raise ValueError("reply too long")

            async def cmd(c):
                writer.write(c.encode("latin-1") + b"\r\n")
                await writer.drain()
                return await reply()

            if await reply() != 220 or await cmd(f"EHLO {self.name}") \
                    != 250 or await cmd(f"MAIL FROM:{mail_from}") != 250:
                return False
            good = [r for r in rcpts if await cmd(f"RCPT TO:{r}") == 250]
            if not good or await cmd("DATA") != 354:
                return False
            writer.write(body + b".\r\n")   # still dot-stuffed
            await writer.drain()
            ok = await reply() == 250
            await cmd("QUIT")
            return ok
        finally:
            writer.close()

    async def _read_data(self, reader):
        body = b""
        for _ in range(200000):
            line = await reader.readline()
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                return body
            body += line
        return body

    async def _auth(self, sess, reader, writer, arg):
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        user = pw = None
        try:
            if mech == "PLAIN":
                if len(parts) > 1:
                    resp = parts[1]
                else:
                    await self._reply(sess, writer, 334, "")
                    resp = (await reader.readline()).strip().decode()
                raw = base64.b64decode(resp, validate=True)
                _, user, pw = raw.split(b"\0", 2)
            elif mech == "LOGIN":
                await self._reply(sess, writer, 334, "VXNlcm5hbWU6")
                user = base64.b64decode((await reader.readline()).strip())
                await self._reply(sess, writer, 334, "UGFzc3dvcmQ6")
                pw = base64.b64decode((await reader.readline()).strip())
            else:
                await self._reply(sess, writer, 504,
                                  "5.5.4 Unrecognized authentication type")
                return
        except (ValueError, TypeError):
            await self._reply(sess, writer, 501,
                              "5.5.2 Cannot decode response")
            return
        if self.users.get(user.decode("latin-1")) == pw.decode("latin-1"):
            sess.authed = True
            await self._reply(sess, writer, 235,
                              "2.7.0 Authentication successful")
        else:
            await self._reply(sess, writer, 535,
                              "5.7.8 Error: authentication failed")


def free_port(host="127.0.0.1"):
    """A port nothing listens on now, outside the kernel's ephemeral
    range (so no client connection takes it before it is used)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        p = random.randrange(20000, 32000)
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.bind((host, p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")
