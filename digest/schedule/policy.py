"""Pure scheduling decisions: cron triggers and the catch-up policy. No clock, no database.

The policy, in one place (the README repeats it):
- a schedule remembers `handled_until`: every fire time at or before it has been dealt with;
- the very first start sets it to "now", so a new schedule never sends for the past;
- on start and at each fire, the fire times after `handled_until` and up to now are due;
  several of them coalesce into the newest, which runs once if it is no older than the grace
  (DIGEST_CATCHUP_HOURS); when even the newest is older, they are logged and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Plan:
    """What a schedule owes at one instant.

    `run`: the fire time to run now (the newest due one), or None. `coalesced`: how many older due
    fire times fold into it. `skipped_since`: set when due fire times older than the grace were
    dropped: the first of them. `handled_until`: what to remember once the plan is carried out."""

    run: datetime | None
    coalesced: int
    skipped_since: datetime | None
    handled_until: datetime


def plan(trigger: CronTrigger, handled_until: datetime, now: datetime, grace: timedelta) -> Plan:
    """Decide which fire time, if any, runs now: see the module docstring for the policy."""
    first = next_fire(trigger, handled_until)
    if first is None or first > now:
        return Plan(None, 0, None, handled_until)
    window_start = max(first, now - grace)
    due = fire_times(trigger, window_start, now)
    skipped = first if first < window_start else None
    if not due:
        return Plan(None, 0, skipped, now)
    return Plan(due[-1], len(due) - 1, skipped, due[-1])


def first_handled_until(now: datetime) -> datetime:
    """A schedule seen for the first time has handled everything up to now: no sends for the past."""
    return now


def grace_of(catchup_hours: float) -> timedelta:
    return timedelta(hours=catchup_hours)


def misfire_grace_seconds(catchup_hours: float) -> int:
    """APScheduler's own lateness allowance for a running scheduler (a busy or suspended machine).
    Never below a minute: a run a few seconds late must not be dropped when catch-up is 0."""
    return max(60, round(catchup_hours * 3600))
