"""The organizer's view of the list in `digest preview`: counts, a weekly chart as inline SVG, events.

The counting and the chart are pure functions, tested directly; the page over real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from digest.web.list_report import SERIES, chart_svg, weekly_counts
from tests.test_preview import running_preview

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


def test_weekly_counts_put_each_event_in_its_local_week() -> None:
    zone = ZoneInfo("America/New_York")
    events = [
        ("signup", NOW),
        ("added", NOW - timedelta(days=1)),
        ("confirmed", NOW),
        ("signup", datetime(2026, 3, 2, 4, 30, tzinfo=UTC)),  # Sunday 23:30 in New York: last week
        ("complained", NOW - timedelta(weeks=2)),
        ("signup", NOW - timedelta(weeks=20)),  # outside the window
        ("cadence", NOW),  # not charted
    ]
    weeks = weekly_counts(events, NOW, zone, weeks=4)
    assert [w.start.date().isoformat() for w in weeks] == [
        "2026-02-09",
        "2026-02-16",
        "2026-02-23",
        "2026-03-02",
    ]
    labels = [label for label, _, _ in SERIES]
    assert dict(zip(labels, weeks[-1].counts, strict=True)) == {
        "Sign-ups": 2,
        "Confirmations": 1,
        "Unsubscribes": 0,
        "Bounces": 0,
        "Complaints": 0,
    }
    assert weeks[-2].counts[0] == 1
    assert weeks[1].counts[4] == 1


def test_the_chart_has_one_bar_per_week_and_series_with_its_number() -> None:
    weeks = weekly_counts([("signup", NOW), ("signup", NOW), ("bounced", NOW)], NOW, ZoneInfo("UTC"), weeks=3)
    svg = chart_svg(weeks)
    assert svg.startswith("<svg") and "<script" not in svg and "style=" not in svg
    assert len(re.findall(r"<rect ", svg)) == 3 * len(SERIES)
    assert "2 sign-ups</title>" in svg and "1 bounces</title>" in svg


def test_the_subscribers_page_shows_the_list_and_its_history(tmp_path: Path) -> None:
    with running_preview(tmp_path) as preview:
        assert preview.cli("subscribers", "add", "ana@example.org", "--cadence", "monthly").returncode == 0
        assert preview.cli("subscribers", "add", "bo@example.org").returncode == 0
        assert preview.cli("subscribers", "remove", "bo@example.org").returncode == 0
        with preview.client() as client:
            page = client.get("/subscribers")
    assert page.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert "active 0 1 1" in text and "unsubscribed 1 0 1" in text
    assert page.text.count("<svg") >= 2 and 'role="img"' in page.text
    assert "ana@example.org" in text and "unsubscribed bo@example.org cli" in text
