"""One scheduled run in-process, with the real renderer, delivery log and file transport."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.config import load_settings
from digest.models import Item
from digest.schedule import lock, state
from digest.schedule.runs import Context, tick
from digest.store import open_engine
from digest.store.items import upsert_items
from tests.delivery_support import seed

MONDAY_8 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # the run for 2026-W47
LAST_WEEK = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)


def settings_for(db_url: str, outbox: Path, **env: str):
    base = {
        "DIGEST_DATABASE_URL": db_url,
        "DIGEST_FROM": "Test News <news@example.org>",
        "DIGEST_SECRET_KEY": "runs-test-secret-padded-to-32-characters-or-more",
        "DIGEST_OUTBOX": str(outbox),
        "DIGEST_WEEKLY_CRON": "0 8 * * mon",
    }
    return load_settings({**base, **env}, env_file=None)


@pytest.fixture
def engine(db_url: str):
    engine = open_engine(db_url)
    seed(engine, weekly=3, monthly=1)
    state.ensure(engine, "weekly", LAST_WEEK)  # the schedule exists since last Tuesday
    yield engine
    engine.dispose()


def add_items(engine) -> None:
    items = [
        Item(
            title=f"Story {n}",
            summary="News.",
            url=f"https://example.org/{n}",
            published=LAST_WEEK + timedelta(hours=n),
        )
        for n in range(2)
    ]
    with engine.begin() as connection:
        upsert_items(connection, items, LAST_WEEK)


def context(db_url: str, engine, outbox: Path, **env: str) -> Context:
    return Context(settings_for(db_url, outbox, **env), engine, threading.Event())


def test_run_that_fires_twice_sends_each_subscriber_once(db_url, engine, tmp_path) -> None:
    add_items(engine)
    ctx = context(db_url, engine, tmp_path / "outbox")
    outcome = tick(ctx, "weekly", MONDAY_8 + timedelta(seconds=1))
    assert outcome.kind == "sent" and outcome.detail.startswith("2026-W47: sent 3, failed 0")
    assert tick(ctx, "weekly", MONDAY_8 + timedelta(seconds=2)) is None  # nothing due any more
    state.record(engine, "weekly", outcome, None)
    with engine.begin() as connection:  # a second scheduler fire of the same time, forced
        connection.exec_driver_sql("UPDATE scheduler_jobs SET handled_until = created_at")
    again = tick(ctx, "weekly", MONDAY_8 + timedelta(seconds=3))
    assert again.detail.startswith("2026-W47: sent 0, failed 0, pending 0, already sent 3")
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 3


def test_empty_period_is_logged_and_skipped(db_url, engine, tmp_path, caplog) -> None:
    ctx = context(db_url, engine, tmp_path / "outbox")
    with caplog.at_level(logging.INFO, logger="digest.scheduler"):
        outcome = tick(ctx, "weekly", MONDAY_8 + timedelta(seconds=1))
    assert outcome.kind == "empty"
    assert (
        "weekly 2026-W47 (run of 2026-11-23 08:00:00 UTC): no items in weekly 2026-W47: skipped"
        in caplog.text
    )
    assert state.get(engine, "weekly").handled_until == MONDAY_8
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())


def test_failed_run_stays_due_and_the_next_tick_sends_it(db_url, engine, tmp_path, caplog) -> None:
    add_items(engine)
    broken = context(db_url, engine, tmp_path / "outbox", DIGEST_TEMPLATES_DIR=str(tmp_path / "bad"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "digest.mjml").write_text("{% if %}")
    outcome = tick(broken, "weekly", MONDAY_8 + timedelta(seconds=1))
    assert outcome.kind == "error"
    assert state.get(engine, "weekly").handled_until == LAST_WEEK
    assert "failed:" in caplog.text
    fixed = context(db_url, engine, tmp_path / "outbox")
    assert tick(fixed, "weekly", MONDAY_8 + timedelta(minutes=5)).kind == "sent"
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 3


def test_a_leader_that_lost_the_lease_sends_nothing_and_records_nothing(db_url, engine, tmp_path) -> None:
    add_items(engine)
    old = lock.acquire(engine, "otherhost:4242:abcd", MONDAY_8)
    lock.acquire(engine, "newhost:1:ef01", MONDAY_8 + lock.DEFAULT_TIMING.stale_after + timedelta(seconds=1))
    ctx = context(db_url, engine, tmp_path / "outbox")
    ctx.lead = old
    with pytest.raises(lock.LeadershipLost):
        tick(ctx, "weekly", MONDAY_8 + timedelta(seconds=40))
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").rglob("*.eml"))
    assert state.get(engine, "weekly").handled_until == LAST_WEEK
