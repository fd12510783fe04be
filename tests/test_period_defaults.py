"""Which period `build` and `send` work on when none is named, and periods still in progress.

`build` shows the latest period with items (it may be in progress) and says so, naming what `send`
would send; `send` sends the last complete period; a period still in progress is sent only with
--unfinished; "no items" names the latest period that has items.
"""

from __future__ import annotations

from datetime import UTC, datetime

from digest.periods import last_complete, week_of
from tests.conftest import SEEDS
from tests.delivery_support import SECRET

SENDER = {"DIGEST_FROM": "News <news@example.org>", "DIGEST_SECRET_KEY": SECRET}


def this_week() -> str:
    return week_of(datetime.now(UTC), UTC).key


def last_week() -> str:
    return last_complete("weekly", datetime.now(UTC), UTC).key


def test_sending_a_period_in_progress_needs_an_explicit_option(digest):
    assert digest("ingest", str(SEEDS)).code == 0  # undated seeds: dated now, this week
    refused = digest("send", "--period", this_week(), "--dry-run", extra_env=SENDER)
    assert refused.code == 2, refused.err
    assert "still in progress" in refused.err and "--unfinished" in refused.err
    allowed = digest("send", "--period", this_week(), "--unfinished", "--dry-run", extra_env=SENDER)
    assert allowed.code == 0, allowed.err


def test_no_items_names_the_latest_period_that_has_items(digest):
    assert digest("ingest", str(SEEDS)).code == 0
    result = digest("send", "--dry-run", extra_env=SENDER)  # default: last week, which is empty
    assert result.code == 1
    line = result.err.strip()
    assert line.startswith(f"digest: error: no items in weekly {last_week()}"), line
    assert f"the latest weekly period with items is {this_week()}" in line
    assert "--unfinished" in line
    old = digest("build", "--period", "2023-W01", "--out", "out")
    assert old.code == 1 and f"the latest weekly period with items is {this_week()}" in old.err


def test_build_says_which_period_it_built_and_what_send_would_send(digest):
    assert digest("ingest", str(SEEDS)).code == 0
    result = digest("build", "--out", "out")
    assert result.code == 0, result.err
    assert f"weekly-{this_week()}.html" in result.out
    assert f"{this_week()} is still in progress" in result.err
    assert f"`digest send` sends the last complete period, {last_week()}" in result.err
