"""One context object per digest: everything the HTML and text templates show, already cleaned.

Templates stay dumb: every value here is single-line (titles, names) or split into paragraphs,
links are http(s) or absent, sanitized HTML is marked safe and nothing else is. The unsubscribe
URL is a per-render placeholder that render/__init__.py turns into UNSUBSCRIBE_MARK at the very
end, after removing any copy of the marker that item content smuggled in.

Store contents are untrusted, so every value is cleaned again here (digest.text), cheaply: items
were cleaned at ingest, and the cleaners return clean text after one regex search.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from digest.config import Settings
from digest.editions import Edition
from digest.models import PERSONAL_MARKS, Item
from digest.periods import Period, describe
from digest.render.colors import theme
from digest.render.intro import render_intro
from digest.text import clean_text, html_to_text, safe_url, sanitize_html, single_line
from digest.tokens import archive_url

SUMMARY_CHARS = 600  # a digest teases; the full text is one click away
TITLE_CHARS = 300
PREHEADER_CHARS = 140
OTHER = "Other"
_EMPTY_HREF = re.compile(r'\shref=""')
# A link whose target the sanitizer dropped (javascript:, a forged marker): keep only its text.
_BARE_ANCHOR = re.compile(r"<a\b(?![^>]*\shref=)[^>]*>(.*?)</a>", re.DOTALL)
# The host of a URL that safe_url accepted (scheme://, no white space): after any user@, before :port.
_NETLOC = re.compile(r"[^:/?#]+://([^/?#]*)")


@dataclass(frozen=True)
class ItemView:
    number: int  # its link's number in the text part's list; 0 when it has no link
    title: str
    url: str | None
    host: str | None
    date_iso: str
    author: str | None
    paragraphs: tuple[str, ...]
    summary_html: Markup | None


@dataclass(frozen=True)
class Section:
    title: str | None
    items: tuple[ItemView, ...]


@dataclass(frozen=True)
class DigestContext:
    lang: str
    name: str
    cadence: str
    period_key: str
    period_words: str
    subject: str
    preheader: str
    intro: str
    note_html: Markup | None  # the organizer's intro (sanitized), when the edition has one
    note_paragraphs: tuple[str, ...]  # the same intro for the text part
    sections: tuple[Section, ...]
    item_count: int
    shown_count: int
    more_count: int
    archive_url: str
    unsubscribe_url: str
    manage_url: str
    footer_text: str
    postal_address: str | None
    logo_url: str | None
    accent: str
    accent_dark_mode: str

    @property
    def links(self) -> list[tuple[int, str]]:
        return [(i.number, i.url) for s in self.sections for i in s.items if i.url]


def without_mark(text: str) -> str:
    """Content must never forge a personal-link marker; removal can expose a new copy, so loop."""
    while any(mark in text for mark in PERSONAL_MARKS):
        for mark in PERSONAL_MARKS:
            text = text.replace(mark, "")
    return text


def subject_for(settings: Settings, period: Period) -> str:
    return single_line(f"{settings.name}: {describe(period)}")


def build_context(
    settings: Settings,
    period: Period,
    items: Sequence[Item],
    unsubscribe_placeholder: str,
    limit: int | None = None,
    manage_placeholder: str = "",
    edition: Edition | None = None,
) -> DigestContext:
    """`items` in send order (newest first unless an edition ordered them); the first `limit`
    (default settings.item_limit) are shown. `edition` adds the organizer's intro and subject."""
    limit = settings.item_limit if limit is None else limit
    shown = items[:limit]
    sections = _numbered(_sections(shown), settings)
    words = describe(period)
    note = render_intro(edition.intro if edition else "")
    subject = edition.subject if edition and edition.subject else None
    return DigestContext(
        lang="en",
        name=single_line(settings.name),
        cadence=period.cadence,
        period_key=period.key,
        period_words=words,
        subject=without_mark(single_line(subject)) if subject else subject_for(settings, period),
        preheader=_preheader(items),
        intro=_intro(len(items), period.cadence),
        note_html=note.html,
        note_paragraphs=note.paragraphs,
        sections=sections,
        item_count=len(items),
        shown_count=len(shown),
        more_count=len(items) - len(shown),
        archive_url=archive_url(settings.base_url, period.cadence, period.key),
        unsubscribe_url=unsubscribe_placeholder,
        manage_url=manage_placeholder or unsubscribe_placeholder,
        footer_text=single_line(settings.footer_text) or _default_footer(settings, period.cadence),
        postal_address=single_line(settings.postal_address) or None,
        logo_url=settings.logo_url,
        **theme(settings.brand_color),
    )


