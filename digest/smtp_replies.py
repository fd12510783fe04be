"""What an SMTP server's replies mean for one message: the classes of `DeliveryError`.

Failures are classified by what the server said, not by exception type: `DeliveryError.kind` is
"temporary" (4xx, dropped connection, timeout: try again), "permanent" (5xx for this recipient:
never retry), "content" (5xx for the message itself, such as "line too long": never retry, and not
the recipient's bounce), "ambiguous" (the end of data went out and no reply came back: the server
may have the message), "fatal" (the run cannot go on: the sender refused) or "config" (a setting
is wrong: login refused, STARTTLS missing, untrusted certificate; stop at once and say so).
Used by both ways of talking SMTP: smtplib's (digest.transport) and the pipelined one
(digest.pipelining, digest.send.lanes).
"""

from __future__ import annotations

import re


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


Reply = tuple[int, str | bytes]


def envelope_error(mail: Reply, rcpt: Reply, go: Reply) -> DeliveryError | None:
    """What pipelined MAIL, RCPT and DATA replies mean, each judged on its own (RFC 2920): None
    when the message may go, else the first refusal (a refused sender ends the run)."""
    if mail[0] != 250:
        return classify(*mail, fatal_5xx=True)
    if rcpt[0] not in (250, 251):
        return classify(*rcpt)
    return None if go[0] == 354 else classify(*go)


def must_hang_up(mail: Reply, rcpt: Reply, go: Reply) -> bool:
    """After a refused envelope: the server is closing (421), or it waits for a body (354) nobody
    should send (no RSET inside DATA): hang up instead of RSET."""
    return go[0] == 354 or 421 in (mail[0], rcpt[0], go[0])


def describe_error(exc: BaseException) -> str:
    return str(exc) or exc.__class__.__name__
