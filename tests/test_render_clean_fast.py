"""The render context's shortcuts give exactly what the full cleaners and urlsplit give."""

from __future__ import annotations

import random
from urllib.parse import urlsplit

import pytest

from digest.render.context import _host
from digest.text import _full_clean_text, _full_single_line, clean_text, safe_url, single_line

PIECES = [
    "word",
    "council",
    " ",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\n\n\n",
    "\r\n",
    "\r",
    "\t",
    "\x0b",
    "\x0c",
    "\x00",
    "\x1f",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\u00a0",
    "\u3000",
    "é",
    "🙂",
    "مرحبا",
    ".",
    "<b>",
    "&amp;",
]


def samples(count: int) -> list[str]:
    rng = random.Random(7)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12))) for _ in range(count)] + [
        "",
        " ",
        "\n",
        "clean text",
        "para one\n\npara two",
        "a\n\n\u00a0b",
        "a\n\u00a0\nb",
    ]


def test_clean_text_shortcut_equals_clean_text() -> None:
    for text in samples(20_000):
        assert clean_text(text) == _full_clean_text(text), repr(text)


def test_single_line_shortcut_equals_single_line() -> None:
    for text in [*samples(20_000), None]:
        assert single_line(text) == (_full_single_line(text) if text is not None else ""), repr(text)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.Example.org/a?b#c",
        "http://example.org",
        "https://user:pw@host.example:8080/x",
        "https://a@b@c.example/x",
        "https://[::1]:8080/x",
        "https://[2001:db8::1]/",
        "http://host.example?q=1",
        "http://host.example#f",
        "https://WWW.Ünïcode.example/ä",
        "https://www./x",
        "https://host.example:/x",
        "https://x.example/path with space",
    ],
)
def test_host_equals_urlsplit_hostname(url: str) -> None:
    safe = safe_url(url)
    expected = (urlsplit(safe).hostname or "").removeprefix("www.") or None if safe else None
    assert _host(safe) == expected
