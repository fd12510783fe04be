"""What the preview shows of one digest: a sample subscriber's message, its headers, the dark view.

The sample is built by the same code a send uses (digest.mail), so the headers and parts on screen
are the ones a subscriber gets; only the address and the unsubscribe token are made up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy

from digest.config import Settings
from digest.letters import sample_message
from digest.mail import personal_bodies
from digest.models import RenderedDigest

PERSONAL_HEADERS = ("To", "Message-ID", "List-Unsubscribe")


@dataclass(frozen=True)
class Sample:
    """One digest as the sample subscriber receives it."""

    rendered: RenderedDigest
    unsubscribe_url: str
    html: str
    text: str
    message: bytes

    def headers(self) -> list[tuple[str, str, bool]]:
        """(name, decoded value, personal?) in message order."""
        parsed = message_from_bytes(self.message, policy=policy.default)
        return [(name, str(value), name in PERSONAL_HEADERS) for name, value in parsed.items()]

    def raw_headers(self) -> str:
        head = self.message.split(b"\r\n\r\n", 1)[0]
        return head.decode("ascii", "replace").replace("\r\n", "\n")


def build_sample(settings: Settings, rendered: RenderedDigest, now: datetime) -> Sample:
    """The message `digest build` writes to its .eml, so both show the same."""
    outgoing = sample_message(settings, rendered, now)
    url = outgoing.message.unsubscribe_url
    text, page = personal_bodies(rendered, url)
    return Sample(
        rendered=rendered,
        unsubscribe_url=url,
        html=page,
        text=text,
        message=outgoing.data,
    )


_DARK_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*dark\s*\)", re.I)
_LIGHT_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*light\s*\)", re.I)
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.I)
_DARK_META = (
    '<meta name="color-scheme" content="dark"><meta name="supported-color-schemes" content="dark">'
    "<style>:root { color-scheme: dark !important; }</style>"
)


_LIGHT_META = (
    '<meta name="color-scheme" content="light"><meta name="supported-color-schemes" content="light">'
    "<style>:root { color-scheme: light !important; }</style>"
)


def force_light(page: str) -> str:
    """The page as a mail app in light mode shows it, whatever the organizer's own system prefers:
    the Desktop and Phone views are the light mail, only the Dark view is the dark one."""
    page = _DARK_QUERY.sub("(max-width: -1px)", page)
    page = _LIGHT_QUERY.sub("(min-width: 0px)", page)
    if _HEAD.search(page):
        return _HEAD.sub(lambda m: m[0] + _LIGHT_META, page, count=1)
    return _LIGHT_META + page


def force_dark(page: str) -> str:
    """The page as a mail app in dark mode shows it.

    A browser cannot be told to prefer dark inside one iframe, so the dark media queries are made
    always true (and the light ones never) and the page declares a dark colour scheme.
    """
    page = _DARK_QUERY.sub("(min-width: 0px)", page)
    page = _LIGHT_QUERY.sub("(max-width: -1px)", page)
    if _HEAD.search(page):
        return _HEAD.sub(lambda m: m[0] + _DARK_META, page, count=1)
    return _DARK_META + page
