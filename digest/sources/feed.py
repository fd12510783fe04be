"""RSS 2.0 and Atom, parsed by feedparser from bytes we fetched ourselves.

feedparser is never given a path or URL: it would open either on its own, with none of our checks.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import feedparser

from digest.models import Item
from digest.text import clean_text, html_to_text, safe_url, sanitize_html, single_line

# feedparser's "bozo" flags these for feeds that parse fine; anything else means broken XML.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def _published(entry) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def _summary_html(entry) -> str:
    if entry.get("summary"):
        return entry["summary"]
    content = entry.get("content") or []
    return content[0].get("value", "") if content else ""


def _image(entry) -> str | None:
    for media in entry.get("media_content", []) + entry.get("media_thumbnail", []):
        if url := safe_url(media.get("url")):
            return url
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return safe_url(link.get("href"))
    return None


def _entry_to_item(entry, source: str) -> Item:
    html = sanitize_html(_summary_html(entry))
    tags = entry.get("tags") or []
    category = tags[0].get("term") if tags else None
    return Item(
        title=single_line(html_to_text(entry.get("title", ""))) or "(untitled)",
        summary=clean_text(html_to_text(html)),
        summary_html=html or None,
        url=safe_url(entry.get("link")),
        published=_published(entry),
        category=single_line(category) or None,
        author=single_line(entry.get("author")) or None,
        image=_image(entry),
        guid=single_line(entry.get("id")) or None,
        source=source,
    )


def read_feed(data: bytes, source: str, tz: ZoneInfo) -> list[Item]:
    parsed = feedparser.parse(data, resolve_relative_uris=False, sanitize_html=True)
    if not parsed.version:
        raise ValueError("not an RSS or Atom feed")
    if parsed.bozo and not isinstance(parsed.bozo_exception, _HARMLESS):
        reason = str(parsed.bozo_exception).splitlines()[0] if parsed.bozo_exception else "unknown"
        raise ValueError(f"broken feed XML: {reason}")
    return [_entry_to_item(entry, source) for entry in parsed.entries]
