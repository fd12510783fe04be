"""What one report says: a bounce (which addresses failed, permanently or not), a complaint (RFC 5965
ARF), or nothing we can read. Pure: bytes in, a `Report` out; no store, no clock.

Bounces are read by flufl.bounce, whose detectors run from RFC 3464 DSNs to the common MTA formats
(Exim, Postfix, qmail, Exchange, ...). The DSN's own fields (Status, Diagnostic-Code) are read here
for the record, and to tell a message the receiver refused for its content (status x.6.x, "message
too big" x.3.4) from an address that does not work: only the latter counts against a subscriber.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from email.parser import HeaderParser

from flufl.bounce import all_failures

PARSE_LIMIT = 2 * 1024 * 1024  # a bounce larger than this is kept, not parsed
_CONTENT_STATUS = re.compile(r"^[45]\.(6\.\d+|3\.4)$")
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


@dataclass(frozen=True)
class Failure:
    address: str
    kind: str  # permanent, temporary, content
    detail: str


@dataclass(frozen=True)
class Report:
    kind: str  # bounce, complaint, unparsed
    fingerprint: str
    failures: tuple[Failure, ...] = ()
    original_message_id: str | None = None
    envelope: tuple[str, ...] = ()  # addresses the report was sent to: where a VERP tag shows
    complainant: str | None = None
    detail: str = ""


def fingerprint(raw: bytes, message: Message | None) -> str:
    """The report's own Message-ID when it has one (the same report fetched twice, even with added
    trace headers, is one report), else a hash of its bytes."""
    message_id = _header(message, "Message-ID") if message is not None else None
    if message_id:
        return "mid:" + message_id[:120]
    body = raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw
    return "sha256:" + hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()


def read_report(raw: bytes, envelope: tuple[str, ...] = ()) -> Report:
    """Never raises: anything it cannot read is a Report of kind `unparsed` with the reason."""
    if len(raw) > PARSE_LIMIT:
        return Report("unparsed", fingerprint(raw, None), detail=f"too large to parse ({len(raw)} bytes)")
    try:
        message = message_from_bytes(raw, policy=email_policy.compat32)
    except Exception as exc:  # the email package rarely raises, but a report is untrusted input
        return Report("unparsed", fingerprint(raw, None), detail=f"not a mail message: {exc}")
    key = fingerprint(raw, message)
    envelope = tuple(envelope) + _envelope_addresses(message)
    try:
        if _feedback_part(message) is not None:
            return _complaint(message, key, envelope)
        return _bounce(message, key, envelope)
    except Exception as exc:  # a detector tripping over hostile input: keep the report, say why
        return Report("unparsed", key, envelope=envelope, detail=f"cannot parse: {exc.__class__.__name__}")


def _bounce(message: Message, key: str, envelope: tuple[str, ...]) -> Report:
    temporary, permanent = all_failures(message)
    if not temporary and not permanent:
        subject = (_header(message, "Subject") or "")[:200]
        return Report("unparsed", key, envelope=envelope, detail=f"no bounce found (Subject: {subject})")
    status = _dsn_status(message)
    failures = []
    for raw_address, is_permanent in [(a, True) for a in permanent] + [(a, False) for a in temporary]:
        address = _text(raw_address).strip().strip("<>")
        code, diagnostic = status.get(address.lower(), ("", ""))
        kind = "permanent" if is_permanent else "temporary"
        if _CONTENT_STATUS.match(code):
            kind = "content"
        failures.append(Failure(address, kind, " ".join(f"{code} {diagnostic}".split())[:500]))
    return Report(
        "bounce",
        key,
        failures=tuple(failures),
        original_message_id=_original_message_id(message),
        envelope=envelope,
        detail="; ".join(f"{f.address}: {f.kind} {f.detail}".strip() for f in failures)[:1000],
    )


def _complaint(message: Message, key: str, envelope: tuple[str, ...]) -> Report:
    fields = _feedback_fields(_feedback_part(message))
    original = _original_headers(message)
    complainant = fields.get("original-rcpt-to") or (original.get("To") if original else None)
    mail_from = fields.get("original-mail-from")
    return_path = original.get("Return-Path") if original else None
    extra = tuple(a for a in (mail_from, return_path) if a)
    return Report(
        "complaint",
        key,
        original_message_id=_clean_id(original.get("Message-ID")) if original else None,
        envelope=envelope + tuple(_addresses(a) for a in extra),
        complainant=_addresses(complainant) if complainant else None,
        detail=f"Feedback-Type: {fields.get('feedback-type', '?')}"[:200],
    )


def _feedback_part(message: Message) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            return part
    return None


def _feedback_fields(part: Message) -> dict[str, str]:
    payload = part.get_payload()
    if isinstance(payload, list):
        items = [item for block in payload for item in block.items()]
    else:
        text = payload if isinstance(payload, str) else _text(payload or b"")
        items = HeaderParser().parsestr(text.lstrip("\r\n")).items()
    return {name.lower(): " ".join(str(value).split()) for name, value in items}


def _dsn_status(message: Message) -> dict[str, tuple[str, str]]:
    """address -> (Status, Diagnostic-Code) from every message/delivery-status part."""
    found: dict[str, tuple[str, str]] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:
            recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
            if recipient:
                address = str(recipient).split(";", 1)[-1].strip().strip("<>").lower()
                found[address] = (str(block.get("Status", "")).strip(), str(block.get("Diagnostic-Code", "")))
    return found


def _original_headers(message: Message) -> Message | None:
    """The headers of the message the report is about (message/rfc822 or text/rfc822-headers)."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        if content_type == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            return HeaderParser().parsestr(_text(text))
    return None


def _original_message_id(message: Message) -> str | None:
    original = _original_headers(message)
    return _clean_id(original.get("Message-ID")) if original is not None else None


def _envelope_addresses(message: Message) -> tuple[str, ...]:
    return tuple(_addresses(str(v)) for h in _ENVELOPE_HEADERS for v in message.get_all(h) or ())


def _addresses(value: str) -> str:
    match = re.search(r"<([^<>\s]+@[^<>\s]+)>", value)
    return (match.group(1) if match else value).strip().strip("<>").strip()


def _clean_id(value: object) -> str | None:
    if not value:
        return None
    match = re.search(r"<[^<>\s]+>", str(value))
    return match.group(0) if match else None


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return " ".join(str(value).split()) if value else None


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")
