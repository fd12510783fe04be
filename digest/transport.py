"""Transports: where finished message bytes go. One small interface, three implementations.

Like Django's mail backends: `open_transport(settings)` picks SMTP when DIGEST_SMTP_HOST is set and
the outbox folder otherwise; tests use `MemoryTransport`. A transport hands out connections
(`connect()`), one per sending thread, each reused for many messages.

Failures are classified by what the server said, not by exception type: `DeliveryError.kind` is
"temporary" (4xx, dropped connection, timeout: try again), "permanent" (5xx for this recipient:
never retry), "content" (5xx for the message itself, such as "line too long": never retry, and not
the recipient's bounce), "ambiguous" (the end of data went out and no reply came back: the server
may have the message), "fatal" (the run cannot go on: the sender refused) or "config" (a setting
is wrong: login refused, STARTTLS missing, untrusted certificate; stop at once and say so).
Nothing here logs or repeats the SMTP password.

A connection's `send` takes one `digest.mail.Outgoing` (envelope, message, Message-ID) and an
optional gate, `ready()`, called once everything but the message itself is done
(for SMTP: the envelope accepted, DATA answered 354) and before a byte of the message goes out: the
send runner uses it to let a connection's next message get under way while the previous one's
outcome is still being committed. If the gate returns False nothing is sent and the send raises
DeliveryError("unsent"): a message counts as sent only when the server accepts its end of data, so
hanging up in the middle of DATA delivers nothing.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from digest.config import Settings
from digest.mail import Outgoing
from digest.watchdog import WATCHDOG, shut
from digest.wire import wire_data, wire_form

__all__ = ["DeliveryError", "open_transport", "wire_data", "wire_form"]


class DeliveryError(Exception):
    def __init__(self, kind: str, reason: str, code: int | None = None, reconnect: bool = False):
        super().__init__(reason)
        self.kind = kind
        self.code = code
        self.reason = reason
        self.reconnect = reconnect


# A refusal of the message itself (RFC 3463 x.6.x media errors, x.3.4 too big, or saying so), not of
# the address: the recipient is not to blame and must not be counted as bounced.
_CONTENT_REFUSAL = re.compile(r"\b[45]\.(?:6\.\d{1,3}|3\.4)\b|line too long|too (?:big|large)|size", re.I)


def classify_data_reply(code: int, text: str | bytes) -> DeliveryError:
    error = classify(code, text)
    if error.kind == "permanent" and _CONTENT_REFUSAL.search(error.reason):
        return DeliveryError("content", error.reason, code)
    return error


def classify(code: int | None, text: str | bytes, *, fatal_5xx: bool = False) -> DeliveryError:
    """4xx: temporary; 5xx: permanent for the recipient (or fatal when it concerns the sender)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    reason = f"{code} {text}".strip() if code else text
    if code is not None and 500 <= code < 600:
        return DeliveryError("fatal" if fatal_5xx else "permanent", reason, code)
    return DeliveryError("temporary", reason, code)


Gate = Callable[[], bool] | None


class Connection(Protocol):
    def send(self, outgoing: Outgoing, ready: Gate = None) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    name: str

    def connect(self) -> Connection: ...


# --- SMTP -------------------------------------------------------------------------------------


@dataclass
class SMTPTransport:
    host: str
    port: int
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    name: str = "smtp"

    def context(self) -> ssl.SSLContext:
        # smtplib verifies nothing unless given a context; this one checks the chain and host name.
        return self.ssl_context or ssl.create_default_context()

    def connect(self) -> SMTPConnection:
        return SMTPConnection(self)


