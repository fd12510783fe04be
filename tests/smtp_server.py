"""A real SMTP server on loopback (aiosmtpd) that records what it gets and misbehaves on request.

Other test modules import it:

    from tests.smtp_server import smtp_server  # the fixture
    def test_x(smtp_server):
        server = smtp_server(temp_fail_every=7, drop_every=23, reject={"bad@example.com"})
        ... DIGEST_SMTP_HOST=server.host, DIGEST_SMTP_PORT=server.port, DIGEST_SMTP_SECURITY=none ...
        assert server.recipients() == [...]

Faults count messages in arrival order (the DATA command), so with several connections the faulty
message is whichever arrives Nth: the server decides, like a real one would.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self):
        return message_from_bytes(self.data, policy=policy.default)


@dataclass
class FaultyHandler:
    """temp_fail_every=N: 451 to every Nth message; drop_every=M: close the connection, without a
    reply, on every Mth message (it is not recorded); drop_after_accept_every=K: record every Kth
    message, then close without the 250 (the ambiguous case); reject: addresses answered 550 at RCPT;
    delay: seconds to sit on each message before answering; pipelining: offer PIPELINING (RFC 2920)
    in the EHLO reply, as Postfix and most real servers do (aiosmtpd reads commands one line at a
    time, so pipelined commands work; it just does not say so by itself)."""

    temp_fail_every: int = 0
    drop_every: int = 0
    drop_after_accept_every: int = 0
    reject: set[str] = field(default_factory=set)
    delay: float = 0.0
    pipelining: bool = True
    reject_data: dict[str, str] = field(default_factory=dict)
    max_line: int = 0
    received: list[Received] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.counts["ehlo"] += 1
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # A client that pipelines (RFC 2920) has sent RCPT before hearing MAIL's reply: it is
        # already waiting in the server's read buffer.
        if b"RCPT" in bytes(getattr(server._reader, "_buffer", b"")).upper():
            self.counts["pipelined"] += 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            self.counts["rejected"] += 1
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.counts["data"] += 1
        number = self.counts["data"]
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.drop_every and number % self.drop_every == 0:
            self.counts["dropped"] += 1
            server.transport.close()
            return "421 4.3.0 dropped"  # never reaches the client: the connection is gone
        refusal = next((self.reject_data[r] for r in envelope.rcpt_tos if r in self.reject_data), None)
        if refusal is None and self.max_line and _longest_line(envelope.original_content) > self.max_line:
            refusal = "552 5.6.0 Message header line too long"
        if refusal is not None:
            self.counts["refused_data"] += 1
            return refusal
        if self.temp_fail_every and number % self.temp_fail_every == 0:
            self.counts["temp_failed"] += 1
            return "451 4.3.0 Try again later"
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        if self.drop_after_accept_every and number % self.drop_after_accept_every == 0:
            self.counts["dropped_after_accept"] += 1
            server.transport.close()
        return "250 2.0.0 Message accepted"


def _longest_line(data: bytes | None) -> int:
    return max((len(line) for line in (data or b"").split(b"\r\n")), default=0)


class SMTPServer:
    def __init__(self, handler: FaultyHandler, auth: tuple[str, str] | None = None, **kwargs):
        self.handler = handler
        self.host = "127.0.0.1"
        self.port = free_port()
        options = dict(hostname=self.host, port=self.port, ready_timeout=10, **kwargs)
        if auth:
            options.update(authenticator=_Authenticator(*auth), auth_require_tls=False, auth_required=True)
        self.controller = Controller(handler, **options)

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def recipients(self) -> list[str]:
        return sorted(r for item in self.received for r in item.rcpt_tos)

    def env(self) -> dict[str, str]:
        return {
            "DIGEST_SMTP_HOST": self.host,
            "DIGEST_SMTP_PORT": str(self.port),
            "DIGEST_SMTP_SECURITY": "none",
            "DIGEST_SMTP_TIMEOUT": "5",
        }


class _Authenticator:
    def __init__(self, user: str, password: str):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.user,
            self.password,
        )
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A factory: smtp_server(**FaultyHandler options, auth=(user, pw)) -> a started SMTPServer."""
    started: list[SMTPServer] = []

    def start(auth: tuple[str, str] | None = None, server_kwargs: dict | None = None, **faults):
        server = SMTPServer(FaultyHandler(**faults), auth=auth, **(server_kwargs or {})).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


_EHLO = b"250-trickle.example\r\n250-STARTTLS\r\n250 PIPELINING\r\n"


class TrickleServer:
    """A hostile server: it greets, then answers `at` (a command verb, EHLO by default; END: the
    end of a message's data) with `250-` continuation lines forever, one every `interval` seconds,
    and never the final line.
    Each read the client makes succeeds at once, so a per-read timeout never fires."""

    def __init__(self, at: str = "EHLO", interval: float = 0.2):
        self.at, self.interval = at.upper(), interval
        self.host, self.port = "127.0.0.1", free_port()
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server((self.host, self.port))
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> TrickleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def env(self) -> dict[str, str]:
        return {
            "DIGEST_SMTP_HOST": self.host,
            "DIGEST_SMTP_PORT": str(self.port),
            "DIGEST_SMTP_SECURITY": "none",
        }

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.sendall(b"220 trickle.example ESMTP\r\n")
                reader = connection.makefile("rb")
                while not self._stop.is_set():
                    line = reader.readline()
                    if not line:
                        return
                    verb = line.split(b" ")[0].strip().upper().decode("ascii", "replace")
                    if verb == self.at:
                        self._trickle(connection)
                        return
                    if verb == "DATA" and self.at == "END":  # take the message, then trickle
                        connection.sendall(b"354 go ahead\r\n")
                        while reader.readline() not in (b".\r\n", b""):
                            pass
                        self._trickle(connection)
                        return
                    connection.sendall(_EHLO if verb == "EHLO" else b"250 OK\r\n")
            except OSError:
                return

    def _trickle(self, connection: socket.socket) -> None:
        while not self._stop.wait(self.interval):
            connection.sendall(b"250-still thinking\r\n")


@pytest.fixture
def trickle_server():
    started: list[TrickleServer] = []

    def start(**options) -> TrickleServer:
        server = TrickleServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
