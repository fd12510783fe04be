"""Local-time delivery, the pure part: send groups per time zone, their fire times and periods.

With DIGEST_SEND_LOCAL_TIME the cron is read in each subscriber's own zone (their `timezone`, else
DIGEST_TIMEZONE): one send group per (cadence, zone), each with its own schedule state, catch-up
and claim batch. Without it there is one group per cadence, in DIGEST_TIMEZONE, as before.

The period stays the organizer's: a group's run sends the last period complete, in DIGEST_TIMEZONE,
at the group's fire time, exactly as an organizer-zone run does. A zone whose cron time falls
before the organizer's period has ended (Tokyo's Monday 08:00 is Sunday 23:00 in UTC) therefore
gets each period one cycle later, never half-finished. DST: fire times are APScheduler's cron in
the zone, so 08:00 stays 08:00 local across a change; a time that does not exist on the day of the
change (02:30 in spring) fires an hour later on the clock (03:30), one that happens twice fires once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from digest.cron import fire_times, make_trigger
from digest.periods import last_complete

SEPARATOR = "@"


@dataclass(frozen=True, order=True)
class Group:
    """Who one send reaches: a cadence's active subscribers in one zone."""

    cadence: str
    timezone: str
    recipients: int = 0


@dataclass(frozen=True)
class PlannedSend:
    at_utc: datetime
    at_local: datetime
    timezone: str
    cadence: str
    period: str
    recipients: int

    def as_dict(self) -> dict:
        return {
            "at_utc": self.at_utc.isoformat().replace("+00:00", "Z"),
            "at_local": self.at_local.isoformat(),
            "timezone": self.timezone,
            "cadence": self.cadence,
            "period": self.period,
            "recipients": self.recipients,
        }


def schedule_name(cadence: str, zone: str, organizer_zone: str) -> str:
    """The key of a group's schedule state: the organizer's zone keeps the plain cadence (`weekly`),
    so turning local time on or off keeps its history; another zone is `weekly@Asia/Tokyo`."""
    return cadence if zone == organizer_zone else f"{cadence}{SEPARATOR}{zone}"


def parse_schedule_name(name: str, organizer_zone: str) -> tuple[str, str]:
    cadence, _, zone = name.partition(SEPARATOR)
    return cadence, zone or organizer_zone


def groups(
    counts: Iterable[tuple[str, str | None, int]],
    cadences: Iterable[str],
    organizer_zone: str,
    local_time: bool,
) -> list[Group]:
    """Send groups from active-subscriber counts per (cadence, their zone or None). The organizer's
    zone is always a group (the scheduler fires there even for an empty list, as before)."""
    known = tuple(cadences)
    totals: dict[tuple[str, str], int] = {(cadence, organizer_zone): 0 for cadence in known}
    for cadence, zone, count in counts:
        if cadence in known:
            key = (cadence, (zone or organizer_zone) if local_time else organizer_zone)
            totals[key] = totals.get(key, 0) + count
    return sorted(Group(cadence, zone, n) for (cadence, zone), n in totals.items())


def plan_sends(
    send_groups: Iterable[Group],
    crons: Mapping[str, str],
    organizer_tz: ZoneInfo,
    start: datetime,
    end: datetime,
) -> list[PlannedSend]:
    """Every send in [start, end], oldest first (ties: by zone): what `digest scheduler plan` lists."""
    planned = []
    for group in send_groups:
        zone = ZoneInfo(group.timezone)
        for when in fire_times(make_trigger(crons[group.cadence], zone), start, end):
            period = last_complete(group.cadence, when, organizer_tz)
            planned.append(
                PlannedSend(
                    when.astimezone(UTC),
                    when.astimezone(UTC).astimezone(zone),  # a nonexistent wall time, normalized
                    group.timezone,
                    group.cadence,
                    period.key,
                    group.recipients,
                )
            )
    return sorted(planned, key=lambda s: (s.at_utc, s.cadence, s.timezone))
