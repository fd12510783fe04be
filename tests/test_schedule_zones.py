"""Local-time delivery, planned: send groups per zone, 08:00 local across DST changes, periods."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from digest.schedule.zones import Group, groups, parse_schedule_name, plan_sends, schedule_name
from digest.store import open_engine
from digest.store.subscribers import insert_subscriber

BERLIN = ZoneInfo("Europe/Berlin")
CRONS = {"weekly": "0 8 * * mon", "monthly": "0 8 1 * *"}
THREE = [
    Group("weekly", "Asia/Tokyo", 2),
    Group("weekly", "Europe/Berlin", 3),
    Group("weekly", "America/Chicago", 1),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_three_zones_each_get_their_own_0800_on_both_sides_of_every_dst_change():
    sends = plan_sends(THREE, CRONS, BERLIN, at("2024-03-03 00:00"), at("2024-04-08 12:00"))
    assert all(s.at_local.strftime("%a %H:%M") == "Mon 08:00" for s in sends)
    by_zone: dict[str, list[str]] = {}
    for send in sends:
        by_zone.setdefault(send.timezone, []).append(f"{send.at_utc:%m-%d %H:%M}")
    assert by_zone["Asia/Tokyo"] == [
        "03-03 23:00",
        "03-10 23:00",
        "03-17 23:00",
        "03-24 23:00",
        "03-31 23:00",
        "04-07 23:00",
    ]
    # Europe moves its clocks on 31 March: 07:00 UTC before, 06:00 UTC after.
    assert by_zone["Europe/Berlin"] == [
        "03-04 07:00",
        "03-11 07:00",
        "03-18 07:00",
        "03-25 07:00",
        "04-01 06:00",
        "04-08 06:00",
    ]
    # The USA moves on 10 March: 14:00 UTC before, 13:00 UTC after.
    assert by_zone["America/Chicago"] == [
        "03-04 14:00",
        "03-11 13:00",
        "03-18 13:00",
        "03-25 13:00",
        "04-01 13:00",
    ]


def test_autumn_changes_keep_0800_local_too():
    sends = plan_sends(THREE, CRONS, BERLIN, at("2024-10-21 00:00"), at("2024-11-05 00:00"))
    seen = [(s.timezone, f"{s.at_utc:%m-%d %H:%M}") for s in sends if s.timezone != "Asia/Tokyo"]
    assert ("Europe/Berlin", "10-21 06:00") in seen and ("Europe/Berlin", "10-28 07:00") in seen
    assert ("America/Chicago", "10-28 13:00") in seen and ("America/Chicago", "11-04 14:00") in seen


def test_every_zone_sends_the_organizers_period():
    sends = plan_sends(THREE, CRONS, BERLIN, at("2024-03-31 12:00"), at("2024-04-07 12:00"))
    assert [(s.timezone, s.period, s.recipients) for s in sends] == [
        ("Asia/Tokyo", "2024-W13", 2),
        ("Europe/Berlin", "2024-W13", 3),
        ("America/Chicago", "2024-W13", 1),
    ]


def test_a_zone_whose_morning_comes_before_the_organizers_week_ends_gets_it_a_cycle_later():
    sends = plan_sends(
        [Group("weekly", "Asia/Tokyo", 1)],
        CRONS,
        ZoneInfo("UTC"),
        at("2024-03-31 00:00"),
        at("2024-04-01 00:00"),
    )
    # Tokyo's Monday 08:00 is Sunday 23:00 UTC: week 13 is not over in UTC, so week 12 goes.
    assert [(s.at_local.isoformat(), s.period) for s in sends] == [("2024-04-01T08:00:00+09:00", "2024-W12")]


def test_a_time_that_does_not_exist_on_the_spring_change_fires_once_an_hour_later_on_the_clock():
    sends = plan_sends(
        [Group("weekly", "Europe/Berlin")],
        {"weekly": "30 2 * * sun"},
        BERLIN,
        at("2024-03-30 00:00"),
        at("2024-04-01 00:00"),
    )
    assert [s.at_local.isoformat() for s in sends] == ["2024-03-31T03:30:00+02:00"]


def test_groups_follow_subscribers_zones_only_with_local_time():
    counts = [
        ("weekly", "Asia/Tokyo", 2),
        ("weekly", None, 4),
        ("weekly", "Europe/Berlin", 1),
        ("monthly", "Asia/Tokyo", 5),
    ]
    local = groups(counts, ("weekly", "monthly"), "Europe/Berlin", local_time=True)
    assert local == [
        Group("monthly", "Asia/Tokyo", 5),
        Group("monthly", "Europe/Berlin", 0),
        Group("weekly", "Asia/Tokyo", 2),
        Group("weekly", "Europe/Berlin", 5),
    ]
    organizer = groups(counts, ("weekly", "monthly"), "Europe/Berlin", local_time=False)
    assert organizer == [Group("monthly", "Europe/Berlin", 5), Group("weekly", "Europe/Berlin", 7)]


def test_the_organizers_zone_keeps_the_plain_schedule_name():
    assert schedule_name("weekly", "Europe/Berlin", "Europe/Berlin") == "weekly"
    assert schedule_name("weekly", "Asia/Tokyo", "Europe/Berlin") == "weekly@Asia/Tokyo"
    assert parse_schedule_name("weekly@Asia/Tokyo", "UTC") == ("weekly", "Asia/Tokyo")
    assert parse_schedule_name("weekly", "UTC") == ("weekly", "UTC")


@pytest.mark.parametrize("local", ["true", "false"])
def test_scheduler_plan_json_lists_a_send_per_zone_at_0800_local(digest, db_url, local):
    engine = open_engine(db_url)
    with engine.begin() as connection:
        for email, zone in (
            ("ken@example.org", "Asia/Tokyo"),
            ("eva@example.org", "Europe/Berlin"),
            ("joe@example.org", "America/Chicago"),
        ):
            insert_subscriber(
                connection, email, None, "weekly", "test", at("2024-03-01 00:00"), timezone=zone
            )
    engine.dispose()
    env = {"DIGEST_TIMEZONE": "Europe/Berlin", "DIGEST_SEND_LOCAL_TIME": local}
    result = digest(
        "scheduler",
        "plan",
        "--from",
        "2024-03-31T12:00:00Z",
        "--until",
        "2024-04-07T12:00:00Z",
        "--json",
        extra_env=env,
    )
    assert result.code == 0, result.err
    weekly = [s for s in json.loads(result.out) if s["cadence"] == "weekly"]
    if local == "false":
        assert weekly == [
            {
                "at_utc": "2024-04-01T06:00:00Z",
                "at_local": "2024-04-01T08:00:00+02:00",
                "timezone": "Europe/Berlin",
                "cadence": "weekly",
                "period": "2024-W13",
                "recipients": 3,
            }
        ]
        return
    assert weekly == [
        {
            "at_utc": "2024-03-31T23:00:00Z",
            "at_local": "2024-04-01T08:00:00+09:00",
            "timezone": "Asia/Tokyo",
            "cadence": "weekly",
            "period": "2024-W13",
            "recipients": 1,
        },
        {
            "at_utc": "2024-04-01T06:00:00Z",
            "at_local": "2024-04-01T08:00:00+02:00",
            "timezone": "Europe/Berlin",
            "cadence": "weekly",
            "period": "2024-W13",
            "recipients": 1,
        },
        {
            "at_utc": "2024-04-01T13:00:00Z",
            "at_local": "2024-04-01T08:00:00-05:00",
            "timezone": "America/Chicago",
            "cadence": "weekly",
            "period": "2024-W13",
            "recipients": 1,
        },
    ]


def test_scheduler_plan_refuses_a_window_that_ends_before_it_starts(digest):
    result = digest("scheduler", "plan", "--from", "2024-04-02", "--until", "2024-04-01")
    assert result.code == 2 and "--until" in result.err
