"""`digest send --to` and the preview's send test: one copy, outside the list and the log."""

from __future__ import annotations

from datetime import datetime

from digest.config import Settings
from digest.errors import DigestError
from digest.letters import Letters
from digest.mail import Recipient
from digest.models import RenderedDigest
from digest.subscribers import normalize_email
from digest.transport import DeliveryError, Transport, open_transport


def send_test_copy(
    settings: Settings,
    rendered: RenderedDigest,
    now: datetime,
    to: str,
    transport: Transport | None = None,
) -> str:
    """The message a subscriber gets, addressed to `to`; returns its Message-ID."""
    settings.require("from_addr", "secret_key", purpose="digest send --to")
    try:
        email = normalize_email(to)
    except ValueError as exc:
        raise DigestError(str(exc)) from None
    outgoing = Letters(settings, rendered, now).to(Recipient(email))
    connection = (transport or open_transport(settings)).connect()
    try:
        connection.send(outgoing)
    except DeliveryError as exc:
        raise DigestError(f"test copy to {email} failed: {exc.reason}") from None
    finally:
        connection.close()
    return outgoing.message_id
