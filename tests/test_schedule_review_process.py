"""`digest scheduler run` as a real process with a review window and required approval."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.test_schedule_process import Scheduler, fire_in, site, wait_until  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
REVIEWER = "editor@example.org"


class ReviewingScheduler(Scheduler):
    """A scheduler whose review ticks come every second instead of every minute."""

    def __init__(self, cwd: Path, env: dict[str, str], second: int):
        self.log_path = cwd / "scheduler.log"
        self.log_file = self.log_path.open("w")
        command = ["scheduler", "run", "--second", str(second), "--review-every", "1"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digest", *command],
            cwd=cwd,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )


def test_review_copy_at_start_no_send_without_approval_then_one_send_after_it(
    site,  # noqa: F811
    digest,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    server, weekly, week = site(weekly=3, monthly=0)
    second, fire_time = fire_in(8)
    review = {
        "DIGEST_REVIEW_HOURS": "1",
        "DIGEST_REVIEWERS": REVIEWER,
        "DIGEST_REQUIRE_APPROVAL": "true",
        "DIGEST_PREVIEW_URL": "http://127.0.0.1:8000",
    }
    scheduler = ReviewingScheduler(tmp_path, {**env, **review}, second)
    try:
        check(scheduler, server, weekly, week, fire_time, digest)
    finally:
        scheduler.kill()


def check(scheduler, server, weekly, week, fire_time, digest) -> None:

    def to_reviewer():
        return [r.message() for r in server.received if r.rcpt_tos == [REVIEWER]]

    def to_subscribers():
        return [rcpt for r in server.received for rcpt in r.rcpt_tos if rcpt != REVIEWER]

    assert wait_until(lambda: len(to_reviewer()) >= 1, 6), scheduler.log()
    assert datetime.now(UTC) < fire_time, "the review copy must come before the send time"
    assert to_reviewer()[0]["Subject"].startswith("[Review] ")

    assert wait_until(lambda: datetime.now(UTC) > fire_time + timedelta(seconds=3), 15)
    assert to_subscribers() == []
    assert wait_until(lambda: len(to_reviewer()) >= 2, 5), scheduler.log()
    assert to_reviewer()[1]["Subject"].startswith("Not sent:")

    approved = digest("edition", "approve", "--cadence", "weekly", "--period", week.key)
    assert approved.code == 0, approved.err
    assert wait_until(lambda: len(to_subscribers()) >= 3, 10), scheduler.log()
    wait_until(lambda: False, 4)  # a few more review ticks: nothing goes twice
    assert scheduler.stop() == 0
    assert sorted(to_subscribers()) == sorted(weekly)
    assert "released after review" in scheduler.log()
