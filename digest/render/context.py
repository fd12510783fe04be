"""One context object per digest: everything the HTML and text templates show, already cleaned.

Templates stay dumb: every value here is single-line (titles, names) or split into paragraphs,
links are http(s) or absent, sanitized HTML is marked safe and nothing else is. The unsubscribe
URL is a per-render placeholder that render/__init__.py turns into UNSUBSCRIBE_MARK at the very
end, after removing any copy of the marker that item content smuggled in.

Store contents are untrusted, so every value is cleaned again here (digest.text), cheaply: items
were cleaned at ingest, and the cleaners return clean text after one regex search.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

from markupsafe import Markup

from digest.config import Settings
from digest.editions import Edition
from digest.locales import DEFAULT_LOCALE, text_direction
from digest.models import PERSONAL_MARKS, Item
from digest.periods import Period
from digest.render.colors import theme
from digest.render.formats import item_date, number, period_words
from digest.render.i18n import translations
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
    date_text: str  # as shown: "7 November 2023" (the header's style), the locale's long date elsewhere
    author: str | None
    image: str | None  # https only: a mail app blocks or warns about anything else
    paragraphs: tuple[str, ...]
    summary_html: Markup | None


@dataclass(frozen=True)
class Section:
    title: str | None
    items: tuple[ItemView, ...]


@dataclass(frozen=True)
class DigestContext:
    lang: str
    dir: str  # "rtl" for Arabic and other right-to-left languages, else "ltr"
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


@dataclass(frozen=True)
class Words:
    """The fixed words of one language, for the strings built here rather than in a template."""

    lang: str
    catalog: gettext.NullTranslations

    def gettext(self, message: str, **values: object) -> str:
        return self.catalog.gettext(message) % values if values else self.catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The plural form of `n` in this language, with `%(num)s` as the locale writes `n`."""
        return self.catalog.ngettext(singular, plural, n) % {"num": number(n, self.lang)}


def words_for(settings: Settings, lang: str) -> Words:
    return Words(lang, translations(lang, settings.templates_dir))


def subject_for(
    settings: Settings, period: Period, lang: str = DEFAULT_LOCALE, words: Words | None = None
) -> str:
    words = words or words_for(settings, lang)
    described = period_words(period, lang, words.catalog.gettext)
    return single_line(words.gettext("%(name)s: %(period)s", name=settings.name, period=described))


def build_context(
    settings: Settings,
    period: Period,
    items: Sequence[Item],
    unsubscribe_placeholder: str,
    limit: int | None = None,
    manage_placeholder: str = "",
    edition: Edition | None = None,
    lang: str = DEFAULT_LOCALE,
    words: Words | None = None,
) -> DigestContext:
    """`items` in send order (newest first unless an edition ordered them); the first `limit`
    (default settings.item_limit) are shown, in `lang` (`words`: its catalog, when the caller has
    it already). `edition` adds the organizer's intro and subject (never translated)."""
    limit = settings.item_limit if limit is None else limit
    shown = items[:limit]
    words = words or words_for(settings, lang)
    sections = _numbered(_sections(shown, words), settings, words)
    note = render_intro(edition.intro if edition else "")
    subject = edition.subject if edition and edition.subject else None
    return DigestContext(
        lang=lang,
        dir=text_direction(lang),
        name=single_line(settings.name),
        cadence=period.cadence,
        period_key=period.key,
        period_words=period_words(period, lang, words.catalog.gettext),
        subject=without_mark(single_line(subject)) if subject else subject_for(settings, period, lang, words),
        preheader=_preheader(items, words),
        intro=_intro(len(items), period.cadence, words),
        note_html=note.html,
        note_paragraphs=note.paragraphs,
        sections=sections,
        item_count=len(items),
        shown_count=len(shown),
        more_count=len(items) - len(shown),
        archive_url=archive_url(settings.base_url, period.cadence, period.key),
        unsubscribe_url=unsubscribe_placeholder,
        manage_url=manage_placeholder or unsubscribe_placeholder,
        footer_text=single_line(settings.footer_text) or _default_footer(settings, period.cadence, words),
        postal_address=single_line(settings.postal_address) or None,
        logo_url=settings.logo_url,
        **theme(settings.brand_color),
    )


