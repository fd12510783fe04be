"""The organizer's view of the list: counts by status and cadence, events per week, drawn as SVG.

`weekly_counts` and `chart_svg` are pure (events and "now" in, numbers and markup out); `load`
reads the store. The chart is plain server-rendered SVG: no script, no remote resource, colours
from presentation attributes (the preview's CSP allows no inline styles), text in `currentColor`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from digest.store import events as event_store
from digest.store import subscribers as subscriber_store

# What the chart shows, in order: (label, event kinds counted, colour). Colours keep 3:1 against
# white and differ in lightness, so they stay apart for colour-blind readers.
SERIES = (
    ("Sign-ups", ("signup", "added"), "#0969da"),
    ("Confirmations", ("confirmed", "resubscribed"), "#1a7f37"),
    ("Unsubscribes", ("unsubscribed",), "#9a6700"),
    ("Bounces", ("bounced",), "#cf222e"),
    ("Complaints", ("complained",), "#8250df"),
)
STATUSES = ("active", "pending", "unsubscribed", "bounced", "complained")
WEEKS = 12


@dataclass(frozen=True)
class Week:
    start: datetime  # Monday 00:00 in the newsletter's zone
    counts: tuple[int, ...]  # one per SERIES

    @property
    def label(self) -> str:
        return self.start.strftime("%d %b")


def week_start(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone)


def weekly_counts(
    events: Iterable[tuple[str, datetime]], now: datetime, zone: ZoneInfo, weeks: int = WEEKS
) -> list[Week]:
    """The last `weeks` weeks (the current one last), each with its count per series."""
    first = week_start(now, zone) - timedelta(weeks=weeks - 1)
    starts = [first + timedelta(weeks=i) for i in range(weeks)]
    table = [[0] * len(SERIES) for _ in starts]
    column = {kind: i for i, (_, kinds, _) in enumerate(SERIES) for kind in kinds}
    for kind, at in events:
        if kind not in column:
            continue
        index = (week_start(at, zone) - first).days // 7
        if 0 <= index < weeks:
            table[index][column[kind]] += 1
    return [Week(start, tuple(row)) for start, row in zip(starts, table, strict=True)]


def chart_svg(weeks: list[Week], width: int = 720, height: int = 260) -> str:
    """Grouped bars, one group per week; each bar has a <title> with its number."""
    left, bottom, top = 36, 40, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max([1, *(c for week in weeks for c in week.counts)])
    scale = _nice(peak)
    group = plot_w / max(1, len(weeks))
    bar = max(1.0, (group - 6) / len(SERIES))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title" class="chart"><title id="chart-title">List events per week, '
        f"last {len(weeks)} weeks (the table below has the numbers)</title>"
    ]
    for tick in (0, scale // 2, scale):
        y = top + plot_h - plot_h * tick / scale
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor">{tick}</text>'
        )
    for i, week in enumerate(weeks):
        x0 = left + i * group + 3
        for j, count in enumerate(week.counts):
            h = plot_h * count / scale
            label, _, colour = SERIES[j]
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(week.label)}: {count} {escape(label.lower())}</title></rect>'
            )
        if i % max(1, len(weeks) // 6) == 0 or i == len(weeks) - 1:
            parts.append(
                f'<text x="{x0 + group / 2 - 3:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="currentColor">{escape(week.label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _nice(peak: int) -> int:
    """An even axis maximum at or above `peak`: 2, 4, 10, 20, 40, 100, ..."""
    step = 1
    while True:
        for factor in (2, 4, 10):
            if step * factor >= peak:
                return step * factor
        step *= 10


@dataclass(frozen=True)
class ListReport:
    by_status: list[tuple[str, int, int, int]]  # status, weekly, monthly, total
    weeks: list[Week]
    chart: str
    latest: list
    total: int


def load(engine: Engine, now: datetime, zone: ZoneInfo) -> ListReport:
    with engine.connect() as connection:
        counts = subscriber_store.count_by_status_and_cadence(connection)
        start = week_start(now, zone) - timedelta(weeks=WEEKS - 1)
        recent = [(row.kind, row.at) for row in event_store.since(connection, start)]
        latest = event_store.latest(connection, 25)
    rows = []
    for status in STATUSES:
        weekly, monthly = counts.get((status, "weekly"), 0), counts.get((status, "monthly"), 0)
        rows.append((status, weekly, monthly, weekly + monthly))
    weeks = weekly_counts(recent, now, zone)
    return ListReport(rows, weeks, chart_svg(weeks), latest, sum(counts.values()))
