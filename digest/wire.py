"""SMTP DATA form (RFC 5321 4.5.2): CRLF line ends, leading dots doubled, the end-of-data line.

Dot-stuffing happens here only, at the transport's edge; a spliced message is stuffed piece by
piece, its shared pieces once per digest.
"""

from __future__ import annotations

import re
from functools import lru_cache

from digest.mail import Personalized, PreparedMessage

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
