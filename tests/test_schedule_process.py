"""`digest scheduler run` as a real process, with real SMTP on loopback and cron times inside the test.

Cron times fall a few seconds ahead through the hidden `--second` option (the cron's seconds field;
testing only): `* * * * *` with `--second S` fires once a minute, at second S.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.periods import last_complete
from tests.pg import any_db_url, postgres_server  # noqa: F401 (fixtures)
from tests.smtp_server import smtp_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
UTC_ZONE = ZoneInfo("UTC")


class Scheduler:
    """One `python -m digest scheduler run` process; its log (stderr) goes to a file."""

    def __init__(self, cwd: Path, env: dict[str, str], second: int, name: str):
        self.log_path = cwd / f"{name}.log"
        self.log_file = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digest", "scheduler", "run", "--second", str(second)],
            cwd=cwd,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for_log(self, text: str, timeout: float = 20) -> None:
        wait_until(lambda: text in self.log() or self.process.poll() is not None, timeout)
        assert text in self.log(), self.log()

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.log_file.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log_file.close()


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def fire_in(seconds: float) -> tuple[int, datetime]:
    """A cron seconds field that fires `seconds` from now (at least), and that fire time."""
    when = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0) + timedelta(seconds=1)
    return when.second, when


@pytest.fixture
def site(tmp_path: Path, env: dict[str, str], digest, smtp_server):  # noqa: F811
    """A store with items in the last complete week and subscribers of both cadences."""

    def make(weekly: int = 5, monthly: int = 2, db_url: str | None = None, **smtp_faults):
        server = smtp_server(**smtp_faults)
        full_env = {
            **env,
            **server.env(),
            "DIGEST_FROM": "Test News <news@example.org>",
            "DIGEST_SECRET_KEY": "scheduler-test-secret-padded-to-32-characters-or-more",
            "DIGEST_WEEKLY_CRON": "* * * * *",
            "DIGEST_MONTHLY_CRON": "0 0 1 1 *",
            "DIGEST_SEND_CONCURRENCY": "2",
            **({"DIGEST_DATABASE_URL": db_url} if db_url else {}),
        }
        env.clear()
        env.update(full_env)
        week = last_complete("weekly", datetime.now(UTC), UTC_ZONE)
        items = [
            {
                "title": f"Story {n}",
                "summary": "Something worth reading happened.",
                "url": f"https://example.org/story/{n}",
                "published": (week.start + timedelta(hours=10 + n)).isoformat(),
            }
            for n in range(3)
        ]
        (tmp_path / "items.json").write_text(json.dumps(items))
        rows = ["email,name,cadence"]
        rows += [f"w{n:03d}@example.com,Weekly {n},weekly" for n in range(weekly)]
        rows += [f"m{n:03d}@example.com,Monthly {n},monthly" for n in range(monthly)]
        (tmp_path / "people.csv").write_text("\n".join(rows) + "\n")
        for args in (("ingest", "items.json"), ("subscribers", "import", "people.csv")):
            result = digest(*args)
            assert result.code == 0, result.err
        return server, [f"w{n:03d}@example.com" for n in range(weekly)], week

    return make


@pytest.fixture
def start(tmp_path: Path, env: dict[str, str]):
    started: list[Scheduler] = []

    def run(second: int, name: str = "scheduler", **extra: str) -> Scheduler:
        process = Scheduler(tmp_path, {**env, **extra}, second, f"{name}-{len(started)}")
        started.append(process)
        return process

    yield run
    for process in started:
        process.kill()


def subjects(server) -> set[str]:
    return {item.message()["Subject"] for item in server.received}


def test_job_fires_at_cron_time_and_every_weekly_subscriber_gets_it_once(
    site,
    start,
    digest,
    any_db_url,  # noqa: F811
) -> None:
    server, weekly, week = site(weekly=5, monthly=2, db_url=any_db_url)
    second, fire_time = fire_in(6)
    scheduler = start(second)
    scheduler.wait_for_log("first start of this schedule")
    assert wait_until(lambda: datetime.now(UTC) >= fire_time - timedelta(seconds=0.5), 10)
    assert server.received == []  # not before its time
    assert wait_until(lambda: len(server.received) >= len(weekly), 30), scheduler.log()
    scheduler.wait_for_log(f"weekly {week.key} (run of")
    listing = digest("scheduler", "list")
    assert scheduler.stop() == 0, scheduler.log()

    assert server.recipients() == weekly
    assert len(subjects(server)) == 1
    assert "sent 5, failed 0, pending 0" in scheduler.log()
    assert "scheduler: running" in listing.out
    assert "last:  sent at" in listing.out and week.key in listing.out


def test_run_missed_while_stopped_is_sent_once_on_restart_and_never_again(site, start) -> None:
    server, weekly, week = site(weekly=4, monthly=1)
    second, fire_time = fire_in(8)
    first = start(second)
    first.wait_for_log("weekly: cron")
    assert first.stop() == 0, first.log()
    assert wait_until(lambda: datetime.now(UTC) > fire_time + timedelta(seconds=1), 15)
    assert server.received == []

    second_start = start(second)
    assert wait_until(lambda: len(server.received) >= len(weekly), 20), second_start.log()
    second_start.wait_for_log("weekly: cron")
    assert second_start.stop() == 0
    assert f"weekly {week.key} (missed run of" in second_start.log()

    third = start(second)
    third.wait_for_log("weekly: cron")
    assert third.stop() == 0
    assert server.recipients() == weekly  # once each, after three starts
    assert "first start" not in second_start.log() + third.log()


def test_run_missed_longer_than_catchup_is_skipped(site, start) -> None:
    server, _, _ = site(weekly=2, monthly=0)
    second, fire_time = fire_in(4)
    quick = {"DIGEST_CATCHUP_HOURS": "0.0005"}  # 1.8 s
    first = start(second, **quick)
    first.wait_for_log("weekly: cron")
    assert first.stop() == 0
    assert wait_until(lambda: datetime.now(UTC) > fire_time + timedelta(seconds=3), 15)
    again = start(second, **quick)
    again.wait_for_log("weekly: cron")
    assert again.stop() == 0
    assert "older than DIGEST_CATCHUP_HOURS" in again.log()
    assert server.received == []


def test_sigterm_during_send_exits_cleanly_and_next_start_finishes_without_duplicates(site, start) -> None:
    server, weekly, week = site(weekly=30, monthly=0, delay=0.25)
    second, _ = fire_in(4)
    first = start(second)
    assert wait_until(lambda: len(server.received) >= 4, 30), first.log()
    stopped_at = time.monotonic()
    assert first.stop() == 0, first.log()
    assert time.monotonic() - stopped_at < 10
    delivered = len(server.received)
    assert 4 <= delivered < len(weekly)
    assert "still owed (the next start finishes them)" in first.log()

    second_start = start((second + 30) % 60)  # no fire time for a while: only the unfinished delivery runs
    assert wait_until(lambda: len(server.received) >= len(weekly), 30), second_start.log()
    second_start.wait_for_log("(unfinished delivery)")
    assert second_start.stop() == 0
    counts = Counter(server.recipients())
    assert sorted(counts) == weekly
    assert max(counts.values()) == 1
    assert f"weekly {week.key} (unfinished delivery): sent {len(weekly) - delivered}" in second_start.log()


def test_second_scheduler_on_the_same_database_refuses_to_start(site, start, digest) -> None:
    site(weekly=1, monthly=0)
    second, _ = fire_in(40)
    first = start(second)
    first.wait_for_log("weekly: cron")
    result = digest("scheduler", "run", timeout=20)
    assert result.code == 1
    assert result.err.strip().count("\n") == 0
    assert "another scheduler is already running on this database" in result.err
    assert f"pid {first.process.pid}" in result.err
    assert first.stop() == 0


def test_list_shows_cron_zone_next_run_local_and_utc(digest) -> None:
    zone = {"DIGEST_TIMEZONE": "Europe/London", "DIGEST_WEEKLY_CRON": "0 8 * * 1"}
    result = digest("scheduler", "list", extra_env=zone)
    assert result.code == 0, result.err
    assert "scheduler: not running" in result.out
    assert "0 8 * * 1  (Europe/London)" in result.out
    assert "no run yet" in result.out
    data = json.loads(digest("scheduler", "list", "--json", extra_env=zone).out)
    weekly = next(job for job in data["jobs"] if job["cadence"] == "weekly")
    local = datetime.fromisoformat(weekly["next_run"])
    assert (local.weekday(), local.hour) == (0, 8)
    assert datetime.fromisoformat(weekly["next_run_utc"]) == local
    assert data["running"] is None


def test_scheduler_without_sender_settings_refuses_to_start(digest) -> None:
    result = digest("scheduler", "run", timeout=20)
    assert result.code == 2
    assert "DIGEST_FROM is required for digest scheduler run" in result.err
    assert "Traceback" not in result.err


def test_run_overlapping_a_manual_send_sends_each_subscriber_once(site, start, tmp_path, env) -> None:
    server, weekly, week = site(weekly=16, monthly=0, delay=0.15)
    second, fire_time = fire_in(4)
    scheduler = start(second)
    scheduler.wait_for_log("weekly: cron")
    assert wait_until(lambda: datetime.now(UTC) >= fire_time - timedelta(seconds=0.3), 10)
    manual = subprocess.run(
        [sys.executable, "-m", "digest", "send", "--cadence", "weekly"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wait_until(lambda: len(server.received) >= len(weekly), 30), scheduler.log()
    scheduler.wait_for_log(f"weekly {week.key} (run of")
    assert scheduler.stop() == 0
    assert manual.returncode == 0, manual.err
    counts = Counter(server.recipients())
    assert sorted(counts) == weekly and max(counts.values()) == 1
    by_scheduler = int(re.search(r"\(run of [^)]*\): sent (\d+),", scheduler.log())[1])
    by_manual = int(re.search(r": sent (\d+),", manual.stdout)[1])
    assert by_scheduler + by_manual == len(weekly)
