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
            self.title, self.summary, self.summary_html or "", self.url or "",
            self.published.isoformat() if self.published else "",
            self.category or "", self.author or "", self.image or "",
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
