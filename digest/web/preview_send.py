"""Send a test copy of one digest to one address, through the configured transport.

The work is `digest send --to`'s (digest.send.send_test_copy): the same message a subscriber gets,
addressed to the organizer, outside the list and the delivery log. This module only turns its
outcome into one sentence for the page.
"""

from __future__ import annotations

from digest.errors import DigestError
from digest.web.preview_state import Preview


def send_test_copy(preview: Preview, cadence: str, key: str, address: str) -> tuple[bool, str]:
    """(ok, what happened) for the page; every failure is a message, never an exception."""
    from digest.compose import current_digest
    from digest.send import send_test_copy as send_copy
    from digest.subscribers import normalize_email
    from digest.transport import describe_transport, open_transport

    try:
        if not address:
            raise DigestError("enter an email address")
        try:
            email = normalize_email(address)
        except ValueError as exc:
            raise DigestError(str(exc)) from None
        settings = preview.settings()
        period = preview.period(settings, cadence, key)
        transport = open_transport(settings)
        settings.require("from_addr", "secret_key", purpose="digest send --to")
        now = preview.clock()
        _, rendered = current_digest(settings, preview.engine(settings), cadence, period, now)
        message_id = send_copy(settings, rendered, now, email, transport)
    except DigestError as exc:
        return False, str(exc)
    except Exception as exc:  # a transport failure is news for the organizer, not a crash
        return False, f"sending failed: {exc.__class__.__name__}: {exc}"
    where = describe_transport(transport)
    return True, f"Sent a test copy of {cadence} {key} to {email} through {where} (Message-ID {message_id})."
