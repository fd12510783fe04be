"""Pure period arithmetic: ISO weeks and calendar months in one time zone.

A period is a half-open interval [start, end) of local midnights. Bounds are computed on local
calendar dates and only then given the zone, so a DST change inside a period makes it 167 or 169
hours long rather than shifting its edges. "Now" is always passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import TypeVar
from zoneinfo import ZoneInfo

CADENCES = ("weekly", "monthly")
_WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_KEY = re.compile(r"^(\d{4})-(\d{2})$")
T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Period:
    cadence: str
    key: str
    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        # Compare in UTC: Python compares datetimes sharing one tzinfo by wall clock.
        return self.start.astimezone(UTC) <= instant.astimezone(UTC) < self.end.astimezone(UTC)

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return self.end.date() - timedelta(days=1)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def week_of(instant: datetime, tz: ZoneInfo) -> Period:
    local = _local_date(instant, tz)
    monday = local - timedelta(days=local.weekday())
    year, week, _ = monday.isocalendar()
    return Period(
        "weekly", f"{year}-W{week:02d}", _midnight(monday, tz), _midnight(monday + timedelta(days=7), tz)
    )


def month_of(instant: datetime, tz: ZoneInfo) -> Period:
    local = _local_date(instant, tz)
    return _month(local.year, local.month, tz)


def _month(year: int, month: int, tz: ZoneInfo) -> Period:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period("monthly", f"{year}-{month:02d}", _midnight(first, tz), _midnight(following, tz))


def _local_date(instant: datetime, tz: ZoneInfo) -> date:
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; give it a zone")
    return instant.astimezone(tz).date()


def period_of(instant: datetime, cadence: str, tz: ZoneInfo) -> Period:
    """The period of `cadence` that holds `instant`."""
    if cadence == "weekly":
        return week_of(instant, tz)
    if cadence == "monthly":
        return month_of(instant, tz)
    raise ValueError(f"unknown cadence {cadence!r} (weekly or monthly)")


def parse_period(cadence: str, key: str, tz: ZoneInfo) -> Period:
    """`2023-W45` for weekly, `2023-11` for monthly; ValueError with a readable message otherwise."""
    if cadence == "weekly" and (m := _WEEK_KEY.match(key)):
        try:
            monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError:
            raise ValueError(f"{key!r} is not a week of {m[1]}") from None
        return week_of(_midnight(monday, tz), tz)
    if cadence == "monthly" and (m := _MONTH_KEY.match(key)) and 1 <= int(m[2]) <= 12:
        return _month(int(m[1]), int(m[2]), tz)
    example = "2023-W45" if cadence == "weekly" else "2023-11"
    raise ValueError(f"invalid {cadence} period {key!r} (expected e.g. {example})")


def previous(period: Period, tz: ZoneInfo) -> Period:
    return period_of(period.start - timedelta(hours=1), period.cadence, tz)


def following(period: Period, tz: ZoneInfo) -> Period:
    return period_of(period.end + timedelta(hours=1), period.cadence, tz)


def last_complete(cadence: str, now: datetime, tz: ZoneInfo) -> Period:
    """The newest period that ended at or before `now`: what a Monday-morning send is about."""
    return previous(period_of(now, cadence, tz), tz)


def group_by_period(
    things: Iterable[T], cadence: str, tz: ZoneInfo, when: Callable[[T], datetime]
) -> list[tuple[Period, list[T]]]:
    """Newest period first; within a period the input order is kept."""

    def key(thing: T) -> Period:
        return period_of(when(thing), cadence, tz)

    ordered = sorted(things, key=lambda t: when(t), reverse=True)
    return [(period, list(group)) for period, group in groupby(ordered, key=key)]


def describe(period: Period) -> str:
    """Words for a header: 'Week 45 · 6–12 November 2023', 'November 2023'."""
    if period.cadence == "monthly":
        return f"{period.first_day:%B %Y}"
    first, last = period.first_day, period.last_day
    week = int(period.key.split("-W")[1])
    if first.year != last.year:
        span = f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"
    elif first.month != last.month:
        span = f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    else:
        span = f"{first.day}–{last.day} {last:%B %Y}"
    return f"Week {week} · {span}"


def parse_date(value: str | None, default_tz: ZoneInfo) -> datetime | None:
    """ISO 8601 or RFC 2822; a date without a zone is read in the configured zone."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime  # on use: it pulls in socket, slow to import

        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            raise ValueError(
                f"unreadable date {value!r} (use ISO 8601, e.g. 2023-11-06T09:00:00+01:00)"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed
