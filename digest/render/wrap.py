"""Word wrap for the text part: textwrap.fill's output, without its cost on ordinary prose.

textwrap splits text into chunks with a large regex and then fills lines chunk by chunk in Python:
most of the text part's time (~8 ms of 10 for a 200-item digest). Context values are already
single-spaced (render/context.py), and for such text with no word longer than a line, greedy
filling is exactly what textwrap does: each line takes the most words that fit. One regex does
that in C: the longest run of at most `room` characters that ends before a space or the end.
A word longer than a line makes the lines' lengths not add up (findall skips what it cannot
match), and anything else (long words, tabs, double or edge spaces) goes to textwrap itself, so the output is
always textwrap's (tests/test_render_wrap.py compares both on many inputs).
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache

WIDTH = 78
# What textwrap treats as white space besides the single space.
_OTHER_SPACE = re.compile(r"[\t\n\x0b\x0c\r]")


# Item paragraphs wrap the same in every language a digest is rendered in (and in each pass that
# fits Gmail's clip): remembered, not redone.
@lru_cache(maxsize=4096)
def wrap(text: str, width: int = WIDTH, indent: str = "", first: str | None = None) -> str:
    """Wrap prose within `width` columns; words longer than a line are split so no line overflows."""
    first = indent if first is None else first
    if not text:
        return ""
    if "  " in text or text.startswith(" ") or text.endswith(" ") or _OTHER_SPACE.search(text):
        return _textwrap(text, width, indent, first)
    if len(first) + len(text) <= width:
        return first + text
    room_first, room = width - len(first), width - len(indent)
    head, rest = "", text
    if room_first != room:  # the first line has its own width: fill it alone
        found = _line(room_first).match(text) if room_first > 0 else None
        if found is None:  # its first word does not fit
            return _textwrap(text, width, indent, first)
        head, rest = found.group(1), text[found.end() :]
        if not rest:
            return first + head
        if room_first < room and rest.find(" ") % (len(rest) + 1) > room_first:
            # textwrap splits a word longer than the first line onto it, even if later lines are wider
            return _textwrap(text, width, indent, first)
    lines = _line(room).findall(rest) if room > 0 else []
    if sum(map(len, lines)) + len(lines) - 1 != len(rest):
        return _textwrap(text, width, indent, first)  # a word longer than a line: findall skipped it
    if head:
        lines.insert(0, head)
    return first + ("\n" + indent).join(lines)


def _textwrap(text: str, width: int, indent: str, first: str) -> str:
    return textwrap.fill(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=False,
    )


@lru_cache(maxsize=16)
def _line(room: int) -> re.Pattern[str]:
    """A line of at most `room` characters ending at a word's end; its following space is eaten."""
    return re.compile(rf"(.{{1,{room}}})(?: |$)")