def _item_view(item: Item, settings: Settings, number: int, words: Words) -> ItemView:
    url, title, host, day, author = _item_parts(item, settings.timezone)
    paragraphs, summary_html = _summary(item)
    return ItemView(
        number=number if url else 0,
        title=title or words.gettext("(untitled)"),
        url=url,
        host=host,
        date_iso=day.isoformat() if day else "",
        date_text=item_date(day, words.lang) if day else "",
        author=author,
        image=_https_image(item.image),
        paragraphs=paragraphs,
        summary_html=summary_html,
    )


def _https_image(url: str | None) -> str | None:
    image = safe_url(without_mark(url or ""))
    return image if image and image.lower().startswith("https://") else None


@lru_cache(maxsize=2048)
def _item_parts(item: Item, tz: ZoneInfo) -> tuple[str | None, str, str | None, date | None, str | None]:
    """What an item shows in every language: (url, title, host, local date, author), cleaned."""
    url = safe_url(without_mark(item.url or ""))
    title = _shorten(without_mark(single_line(item.title)), TITLE_CHARS)
    day = item.published.astimezone(tz).date() if item.published else None
    return url, title, _host(url), day, without_mark(single_line(item.author)) or None


# The same items are rendered once per language and again while fitting Gmail's clip: their
# summaries (sanitizing, shortening) are the same every time, so they are worked out once.
@lru_cache(maxsize=2048)
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


def _numbered(
    groups: list[tuple[str | None, list[Item]]], settings: Settings, words: Words
) -> tuple[Section, ...]:
    """Item views, their links numbered in reading order across sections for the text part's list."""
    sections, number = [], 0
    for title, items in groups:
        views = []
        for item in items:
            view = _item_view(item, settings, number + 1, words)
            number += 1 if view.url else 0
            views.append(view)
        sections.append(Section(title, tuple(views)))
    return tuple(sections)


def reading_order(items: Sequence[Item]) -> list[Item]:
    """The items as a reader meets them in the digest: grouped into sections (see _sections)."""
    return [item for _, group in _sections(items) for item in group]


def _sections(items: Sequence[Item], words: Words | None = None) -> list[tuple[str | None, list[Item]]]:
    """Sections in order of their first item (the newest, or a pinned one), names compared without
    case; uncategorized last (under the translated 'Other'; an item's own category is never
    translated)."""
    names = [without_mark(single_line(i.category)) or None for i in items]
    if not any(names):
        return [(None, list(items))] if items else []
    groups: dict[str, tuple[str, list[Item]]] = {}
    for name, item in zip(names, items, strict=True):
        title = name or OTHER
        groups.setdefault(title.casefold(), (title, []))[1].append(item)
    other = groups.pop(OTHER.casefold(), None)
    if other:
        other = (words.gettext("Other"), other[1]) if words and other[0] == OTHER else other
    return [*groups.values(), *([other] if other else [])]


def _preheader(items: Sequence[Item], words: Words) -> str:
    titles = [without_mark(single_line(i.title)) for i in items[:3]]
    count = words.ngettext("%(num)s article", "%(num)s articles", len(items))
    text = words.gettext("%(count)s: %(titles)s", count=count, titles=" · ".join(t for t in titles if t))
    return _shorten(text, PREHEADER_CHARS)


def _intro(n: int, cadence: str, words: Words) -> str:
    if cadence == "weekly":
        return words.ngettext("%(num)s article this week.", "%(num)s articles this week.", n)
    return words.ngettext("%(num)s article this month.", "%(num)s articles this month.", n)


def _default_footer(settings: Settings, cadence: str, words: Words) -> str:
    name = single_line(settings.name)
    if cadence == "weekly":
        return words.gettext(
            "You get this email because you subscribed to the weekly edition of %(name)s.", name=name
        )
    return words.gettext(
        "You get this email because you subscribed to the monthly edition of %(name)s.", name=name
    )
