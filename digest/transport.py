"""Transports: where finished message bytes go. One small interface, three implementations.

Like Django's mail backends: `open_transport(settings)` picks SMTP when DIGEST_SMTP_HOST is set and
the outbox folder otherwise; tests use `MemoryTransport`. A transport hands out connections
(`connect()`), one per sending thread, each reused for many messages.

Failures are classified by what the server said, not by exception type: `DeliveryError.kind` is
"temporary" (4xx, dropped connection, timeout: try again), "permanent" (5xx for this recipient:
never retry) or "fatal" (the run cannot go on: authentication refused, STARTTLS missing, sender
refused). Nothing here logs or repeats the SMTP password.

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
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from digest.config import Settings
from digest.mail import Outgoing, Personalized, PreparedMessage


class DeliveryError(Exception):
    def __init__(self, kind: str, reason: str, code: int | None = None, reconnect: bool = False):
        super().__init__(reason)
        self.kind = kind
        self.code = code
        self.reason = reason
        self.reconnect = reconnect


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
    """One SMTP session, opened lazily and reopened after the server drops it."""

    def __init__(self, transport: SMTPTransport):
        self.transport = transport
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        t = self.transport
        where = f"{t.host}:{t.port}"
        try:
            if t.security == "ssl":
                smtp = smtplib.SMTP_SSL(t.host, t.port, timeout=t.timeout, context=t.context())
            else:
                smtp = smtplib.SMTP(t.host, t.port, timeout=t.timeout)
            smtp.ehlo()
            if t.security == "starttls":
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise DeliveryError("fatal", f"{where} does not offer STARTTLS (DIGEST_SMTP_SECURITY)")
                smtp.starttls(context=t.context())
                smtp.ehlo()
            if t.username:
                smtp.login(t.username, t.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                "fatal", f"{where} refused the login: {exc.smtp_code}", exc.smtp_code
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError("fatal", f"{where}: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                "fatal", f"{where}: TLS certificate not trusted: {exc.verify_message}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise classify(exc.smtp_code, exc.smtp_error, fatal_5xx=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                "temporary", f"cannot connect to {where}: {_describe(exc)}", reconnect=True
            ) from None
        return smtp

    def send(self, outgoing: Outgoing, ready: Gate = None) -> None:
        if self.smtp is None:
            self.smtp = self._open()
        sender, recipient = outgoing.sender, outgoing.recipient
        try:
            if self.smtp.has_extn("pipelining") and _plain(sender) and _plain(recipient):
                self._send_pipelined(sender, recipient, outgoing.message, ready)
            else:
                _through(ready)
                self._sendmail(sender, recipient, outgoing.data)
        except (OSError, smtplib.SMTPException) as exc:  # dropped, timed out, reset
            self._drop()
            raise DeliveryError("temporary", f"connection lost: {_describe(exc)}", reconnect=True) from None

    def _sendmail(self, sender: str, recipient: str, message: bytes) -> None:
        """Without PIPELINING: smtplib's four round trips."""
        try:
            self.smtp.sendmail(sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients.get(recipient, (None, b"refused"))
            raise classify(code, text) from None
        except smtplib.SMTPSenderRefused as exc:
            raise classify(exc.smtp_code, exc.smtp_error, fatal_5xx=True) from None
        except smtplib.SMTPResponseException as exc:  # SMTPDataError and friends
            error = classify(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code == 421:
                self._drop()
            raise error from None

    def _send_pipelined(
        self, sender: str, recipient: str, message: bytes | Personalized, ready: Gate
    ) -> None:
        """RFC 2920: MAIL, RCPT and DATA in one write, then their three replies, each judged on its
        own; the body goes only after DATA's 354. Two round trips instead of four."""
        smtp = self.smtp
        payload = wire_form(message)
        size = f" SIZE={len(payload)}" if smtp.has_extn("size") else ""
        smtp.send(f"MAIL FROM:<{sender}>{size}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii"))
        mail, rcpt, data = smtp.getreply(), smtp.getreply(), smtp.getreply()
        if mail[0] != 250 or rcpt[0] not in (250, 251) or data[0] != 354:
            self._abandon(data[0] == 354 or 421 in (mail[0], rcpt[0], data[0]))
            if mail[0] != 250:
                raise classify(*mail, fatal_5xx=True)
            raise classify(*rcpt) if rcpt[0] not in (250, 251) else classify(*data)
        if ready is not None and not ready():
            self._drop()  # no RSET inside DATA: hanging up abandons the transaction
            raise DeliveryError("unsent", "stopped before the message went out")
        smtp.send(payload)
        code, text = smtp.getreply()
        if code != 250:
            if code == 421:
                self._drop()
            raise classify(code, text)

    def _abandon(self, drop: bool) -> None:
        """After a refused envelope: RSET, or hang up when the server is closing or (against the
        rules) waits for a body nobody should send."""
        if drop:
            self._drop()
            return
        try:
            self.smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def close(self) -> None:
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            self._drop()


def _plain(address: str) -> bool:
    """ASCII and on one line: safe to write into a pipelined command as it is. Anything else takes
    smtplib's path, which refuses line breaks and handles SMTPUTF8."""
    return address.isascii() and "\r" not in address and "\n" not in address


_BARE_EOL = re.compile(rb"\r\n|\r|\n")


def wire_data(message: bytes) -> bytes:
    """The DATA payload as smtplib would send it: CRLF line ends, leading dots doubled (RFC 5321
    4.5.2), the end-of-data line appended. Prepared messages are CRLF already, so the usual cost
    is three counts and one replace, not smtplib's two regular-expression passes."""
    crlf = message.count(b"\r\n")
    if message.count(b"\n") != crlf or message.count(b"\r") != crlf:
        message = _BARE_EOL.sub(b"\r\n", message)
    message = message.replace(b"\r\n.", b"\r\n..")
    if message.startswith(b"."):
        message = b"." + message
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    return message + b".\r\n"


def wire_form(message: bytes | Personalized) -> bytes:
    """`wire_data` of the message; a spliced one is stuffed piece by piece, its shared pieces once
    per digest, so a send does not pass over every recipient's whole message again."""
    if isinstance(message, bytes):
        return wire_data(message)
    return message.prepared.join(message.values, _stuffed_pieces(message.prepared), _dot_stuffed) + b".\r\n"


@lru_cache(maxsize=4)
def _stuffed_pieces(prepared: PreparedMessage) -> tuple[bytes, ...]:
    return tuple(_dot_stuffed(piece) for piece in prepared.pieces)


def _dot_stuffed(chunk: bytes) -> bytes:
    """Leading dots doubled on every line of a chunk that starts a line (RFC 5321 4.5.2)."""
    chunk = chunk.replace(b"\r\n.", b"\r\n..")
    return b"." + chunk if chunk.startswith(b".") else chunk


def _through(ready: Gate) -> None:
    if ready is not None and not ready():
        raise DeliveryError("unsent", "stopped before the message went out")


def _describe(exc: BaseException) -> str:
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


def describe_transport(transport: Transport) -> str:
    """For summaries: where mail went, without credentials."""
    if isinstance(transport, SMTPTransport):
        return f"SMTP {transport.host}:{transport.port} ({transport.security})"
    if isinstance(transport, OutboxTransport):
        return f"outbox folder {transport.folder}/"
    return transport.name
