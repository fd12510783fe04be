"""JSON (a list of item objects, or a JSON Feed) and CSV (a header row): both are records of fields.

Field names are matched case-insensitively with a few common aliases, so exports from other tools
load without editing.
"""

from __future__ import annotations

import csv
import io
import json
from zoneinfo import ZoneInfo

from digest.models import Item
from digest.periods import parse_date
from digest.text import clean_text, html_to_text, safe_url, sanitize_html, single_line

_ALIASES = {
    "title": ("title", "name", "headline"),
    "summary": ("summary", "description", "content_text", "excerpt", "body", "text"),
    "html": ("summary_html", "content_html", "html"),
    "url": ("url", "link", "href", "external_url"),
    "published": ("published", "date", "date_published", "pubdate", "published_at", "created_at"),
    "category": ("category", "section", "tag"),
    "author": ("author", "by", "creator"),
    "image": ("image", "image_url", "banner_image", "thumbnail"),
    "guid": ("guid", "id", "uid"),
}


def _lowered(record: dict) -> dict:
    """Field names as _pick looks them up; built once per record, not once per field."""
    return {str(k).strip().lower(): v for k, v in record.items()}


def _pick(lowered: dict, field: str) -> str | None:
    for alias in _ALIASES[field]:
        value = lowered.get(alias)
        if isinstance(value, dict):  # JSON Feed: "author": {"name": ...}
            value = value.get("name")
        if isinstance(value, list):  # "tags": [...] style
            value = value[0] if value else None
        if value not in (None, ""):
            return str(value)
    return None


def item_from_record(record: dict, source: str, tz: ZoneInfo) -> Item:
    record = _lowered(record)
    title = single_line(_pick(record, "title"))
    if not title:
        raise ValueError("has no title")
    raw_html = _pick(record, "html")
    summary_html = sanitize_html(raw_html) if raw_html else None
    summary = clean_text(_pick(record, "summary") or (html_to_text(summary_html) if summary_html else ""))
    return Item(
        title=title,
        summary=summary,
        summary_html=summary_html or None,
        url=safe_url(_pick(record, "url")),
        published=parse_date(_pick(record, "published"), tz),
        category=single_line(_pick(record, "category")) or None,
        author=single_line(_pick(record, "author")) or None,
        image=safe_url(_pick(record, "image")),
        guid=single_line(_pick(record, "guid")) or None,
        source=source,
    )


def read_json(text: str, source: str, tz: ZoneInfo) -> list[Item]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise ValueError("JSON must be a list of item objects (or an object with an 'items' list)")
    found = []
    for number in range(1, len(data) + 1):
        # Each record is dropped once it is an Item: a large export is never held twice over.
        record, data[number - 1] = data[number - 1], None
        if not isinstance(record, dict):
            raise ValueError(f"item {number} is not an object")
        try:
            found.append(item_from_record(record, source, tz))
        except ValueError as exc:
            raise ValueError(f"item {number} {exc}") from None
    if not found:
        raise ValueError("the JSON list holds no items")
    return found


def read_csv(text: str, source: str, tz: ZoneInfo) -> list[Item]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [str(name).strip().lower() for name in reader.fieldnames or []]
    except csv.Error as exc:
        raise ValueError(f"malformed CSV header: {exc}") from None
    if not any(name in _ALIASES["title"] for name in header):
        raise ValueError("CSV has no 'title' column in its header row")
    found = []
    try:
        for record in reader:
            if None in record:
                raise ValueError(f"line {reader.line_num}: more fields than the header has")
            if not any((value or "").strip() for value in record.values()):
                continue
            try:
                found.append(item_from_record(record, source, tz))
            except ValueError as exc:
                raise ValueError(f"line {reader.line_num}: row {exc}") from None
    except csv.Error as exc:
        raise ValueError(f"malformed CSV at line {reader.line_num}: {exc}") from None
    if not found:
        raise ValueError("the CSV holds no rows")
    return found
