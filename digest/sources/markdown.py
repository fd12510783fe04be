"""Markdown posts with YAML front matter: one item per file.

---
title: A post
date: 2023-11-06
url: https://example.org/a-post
category: News
---
The body, in Markdown; its first paragraph is the summary unless front matter gives `summary`.
A file without front matter takes its first `# heading` as the title.

Front matter is untrusted YAML: it is size-limited and loaded without aliases, since PyYAML's safe
loader still expands them (a 400-byte alias bomb grows to gigabytes).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import yaml
from markdown_it import MarkdownIt

from digest.models import Item
from digest.periods import DateOutOfRange, check_date, parse_date
from digest.sources.found import Found
from digest.text import clean_text, html_to_text, safe_url, sanitize_html, single_line

# "commonmark" with html=False: raw HTML in a post is shown as text, never passed through.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})
MAX_FRONT_MATTER = 64 * 1024
_HEADING = re.compile(r"^ {0,3}#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (`*name`) instead of expanding them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in front matter", event.start_mark
            )
        return super().compose_node(parent, index)


def _load_yaml(text: str) -> dict:
    if len(text) > MAX_FRONT_MATTER:
        raise ValueError(f"front matter is larger than {MAX_FRONT_MATTER // 1024} KB; refused")
    try:
        meta = yaml.load(text, Loader=_NoAliasLoader) or {}  # a SafeLoader: no Python objects
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML front matter: {_yaml_problem(exc)}") from None
    if not isinstance(meta, dict):
        raise ValueError("front matter must be a mapping of keys to values")
    return meta


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is None or not problem:
        return single_line(str(exc))[:200]
    return f"line {mark.line + 2}: {problem}"  # + 1 for counting from 1, + 1 for the opening '---'


def _split_front_matter(text: str) -> tuple[dict, str]:
    text = text.lstrip("\ufeff")
    if not re.match(r"---[ \t]*\r?\n", text):
        return _title_from_heading(text)
    lines = text.splitlines()
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise ValueError("front matter is not closed by a line '---'") from None
    return _load_yaml("\n".join(lines[1:end])), "\n".join(lines[end + 1 :])


def _title_from_heading(text: str) -> tuple[dict, str]:
    heading = _HEADING.search(text)
    if not heading:
        raise ValueError("no YAML front matter and no '# heading' to take the title from")
    title = html_to_text(_MARKDOWN.renderInline(heading.group(1)))
    return {"title": title}, text[: heading.start()] + text[heading.end() :]


def _date(value: object, tz: ZoneInfo) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return check_date(value if value.tzinfo else value.replace(tzinfo=tz))
    if isinstance(value, dt.date):
        return check_date(dt.datetime.combine(value, dt.time(0), tzinfo=tz))
    return parse_date(str(value) if value is not None else None, tz)


def _summary_markdown(meta: dict, body: str) -> str:
    if meta.get("summary"):
        return str(meta["summary"])
    paragraphs = [p for p in body.strip().split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    return paragraphs[0] if paragraphs else ""


def read_markdown(text: str, source: str, tz: ZoneInfo, base: str | None = None) -> Found:
    meta, body = _split_front_matter(text)
    title = single_line(str(meta.get("title") or ""))
    if not title:
        raise ValueError("front matter has no title")
    try:
        published = _date(meta.get("date") or meta.get("published"), tz)
    except DateOutOfRange as exc:
        return Found(warnings=[f"post {title[:60]!r} refused: {exc}"])
    return Found([_item(meta, body, title, published, source, base)])


def _item(meta: dict, body: str, title: str, published, source: str, base: str | None) -> Item:
    summary_html = sanitize_html(_MARKDOWN.render(_summary_markdown(meta, body)), base)
    tags = meta.get("tags") or meta.get("categories")
    category = meta.get("category") or (tags[0] if isinstance(tags, list) and tags else None)
    return Item(
        title=title,
        summary=clean_text(html_to_text(summary_html)),
        summary_html=summary_html or None,
        url=safe_url(str(meta.get("url") or meta.get("link") or ""), base),
        published=published,
        category=single_line(str(category)) if category else None,
        author=single_line(str(meta.get("author") or "")) or None,
        image=safe_url(str(meta.get("image") or ""), base),
        guid=single_line(str(meta.get("guid") or meta.get("id") or "")) or None,
        source=source,
    )
