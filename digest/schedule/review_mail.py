"""Mails to the reviewers: the review copy of an edition, and the notice that a send waits.

The review copy is the digest exactly as subscribers would get it now (the edition applied), with a
banner on top naming the send time and linking to the edition in the preview
(DIGEST_PREVIEW_URL/digest/CADENCE/PERIOD?view=edition). It goes outside the list and the log, like a
test copy.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from html import escape

from sqlalchemy import Engine

from digest.config import Settings
from digest.errors import DigestError
from digest.letters import Letters
from digest.mail import POLICY, Outgoing, Recipient, make_message_id, sender
from digest.models import RenderedDigest
from digest.periods import Period
from digest.transport import DeliveryError, open_transport

_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def edition_url(settings: Settings, period: Period) -> str:
    return f"{settings.preview_url}/digest/{period.cadence}/{period.key}?view=edition"


def _when(settings: Settings, fire: datetime) -> str:
    return fire.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M %Z")


def banner_lines(settings: Settings, period: Period, fire: datetime) -> list[str]:
    waits = (
        "It is not sent until it is approved."
        if settings.require_approval
        else "It goes out as it is unless it is held."
    )
    return [
        f"Review copy: the {period.cadence} digest {period.key} goes out at {_when(settings, fire)}.",
        waits,
        f"Edit, approve or hold it: {edition_url(settings, period)}",
    ]


def with_banner(rendered: RenderedDigest, lines: list[str], url: str) -> RenderedDigest:
    """The digest with the review banner on top of both parts, and a subject that says so."""
    words = " ".join(escape(line) for line in lines[:-1])
    html_banner = (
        '<div style="background:#fff8e5;border-bottom:2px solid #e7cf8f;color:#1f2328;'
        'padding:14px 18px;font:15px/1.5 -apple-system,Segoe UI,Helvetica,Arial,sans-serif">'
        f'{words} <a href="{escape(url)}" style="color:#9a6700;font-weight:600">'
        "Open it in the preview</a></div>"
    )
    found = _BODY_OPEN.search(rendered.html)
    at = found.end() if found else 0
    html = rendered.html[:at] + html_banner + rendered.html[at:]
    text = "\n".join(lines) + "\n\n" + "-" * 78 + "\n\n" + rendered.text
    return replace(rendered, subject=f"[Review] {rendered.subject}", html=html, text=text)


def send_review_copy(
    settings: Settings, engine: Engine, period: Period, fire: datetime, now: datetime
) -> list[str]:
    """Mail the review copy to every reviewer; returns who got it. Raises DigestError."""
    from digest.compose import render_period
    from digest.review import show

    if show(settings, engine, period).edition.state in ("sending", "sent"):
        return []
    if not settings.reviewers:
        return []
    settings.require("from_addr", "secret_key", purpose="review copies")
    rendered = render_period(settings, engine, period.cadence, period, now)
    review = with_banner(rendered, banner_lines(settings, period, fire), edition_url(settings, period))
    letters = Letters(settings, review, now)
    return _deliver(settings, [letters.to(Recipient(reviewer)) for reviewer in settings.reviewers])


def send_waiting_notice(
    settings: Settings, period: Period, fire: datetime, why: str, now: datetime
) -> list[str]:
    """Tell the reviewers that a scheduled send did not go, and how to release it."""
    if not settings.reviewers or not settings.from_addr:
        return []
    envelope = parseaddr(settings.from_addr)[1]
    messages = []
    for reviewer in settings.reviewers:
        message = EmailMessage(policy=POLICY)
        message["From"] = sender(settings)
        message["To"] = reviewer
        message["Subject"] = f"Not sent: {settings.name} {period.cadence} {period.key} is waiting"
        message["Date"] = format_datetime(now.astimezone(settings.timezone))
        mid = make_message_id(settings, period.cadence, period.key, None)
        message["Message-ID"] = mid
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(
            f"The {period.cadence} digest {period.key} was due at {_when(settings, fire)} and was not sent:\n"
            f"{why}.\n\nApprove it (or release the hold) and the scheduler sends it at its next tick,\n"
            f"if that is within DIGEST_CATCHUP_HOURS={settings.catchup_hours:g} of the due time:\n\n"
            f"  {edition_url(settings, period)}\n"
            f"  digest edition approve --cadence {period.cadence} --period {period.key}\n"
        )
        messages.append(Outgoing(envelope, reviewer, message.as_bytes(), mid))
    return _deliver(settings, messages)


def _deliver(settings: Settings, messages: list[Outgoing]) -> list[str]:
    connection = open_transport(settings).connect()
    delivered = []
    try:
        for outgoing in messages:
            try:
                connection.send(outgoing)
            except DeliveryError as exc:
                raise DigestError(f"mail to reviewer {outgoing.recipient} failed: {exc.reason}") from None
            delivered.append(outgoing.recipient)
    finally:
        connection.close()
    return delivered
