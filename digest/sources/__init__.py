"""Readers, one per format, picked by file extension and, failing that, by content.

A source names units (a URL, a file, each file of a folder). Every reader turns one unit completely
into Items (with warnings for what it forgave) or raises: a unit is stored whole or not at all, and
one bad file of a folder costs only itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.errors import SourceError
from digest.models import Item
from digest.sources.decode import charset_of, decode_text
from digest.sources.feed import PARSE_SECONDS, read_feed
from digest.sources.fetch import FetchPolicy, fetch
from digest.sources.found import Found
from digest.sources.markdown import read_markdown
from digest.sources.records import read_csv, read_json
from digest.sources.text import read_text
from digest.text import single_line

TextReader = Callable[[str, str, ZoneInfo, str | None], Found]
_BY_EXTENSION: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".csv": "csv",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
}
_TEXT_READERS: dict[str, TextReader] = {
    "text": read_text,
    "markdown": read_markdown,
    "json": read_json,
    "csv": read_csv,
}


def sniff(data: bytes, content_type: str = "") -> str:
    """Guess a format from the bytes (and a URL's content type) when no extension says it."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if "json" in content_type or head[:1] in (b"[", b"{"):
        return "json"
    if any(t in content_type for t in ("xml", "rss", "atom")) or head.startswith(b"<"):
        return "feed"
    if "csv" in content_type:
        return "csv"
    if head.startswith(b"---"):
        return "markdown"
    return "text"


def parse_bytes(
    data: bytes,
    kind: str,
    source: str,
    tz: ZoneInfo,
    url: str | None = None,
    content_type: str = "",
    parse_seconds: float = PARSE_SECONDS,
) -> Found:
    """Items of one file or body in format `kind`; relative links resolve against `url`. A feed's
    parse is stopped after `parse_seconds` (a URL's: DIGEST_FETCH_TIMEOUT, like its download)."""
    if kind == "feed":
        return read_feed(data, source, tz, url, content_type, parse_seconds)
    decoding = Found()
    text = decode_text(data, decoding, charset_of(content_type))
    found = _TEXT_READERS[kind](text, source, tz, url)
    found.warnings[:0] = decoding.warnings
    return found


def _files_of(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in _BY_EXTENSION
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def units_of(source: str) -> list[str]:
    """What one source names, to be read and stored one by one: a URL, a file, or a folder's files."""
    if _is_url(source):
        return [source]
    if "://" in source:
        raise SourceError(source, "only files, folders and http(s) URLs can be ingested")
    path = Path(source)
    if not path.exists():
        raise SourceError(source, "no such file or folder")
    if not path.is_dir():
        return [source]
    files = _files_of(path)
    if not files:
        raise SourceError(source, "folder holds no .txt, .md, .json, .csv, .xml, .rss or .atom files")
    return [str(file) for file in files]


def _read(unit: str, tz: ZoneInfo, policy: FetchPolicy) -> Found:
    if _is_url(unit):
        fetched = fetch(unit, policy)
        kind = sniff(fetched.body, fetched.content_type.lower())
        body, url, content_type = fetched.body, fetched.url, fetched.content_type
        return parse_bytes(body, kind, unit, tz, url, content_type, policy.deadline)
    data = Path(unit).read_bytes()
    return parse_bytes(data, _BY_EXTENSION.get(Path(unit).suffix.lower()) or sniff(data), unit, tz)


def read_unit(unit: str, tz: ZoneInfo, policy: FetchPolicy | None = None) -> Found:
    """Items of one file or URL; whatever goes wrong becomes a SourceError naming it, in one line."""
    try:
        return _read(unit, tz, policy or FetchPolicy())
    except (ValueError, OSError) as exc:
        raise SourceError(unit, single_line(str(exc)) or type(exc).__name__) from None
    except RecursionError:
        raise SourceError(unit, "nested too deeply to read; refused") from None
    except MemoryError:
        raise SourceError(unit, "too large to read in the memory available; refused") from None
    except Exception as exc:  # a bug in a reader must not cost the other sources their turn
        raise SourceError(unit, f"unexpected {type(exc).__name__}: {single_line(str(exc))[:200]}") from None


def read_source(source: str, tz: ZoneInfo, policy: FetchPolicy | None = None) -> list[Item]:
    """All items of one file, folder or URL, or the first SourceError (for scripts and benchmarks)."""
    return [item for unit in units_of(source) for item in read_unit(unit, tz, policy).items]
