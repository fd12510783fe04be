"""Dates, period names and numbers in the reader's language (Babel, CLDR data); pure functions.

English keeps the words digest has always printed ('Week 45 · 6–12 November 2023'): its golden
files and its readers' mails do not change. Every other language takes CLDR's own patterns, with
months written out in words ('6–12 de noviembre de 2023', '6–12 نوفمبر 2023').
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache

from babel import Locale
from babel.dates import DateTimePattern, format_date, format_skeleton, parse_pattern
from babel.numbers import format_decimal

from digest.periods import Period, describe

ENGLISH = "en"
_SHORT_MONTH = re.compile(r"(?<!M)MMM(?!M)")
# Which field differs decides the interval pattern, as in CLDR: year, then month, then day.
_FIELDS = (("y", lambda d: d.year), ("M", lambda d: d.month), ("d", lambda d: d.day))


def period_words(period: Period, lang: str, gettext: Callable[[str], str]) -> str:
    """The period for a header: 'Semana 45 · 6–12 de noviembre de 2023', 'Noviembre de 2023'."""
    if lang == ENGLISH:
        return describe(period)
    if period.cadence == "monthly":
        return month_words(period.first_day, lang)
    week = int(period.key.split("-W")[1])
    span = day_span(period.first_day, period.last_day, lang)
    return gettext("Week %(number)s · %(span)s") % {"number": number(week, lang), "span": span}


@lru_cache(maxsize=512)
def month_words(first_day: date, lang: str) -> str:
    return _capitalized(format_skeleton("yMMMM", first_day, locale=lang))


@lru_cache(maxsize=512)  # Babel's pattern work takes about a millisecond
def day_span(first: date, last: date, lang: str) -> str:
    """From `first` to `last` with the month in words, in the locale's own interval pattern."""
    formats = Locale.parse(lang).interval_formats
    skeleton = "yMMMMd" if "yMMMMd" in formats else "yMMMd"
    for field, value in _FIELDS:
        if field in formats[skeleton] and value(first) != value(last):
            start, end = formats[skeleton][field]
            return _apply(start, first, lang) + _apply(end, last, lang)
    return format_date(last, "long", locale=lang)


def _apply(pattern: str, day: date, lang: str) -> str:
    return parse_pattern(_SHORT_MONTH.sub("MMMM", pattern)).apply(day, Locale.parse(lang))


@lru_cache(maxsize=4096)  # Babel takes ~0.4 ms a date; a digest's items share a few days
def item_date(day: date, lang: str) -> str:
    """An item's date as shown, in words like the header: '7 November 2023' in English, the locale's
    long date elsewhere."""
    if lang == ENGLISH:
        return f"{day.day} {day:%B %Y}"
    pattern, locale = _long_date(lang)
    return pattern.apply(day, locale)


@lru_cache(maxsize=64)
def _long_date(lang: str) -> tuple[DateTimePattern, Locale]:
    """The locale's long date pattern, parsed once (format_date parses it on every call)."""
    locale = Locale.parse(lang)
    return parse_pattern(locale.date_formats["long"].pattern), locale


@lru_cache(maxsize=4096)
def number(value: int, lang: str) -> str:
    """1234 -> '1,234' (en), '1.234' (de, es), '1 234' (fr): CLDR's grouping, Latin digits."""
    return format_decimal(value, locale=lang)


def _capitalized(text: str) -> str:
    """A header starts with a capital in the languages that have them ('noviembre' -> 'Noviembre')."""
    return text[:1].upper() + text[1:]
