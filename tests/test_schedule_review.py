"""The review window around a scheduled send, in-process with a driven clock and a real SMTP server."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from digest.compose import act
from digest.periods import parse_period
from digest.schedule import state
from digest.schedule.runs import Context, tick
from digest.store import open_engine
from tests.delivery_support import seed
from tests.test_schedule_runs import LAST_WEEK, MONDAY_8, add_items, settings_for

REVIEWER = "editor@example.org"
WEEK = "2026-W47"


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url  # every test here runs on SQLite and on PostgreSQL


@pytest.fixture
def engine(db_url: str):
    engine = open_engine(db_url)
    seed(engine, weekly=3)
    state.ensure(engine, "weekly", LAST_WEEK)
    add_items(engine)
    yield engine
    engine.dispose()


def context(db_url, engine, tmp_path, server, **env: str) -> Context:
    values = {
        "DIGEST_REVIEW_HOURS": "24",
        "DIGEST_REVIEWERS": REVIEWER,
        "DIGEST_PREVIEW_URL": "http://preview.example.org:8000",
        **server.env(),
        **env,
    }
    return Context(settings_for(db_url, tmp_path / "outbox", **values), engine, threading.Event())


def to_reviewer(server) -> list:
    return [r.message() for r in server.received if r.rcpt_tos == [REVIEWER]]


def to_subscribers(server) -> list[str]:
    return [rcpt for r in server.received for rcpt in r.rcpt_tos if rcpt != REVIEWER]


def approve(ctx: Context, now) -> None:
    period = parse_period("weekly", WEEK, ctx.settings.timezone)
    act(ctx.settings, ctx.engine, period, "approve", "", now)


def test_review_copy_then_no_send_without_approval_then_one_send_after_it(
    db_url, engine, tmp_path, smtp_server
) -> None:
    server = smtp_server()
    ctx = context(db_url, engine, tmp_path, server, DIGEST_REQUIRE_APPROVAL="true")

    assert tick(ctx, "weekly", MONDAY_8 - timedelta(hours=30)) is None
    assert server.received == []  # the window opens 24 h before the send
    tick(ctx, "weekly", MONDAY_8 - timedelta(hours=20))
    tick(ctx, "weekly", MONDAY_8 - timedelta(hours=19))
    [review] = to_reviewer(server)
    assert review["Subject"].startswith("[Review] ")
    text = review.get_body(("plain",)).get_content()
    assert "http://preview.example.org:8000/digest/weekly/2026-W47?view=edition" in text
    assert "It is not sent until it is approved." in text and "Story 1" in text
    html = review.get_body(("html",)).get_content()
    assert 'href="http://preview.example.org:8000/digest/weekly/2026-W47?view=edition"' in html

    outcome = tick(ctx, "weekly", MONDAY_8 + timedelta(seconds=1))
    assert outcome.kind == "waiting" and "not approved" in outcome.detail
    assert to_subscribers(server) == []
    notices = to_reviewer(server)[1:]
    assert [m["Subject"] for m in notices] == ["Not sent: Digest weekly 2026-W47 is waiting"]
    assert tick(ctx, "weekly", MONDAY_8 + timedelta(minutes=2)) is None
    assert to_subscribers(server) == []

    approve(ctx, MONDAY_8 + timedelta(minutes=3))
    released = tick(ctx, "weekly", MONDAY_8 + timedelta(minutes=4))
    assert released.kind == "sent" and released.detail.startswith("2026-W47: sent 3")
    assert tick(ctx, "weekly", MONDAY_8 + timedelta(minutes=5)) is None
    assert sorted(to_subscribers(server)) == [f"weekly{n:04d}@example.com" for n in range(3)]
    assert len(to_reviewer(server)) == 2  # one review copy, one notice: nothing twice


def test_scheduler_started_inside_the_window_mails_the_review_copy_at_once(
    db_url, engine, tmp_path, smtp_server
) -> None:
    server = smtp_server()
    ctx = context(db_url, engine, tmp_path, server)
    assert tick(ctx, "weekly", MONDAY_8 - timedelta(hours=2), on_start=True) is None
    [review] = to_reviewer(server)
    assert "It goes out as it is unless it is held." in review.get_body(("plain",)).get_content()
    outcome = tick(ctx, "weekly", MONDAY_8 + timedelta(seconds=1))
    assert outcome.kind == "sent"  # approval not required: it goes
    assert len(to_subscribers(server)) == 3


def test_held_edition_waits_and_goes_once_released_within_catchup(
    db_url, engine, tmp_path, smtp_server
) -> None:
    server = smtp_server()
    ctx = context(db_url, engine, tmp_path, server, DIGEST_CATCHUP_HOURS="2")
    period = parse_period("weekly", WEEK, ctx.settings.timezone)
    act(ctx.settings, engine, period, "hold", "", MONDAY_8 - timedelta(hours=1))
    assert tick(ctx, "weekly", MONDAY_8 + timedelta(seconds=1)).kind == "waiting"
    assert to_subscribers(server) == []
    approve(ctx, MONDAY_8 + timedelta(hours=1))
    assert tick(ctx, "weekly", MONDAY_8 + timedelta(hours=1, minutes=1)).kind == "sent"
    assert len(to_subscribers(server)) == 3


def test_edition_released_after_the_catchup_window_is_skipped(
    db_url, engine, tmp_path, smtp_server, caplog
) -> None:
    server = smtp_server()
    ctx = context(db_url, engine, tmp_path, server, DIGEST_CATCHUP_HOURS="2", DIGEST_REQUIRE_APPROVAL="1")
    assert tick(ctx, "weekly", MONDAY_8 + timedelta(seconds=1)).kind == "waiting"
    approve(ctx, MONDAY_8 + timedelta(hours=5))
    assert tick(ctx, "weekly", MONDAY_8 + timedelta(hours=5, minutes=1)) is None
    assert tick(ctx, "weekly", MONDAY_8 + timedelta(hours=5, minutes=2)) is None
    assert to_subscribers(server) == []
    assert "released after DIGEST_CATCHUP_HOURS=2: skipped" in caplog.text
