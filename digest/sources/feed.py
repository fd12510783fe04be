"""RSS, Atom and RDF, parsed by feedparser from bytes we fetched and decoded ourselves.

feedparser is never given a path or URL: it would open either on its own, with none of our checks.
Its lenient parser is what makes ill-formed real feeds readable (`&nbsp;`, bare `&`, cut-off files),
so digest keeps it and says so in a warning, but bounds the one thing that makes it dangerous:
internal entities, which its lenient parser expands without limit.
"""

from __future__ import annotations

import calendar
import re
import xml.parsers.expat
import xml.sax
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import feedparser

from digest.models import Item
from digest.periods import DateOutOfRange, check_date, parse_date
from digest.sources.decode import charset_of, decode_xml
from digest.sources.found import Found
from digest.sources.limits import time_limit
from digest.text import clean_text, html_to_text, safe_url, sanitize_html, single_line, title_from_text

# feedparser's "bozo" flags these for feeds that parse fine; anything else means ill-formed XML.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
# What the entities a feed declares may add up to once every reference is expanded.
MAX_ENTITY_EXPANSION = 1024 * 1024
# feedparser's lenient parser takes about 30 µs and 100 bytes of memory per byte of a pathological
# feed: ill-formed feeds above this size are refused, and any parse is stopped after PARSE_SECONDS.
MAX_LENIENT_BYTES = 2 * 1024 * 1024
PARSE_SECONDS = 20
_FIRST_ELEMENT = re.compile(r"<\w")
# A superset of what feedparser keeps: a named entity whose value is plain text.
_ENTITY_DECLARATION = re.compile(r"""<!ENTITY\s+(\w+)\s+(?:"([^"]*)"|'([^']*)')""")


def check_entities(text: str) -> None:
    """Refuse a feed whose declared entities would expand past MAX_ENTITY_EXPANSION characters."""
    first = _FIRST_ELEMENT.search(text)
    head = text[: first.start()] if first else text
    if "<!ENTITY" not in head:
        return
    total = 0
    for name, double, single in _ENTITY_DECLARATION.findall(head):
        total += text.count(f"&{name};") * len(double or single)
        if total > MAX_ENTITY_EXPANSION:
            raise ValueError(
                f"its entity declarations would expand to more than {MAX_ENTITY_EXPANSION // 1024} KB"
                " (an entity expansion attack?); refused"
            )


def _published(entry) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return _unparsed_date(entry.get("published") or entry.get("updated"))
    try:
        return check_date(datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC))
    except (OverflowError, ValueError, OSError):
        return check_date(datetime(max(1, min(parsed[0], 9999)), 1, 1, tzinfo=UTC))


def _unparsed_date(raw: str | None) -> datetime | None:
    """feedparser gives up on dates it cannot hold (9999-12-31 west of UTC): DateOutOfRange for those;
    a date nobody can read leaves the item undated, as before."""
    try:
        return parse_date(raw, UTC)
    except DateOutOfRange:
        raise
    except ValueError:
        return None


def _summary_html(entry) -> str:
    if entry.get("summary"):
        return entry["summary"]
    content = entry.get("content") or []
    return content[0].get("value", "") if content else ""


def _image(entry, base: str | None) -> str | None:
    for media in entry.get("media_content", []) + entry.get("media_thumbnail", []):
        if url := safe_url(media.get("url"), base):
            return url
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return safe_url(link.get("href"), base)
    return None


def entry_title(entry) -> str:
    """The one-line text of an entry's title (corpus tests compare these with feedparser's own)."""
    return single_line(html_to_text(entry.get("title", "")))


def _entry_to_item(entry, source: str, base: str | None) -> Item:
    html = sanitize_html(_summary_html(entry), base)
    summary = clean_text(html_to_text(html))
    tags = entry.get("tags") or []
    category = tags[0].get("term") if tags else None
    return Item(
        title=entry_title(entry) or title_from_text(summary) or "(untitled)",
        summary=summary,
        summary_html=html or None,
        url=safe_url(entry.get("link"), base),
        published=_published(entry),
        category=single_line(category) or None,
        author=single_line(entry.get("author")) or None,
        image=_image(entry, base),
        guid=single_line(entry.get("id")) or None,
        source=source,
    )


def _problem(exc: Exception | None, declared: bool) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        # feedparser puts an XML declaration on a line of its own before a feed that has none.
        line = exc.getLineNumber() - (0 if declared else 1)
        return f"line {line}, column {exc.getColumnNumber()}: {exc.getMessage()}"
    return single_line(str(exc).splitlines()[0] if exc and str(exc) else type(exc).__name__)[:200]


def parse_feed(
    data: bytes,
    found: Found,
    url: str | None = None,
    content_type: str = "",
    parse_seconds: float = PARSE_SECONDS,
):
    """feedparser's reading of a feed decoded by us (UTF-8 from here on), entities checked first."""
    text = decode_xml(data, found, charset_of(content_type))
    check_entities(text)
    encoded = text.encode("utf-8")
    del text
    if len(encoded) > MAX_LENIENT_BYTES and (problem := _not_well_formed(encoded)):
        raise ValueError(
            f"ill-formed XML ({problem}) and larger than {MAX_LENIENT_BYTES // (1024 * 1024)} MB:"
            " too costly to read leniently; refused"
        )
    headers = {"content-type": "application/xml; charset=utf-8"}
    if url:
        headers["content-location"] = url
    with time_limit(parse_seconds, "reading the feed"):
        return feedparser.parse(
            encoded, response_headers=headers, resolve_relative_uris=True, sanitize_html=True
        )


def _not_well_formed(data: bytes) -> str | None:
    """What the strict parser finds wrong, checked with expat alone (fast, linear), or None."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        return f"line {exc.lineno}, column {exc.offset}: {xml.parsers.expat.ErrorString(exc.code)}"
    return None


def _usable(entry) -> bool:
    """Anything at all a reader could show (a cut-off feed leaves entries with nothing in them)."""
    return bool(entry.keys())


def read_feed(
    data: bytes,
    source: str,
    tz: ZoneInfo,
    url: str | None = None,
    content_type: str = "",
    parse_seconds: float = PARSE_SECONDS,
) -> Found:
    found = Found()
    parsed = parse_feed(data, found, url, content_type, parse_seconds)
    problem = None
    if parsed.bozo and not isinstance(parsed.bozo_exception, _HARMLESS):
        problem = _problem(parsed.bozo_exception, data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml"))
    entries = [entry for entry in parsed.entries if _usable(entry)]
    if not entries:
        if not parsed.version:
            raise ValueError("not an RSS or Atom feed")
        if problem:
            raise ValueError(f"broken feed XML, no readable entries: {problem}")
    if problem:
        found.warn(f"ill-formed XML ({problem}); read leniently as feed readers do")
    # A file has no URL of its own: its relative links are read against the site the feed names.
    base = url or safe_url(parsed.feed.get("link"))
    found.add_each(
        entries,
        lambda entry: _entry_to_item(entry, source, base),
        lambda n: f"entry {n} ({entry_title(entries[n - 1])[:60]!r})",
    )
    return found
