"""Messages: one digest MIME-encoded once, then each recipient's bytes spliced from the pieces.

A fresh `EmailMessage` per recipient costs ~2 ms for a 40 KB digest (slower than SMTP itself), so
`prepare_message` encodes the shared message once with quoted-printable bodies and cuts it at the
personal places: the To, Message-ID and List-Unsubscribe header lines and each UNSUBSCRIBE_MARK and
MANAGE_MARK in the bodies. Quoted-printable is what makes the splice safe: each body segment is
encoded on its own and ends in a soft line break, so the recipient's link starts on a fresh encoded
line and no line grows past 76 characters. `build_message` is the slow, obviously-right reference;
the tests prove both give the same message after parsing.
"""

from __future__ import annotations

import hmac
import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email import quoprimime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, parseaddr
from functools import lru_cache

from digest.config import Settings
from digest.headers import display_name, list_unsubscribe_line, to_line
from digest.models import MANAGE_MARK, UNSUBSCRIBE_MARK, RenderedDigest
from digest.text import refuse_controls, single_line
from digest.tokens import manage_url_for

POLICY = email_policy.SMTP  # CRLF line ends, 78-column folding, what smtplib and .eml files want
SAMPLE_FROM = "digest@localhost"
_QP_WIDTH = 75  # body lines at most 75 characters plus the soft-break "="
_BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def sender(settings: Settings) -> Address:
    """DIGEST_FROM as an Address; `digest build` samples fall back to a local placeholder."""
    if settings.from_addr:
        name, addr = parseaddr(settings.from_addr)
        return Address(display_name=single_line(name), addr_spec=addr)
    return Address(display_name=single_line(settings.name), addr_spec=SAMPLE_FROM)


def sender_domain(settings: Settings) -> str:
    return _domain_of(settings.from_addr or "")


@lru_cache(maxsize=8)
def _domain_of(from_addr: str) -> str:
    # Parsing DIGEST_FROM through the email package costs ~30 µs: once per address, not per
    # Message-ID (make_message_id is called per recipient by callers outside the send loop).
    if not from_addr:
        return "localhost"
    return Address(addr_spec=parseaddr(from_addr)[1]).domain or "localhost"


def make_message_id(
    settings: Settings, cadence: str, period: str, subscriber_id: int | None, email: str = ""
) -> str:
    """`<...@sender-domain>`, the same for every try of one (digest, subscriber): a retry after a
    crash re-sends the same id, so receiving systems can drop the duplicate. No subscriber (a test
    copy) gets a random id."""
    return message_id_factory(settings, cadence, period)(subscriber_id, email)


def message_id_factory(settings: Settings, cadence: str, period: str) -> Callable[[int | None, str], str]:
    """make_message_id with the per-digest work (key, domain) done once, for a send loop."""
    domain = sender_domain(settings)
    key = hmac.new((settings.secret_key or settings.name).encode(), f"{cadence}|{period}".encode(), "sha256")

    def make(subscriber_id: int | None, email: str = "") -> str:
        if subscriber_id is None:
            return f"<{cadence}.{period}.test.{uuid.uuid4().hex}@{domain}>"
        mac = key.copy()
        mac.update(f"|{subscriber_id}|{email}".encode())
        return f"<{cadence}.{period}.{subscriber_id}.{mac.hexdigest()[:16]}@{domain}>"

    return make


def list_id(settings: Settings, cadence: str) -> str:
    # The label is a DNS label (at most 63 octets): a long newsletter name cannot stretch the line.
    label = re.sub(r"[^a-z0-9-]+", "-", settings.name.lower())[:40].strip("-") or "digest"
    return f"{display_name(settings.name)} {cadence} <{label}-{cadence}.{sender_domain(settings)}>"


def feedback_id(settings: Settings, rendered: RenderedDigest) -> str:
    """Gmail's Feedback Loop groups complaints by this `campaign:customer:type:sender` value."""
    period = re.sub(r"[^A-Za-z0-9-]+", "-", rendered.period)
    return f"{period}:{rendered.cadence}:digest:{sender_domain(settings)}"


def list_unsubscribe(settings: Settings, url: str) -> str:
    value = f"<{url}>"
    if settings.unsubscribe_mailto:
        value += f", <mailto:{settings.unsubscribe_mailto}?subject=unsubscribe>"
    return value


def _normal_text(body: str) -> str:
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return body if body.endswith("\n") else body + "\n"


