"""Bytes to text: the encoding a source declares, else UTF-8, else what charset-normalizer detects.

Feed readers show feeds whose encoding is undeclared or declared wrongly; so does digest, and it says
in a warning which encoding it assumed, so a garbled title can be traced to its guess.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from digest.sources.found import Found

_XML_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def charset_of(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


def decode_text(data: bytes, found: Found, declared: str | None = None) -> str:
    """Text of a file or body: BOM, else the declared charset, else UTF-8, else a detected encoding."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode_as(data, encoding, found)
    declared = _as_browsers_read(declared) if declared else None
    if declared and _fits(data, declared):
        return data.decode(declared)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _detected(data, found, declared)
    if declared:
        found.warn(f"declared encoding {declared!r} does not fit; read as utf-8")
    return text


def decode_xml(data: bytes, found: Found, http_charset: str | None = None) -> str:
    """Text of an XML feed: the HTTP charset wins over the XML declaration (RFC 7303), as in browsers."""
    declared = http_charset
    if not declared and (match := _XML_DECLARED.match(data[:1024])):
        declared = match.group(1).decode("ascii")
    return decode_text(data, found, declared)


def _fits(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return False
    return True


def _as_browsers_read(encoding: str) -> str:
    """Latin-1 and ASCII labels mean Windows-1252, as in every browser (WHATWG Encoding): feeds that
    say ISO-8859-1 are full of Windows quotes and dashes."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return encoding
    return "cp1252" if name in ("iso8859-1", "latin-1", "ascii") else encoding


def _decode_as(data: bytes, encoding: str, found: Found) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return _detected(data, found, encoding)


def _detected(data: bytes, found: Found, declared: str | None) -> str:
    results = charset_normalizer.from_bytes(data)
    best = results.best()
    if best is None:
        raise ValueError("not text in any encoding digest recognises")
    encoding, text = best.encoding, str(best)
    # Short Western text scores the same in Windows-1250 and -1252, and charset-normalizer lists 1250
    # first: "não" would read "năo". On a tie, take 1252, the web's most common legacy encoding.
    ties = [m for m in results if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    if "cp1252" in best.could_be_from_charset:
        encoding = "cp1252"
    elif tie := next((m for m in ties if m.encoding == "cp1252"), None):
        encoding, text = "cp1252", str(tie)
    problem = f"declared encoding {declared!r} does not fit" if declared else "no encoding declared"
    found.warn(f"{problem} and not UTF-8; read as {encoding} (detected)")
    return text
