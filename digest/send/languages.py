"""Each reader's copy in their own language: one set of messages per language, not per reader."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from digest.config import Settings
from digest.letters import Letters
from digest.mail import Outgoing, Recipient
from digest.models import RenderedDigest


class LettersByLanguage:
    """A digest's messages in every language its readers speak: each recipient gets the rendering
    of their own locale (the default one when theirs is missing). The Message-ID does not depend
    on the language, so a retry in another language is still the same message."""

    def __init__(
        self,
        settings: Settings,
        renderings: Mapping[str, RenderedDigest],
        default: str,
        now: datetime,
        signing_process: bool = False,
    ):
        self.letters = {
            lang: Letters(settings, rendered, now, signing_process) for lang, rendered in renderings.items()
        }
        self.default = self.letters[default]

    def close(self) -> None:
        for letters in self.letters.values():
            letters.close()

    def message_id(self, recipient: Recipient) -> str:
        return self.default.message_id(recipient)

    def to(self, recipient: Recipient, message_id: str | None = None) -> Outgoing:
        return self.start(recipient, message_id)()

    def start(self, recipient: Recipient, message_id: str | None = None) -> Callable[[], Outgoing]:
        return self.letters.get(recipient.locale or "", self.default).start(recipient, message_id)
