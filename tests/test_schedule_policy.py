"""The scheduler's pure decisions: cron triggers (weekday numbers, DST) and the catch-up policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.cron import crontab_weekdays, fire_times, make_trigger, next_fire
from digest.periods import last_complete
from digest.schedule.policy import misfire_grace_seconds, plan

LONDON = ZoneInfo("Europe/London")
UTC_ZONE = ZoneInfo("UTC")
DAY = timedelta(hours=24)


def at(*args: int, tz: ZoneInfo = UTC_ZONE) -> datetime:
    return datetime(*args, tzinfo=tz)


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("*", "*"),
        ("1", "mon"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("5-7", "fri,sat,sun"),
        ("*/2", "tue,thu,sat,sun"),
        ("mon,wed", "mon,wed"),
        ("MON-FRI", "mon,tue,wed,thu,fri"),
        ("sat,0", "sat,sun"),
    ],
)
def test_crontab_weekday_numbers_count_from_sunday(field: str, names: str) -> None:
    assert crontab_weekdays(field) == names


@pytest.mark.parametrize("field", ["8", "mon-", "x", "5-2"])
def test_invalid_weekday_is_refused(field: str) -> None:
    with pytest.raises(ValueError):
        crontab_weekdays(field)


def test_numeric_monday_cron_fires_on_monday() -> None:
    trigger = make_trigger("0 8 * * 1", UTC_ZONE)
    fire = next_fire(trigger, at(2026, 11, 24, 12))  # a Tuesday
    assert fire == at(2026, 11, 30, 8)
    assert fire.weekday() == 0


def test_weekly_london_job_fires_at_eight_local_on_both_sides_of_dst_change() -> None:
    trigger = make_trigger("0 8 * * mon", LONDON)
    # Clocks go forward on Sunday 29 March 2026 and back on Sunday 25 October 2026.
    spring = fire_times(trigger, at(2026, 3, 20, tz=LONDON), at(2026, 4, 3, tz=LONDON))
    autumn = fire_times(trigger, at(2026, 10, 16, tz=LONDON), at(2026, 10, 30, tz=LONDON))
    for fire in spring + autumn:
        local = fire.astimezone(LONDON)
        assert (local.weekday(), local.hour, local.minute) == (0, 8, 0)
    assert [f.astimezone(UTC).hour for f in spring] == [8, 7]  # GMT, then BST
    assert [f.astimezone(UTC).hour for f in autumn] == [7, 8]  # BST, then GMT
    assert spring[1].astimezone(UTC) - spring[0].astimezone(UTC) == timedelta(days=7, hours=-1)


def test_first_run_after_dst_change_sends_the_week_before() -> None:
    trigger = make_trigger("0 8 * * mon", LONDON)
    fire = next_fire(trigger, at(2026, 3, 29, 12, tz=LONDON))
    assert last_complete("weekly", fire, LONDON).key == "2026-W13"


def test_seconds_field_is_only_for_tests_and_keeps_the_crontab_fields() -> None:
    trigger = make_trigger("* * * * *", UTC_ZONE, second="*/10")
    assert fire_times(trigger, at(2026, 1, 1), at(2026, 1, 1, 0, 0, 30)) == [
        at(2026, 1, 1, 0, 0, s) for s in (0, 10, 20, 30)
    ]


WEEKLY = make_trigger("0 8 * * mon", UTC_ZONE)
MONDAY_8 = at(2026, 11, 23, 8)


def test_nothing_is_due_before_the_next_fire_time() -> None:
    decision = plan(WEEKLY, MONDAY_8, MONDAY_8 + 3 * DAY, DAY)
    assert decision.run is None and decision.skipped_since is None
    assert decision.handled_until == MONDAY_8


def test_run_missed_within_grace_goes_out_once() -> None:
    handled = MONDAY_8 - timedelta(days=6)  # the scheduler stopped last Tuesday
    decision = plan(WEEKLY, handled, MONDAY_8 + timedelta(hours=5), DAY)
    assert decision.run == MONDAY_8
    assert decision.coalesced == 0 and decision.skipped_since is None
    again = plan(WEEKLY, decision.handled_until, MONDAY_8 + timedelta(hours=6), DAY)
    assert again.run is None


def test_run_missed_longer_than_grace_is_skipped() -> None:
    handled = MONDAY_8 - timedelta(days=6)
    decision = plan(WEEKLY, handled, MONDAY_8 + timedelta(hours=25), DAY)
    assert decision.run is None
    assert decision.skipped_since == MONDAY_8
    assert decision.handled_until == MONDAY_8 + timedelta(hours=25)


def test_several_missed_runs_coalesce_into_the_newest() -> None:
    every_hour = make_trigger("0 * * * *", UTC_ZONE)
    decision = plan(every_hour, at(2026, 11, 24, 0), at(2026, 11, 24, 5, 30), DAY)
    assert decision.run == at(2026, 11, 24, 5)
    assert decision.coalesced == 4
    assert decision.skipped_since is None


def test_old_misses_are_skipped_while_the_newest_within_grace_runs() -> None:
    every_hour = make_trigger("0 * * * *", UTC_ZONE)
    decision = plan(every_hour, at(2026, 11, 24, 0), at(2026, 11, 24, 5, 30), timedelta(hours=2))
    assert decision.run == at(2026, 11, 24, 5)
    assert decision.skipped_since == at(2026, 11, 24, 1)


def test_fire_time_exactly_at_handled_until_is_not_run_again() -> None:
    assert plan(WEEKLY, MONDAY_8, MONDAY_8, DAY).run is None


def test_zero_catchup_sends_only_on_time() -> None:
    decision = plan(WEEKLY, MONDAY_8 - DAY, MONDAY_8 + timedelta(seconds=1), timedelta(0))
    assert decision.run is None and decision.skipped_since == MONDAY_8
    assert plan(WEEKLY, MONDAY_8 - DAY, MONDAY_8, timedelta(0)).run == MONDAY_8


def test_late_catch_up_sends_the_period_of_the_fire_time_not_of_now() -> None:
    handled = at(2026, 11, 29)  # Sunday
    now = at(2026, 12, 7, 7)  # the next Monday, an hour before its own run: W49 is complete by now
    decision = plan(WEEKLY, handled, now, timedelta(days=8))
    assert decision.run == at(2026, 11, 30, 8)
    assert last_complete("weekly", decision.run, UTC_ZONE).key == "2026-W48"
    assert last_complete("weekly", now, UTC_ZONE).key == "2026-W49"


def test_misfire_grace_is_the_catchup_with_a_one_minute_floor() -> None:
    assert misfire_grace_seconds(24) == 86400
    assert misfire_grace_seconds(0) == 60


def test_config_accepts_crontab_sunday_as_seven_and_refuses_nonsense() -> None:
    from digest.config import load_settings
    from digest.errors import ConfigError

    settings = load_settings({"DIGEST_WEEKLY_CRON": "0 8 * * 7"}, env_file=None)
    assert next_fire(make_trigger(settings.weekly_cron, UTC_ZONE), at(2026, 11, 24)).weekday() == 6
    with pytest.raises(ConfigError, match="DIGEST_WEEKLY_CRON"):
        load_settings({"DIGEST_WEEKLY_CRON": "0 8 * * 9"}, env_file=None)
