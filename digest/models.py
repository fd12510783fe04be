"""Plain data that flows between the stages: no database, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime


@dataclass(frozen=True)
class Item:
    """One piece of content. `summary` is plain text; `summary_html`, when set, is sanitized HTML."""

    title: str
    summary: str = ""
    summary_html: str | None = None
    url: str | None = None
    published: datetime | None = None
    category: str | None = None
    author: str | None = None
    image: str | None = None
    source: str = ""
    guid: str | None = None
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", item_id(self))
        if self.published is not None and self.published.tzinfo is None:
            raise ValueError("Item.published must be time-zone aware")

    def with_changes(self, **changes: object) -> Item:
        return replace(self, **changes)

    def content_hash(self) -> str:
        """What ingest compares to tell an updated entry from an unchanged one."""
        parts = [
            self.title,
            self.summary,
            self.summary_html or "",
            self.url or "",
            self.published.isoformat() if self.published else "",
            self.category or "",
            self.author or "",
            self.image or "",
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def item_id(item: Item) -> str:
    """Stable across sources and re-ingests: the guid, else the url, else the title and summary."""
    if item.guid:
        key = "guid:" + item.guid.strip()
    elif item.url:
        key = "url:" + item.url.strip()
    else:
        key = "text:" + item.title.strip() + "\x1f" + item.summary.strip()
    return hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class RenderedDigest:
    """One digest rendered once, for everyone: personal parts are still UNSUBSCRIBE_MARK markers.

    `html` and `text` are complete documents; mail.py splices each recipient's link in cheaply.
    """

    cadence: str
    period: str
    subject: str
    preheader: str
    html: str
    text: str
    item_count: int
    mjml: str = ""


# The one personal part of a digest body. Render writes this marker wherever the recipient's
# unsubscribe URL goes; mail.py replaces it per recipient and the archive replaces it with a neutral
# link. Render removes the marker from item text, so content cannot forge it.
UNSUBSCRIBE_MARK = "https://digest.invalid/unsubscribe-mark"
# The same for the recipient's preferences page (/manage/TOKEN), linked next to unsubscribe.
MANAGE_MARK = "https://digest.invalid/manage-mark"
PERSONAL_MARKS = (UNSUBSCRIBE_MARK, MANAGE_MARK)


@dataclass(frozen=True)
class StoredDigest:
    """A digest as the store keeps it: the unit of a send (every run and recipient gets these bytes).
    `status` is "sending" once deliveries may be queued, "sent" when none is owed any more."""

    id: int
    status: str
    rendered: RenderedDigest


@dataclass(frozen=True)
class Claimed:
    """One delivery row a send run has claimed: who gets the digest."""

    id: int
    subscriber_id: int
    email: str
    name: str | None
    attempts: int


@dataclass(frozen=True)
class OtherClaim:
    """Rows of one digest held by another run: its owner id and its oldest claim."""

    claimed_by: str | None
    since: datetime | None
