"""Markdown posts with YAML front matter: one item per file.

---
title: A post
date: 2023-11-06
url: https://example.org/a-post
category: News
---
The body, in Markdown; its first paragraph is the summary unless front matter gives `summary`.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import yaml
from markdown_it import MarkdownIt

from digest.models import Item
from digest.periods import parse_date
from digest.text import clean_text, html_to_text, safe_url, sanitize_html, single_line

# "commonmark" with html=False: raw HTML in a post is shown as text, never passed through.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})


def _split_front_matter(text: str) -> tuple[dict, str]:
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError("no YAML front matter (the file must start with a line '---')")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise ValueError("front matter is not closed by a line '---'") from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML front matter: {str(exc).splitlines()[0]}") from None
    if not isinstance(meta, dict):
        raise ValueError("front matter must be a mapping of keys to values")
    return meta, "\n".join(lines[end + 1 :])


def _date(value: object, tz: ZoneInfo) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=tz)
    return parse_date(str(value) if value is not None else None, tz)


def _summary_markdown(meta: dict, body: str) -> str:
    if meta.get("summary"):
        return str(meta["summary"])
    paragraphs = [p for p in body.strip().split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    return paragraphs[0] if paragraphs else ""


def read_markdown(text: str, source: str, tz: ZoneInfo) -> list[Item]:
    meta, body = _split_front_matter(text)
    title = single_line(str(meta.get("title") or ""))
    if not title:
        raise ValueError("front matter has no title")
    summary_html = sanitize_html(_MARKDOWN.render(_summary_markdown(meta, body)))
    tags = meta.get("tags") or meta.get("categories")
    category = meta.get("category") or (tags[0] if isinstance(tags, list) and tags else None)
    return [
        Item(
            title=title,
            summary=clean_text(html_to_text(summary_html)),
            summary_html=summary_html or None,
            url=safe_url(str(meta.get("url") or meta.get("link") or "")),
            published=_date(meta.get("date") or meta.get("published"), tz),
            category=single_line(str(category)) if category else None,
            author=single_line(str(meta.get("author") or "")) or None,
            image=safe_url(str(meta.get("image") or "")),
            guid=single_line(str(meta.get("guid") or meta.get("id") or "")) or None,
            source=source,
        )
    ]