def personal_bodies(rendered: RenderedDigest, url: str) -> tuple[str, str]:
    """Text and HTML with the recipient's links in place of the markers (escaped inside HTML): the
    unsubscribe link `url`, and the preferences link with the same token."""
    manage = manage_url_for(url)
    text = _normal_text(rendered.text).replace(UNSUBSCRIBE_MARK, url).replace(MANAGE_MARK, manage)
    page = (
        _normal_text(rendered.html)
        .replace(UNSUBSCRIBE_MARK, html.escape(url, quote=True))
        .replace(MANAGE_MARK, html.escape(manage, quote=True))
    )
    return text, page


def _headers(settings: Settings, rendered: RenderedDigest, now: datetime) -> list[tuple[str, object]]:
    """The shared headers in their order; None marks the personal ones."""
    headers: list[tuple[str, object]] = [
        ("From", sender(settings)),
        ("To", None),
        ("Subject", single_line(rendered.subject)),
        ("Date", format_datetime(now.astimezone(settings.timezone))),
        ("Message-ID", None),
    ]
    if settings.reply_to:
        name, addr = parseaddr(settings.reply_to)
        headers.append(("Reply-To", Address(display_name=single_line(name), addr_spec=addr)))
    headers += [
        ("List-Id", list_id(settings, rendered.cadence)),
        ("List-Unsubscribe", None),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Feedback-ID", feedback_id(settings, rendered)),
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
    ]
    return headers


def build_message(
    settings: Settings,
    rendered: RenderedDigest,
    now: datetime,
    email: str,
    name: str | None,
    unsubscribe_url: str,
    message_id: str,
) -> EmailMessage:
    """One recipient's message the plain, obviously right way: the tests' reference for the splice."""
    personal = {
        "To": Address(display_name=single_line(name), addr_spec=email),
        "Message-ID": message_id,
        "List-Unsubscribe": list_unsubscribe(settings, unsubscribe_url),
    }
    message = EmailMessage(policy=POLICY)
    for key, value in _headers(settings, rendered, now):
        message[key] = personal[key] if value is None else value
    text, page = personal_bodies(rendered, unsubscribe_url)
    message.set_content(text, charset="utf-8")
    message.add_alternative(page, subtype="html", charset="utf-8")
    return message


def _qp(segment: str) -> str:
    """Quoted-printable for UTF-8 text; quoprimime works on code points < 256, hence latin-1."""
    return quoprimime.body_encode(segment.encode("utf-8").decode("latin-1"), _QP_WIDTH, "\r\n")


_MARKS = re.compile(f"({re.escape(UNSUBSCRIBE_MARK)}|{re.escape(MANAGE_MARK)})")


def _qp_segments(body: str, slots: dict[str, str]) -> str:
    """The body encoded once, with `slots[marker]` where each marker was; every segment that does not
    end a line ends in a soft break, so the spliced link always starts an encoded line of its own."""
    parts = _MARKS.split(body)
    pieces = []
    for index, segment in enumerate(parts):
        if index % 2:
            pieces.append(slots[segment])
            continue
        encoded = _qp(segment)
        if segment and not segment.endswith("\n"):
            encoded += "=\r\n"
        pieces.append(encoded)
    return "".join(pieces)


def _qp_url(url: str) -> bytes:
    """The link as quoted-printable lines that each end in a soft break."""
    if url.isascii() and "=" not in url:
        return b"".join(url[i : i + _QP_WIDTH].encode() + b"=\r\n" for i in range(0, len(url), _QP_WIDTH))
    return (_qp(url) + "=\r\n").encode("ascii")


def _text_part(body: str, subtype: str, slots: dict[str, str]) -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(_qp_segments(body, slots))
    return part


