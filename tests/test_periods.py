from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.periods import describe, group_by_period, last_complete, parse_period, period_of

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
LONDON = ZoneInfo("Europe/London")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_sunday_late_evening_minus_five_is_monday_in_utc():
    instant = at("2023-11-12T23:30:00-05:00")  # Sunday in New York, Monday 04:30 UTC
    assert period_of(instant, "weekly", NEW_YORK).key == "2023-W45"
    assert period_of(instant, "weekly", UTC_ZONE).key == "2023-W46"


def test_midnight_plus_one_on_the_first_belongs_to_the_new_month_in_that_zone():
    instant = at("2023-12-01T00:00:00+01:00")  # 30 November 23:00 UTC
    assert period_of(instant, "monthly", PARIS).key == "2023-12"
    assert period_of(instant, "monthly", UTC_ZONE).key == "2023-11"


def test_week_across_dst_change_is_bounded_by_local_midnights():
    week = period_of(at("2023-10-26T12:00:00+01:00"), "weekly", LONDON)  # clocks go back 29 Oct
    assert week.key == "2023-W43"
    assert week.start.isoformat() == "2023-10-23T00:00:00+01:00"
    assert week.end.isoformat() == "2023-10-30T00:00:00+00:00"
    assert week.end.astimezone(UTC) - week.start.astimezone(UTC) == timedelta(hours=169)
    assert week.contains(at("2023-10-29T23:59:00+00:00"))
    assert not week.contains(at("2023-10-30T00:00:00+00:00"))


def test_instant_just_after_dst_change_stays_in_its_local_week():
    instant = at("2023-03-26T01:30:00+00:00")  # 02:30 BST on the day clocks go forward
    assert period_of(instant, "weekly", LONDON).key == "2023-W12"


def test_iso_week_53_holds_the_first_days_of_january():
    assert period_of(at("2021-01-03T12:00:00+00:00"), "weekly", UTC_ZONE).key == "2020-W53"
    assert period_of(at("2021-01-04T00:00:00+00:00"), "weekly", UTC_ZONE).key == "2021-W01"


def test_year_boundary_for_weeks_and_months():
    new_year = at("2024-01-01T00:30:00+01:00")  # still 2023 in UTC
    assert period_of(new_year, "monthly", PARIS).key == "2024-01"
    assert period_of(new_year, "monthly", UTC_ZONE).key == "2023-12"
    assert period_of(at("2024-12-30T09:00:00+00:00"), "weekly", UTC_ZONE).key == "2025-W01"


def test_parse_period_round_trips_and_rejects_nonsense():
    assert parse_period("weekly", "2020-W53", UTC_ZONE).first_day.isoformat() == "2020-12-28"
    assert parse_period("monthly", "2023-02", UTC_ZONE).last_day.isoformat() == "2023-02-28"
    for cadence, key in [("weekly", "2021-W53"), ("monthly", "2023-13"), ("weekly", "2023-11")]:
        with pytest.raises(ValueError):
            parse_period(cadence, key, UTC_ZONE)


def test_last_complete_period_is_the_one_before_now():
    monday_morning = datetime(2023, 11, 13, 8, 0, tzinfo=UTC)
    assert last_complete("weekly", monday_morning, UTC_ZONE).key == "2023-W45"
    assert last_complete("monthly", datetime(2024, 1, 1, 8, tzinfo=UTC), UTC_ZONE).key == "2023-12"


def test_grouping_is_newest_first_per_zone():
    times = [
        at("2023-11-12T23:30:00-05:00"),
        at("2023-11-06T10:00:00+00:00"),
        at("2023-11-14T10:00:00+00:00"),
    ]
    groups = group_by_period(times, "weekly", NEW_YORK, lambda t: t)
    assert [(p.key, len(g)) for p, g in groups] == [("2023-W46", 1), ("2023-W45", 2)]


def test_describe_in_words():
    assert describe(parse_period("weekly", "2023-W45", UTC_ZONE)) == "Week 45 · 6–12 November 2023"
    assert describe(parse_period("monthly", "2023-11", UTC_ZONE)) == "November 2023"
    assert (
        describe(parse_period("weekly", "2020-W53", UTC_ZONE))
        == "Week 53 · 28 December 2020 – 3 January 2021"
    )


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        period_of(datetime(2023, 11, 6), "weekly", UTC_ZONE)
    assert period_of(datetime(2023, 11, 6, tzinfo=UTC), "weekly", UTC_ZONE).key == "2023-W45"
