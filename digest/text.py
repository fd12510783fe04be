"""The one place that cleans untrusted text: to one line, to plain paragraphs, of control characters.

One character set for every use (config values, mail headers, item fields, the render context):
the control characters (C0, DEL and C1) and the Unicode line and paragraph separators. Anything in
it either becomes a space (`single_line`, `clean_text`) or is refused (`refuse_controls`), so a value
can never start a new header line or smuggle a terminal escape. No-break spaces are kept: authors
put them on purpose.

The cleaners take a shortcut: one regex search that finds nothing proves the full cleaner would
return the text unchanged (re-cleaning every stored 600-character summary at render time was most
of that stage). Anything the search flags goes through the full cleaner, so the output is the same.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

CONTROLS = "\x00-\x1f\x7f-\x9f\u2028\u2029"
_CONTROL = re.compile(f"[{CONTROLS}]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(" {2,}")

# Tags a summary may keep. No images, media, forms, scripts or styles: a digest shows a short
# summary and links to the original.
ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "em",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "strong",
    "sub",
    "sup",
    "u",
    "ul",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
_SAFE_SCHEMES = {"http", "https", "mailto"}
_BLOCKS = {"p", "div", "br", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}


def single_line(text: str | None) -> str:
    """Every control character and line break becomes a space, runs of spaces one, ends trimmed."""
    if text is None:
        return ""
    if _CONTROL.search(text) or _loose_spaces(text):
        return _full_single_line(text)
    return text


def _full_single_line(text: str) -> str:
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip(" ")


def clean_text(text: str | None) -> str:
    """Paragraphs, one blank line apart, each cleaned to a single line."""
    if not text:
        return ""
    if _CONTROL_BUT_NEWLINE.search(text) or _loose_spaces(text) or _loose_breaks(text):
        return _full_clean_text(text)
    return text


def _full_clean_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_BUT_NEWLINE.sub(" ", text)
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(p for p in (_full_single_line(p) for p in paragraphs) if p)


def _loose_spaces(text: str) -> bool:
    return "  " in text or text.startswith(" ") or text.endswith(" ")


def _loose_breaks(text: str) -> bool:
    """True unless every line break is one of a lone pair between two trimmed paragraphs."""
    if "\n" not in text:
        return False
    if text.startswith("\n") or text.endswith("\n"):
        return True
    return " \n" in text or "\n " in text or "\n\n\n" in text or text.count("\n") != 2 * text.count("\n\n")


def refuse_controls(value: str) -> str:
    """`value` itself, for a place that must not change it silently (a header, a setting)."""
    if _CONTROL.search(value):
        raise ValueError("must be one line of text, without control characters")
    return value


def sanitize_html(fragment: str, base: str | None = None) -> str:
    """Sanitized HTML: allowed tags only, absolute http(s)/mailto links only (relative ones resolved
    against `base`, or dropped: a mail has no page to be relative to), links made rel=noopener,
    control characters gone."""
    import nh3  # imported on use: most commands never clean HTML

    cleaned = nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_SAFE_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=lambda _tag, name, value: _absolute_href(value, base) if name == "href" else value,
    ).strip()
    return _CONTROL_BUT_NEWLINE.sub(" ", cleaned) if _CONTROL_BUT_NEWLINE.search(cleaned) else cleaned


def _absolute_href(value: str, base: str | None) -> str | None:
    if value.lower().startswith("mailto:"):
        return value
    return safe_url(value, base)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Readable text of an HTML fragment: paragraphs kept apart, tags and scripts dropped."""
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    paragraphs = re.split(r"\n\s*\n|\n", "".join(extractor.parts))
    return "\n\n".join(p for p in (single_line(p) for p in paragraphs) if p)


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL or nothing: javascript:, data: and friends never become links, and a
    relative one is resolved against `base` (the feed's own URL or declared site) or dropped."""
    url = single_line(html.unescape(url or ""))
    if base and url:
        from urllib.parse import urljoin

        try:
            url = urljoin(base, url)
        except ValueError:  # an invalid IPv6 host and the like
            return None
    if re.match(r"^https?://[^\s/?#]+", url, re.IGNORECASE):
        return url
    return None


def title_from_text(text: str, words: int = 12) -> str:
    """A title for an item that has none, as feed readers make one: the first words of its text."""
    found = single_line(text).split(" ")
    return " ".join(found[:words]) + ("…" if len(found) > words else "")


# OWASP's CSV-injection rule: a cell a spreadsheet would read as a formula starts with a quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: str) -> str:
    """`=HYPERLINK(...)` in a name must open as text, not run, when an organizer opens the export."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def unquote_cell(value: str) -> str:
    """The inverse on import, so an export re-imports to the same names."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS) else value