def _item_view(item: Item, settings: Settings, number: int) -> ItemView:
    url = safe_url(without_mark(item.url or ""))
    title = _shorten(without_mark(single_line(item.title)), TITLE_CHARS) or "(untitled)"
    paragraphs, summary_html = _summary(item)
    published = item.published.astimezone(settings.timezone) if item.published else None
    return ItemView(
        number=number if url else 0,
        title=title,
        url=url,
        host=_host(url),
        date_iso=published.date().isoformat() if published else "",
        author=without_mark(single_line(item.author)) or None,
        paragraphs=paragraphs,
        summary_html=summary_html,
    )


def _summary(item: Item) -> tuple[tuple[str, ...], Markup | None]:
    """Sanitized HTML when the item has it and it is short; otherwise text paragraphs, shortened."""
    if item.summary_html:
        safe = _BARE_ANCHOR.sub(r"\1", _EMPTY_HREF.sub("", without_mark(sanitize_html(item.summary_html))))
        text = html_to_text(safe)
        if len(text) <= SUMMARY_CHARS:
            return tuple(text.split("\n\n")) if text else (), Markup(safe) if safe else None
        return _paragraphs(text), None
    return _paragraphs(clean_text(without_mark(item.summary or ""))), None


def _paragraphs(text: str) -> tuple[str, ...]:
    kept: list[str] = []
    budget = SUMMARY_CHARS
    for paragraph in text.split("\n\n"):
        if not paragraph or budget <= 0:
            break
        if len(paragraph) > budget:
            kept.append(_shorten(paragraph, budget))
            break
        kept.append(paragraph)
        budget -= len(paragraph)
    return tuple(kept)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def _host(url: str | None) -> str | None:
    """urlsplit(url).hostname without www.; a regex, as urlsplit was a quarter of this stage."""
    found = _NETLOC.match(url or "")
    if not found:
        return None
    host = found.group(1).rpartition("@")[2]
    host = host.partition("[")[2].partition("]")[0] if "[" in host else host.partition(":")[0]
    return host.lower().removeprefix("www.") or None


def _numbered(groups: list[tuple[str | None, list[Item]]], settings: Settings) -> tuple[Section, ...]:
    """Item views, their links numbered in reading order across sections for the text part's list."""
    sections, number = [], 0
    for title, items in groups:
        views = []
        for item in items:
            view = _item_view(item, settings, number + 1)
            number += 1 if view.url else 0
            views.append(view)
        sections.append(Section(title, tuple(views)))
    return tuple(sections)


def reading_order(items: Sequence[Item]) -> list[Item]:
    """The items as a reader meets them in the digest: grouped into sections (see _sections)."""
    return [item for _, group in _sections(items) for item in group]


def _sections(items: Sequence[Item]) -> list[tuple[str | None, list[Item]]]:
    """Sections in order of their first item (the newest, or a pinned one), names compared without
    case; uncategorized last."""
    names = [without_mark(single_line(i.category)) or None for i in items]
    if not any(names):
        return [(None, list(items))] if items else []
    groups: dict[str, tuple[str, list[Item]]] = {}
    for name, item in zip(names, items, strict=True):
        title = name or OTHER
        groups.setdefault(title.casefold(), (title, []))[1].append(item)
    other = groups.pop(OTHER.casefold(), None)
    return [*groups.values(), *([other] if other else [])]


def _preheader(items: Sequence[Item]) -> str:
    titles = [without_mark(single_line(i.title)) for i in items[:3]]
    text = f"{_count(len(items))}: " + " · ".join(t for t in titles if t)
    return _shorten(text, PREHEADER_CHARS)


def _count(n: int) -> str:
    return f"{n} article" if n == 1 else f"{n} articles"


def _intro(n: int, cadence: str) -> str:
    return f"{_count(n)} this {'week' if cadence == 'weekly' else 'month'}."


def _default_footer(settings: Settings, cadence: str) -> str:
    name = single_line(settings.name)
    return f"You get this email because you subscribed to the {cadence} edition of {name}."
