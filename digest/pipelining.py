"""SMTP pipelining across messages on a non-blocking socket (RFC 2920).

`SMTPConnection.open()` does the handshake (greeting, EHLO, STARTTLS, AUTH) with smtplib; when the
server offers PIPELINING, a `Pipeline` then takes the session's socket over for the messages.
Commands and message content are queued as bytes and written as the socket takes them; replies are
read as they come and matched, in order, to the step each answers. One message's content, its end of
data and the next message's MAIL, RCPT and DATA go out in one write (RFC 2920 section 3.1 allows the
content as the first "command" of a group), so a message costs one round trip, and one process
drives all its connections from one thread: no thread hand-offs per message.

Nothing here blocks, and nothing here knows the delivery log: the send engine
(digest.send.lanes) decides what to write and when, and what a reply means for a message.
"""

from __future__ import annotations

import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from digest.smtp_replies import describe_error
from digest.transport import SMTPConnection

REPLY_LINE_LIMIT = 8192  # bytes in one reply line, as smtplib's _MAXLINE
REPLY_LINES_LIMIT = 200  # continuation lines in one reply
READ_SIZE = 65536
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class PipelineBroken(Exception):
    """The session cannot go on: the server hung up, reset, or broke the protocol."""


@dataclass
class Step:
    """One reply the client waits for: which step ("mail", "rcpt", "data", "end", "rset") of
    which message (`owner`, the engine's own object), and by when (monotonic seconds): the whole
    reply, however many lines it trickles in, must be there within DIGEST_SMTP_TIMEOUT."""

    name: str
    owner: Any
    due: float


class Pipeline:
    def __init__(self, connection: SMTPConnection):
        smtp = connection.smtp
        if smtp is None or smtp.sock is None:
            raise PipelineBroken("the connection is not open")
        self.connection = connection
        self.sock = smtp.sock
        self.offers_size = smtp.has_extn("size")
        self.timeout = connection.transport.timeout
        self.sock.setblocking(False)
        self.outgoing = bytearray()
        self.incoming = bytearray()
        self.waiting: deque[Step] = deque()
        self.lines: list[bytes] = []  # the reply being read

    # --- writing ----------------------------------------------------------------------------------

    def envelope(self, sender: str, recipient: str, size: int, owner: Any) -> None:
        """MAIL, RCPT and DATA of one message, written with whatever is queued before them."""
        size_param = f" SIZE={size}" if self.offers_size else ""
        command = f"MAIL FROM:<{sender}>{size_param}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n"
        self.outgoing += command.encode("ascii")
        due = time.monotonic() + self.timeout
        self.waiting.extend((Step("mail", owner, due), Step("rcpt", owner, due), Step("data", owner, due)))

    def content(self, data: bytes, owner: Any) -> None:
        """A message in DATA form (`wire_form`: stuffed, with its end-of-data line)."""
        self.outgoing += data
        self.waiting.append(Step("end", owner, time.monotonic() + self.timeout))

    def reset(self) -> None:
        self.outgoing += b"RSET\r\n"
        self.waiting.append(Step("rset", None, time.monotonic() + self.timeout))

    def flush(self) -> bool:
        """Write what the socket takes now; True when nothing is left to write."""
        while self.outgoing:
            try:
                written = self.sock.send(self.outgoing)
            except _WOULD_BLOCK:
                return False
            except OSError as exc:
                raise PipelineBroken(describe_error(exc)) from None
            if written == len(self.outgoing):
                self.outgoing.clear()
            else:
                del self.outgoing[:written]
        return True

    # --- reading ----------------------------------------------------------------------------------

    def replies(self) -> list[tuple[Step, int, str]]:
        """Every complete reply that has arrived, with the step it answers."""
        self._read()
        answered = []
        while (reply := self._next_reply()) is not None:
            if not self.waiting:
                raise PipelineBroken(f"unexpected reply {reply[0]}")
            answered.append((self.waiting.popleft(), *reply))
        return answered

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(READ_SIZE)
            except _WOULD_BLOCK:
                return
            except OSError as exc:
                raise PipelineBroken(describe_error(exc)) from None
            if not data:
                raise PipelineBroken("the server closed the connection")
            self.incoming += data
            if len(data) < READ_SIZE and not isinstance(self.sock, ssl.SSLSocket):
                return

    def _next_reply(self) -> tuple[int, str] | None:
        while True:
            end = self.incoming.find(b"\n")
            if end < 0:
                if len(self.incoming) > REPLY_LINE_LIMIT:
                    raise PipelineBroken("reply line too long")
                return None
            line = bytes(self.incoming[: end + 1]).rstrip(b"\r\n")
            del self.incoming[: end + 1]
            if len(line) > REPLY_LINE_LIMIT or len(self.lines) >= REPLY_LINES_LIMIT:
                raise PipelineBroken("reply too long")
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                raise PipelineBroken(f"not an SMTP reply: {line[:40]!r}")
            self.lines.append(line[4:])
            if line[3:4] != b"-":
                text = b"\n".join(self.lines).decode("utf-8", "replace")
                self.lines = []
                return int(line[:3]), text

    # --- state --------------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Nothing unwritten and no reply awaited: the session may go back to smtplib."""
        return not self.outgoing and not self.waiting and not self.incoming

    def hand_back(self) -> None:
        """Blocking again, with smtplib's per-read timeout, for smtplib's own commands."""
        self.sock.settimeout(self.timeout)