@dataclass(frozen=True)
class PreparedMessage:
    """The shared bytes, cut at the personal places. `slots[i]` names what goes after `pieces[i]`.

    Every piece starts a line, because every personal value ends one: that is what lets the
    transport put a spliced message into SMTP DATA form piece by piece (transport.wire_form)."""

    pieces: tuple[bytes, ...]
    slots: tuple[str, ...]
    list_unsubscribe_tail: str

    def personalize(
        self,
        email: str,
        name: str | None,
        subscriber_id: int | None,
        unsubscribe_url: str,
        message_id: str,
    ) -> Personalized:
        """This recipient's message (`.data`: CRLF line ends, ready for SMTP or an .eml file), joined
        only when asked for. `subscriber_id` is accepted for symmetry with the delivery log; the
        personal link already carries it."""
        manage = manage_url_for(unsubscribe_url)
        values = {
            "dkim": b"",
            "to": to_line(email, name),
            "mid": f"Message-ID: {refuse_controls(message_id)}\r\n".encode("ascii"),
            "lu": list_unsubscribe_line(unsubscribe_url, self.list_unsubscribe_tail),
            "text": _qp_url(unsubscribe_url),
            "html": _qp_url(html.escape(unsubscribe_url, quote=True)),
            "mtext": _qp_url(manage),
            "mhtml": _qp_url(html.escape(manage, quote=True)),
        }
        return Personalized(self, values, unsubscribe_url)

    def join(
        self,
        values: dict[str, bytes],
        pieces: tuple[bytes, ...] | None = None,
        value_form: Callable[[bytes], bytes] | None = None,
    ) -> bytes:
        """The pieces with the values between them; a transport passes its own form of both."""
        pieces = pieces or self.pieces
        out = [pieces[0]]
        for slot, piece in zip(self.slots, pieces[1:], strict=True):
            out.append(value_form(values[slot]) if value_form else values[slot])
            out.append(piece)
        return b"".join(out)


@dataclass(frozen=True, slots=True)
class Personalized:
    """One recipient's message: `data` as a file holds it."""

    prepared: PreparedMessage
    values: dict[str, bytes]
    unsubscribe_url: str

    @property
    def data(self) -> bytes:
        return self.prepared.join(self.values)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message on its way, all a transport needs: the envelope, the message and its Message-ID."""

    sender: str
    recipient: str
    message: bytes | Personalized
    message_id: str = ""

    @property
    def data(self) -> bytes:
        return self.message if isinstance(self.message, bytes) else self.message.data


@dataclass(frozen=True)
class Recipient:
    """Who one message is for; no subscriber id means a test copy, outside the list."""

    email: str
    name: str | None = None
    subscriber_id: int | None = None
    locale: str | None = None  # the language of their copy; None: the digest's own
    delivery_id: int | None = None  # the delivery log's row: its VERP tag names it


def envelope_sender(settings: Settings) -> str:
    return settings.bounce_address or parseaddr(settings.from_addr or "")[1]


def prepare_message(settings: Settings, rendered: RenderedDigest, now: datetime) -> PreparedMessage:
    """Encode the digest once for everyone; see the module docstring for why this is safe."""
    nonce = uuid.uuid4().hex
    slot = {name: f"@@{nonce}{name}@@" for name in ("to", "mid", "lu", "text", "html", "mtext", "mhtml")}
    placeholder = {
        "To": f"{nonce}to@slot.invalid",
        "Message-ID": f"<{nonce}mid@slot.invalid>",
        "List-Unsubscribe": f"<{nonce}lu>",
    }
    message = EmailMessage(policy=POLICY)
    for key, value in _headers(settings, rendered, now):
        message[key] = placeholder[key] if value is None else value
    message.make_alternative()
    text, page = _normal_text(rendered.text), _normal_text(rendered.html)
    message.attach(_text_part(text, "plain", {UNSUBSCRIBE_MARK: slot["text"], MANAGE_MARK: slot["mtext"]}))
    message.attach(_text_part(page, "html", {UNSUBSCRIBE_MARK: slot["html"], MANAGE_MARK: slot["mhtml"]}))
    raw = message.as_bytes(policy=POLICY)
    for key, name in (("To", "to"), ("Message-ID", "mid"), ("List-Unsubscribe", "lu")):
        line = f"{key}: {placeholder[key]}\r\n".encode()
        if raw.count(line) != 1:
            raise RuntimeError(f"cannot find the {key} header in the prepared message")
        raw = raw.replace(line, slot[name].encode())
    pattern = re.compile(("(" + "|".join(re.escape(s) for s in slot.values()) + ")").encode())
    parts = pattern.split(raw)
    names = {v.encode(): k for k, v in slot.items()}
    mailto = list_unsubscribe(settings, "x").partition(", ")[2]
    pieces = tuple(parts[0::2])
    if not pieces[-1].endswith(b"\r\n") or any(_BARE_EOL.search(p) for p in pieces):
        raise RuntimeError("the prepared message is not in CRLF form")
    return PreparedMessage(  # the DKIM-Signature, when there is one, goes on top
        pieces=(b"", *pieces),
        slots=("dkim", *(names[s] for s in parts[1::2])),
        list_unsubscribe_tail=mailto,
    )