class SMTPConnection:
    """One SMTP session, opened lazily and reopened after the server drops it.

    Every command runs under an overall deadline (DIGEST_SMTP_TIMEOUT, digest.watchdog): smtplib's
    own timeout bounds each read, which a server trickling `250-` lines would satisfy forever."""

    def __init__(self, transport: SMTPTransport):
        self.transport = transport
        self.smtp: smtplib.SMTP | None = None
        self.delivering = False  # the message is out: only its reply is awaited
        self.opening: smtplib.SMTP | None = None

    def _deadline(self, what: str, smtp: smtplib.SMTP | None = None):
        smtp = smtp or self.smtp
        return WATCHDOG.deadline(self.transport.timeout, lambda: getattr(smtp, "sock", None), what)

    def open(self) -> None:
        """Connect now (the runner opens one connection first, so a configuration error shows once)."""
        if self.smtp is None:
            try:
                self.smtp = self._open()
            finally:
                self.opening = None

    def _open(self) -> smtplib.SMTP:
        t = self.transport
        where = f"{t.host}:{t.port}"
        smtp = smtplib.SMTP_SSL(timeout=t.timeout, context=t.context()) if t.security == "ssl" else None
        smtp = smtp or smtplib.SMTP(timeout=t.timeout)
        # Made without a host so that connecting (and its greeting) runs under a deadline; TLS
        # checks the certificate against `_host`, which only the constructor would have set.
        smtp._host = t.host
        self.opening = smtp  # what interrupt() cuts while the session is being set up
        try:
            with self._deadline("the greeting", smtp):
                smtp.connect(t.host, t.port)
            self._handshake(smtp, where)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                "config", f"{where} refused the login: {exc.smtp_code}", exc.smtp_code
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError("config", f"{where}: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                "config",
                f"{where}: the server's TLS certificate is not trusted ({exc.verify_message}); "
                "check DIGEST_SMTP_HOST and DIGEST_SMTP_SECURITY",
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise classify(exc.smtp_code, exc.smtp_error, fatal_5xx=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise DeliveryError(
                "temporary", f"cannot connect to {where}: {describe_error(exc)}", reconnect=True
            ) from None
        return smtp

    def _handshake(self, smtp: smtplib.SMTP, where: str) -> None:
        t = self.transport
        with self._deadline("EHLO", smtp):
            smtp.ehlo()
        if t.security == "starttls":
            if not smtp.has_extn("starttls"):
                smtp.close()
                raise DeliveryError("config", f"{where} does not offer STARTTLS (DIGEST_SMTP_SECURITY)")
            with self._deadline("STARTTLS", smtp):
                smtp.starttls(context=t.context())
            with self._deadline("EHLO", smtp):
                smtp.ehlo()
        if t.username:
            with self._deadline("AUTH", smtp):
                smtp.login(t.username, t.password or "")

    def send(self, outgoing: Outgoing, ready: Gate = None) -> None:
        self.open()
        sender, recipient = outgoing.sender, outgoing.recipient
        try:
            data = wire_form(outgoing.message)
            if self.smtp.has_extn("pipelining") and plain_address(sender) and plain_address(recipient):
                self._send_pipelined(sender, recipient, data, ready)
            else:
                self._send_stepwise(sender, recipient, data, ready)
        except (OSError, smtplib.SMTPException) as exc:  # dropped, timed out, reset
            self.drop()
            raise DeliveryError(
                "temporary", f"connection lost: {describe_error(exc)}", reconnect=True
            ) from None
        finally:
            self.delivering = False

    def _send_stepwise(self, sender: str, recipient: str, data: bytes, ready: Gate) -> None:
        """Without PIPELINING: one command, one reply, each under its deadline."""
        with self._deadline("MAIL"):
            mail = self.smtp.mail(sender)
        if mail[0] != 250:
            self._abandon(mail[0] == 421)
            raise classify(*mail, fatal_5xx=True)
        with self._deadline("RCPT"):
            rcpt = self.smtp.rcpt(recipient)
        if rcpt[0] not in (250, 251):
            self._abandon(rcpt[0] == 421)
            raise classify(*rcpt)
        with self._deadline("DATA"):
            go = self.smtp.docmd("DATA")
        if go[0] != 354:
            self._abandon(go[0] == 421)
            raise classify(*go)
        self._deliver(data, ready)

    def _send_pipelined(self, sender: str, recipient: str, data: bytes, ready: Gate) -> None:
        """RFC 2920: MAIL, RCPT and DATA in one write, then their three replies, each judged on its
        own; the body goes only after DATA's 354. Two round trips instead of four."""
        smtp = self.smtp
        size = f" SIZE={len(data)}" if smtp.has_extn("size") else ""
        with self._deadline("MAIL, RCPT and DATA"):
            smtp.send(f"MAIL FROM:<{sender}>{size}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii"))
            mail, rcpt, go = smtp.getreply(), smtp.getreply(), smtp.getreply()
        if mail[0] != 250 or rcpt[0] not in (250, 251) or go[0] != 354:
            self._abandon(go[0] == 354 or 421 in (mail[0], rcpt[0], go[0]))
            if mail[0] != 250:
                raise classify(*mail, fatal_5xx=True)
            raise classify(*rcpt) if rcpt[0] not in (250, 251) else classify(*go)
        self._deliver(data, ready)

    def _deliver(self, data: bytes, ready: Gate) -> None:
        """The message and its end of data. Once the end of data is out, a lost reply leaves the
        delivery ambiguous: the server may have taken it, so it must not be sent again blindly."""
        if ready is not None and not ready():
            self.drop()  # no RSET inside DATA: hanging up abandons the transaction
            raise DeliveryError("unsent", "stopped before the message went out")
        with self._deadline("the message"):
            self.smtp.send(data)
        self.delivering = True
        try:
            with self._deadline("the end of data"):
                code, text = self.smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self.drop()
            reason = f"no reply after the end of data ({describe_error(exc)})"
            raise DeliveryError("ambiguous", reason, reconnect=True) from None
        if code != 250:
            if code == 421:
                self.drop()
            raise classify_data_reply(code, text)

    def interrupt(self) -> None:
        """Stopping: cut a connection that is between messages or in the middle of an envelope at
        once; one whose message is out keeps waiting for its reply (under its deadline)."""
        if self.opening is not None:
            shut(getattr(self.opening, "sock", None))
        if not self.delivering and self.smtp is not None:
            shut(getattr(self.smtp, "sock", None))

    def _abandon(self, drop: bool) -> None:
        """After a refused envelope: RSET, or hang up when the server is closing or (against the
        rules) waits for a body nobody should send."""
        if drop:
            self.drop()
            return
        try:
            with self._deadline("RSET"):
                self.smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.drop()

    def drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def close(self) -> None:
        if self.smtp is None:
            return
        try:
            with self._deadline("QUIT"):
                self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            self.drop()


def plain_address(address: str) -> bool:
    """ASCII and on one line: safe to write into a pipelined command as it is. Anything else takes
    smtplib's path, which refuses line breaks and handles SMTPUTF8."""
    return address.isascii() and "\r" not in address and "\n" not in address


def _through(ready: Gate) -> None:
    if ready is not None and not ready():
        raise DeliveryError("unsent", "stopped before the message went out")


def describe_error(exc: BaseException) -> str:
    return str(exc) or exc.__class__.__name__


# --- outbox folder ----------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


@dataclass
class OutboxTransport:
    """One .eml per message. The file is named after the Message-ID, so a retried delivery
    overwrites its own file instead of adding a copy; writes are atomic (temp file + rename)."""

    folder: Path
    name: str = "outbox"

    def connect(self) -> OutboxTransport:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def send(self, outgoing: Outgoing, ready: Gate = None) -> None:
        _through(ready)
        message = outgoing.data
        stem = _UNSAFE.sub("_", outgoing.message_id.strip("<>")) or uuid.uuid4().hex
        target = self.folder / f"{stem}.eml"
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as handle:
                handle.write(message)
            os.replace(tmp, target)
        except OSError as exc:
            raise DeliveryError("fatal", f"cannot write to outbox {self.folder}: {exc.strerror}") from None

    def close(self) -> None:
        pass


# --- memory (tests) ---------------------------------------------------------------------------


@dataclass
class MemoryTransport:
    """Keeps (sender, recipient, bytes) in a list; shared by all connections, thread-safe."""

    messages: list[tuple[str, str, bytes]] = field(default_factory=list)
    name: str = "memory"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def connect(self) -> MemoryTransport:
        return self

    def send(self, outgoing: Outgoing, ready: Gate = None) -> None:
        _through(ready)
        with self._lock:
            self.messages.append((outgoing.sender, outgoing.recipient, outgoing.data))

    def close(self) -> None:
        pass


def open_transport(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SMTPTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
        )
    return OutboxTransport(Path(settings.outbox))


_SECURITY_WORDS = {"none": "no TLS", "starttls": "STARTTLS", "ssl": "implicit TLS"}


def describe_transport(transport: Transport) -> str:
    """For summaries: where mail went, without credentials."""
    if isinstance(transport, SMTPTransport):
        return f"SMTP {transport.host}:{transport.port} ({_SECURITY_WORDS[transport.security]})"
    if isinstance(transport, OutboxTransport):
        return f"outbox folder {transport.folder}/"
    return transport.name
