"""Readers, one per format, picked by file extension and, failing that, by content.

Every reader turns one source completely into Items or raises: a source is stored whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.errors import SourceError
from digest.models import Item
from digest.sources.feed import read_feed
from digest.sources.fetch import fetch
from digest.sources.markdown import read_markdown
from digest.sources.records import read_csv, read_json
from digest.sources.text import read_text

TextReader = Callable[[str, str, ZoneInfo], list[Item]]
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


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})") from None


def parse_bytes(data: bytes, kind: str, source: str, tz: ZoneInfo) -> list[Item]:
    if kind == "feed":
        return read_feed(data, source, tz)
    return _TEXT_READERS[kind](_decode(data), source, tz)


def _files_of(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in _BY_EXTENSION
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _read_path(path: Path, tz: ZoneInfo) -> list[Item]:
    data = path.read_bytes()
    kind = _BY_EXTENSION.get(path.suffix.lower()) or sniff(data)
    return parse_bytes(data, kind, str(path), tz)


def read_source(source: str, tz: ZoneInfo) -> list[Item]:
    """All items of one file, folder or http(s) URL; SourceError names the file and the reason."""
    if source.lower().startswith(("http://", "https://")):
        try:
            data, content_type = fetch(source)
            return parse_bytes(data, sniff(data, content_type.lower()), source, tz)
        except ValueError as exc:
            raise SourceError(source, str(exc)) from None
    path = Path(source)
    if "://" in source:
        raise SourceError(source, "only files, folders and http(s) URLs can be ingested")
    if not path.exists():
        raise SourceError(source, "no such file or folder")
    files = _files_of(path) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise SourceError(source, "folder holds no .txt, .md, .json, .csv, .xml, .rss or .atom files")
    found: list[Item] = []
    for file in files:
        try:
            found.extend(_read_path(file, tz))
        except (ValueError, OSError) as exc:
            raise SourceError(str(file), str(exc)) from None
    return found
