"""The plain-text format of `seeds/`.

    Title line

    Date: 2023-11-06            (optional metadata paragraph: Date, URL, Category, Author, Image, GUID)
    URL: https://example.org/a

    One summary paragraph.

Blocks are separated by blank lines; a title, optional metadata, then a summary, repeated.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from digest.models import Item
from digest.periods import parse_date
from digest.text import clean_text, safe_url, single_line

_META = re.compile(r"^(date|url|category|author|image|guid):\s*(.*)$", re.IGNORECASE)


def _paragraphs(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each blank-line separated paragraph."""
    found: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line.rstrip())
        elif current:
            found.append((start, current))
            current = []
    if current:
        found.append((start, current))
    return found


def _is_meta(lines: list[str]) -> bool:
    return all(_META.match(line.strip()) for line in lines)


def _meta(lines: list[str], line_number: int, tz: ZoneInfo) -> dict:
    fields: dict = {}
    for offset, line in enumerate(lines):
        key, value = _META.match(line.strip()).groups()
        key = key.lower()
        if key == "date":
            try:
                fields["published"] = parse_date(value, tz)
            except ValueError as exc:
                raise ValueError(f"line {line_number + offset}: {exc}") from None
        elif key in ("url", "image"):
            fields[key] = safe_url(value)
            if fields[key] is None:
                raise ValueError(f"line {line_number + offset}: {key} must be an http(s) URL")
        else:
            fields[key] = single_line(value) or None
    return fields


def read_text(text: str, source: str, tz: ZoneInfo) -> list[Item]:
    paragraphs = _paragraphs(text)
    found: list[Item] = []
    index = 0
    while index < len(paragraphs):
        line_number, title_lines = paragraphs[index]
        if len(title_lines) != 1 and not _is_meta(title_lines[1:]):
            raise ValueError(f"line {line_number}: expected a one-line title, found a paragraph")
        fields = _meta(title_lines[1:], line_number + 1, tz)
        index += 1
        if index < len(paragraphs) and _is_meta(paragraphs[index][1]):
            fields.update(_meta(paragraphs[index][1], paragraphs[index][0], tz))
            index += 1
        if index >= len(paragraphs):
            raise ValueError(f"line {line_number}: title {title_lines[0].strip()!r} has no summary")
        summary = clean_text("\n".join(paragraphs[index][1]))
        index += 1
        found.append(Item(title=single_line(title_lines[0]), summary=summary, source=source, **fields))
    if not found:
        raise ValueError("no items found (expected a title line, a blank line, a summary)")
    return found
