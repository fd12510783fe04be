"""One scheduler per database, on SQLite and PostgreSQL: the lock row and the per-cadence state."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from digest.schedule import lock, state
from digest.store import open_engine
from tests.pg import any_db_url, postgres_server  # noqa: F401 (fixtures)

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


@pytest.fixture
def engine(any_db_url: str):  # noqa: F811
    engine = open_engine(any_db_url)
    yield engine
    engine.dispose()


def owner_of_dead_process() -> str:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    return lock.new_owner().replace(f":{os.getpid()}:", f":{int(child.stdout)}:", 1)


def test_second_scheduler_is_refused_while_the_first_is_alive(engine) -> None:
    first = lock.new_owner()
    assert lock.acquire(engine, first, NOW) is None
    with pytest.raises(lock.SchedulerRunning, match="already running on this database"):
        lock.acquire(engine, "elsewhere:999:abcd", NOW + timedelta(seconds=30))
    assert lock.holder(engine).owner == first


def test_stale_heartbeat_is_taken_over(engine) -> None:
    lock.acquire(engine, "otherhost:4242:abcd", NOW)
    later = NOW + lock.STALE_AFTER + timedelta(seconds=1)
    taken = lock.acquire(engine, "newhost:1:ef01", later)
    assert taken is not None and taken.owner == "otherhost:4242:abcd"
    assert lock.holder(engine).owner == "newhost:1:ef01"
    assert not lock.heartbeat(engine, "otherhost:4242:abcd", later)


def test_heartbeat_keeps_the_lock_from_being_taken(engine) -> None:
    lock.acquire(engine, "otherhost:4242:abcd", NOW)
    later = NOW + lock.STALE_AFTER - timedelta(seconds=5)
    assert lock.heartbeat(engine, "otherhost:4242:abcd", later)
    with pytest.raises(lock.SchedulerRunning):
        lock.acquire(engine, "newhost:1:ef01", later + timedelta(seconds=10))


def test_lock_of_a_dead_process_on_this_host_is_taken_at_once(engine) -> None:
    dead = owner_of_dead_process()
    lock.acquire(engine, dead, NOW)
    assert lock.acquire(engine, lock.new_owner(), NOW + timedelta(seconds=1)).owner == dead


def test_release_frees_the_lock_only_for_its_owner(engine) -> None:
    mine = lock.new_owner()
    lock.acquire(engine, mine, NOW)
    lock.release(engine, "someone:1:else")
    assert lock.holder(engine).owner == mine
    lock.release(engine, mine)
    assert lock.holder(engine) is None


def test_first_sight_of_a_schedule_handles_everything_up_to_now(engine) -> None:
    row, created = state.ensure(engine, "weekly", NOW)
    assert created and row.handled_until == NOW
    row, created = state.ensure(engine, "weekly", NOW + timedelta(days=3))
    assert not created and row.handled_until == NOW


def test_handled_until_never_moves_backward(engine) -> None:
    state.ensure(engine, "weekly", NOW)
    outcome = state.Outcome("sent", "2026-W47: sent 3", NOW, NOW, 1.5)
    state.record(engine, "weekly", outcome, NOW + timedelta(hours=1))
    state.record(engine, "weekly", outcome, NOW - timedelta(days=1))
    row = state.get(engine, "weekly")
    assert row.handled_until == NOW + timedelta(hours=1)
    assert (row.last_outcome, row.last_detail, row.last_duration) == ("sent", "2026-W47: sent 3", 1.5)
