"""Crontab expressions: parsing and next fire times. Pure: no clock, no database.

Below config (a setting is checked by building its trigger) and used by the scheduler. The time
zone is the trigger's: fire times follow local wall-clock time across DST changes, as cron does
(a time that does not exist that day is skipped, one that happens twice fires once).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

# crontab counts weekdays from Sunday (0 or 7); APScheduler 3 counts from Monday. Numbers are
# turned into names so `0 8 * * 1` means Monday, as every crontab reader expects.
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DOW_PART = re.compile(r"^(\*|[0-7a-z]{1,3})(?:-([0-7a-z]{1,3}))?(?:/(\d+))?$")
MAX_FIRE_TIMES = 100_000  # a `* * * * *` schedule holds 1,440 fire times a day: plenty of room


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field as APScheduler weekday names (`1-5` -> `mon,tue,wed,thu,fri`)."""
    field = field.strip().lower()
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        days |= _weekday_part(part)
    return ",".join(_DAY_NAMES[d] for d in (1, 2, 3, 4, 5, 6, 0) if d in days)


def _weekday_part(part: str) -> set[int]:
    match = _DOW_PART.match(part)
    if not match:
        raise ValueError(f"invalid day of week {part!r}")
    first, last, step = match.groups()
    if first == "*":
        low, high = 0, 6
    else:
        low = _weekday_number(first)
        high = _weekday_number(last) if last else (6 if step else low)
    if last and high < low and high == 0:  # `5-7` or `fri-sun`: Sunday closes the week
        high = 7
    if high < low:
        raise ValueError(f"invalid day-of-week range {part!r}")
    return {d % 7 for d in range(low, high + 1, int(step or 1))}


def _weekday_number(token: str) -> int:
    if token.isdigit():
        number = int(token)
        if number > 7:
            raise ValueError(f"day of week {number} is out of range 0-7")
        return number
    if token in _DAY_NAMES:
        return _DAY_NAMES.index(token)
    raise ValueError(f"unknown day of week {token!r}")


def make_trigger(cron: str, tz: ZoneInfo, second: str = "0") -> CronTrigger:
    """A 5-field crontab expression in `tz`. `second` exists for the tests (see commands/scheduler)."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"must be a 5-field cron expression, got {cron!r}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        second=second,
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(weekday),
        timezone=tz,
    )


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`."""
    return trigger.get_next_fire_time(None, after + timedelta(microseconds=1))


def fire_times(trigger: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Fire times t with start <= t <= end, oldest first."""
    times: list[datetime] = []
    when = trigger.get_next_fire_time(None, start)
    while when is not None and when <= end:
        times.append(when)
        if len(times) > MAX_FIRE_TIMES:
            raise ValueError("too many fire times to consider; is the cron expression right?")
        when = next_fire(trigger, when)
    return times
