"""5. Store: `digest ingest` of a large export, then `digest build` over the busiest period."""

from __future__ import annotations

from pathlib import Path

from bench.data import BUSY_WEEK_KEY, write_items
from bench.harness import Report, Row, check, digest_env, run_digest

INGEST_TARGET_S = 60.0


def run(report: Report, workdir: Path, items: int) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    source = write_items(workdir / "items.json", items)
    env = digest_env(workdir, workdir / "store.db")
    first = check(run_digest(["ingest", str(source)], env, workdir), "digest ingest")
    # The target is for 100,000 items; a smaller (quick) run is scaled to the same item count.
    scaled = first.seconds * 100_000 / items
    report.add(
        Row(
            "store",
            f"ingest {items:,} items (JSON, new)",
            first.seconds,
            "s",
            target=f"< {INGEST_TARGET_S:.0f} s per 100k",
            met=scaled < INGEST_TARGET_S,
            note=f"{items / first.seconds:,.0f} items/s; peak RSS {first.max_rss_mb:.0f} MB",
        )
    )
    again = check(run_digest(["ingest", str(source)], env, workdir), "digest ingest (again)")
    report.add(
        Row(
            "store",
            f"re-ingest {items:,} unchanged items",
            again.seconds,
            "s",
            note=f"{items / again.seconds:,.0f} items/s; " + again.out.strip().rpartition(": ")[2],
        )
    )
    report.details["store"] = {
        "items": items,
        "ingest_s": first.seconds,
        "ingest_rss_mb": first.max_rss_mb,
        "reingest_s": again.seconds,
    }
    _build(report, workdir, env, items)


def _build(report: Report, workdir: Path, env: dict[str, str], items: int) -> None:
    out = workdir / "build"
    built = run_digest(
        ["build", "--cadence", "weekly", "--period", BUSY_WEEK_KEY, "--out", str(out)], env, workdir
    )
    if built.code != 0:
        report.add(Row("store", f"build over {items:,} items", None, "s", note=_last(built.err)))
        return
    report.add(
        Row(
            "store",
            f"build weekly {BUSY_WEEK_KEY} over {items:,} items",
            built.seconds,
            "s",
            note=f"{items // 10:,} items in that week; whole CLI run; peak RSS {built.max_rss_mb:.0f} MB",
        )
    )
    report.details["store"]["build_s"] = built.seconds
    report.details["store"]["build_rss_mb"] = built.max_rss_mb


def _last(text: str) -> str:
    return (text.strip().splitlines() or ["failed"])[-1][:120]
