"""JSON (a list of item objects, or a JSON Feed) and CSV (a header row): both are records of fields.

Field names are matched case-insensitively with a few common aliases, so exports from other tools
load without editing. A JSON Feed (https://jsonfeed.org/version/1.1) is read per its spec: `title` is
optional, `content_html`/`content_text` hold the body, relative URLs resolve against `home_page_url`.
"""

from __future__ import annotations

import csv
import io
import json
from zoneinfo import ZoneInfo

from digest.models import Item
from digest.periods import DateOutOfRange, parse_date
from digest.sources.found import Found
from digest.text import clean_text, html_to_text, safe_url, sanitize_html, single_line, title_from_text

_ALIASES = {
    "title": ("title", "name", "headline"),
    "summary": ("summary", "description", "content_text", "excerpt", "body", "text"),
    "html": ("summary_html", "content_html", "html"),
    "url": ("url", "link", "href", "external_url"),
    "published": ("published", "date", "date_published", "pubdate", "published_at", "created_at"),
    "category": ("category", "section", "tag", "tags"),
    "author": ("author", "authors", "by", "creator"),
    "image": ("image", "image_url", "banner_image", "thumbnail"),
    "guid": ("guid", "id", "uid"),
}


def _lowered(record: dict) -> dict:
    """Field names as _pick looks them up; built once per record, not once per field."""
    return {str(k).strip().lower(): v for k, v in record.items()}


def _pick(lowered: dict, field: str) -> str | None:
    for alias in _ALIASES[field]:
        value = lowered.get(alias)
        if isinstance(value, list):  # "tags": [...], JSON Feed 1.1 "authors": [{...}]
            value = value[0] if value else None
        if isinstance(value, dict):  # JSON Feed: "author": {"name": ...}
            value = value.get("name")
        if value not in (None, "") and not isinstance(value, list | dict):
            return str(value)
    return None


def item_from_record(
    record: dict, source: str, tz: ZoneInfo, base: str | None = None, title_optional: bool = False
) -> Item:
    """One item; a JSON Feed item (`title_optional`) without a title gets its text's first words."""
    record = _lowered(record)
    raw_html = _pick(record, "html")
    summary_html = sanitize_html(raw_html, base) if raw_html else None
    summary = clean_text(_pick(record, "summary") or (html_to_text(summary_html) if summary_html else ""))
    title = single_line(_pick(record, "title"))
    if not title and title_optional:
        title = title_from_text(summary) or "(untitled)"
    if not title:
        raise ValueError("has no title")
    return Item(
        title=title,
        summary=summary,
        summary_html=summary_html or None,
        url=safe_url(_pick(record, "url"), base),
        published=parse_date(_pick(record, "published"), tz),
        category=single_line(_pick(record, "category")) or None,
        author=single_line(_pick(record, "author")) or None,
        image=safe_url(_pick(record, "image"), base),
        guid=single_line(_pick(record, "guid")) or None,
        source=source,
    )


def _named(record: dict) -> str:
    title = single_line(_pick(_lowered(record), "title"))
    return f" ({title[:60]!r})" if title else ""


def _records_of(data: object) -> tuple[list, bool, str | None]:
    """(records, is a JSON Feed, base URL for its relative links)."""
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        is_feed = "jsonfeed.org/version/" in str(data.get("version", ""))
        base = safe_url(str(data.get("home_page_url") or data.get("feed_url") or "")) if is_feed else None
        return data["items"], is_feed, base
    if isinstance(data, list):
        return data, False, None
    raise ValueError("JSON must be a list of item objects (or an object with an 'items' list)")


def read_json(text: str, source: str, tz: ZoneInfo, base: str | None = None) -> Found:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        # json's C decoder stops at the interpreter's recursion limit (about 1,000 levels), at once and
        # without memory growth; no real export nests more than a few levels. Nothing below recurses.
        raise ValueError("JSON nested too deeply (more than about 1,000 levels); refused") from None
    records, is_feed, feed_base = _records_of(data)
    found = Found()
    for number in range(1, len(records) + 1):
        # Each record is dropped once it is an Item: a large export is never held twice over.
        record, records[number - 1] = records[number - 1], None
        if not isinstance(record, dict):
            raise ValueError(f"item {number} is not an object")
        try:
            found.items.append(item_from_record(record, source, tz, base or feed_base, is_feed))
        except DateOutOfRange as exc:
            found.warn(f"item {number}{_named(record)} refused: {exc}")
        except ValueError as exc:
            raise ValueError(f"item {number} {exc}") from None
    if not found.items and not found.warnings:
        raise ValueError("the JSON list holds no items")
    return found


def read_csv(text: str, source: str, tz: ZoneInfo, base: str | None = None) -> Found:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [str(name).strip().lower() for name in reader.fieldnames or []]
    except csv.Error as exc:
        raise ValueError(f"malformed CSV header: {exc}") from None
    if "email" in header and not any(name in ("title", "headline") for name in header):
        # `name` is an alias of title, so a subscriber list would become news items.
        raise ValueError(
            "CSV has an 'email' column and no 'title': a subscriber list? "
            "use `digest subscribers import FILE.csv`"
        )
    if not any(name in _ALIASES["title"] for name in header):
        raise ValueError("CSV has no 'title' column in its header row")
    found = Found()
    try:
        for record in reader:
            if None in record:
                raise ValueError(f"line {reader.line_num}: more fields than the header has")
            if not any((value or "").strip() for value in record.values()):
                continue
            try:
                found.items.append(item_from_record(record, source, tz, base))
            except DateOutOfRange as exc:
                found.warn(f"line {reader.line_num}: row{_named(record)} refused: {exc}")
            except ValueError as exc:
                raise ValueError(f"line {reader.line_num}: row {exc}") from None
    except csv.Error as exc:
        raise ValueError(f"malformed CSV at line {reader.line_num}: {exc}") from None
    if not found.items and not found.warnings:
        raise ValueError("the CSV holds no rows")
    return found
