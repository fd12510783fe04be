"""Standby schedulers on one PostgreSQL database: real processes, real SMTP on loopback.

Cron times fall a few seconds ahead through `--second` (see test_schedule_process.py), and
DIGEST_FAILOVER_SECONDS is short so a takeover fits in the test.
"""

from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.pg import postgres_server  # noqa: F401 (fixture)
from tests.smtp_server import smtp_server  # noqa: F401 (fixture)
from tests.test_schedule_process import fire_in, site, start, subjects, wait_until  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
FAILOVER = {"DIGEST_FAILOVER_SECONDS": "3"}


@pytest.fixture
def pg_site(site, postgres_server):  # noqa: F811
    def make(**kwargs):
        return site(db_url=postgres_server.new_database(), **kwargs)

    return make


def leader_and_standby(start, second: int):  # noqa: F811
    first = start(second, name="first", **FAILOVER)
    first.wait_for_log("scheduler leading")
    standby = start(second, name="second", **FAILOVER)
    standby.wait_for_log("standing by")
    return first, standby


def runs_sent(scheduler) -> int:
    return scheduler.log().count("(run of")


def test_standby_sends_the_run_on_time_once_when_the_leader_is_killed_before_it(pg_site, start) -> None:  # noqa: F811
    server, weekly, week = pg_site(weekly=6, monthly=1)
    second, fire_time = fire_in(12)
    leader, standby = leader_and_standby(start, second)
    leader.kill()  # SIGKILL: no release, the lease stays behind
    standby.wait_for_log("took over from a scheduler that is gone", timeout=5)
    standby.wait_for_log("weekly: cron")
    assert wait_until(lambda: datetime.now(UTC) >= fire_time - timedelta(seconds=0.5), 15)
    assert server.received == []  # not before its time
    assert wait_until(lambda: len(server.received) >= len(weekly), 10), standby.log()
    standby.wait_for_log(f"weekly {week.key} (run of")
    assert standby.stop() == 0, standby.log()
    assert server.recipients() == weekly
    assert len(subjects(server)) == 1
    assert runs_sent(standby) == 1 and "missed run" not in standby.log()


def test_with_leader_and_standby_both_alive_exactly_one_sends(pg_site, start) -> None:  # noqa: F811
    server, weekly, week = pg_site(weekly=6, monthly=1)
    second, _ = fire_in(8)
    leader, standby = leader_and_standby(start, second)
    assert wait_until(lambda: len(server.received) >= len(weekly), 25), leader.log()
    leader.wait_for_log(f"weekly {week.key} (run of")
    assert not wait_until(lambda: len(server.received) > len(weekly), 3)
    assert standby.stop() == 0 and leader.stop() == 0
    assert server.recipients() == weekly
    assert (runs_sent(leader), runs_sent(standby)) == (1, 0)
    assert "took over" not in standby.log()


def test_a_paused_leader_is_fenced_out_after_the_standby_takes_over(pg_site, start) -> None:  # noqa: F811
    """SIGSTOP looks like a hung or partitioned host: the process is alive, its heartbeat stops.
    The standby takes over within DIGEST_FAILOVER_SECONDS and sends; the old leader, resumed after
    the fire time with its own APScheduler still holding that run, must not send it again."""
    server, weekly, week = pg_site(weekly=6, monthly=1)
    second, fire_time = fire_in(12)
    leader, standby = leader_and_standby(start, second)
    leader.process.send_signal(signal.SIGSTOP)
    paused_at = datetime.now(UTC)
    standby.wait_for_log("took over from a scheduler that is gone", timeout=6)
    # within DIGEST_FAILOVER_SECONDS (3), plus slack for a loaded machine's scheduling
    assert datetime.now(UTC) - paused_at < timedelta(seconds=3 + 2)
    assert wait_until(lambda: len(server.received) >= len(weekly), 25), standby.log()
    standby.wait_for_log(f"weekly {week.key} (run of")
    assert datetime.now(UTC) > fire_time
    leader.process.send_signal(signal.SIGCONT)
    assert leader.process.wait(20) == 1
    assert "lost the scheduler lease" in leader.log()
    assert standby.stop() == 0
    counts = Counter(server.recipients())
    assert sorted(counts) == weekly and max(counts.values()) == 1
    assert runs_sent(leader) == 0 and runs_sent(standby) == 1
