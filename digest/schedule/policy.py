"""Pure scheduling decisions: the catch-up policy over cron fire times (digest/cron.py). No clock,
no database.

The policy, in one place (the README repeats it):
- a schedule remembers `handled_until`: every fire time at or before it has been dealt with;
- the very first start sets it to "now", so a new schedule never sends for the past;
- on start and at each fire, the fire times after `handled_until` and up to now are due;
  several of them coalesce into the newest, which runs once if it is no older than the grace
  (DIGEST_CATCHUP_HOURS); when even the newest is older, they are logged and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from digest.cron import fire_times, next_fire


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
