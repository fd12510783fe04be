"""Queued sends on PostgreSQL: `digest send --queue`, `digest worker` processes, `digest status`.

Real processes, the real PostgreSQL (tests/pg.py), a loopback sink that counts copies.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from digest.schedule import state
from digest.schedule.runs import Context, tick
from digest.send.fleet import FleetLimiter
from digest.send.queue import queue_rows
from digest.send.worker import run_batch
from digest.store.schema import deliveries
from tests.delivery_support import NOW, SECRET, WEEK, address, prepared_store, settings_for
from tests.fast_sink import FastSink
from tests.pg import postgres_server  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def sink():
    server = FastSink().start()
    yield server
    server.stop()


@pytest.fixture
def fleet(tmp_path: Path, env: dict[str, str], postgres_server, sink):  # noqa: F811
    """A PostgreSQL store, an environment pointing at it and the sink, and worker processes."""
    url = postgres_server.new_database()
    full = {
        **env,
        **sink.env(),
        "DIGEST_DATABASE_URL": url,
        "DIGEST_FROM": "Test News <news@example.org>",
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_SEND_CONCURRENCY": "4",
        "DIGEST_FAILOVER_SECONDS": "4",
    }
    workers: list[subprocess.Popen] = []

    def start_worker() -> subprocess.Popen:
        log = (tmp_path / f"worker-{len(workers)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "worker"],
            cwd=tmp_path,
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append(process)
        return process

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=tmp_path,
            env=full,
            capture_output=True,
            text=True,
            timeout=120,
        )

    yield url, run, start_worker
    for process in workers:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def status_of(run) -> dict:
    result = run("status", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    return row


def test_queued_digest_waits_without_a_worker_and_a_worker_started_later_sends_it(fleet, sink) -> None:
    url, run, start_worker = fleet
    prepared_store(url, weekly=60).dispose()
    queued = run("send", "--queue", "--period", WEEK)
    assert queued.returncode == 0, queued.stderr
    assert "queued for 60 recipients as 1 new job" in queued.stdout
    assert "until one runs, it waits in the queue" in queued.stdout
    again = run("send", "--queue", "--period", WEEK)
    assert "0 new jobs (1 already queued)" in again.stdout  # deduplicated
    time.sleep(1)
    assert sink.total() == 0
    assert status_of(run) == {
        "cadence": "weekly",
        "period": WEEK,
        "state": "queued",
        "pending": 60,
        "sent": 0,
        "failed": 0,
        "bounced": 0,
    }
    worker = start_worker()
    assert wait_until(lambda: sink.total() >= 60, 30)
    assert wait_until(lambda: status_of(run)["state"] == "sent", 10), status_of(run)
    assert status_of(run)["sent"] == 60 and status_of(run)["pending"] == 0
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    assert set(sink.copies) == {address("weekly", n) for n in range(60)} and max(sink.copies.values()) == 1


def test_send_queue_on_sqlite_is_refused_with_one_line(digest, db_url) -> None:
    prepared_store(db_url, weekly=2).dispose()
    env = {"DIGEST_FROM": "Test News <news@example.org>", "DIGEST_SECRET_KEY": SECRET}
    result = digest("send", "--queue", "--period", WEEK, extra_env=env)
    assert result.code == 1
    assert (
        result.err.strip()
        == "digest: error: digest send --queue needs PostgreSQL (DIGEST_DATABASE_URL is sqlite)"
    )


def test_three_workers_one_killed_mid_way_every_recipient_gets_it_with_few_duplicates(fleet, sink) -> None:
    url, run, start_worker = fleet
    total = 30_000
    prepared_store(url, weekly=total).dispose()
    assert run("send", "--queue", "--period", WEEK).returncode == 0
    workers = [start_worker() for _ in range(3)]
    assert wait_until(lambda: sink.total() >= total // 3, 60)
    workers[0].kill()  # SIGKILL: its batch is taken over after its heartbeat lapses
    killed_at = sink.total()
    assert killed_at < total, "the kill came too late to test anything"
    assert wait_until(lambda: len(sink.copies) >= total, 90), (len(sink.copies), status_of(run))
    assert wait_until(lambda: status_of(run)["state"] == "sent", 20), status_of(run)
    assert set(sink.copies) == {address("weekly", n) for n in range(total)}
    duplicates = sum(n - 1 for n in sink.copies.values())
    print(f"killed at {killed_at}: {duplicates} duplicates")
    assert duplicates <= 4  # the killed worker's connections: its messages in flight
    for worker in workers[1:]:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0


def test_scheduler_with_scheduler_queue_queues_its_run_and_a_worker_sends_it(fleet, sink) -> None:
    url, run, start_worker = fleet
    engine = prepared_store(url, weekly=40)
    settings = settings_for(url, DIGEST_SCHEDULER_QUEUE="true", **sink.env())
    state.ensure(engine, "weekly", NOW - timedelta(days=1))
    outcome = tick(Context(settings, engine, threading.Event()), "weekly", NOW + timedelta(seconds=1))
    engine.dispose()
    assert outcome.kind == "queued" and "queued for 40 recipients" in outcome.detail
    assert status_of(run)["state"] == "queued"
    start_worker()
    assert wait_until(lambda: len(sink.copies) >= 40, 30)
    assert max(sink.copies.values()) == 1


def test_a_batch_taken_over_resumes_from_the_log_and_takes_back_a_lost_workers_claims(
    postgres_server,  # noqa: F811
    sink,
) -> None:
    """What a worker does with a batch pgqueuer re-hands it: rows the log says are sent stay sent;
    rows a worker on another host had claimed (and can no longer be asked about) are sent."""
    url = postgres_server.new_database()
    engine = prepared_store(url, weekly=100)
    digest_id = queue_rows(engine, 1, "weekly").digest_id
    with engine.begin() as connection:
        ids = [row.id for row in connection.execute(select(deliveries.c.id).order_by(deliveries.c.id))]
        connection.execute(update(deliveries).where(deliveries.c.id.in_(ids[:30])).values(state="sent"))
        lost = dict(state="sending", claimed_by="otherhost:4242:abcd", claimed_at=datetime.now(UTC))
        connection.execute(update(deliveries).where(deliveries.c.id.in_(ids[30:40])).values(**lost))
    settings = settings_for(url, **sink.env())
    run_batch(
        settings,
        engine,
        {"digest_id": digest_id, "first": ids[0], "last": ids[-1]},
        threading.Event(),
        FleetLimiter(engine, 0),
    )
    with engine.connect() as connection:
        states = dict(
            connection.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state)).all()
        )
    engine.dispose()
    assert sink.total() == 70 and max(sink.copies.values()) == 1
    assert address("weekly", 0) not in sink.copies  # sent before: never resent
    assert states == {"sent": 100}
