"""The organizer's intro: Markdown made safe for the HTML part, and readable for the text part.

The same rules as Markdown sources (digest/sources/markdown.py): markdown-it with raw HTML off, so a
`<script>` in the intro is shown as text, then nh3 keeps only the allowed tags and http(s)/mailto
links. The text part is derived from that sanitized HTML: paragraphs, list bullets, and each link's
address after its words, as a text reader needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markupsafe import Markup

from digest.models import PERSONAL_MARKS
from digest.text import sanitize_html, single_line

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})
_BLOCKS = {"p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}


@dataclass(frozen=True)
class Intro:
    html: Markup | None
    paragraphs: tuple[str, ...]


@lru_cache(maxsize=32)
def render_intro(markdown: str) -> Intro:
    """Sanitized HTML and plain paragraphs of the intro; empty Markdown gives an empty intro."""
    markdown = _without_marks(markdown)
    if not markdown.strip():
        return Intro(None, ())
    safe = _without_marks(sanitize_html(_MARKDOWN.render(markdown)))
    return Intro(Markup(safe) if safe else None, _paragraphs(safe))


def _without_marks(text: str) -> str:
    """The intro must never forge a personal-link marker; removal can expose a new copy, so loop."""
    while any(mark in text for mark in PERSONAL_MARKS):
        for mark in PERSONAL_MARKS:
            text = text.replace(mark, "")
    return text


class _Text(HTMLParser):
    """Blocks become paragraphs, list items bullets, links `words <address>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.current: list[str] = []
        self.href: str | None = None
        self.link_words: list[str] = []

    def flush(self) -> None:
        text = single_line("".join(self.current))
        if text:
            self.paragraphs.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _BLOCKS:
            self.flush()
        elif tag == "li":
            self.flush()
            self.current.append("- ")
        elif tag == "br":
            self.flush()
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_words = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS or tag == "li":
            self.flush()
        elif tag == "a" and self.href:
            if single_line("".join(self.link_words)) != self.href:
                self.current.append(f" <{self.href}>")
            self.href = None

    def handle_data(self, data: str) -> None:
        self.current.append(data)
        if self.href:
            self.link_words.append(data)


def _paragraphs(safe_html: str) -> tuple[str, ...]:
    parser = _Text()
    parser.feed(safe_html)
    parser.close()
    parser.flush()
    return tuple(parser.paragraphs)
