"""One digest's messages, each recipient's made from the digest's one encoding (digest.mail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from digest.config import Settings
from digest.dkim import PieceSigner, signer_for
from digest.mail import (
    Outgoing,
    Recipient,
    envelope_sender,
    message_id_factory,
    prepare_message,
    sender_domain,
)
from digest.models import RenderedDigest
from digest.signing import SigningProcess
from digest.tokens import sample_unsubscribe_url
from digest.tokens import unsubscribe_url as signed_unsubscribe_url
from digest.verp import verp_address


class Letters:
    """One digest's messages. The per-digest work (the encoded message, the Message-ID key, the
    sender's domain, the DKIM key and the signature's shared parts) is done once here; `to` makes
    only the personal parts, and signs them when DIGEST_DKIM_PRIVATE_KEY is set. Sends, test
    copies and the samples of `digest build` and the preview all make their messages here."""

    def __init__(
        self, settings: Settings, rendered: RenderedDigest, now: datetime, signing_process: bool = False
    ) -> None:
        self.prepared = prepare_message(settings, rendered, now)
        self.sender = envelope_sender(settings)
        self._bounce_address = settings.bounce_address
        self._message_id = message_id_factory(settings, rendered.cadence, rendered.period)
        self._base_url, self._secret = settings.base_url, settings.secret_key or ""
        signer = signer_for(settings, lambda: sender_domain(settings))
        self.signer = PieceSigner(signer, self.prepared.pieces, self.prepared.slots) if signer else None
        if self.signer is not None and signing_process:  # a send: RSA on another core
            pieces, slots = self.prepared.pieces, self.prepared.slots
            self.signer = SigningProcess(self.signer, settings.dkim_private_key, pieces, slots)
        self._timestamp = int(now.timestamp())

    def close(self) -> None:
        if isinstance(self.signer, SigningProcess):
            self.signer.close()

    def envelope(self, recipient: Recipient) -> str:
        """DIGEST_BOUNCE_ADDRESS in its VERP form for a delivery of the list, else as it is."""
        if self._bounce_address and recipient.delivery_id is not None and self._secret:
            return verp_address(self._bounce_address, self._secret, recipient.delivery_id)
        return self.sender

    def message_id(self, recipient: Recipient) -> str:
        return self._message_id(recipient.subscriber_id, recipient.email)

    def to(self, recipient: Recipient, message_id: str | None = None) -> Outgoing:
        return self.start(recipient, message_id)()

    def start(self, recipient: Recipient, message_id: str | None = None) -> Callable[[], Outgoing]:
        """`to` in two steps: the message is made now and its signature requested; calling the
        result waits for the signature. A send starts the next messages while it waits for replies,
        so the helper process signs them meanwhile instead of holding the send up."""
        if recipient.subscriber_id is None:  # a sample or a test copy: forwarded, it unsubscribes no one
            url = sample_unsubscribe_url(self._base_url)
        else:
            url = signed_unsubscribe_url(self._base_url, self._secret, recipient.subscriber_id)
        mid = message_id or self.message_id(recipient)
        message = self.prepared.personalize(
            recipient.email, recipient.name, recipient.subscriber_id, url, mid
        )
        outgoing = Outgoing(self.envelope(recipient), recipient.email, message, mid)
        if self.signer is None:
            return lambda: outgoing
        signature = self.signer.submit(message.values, self._timestamp)

        def signed_message() -> Outgoing:
            message.values["dkim"] = signature()
            return outgoing

        return signed_message


# What `digest build` and the preview address their sample to: a reader who is not on any list.
SAMPLE_RECIPIENT = Recipient("reader@example.org", "Sample Reader")  # no id: links act on no one
SAMPLE_SECRET = "sample-secret-for-digest-build-only"


def sample_message(settings: Settings, rendered: RenderedDigest, now: datetime) -> Outgoing:
    """The message exactly as a subscriber would get it, for the sample reader; signed with the real
    key when there is one, else a sample key (`digest build` needs none)."""
    signed = replace(settings, secret_key=settings.secret_key or SAMPLE_SECRET)
    return Letters(signed, rendered, now).to(SAMPLE_RECIPIENT)
