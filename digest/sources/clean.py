"""Shared field cleaning for every reader: untrusted text in, inert values out."""

from __future__ import annotations

import html
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import nh3

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
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# ASCII white space and Unicode line breaks, but not no-break spaces: authors put those on purpose.
_BREAKING_SPACE = re.compile(r"[ \t\n\r\f\v\x85\u2028\u2029]+")


def sanitize_html(fragment: str) -> str:
    """Sanitized HTML: allowed tags only, http(s)/mailto links only, links made rel=noopener."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_SAFE_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


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


def single_line(text: str | None) -> str:
    """Collapse all white space (CR/LF included) so a value can never span lines."""
    return _BREAKING_SPACE.sub(" ", _CONTROL.sub(" ", text or "")).strip(" ")


def clean_text(text: str | None) -> str:
    """Keep paragraph breaks, drop control characters and trailing space."""
    text = _CONTROL.sub(" ", (text or "").replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(p for p in (single_line(p) for p in paragraphs) if p)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL or nothing: javascript:, data: and friends never become links."""
    url = single_line(html.unescape(url or ""))
    if re.match(r"^https?://[^\s/?#]+", url, re.IGNORECASE):
        return url
    return None


def parse_date(value: str | None, default_tz: ZoneInfo) -> datetime | None:
    """ISO 8601 or RFC 2822; a date without a zone is read in the configured zone."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            raise ValueError(
                f"unreadable date {value!r} (use ISO 8601, e.g. 2023-11-06T09:00:00+01:00)"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed
