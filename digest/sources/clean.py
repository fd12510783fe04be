"""Shared field cleaning for every reader: untrusted text in, inert values out."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import nh3

from digest.models import EARLIEST_YEAR, LATEST_YEAR

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
# C0 controls (but tab and line breaks) read as a space; C1 controls (U+0080-U+009F) are almost always
# Windows-1252 bytes decoded as Latin-1 and mean nothing in Unicode: they are removed.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_C1_CONTROL = re.compile(r"[\x80-\x9f]")

# ASCII white space and Unicode line breaks, but not no-break spaces: authors put those on purpose.
_BREAKING_SPACE = re.compile(r"[ \t\n\r\f\v\x85\u2028\u2029]+")


class DateOutOfRange(ValueError):
    """A readable date outside EARLIEST_YEAR..LATEST_YEAR: the item is refused, its source is not."""


def sanitize_html(fragment: str, base: str | None = None) -> str:
    """Sanitized HTML: allowed tags only, absolute http(s)/mailto links only (relative ones resolved
    against `base`, or dropped: a mail has no page to be relative to), links made rel=noopener."""
    cleaned = nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_SAFE_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=lambda _tag, name, value: _absolute_href(value, base) if name == "href" else value,
    ).strip()
    return _without_controls(cleaned)


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


def single_line(text: str | None) -> str:
    """Collapse all white space (CR/LF included) so a value can never span lines."""
    return _BREAKING_SPACE.sub(" ", _without_controls(text or "")).strip(" ")


def _without_controls(text: str) -> str:
    return _CONTROL.sub(" ", _C1_CONTROL.sub("", text))


def clean_text(text: str | None) -> str:
    """Keep paragraph breaks, drop control characters and trailing space."""
    text = _without_controls((text or "").replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(p for p in (single_line(p) for p in paragraphs) if p)


def title_from_text(text: str, words: int = 12) -> str:
    """A title for an item that has none, as feed readers make one: the first words of its text."""
    found = single_line(text).split(" ")
    return " ".join(found[:words]) + ("…" if len(found) > words else "")


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL or nothing: javascript:, data: and friends never become links, and a
    relative one is resolved against `base` (the feed's own URL or declared site) or dropped."""
    url = single_line(html.unescape(url or ""))
    if base and url:
        try:
            url = urljoin(base, url)
        except ValueError:  # an invalid IPv6 host and the like
            return None
    if re.match(r"^https?://[^\s/?#]+", url, re.IGNORECASE):
        return url
    return None


def check_date(value: datetime) -> datetime:
    """`value` if it lies in the years digest accepts, else DateOutOfRange."""
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = value.year
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise DateOutOfRange(f"date {value.isoformat()} is outside {EARLIEST_YEAR}–{LATEST_YEAR}")
    return value


def parse_date(value: str | None, default_tz: ZoneInfo) -> datetime | None:
    """ISO 8601 or RFC 2822; a date without a zone is read in the configured zone."""
    value = (value or "").strip()
    if not value:
        return None
    if re.match(r"^\s*\d{5,}-", value):  # year 10000 and later: no datetime holds it
        raise DateOutOfRange(f"date {value!r} is outside {EARLIEST_YEAR}–{LATEST_YEAR}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise ValueError(
                f"unreadable date {value!r} (use ISO 8601, e.g. 2023-11-06T09:00:00+01:00)"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return check_date(parsed)
