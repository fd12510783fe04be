"""One scheduler per database, on SQLite and PostgreSQL: the lock row and the per-cadence state."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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


STALE = lock.DEFAULT_TIMING.stale_after


def test_second_scheduler_is_refused_while_the_first_is_alive(engine) -> None:
    first = lock.new_owner()
    lead = lock.acquire(engine, first, NOW)
    assert (lead.owner, lead.epoch, lead.took_over_from) == (first, 1, None)
    with pytest.raises(lock.SchedulerRunning, match="already running on this database"):
        lock.acquire(engine, "elsewhere:999:abcd", NOW + timedelta(seconds=10))
    assert lock.holder(engine).owner == first


def test_stale_heartbeat_is_taken_over_with_the_next_epoch(engine) -> None:
    old = lock.acquire(engine, "otherhost:4242:abcd", NOW)
    later = NOW + STALE + timedelta(seconds=1)
    new = lock.acquire(engine, "newhost:1:ef01", later)
    assert new.took_over_from.owner == "otherhost:4242:abcd" and new.epoch == old.epoch + 1
    assert lock.holder(engine).owner == "newhost:1:ef01"
    assert not lock.heartbeat(engine, old, later)


def test_failover_seconds_set_how_soon_a_silent_leader_is_stale(engine) -> None:
    timing = lock.Timing.of(6)
    lock.acquire(engine, "otherhost:4242:abcd", NOW)
    with pytest.raises(lock.SchedulerRunning):
        lock.acquire(engine, "newhost:1:ef01", NOW + timedelta(seconds=4.9), timing.stale_after)
    assert lock.acquire(engine, "newhost:1:ef01", NOW + timedelta(seconds=5.1), timing.stale_after).epoch == 2
    assert timing.stale_after + timing.poll < timedelta(seconds=6)


def test_heartbeat_keeps_the_lock_from_being_taken(engine) -> None:
    lead = lock.acquire(engine, "otherhost:4242:abcd", NOW)
    later = NOW + STALE - timedelta(seconds=5)
    assert lock.heartbeat(engine, lead, later)
    with pytest.raises(lock.SchedulerRunning):
        lock.acquire(engine, "newhost:1:ef01", later + timedelta(seconds=10))


def test_lock_of_a_dead_process_on_this_host_is_taken_at_once(engine) -> None:
    dead = owner_of_dead_process()
    lock.acquire(engine, dead, NOW)
    assert lock.acquire(engine, lock.new_owner(), NOW + timedelta(seconds=1)).took_over_from.owner == dead


def test_release_frees_the_lock_only_for_its_owner(engine) -> None:
    mine = lock.acquire(engine, lock.new_owner(), NOW)
    lock.release(engine, lock.Leadership("someone:1:else", mine.epoch))
    assert lock.holder(engine).owner == mine.owner
    lock.release(engine, mine)
    assert lock.holder(engine) is None


def test_a_leader_that_lost_the_lease_is_fenced_out_of_recording_a_run(engine) -> None:
    old = lock.acquire(engine, "otherhost:4242:abcd", NOW)
    state.ensure(engine, "weekly", NOW)
    new = lock.acquire(engine, "newhost:1:ef01", NOW + STALE + timedelta(seconds=1))
    outcome = state.Outcome("sent", "2026-W47: sent 3", NOW, NOW)

    def fence_of(lead):
        return lambda connection: lock.fence(connection, lead)

    with pytest.raises(lock.LeadershipLost, match="taken over"):
        state.record(engine, "weekly", outcome, NOW + timedelta(days=1), fence_of(old))
    assert (
        state.get(engine, "weekly").handled_until == NOW and state.get(engine, "weekly").last_outcome is None
    )
    state.record(engine, "weekly", outcome, NOW + timedelta(days=1), fence_of(new))
    assert state.get(engine, "weekly").handled_until == NOW + timedelta(days=1)


def test_a_fenced_transaction_holds_off_a_takeover_until_it_commits(engine) -> None:
    """PostgreSQL: a takeover waits on the lease row the fence locked; it goes through only after
    the old leader's action has committed, never in the middle of it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    lead = lock.acquire(engine, "otherhost:4242:abcd", NOW)
    later = NOW + STALE + timedelta(seconds=1)
    order: list[str] = []
    with engine.begin() as connection:
        lock.fence(connection, lead)
        thief = threading.Thread(
            target=lambda: order.append(lock.acquire(engine, "newhost:1:ef01", later).owner)
        )
        thief.start()
        thief.join(1.0)
        assert thief.is_alive()  # blocked on the row lock while the leader's action is open
        order.append("leader committed")
    thief.join(10)
    assert order == ["leader committed", "newhost:1:ef01"]


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
