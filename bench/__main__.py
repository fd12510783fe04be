"""`python -m bench [--quick] [--only SECTION ...] [--out FILE]`: run every measurement, print a table,
write JSON. Full sizes by default (a few minutes); --quick is the small smoke version CI runs."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Report, Row
from bench.table import print_table

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
SECTIONS = ("build", "personalize", "send", "memory", "store", "workers", "locales", "dkim")


@dataclass(frozen=True)
class Sizes:
    build_items: tuple[int, ...]
    build_repeat: int
    node_repeat: int
    personalize: int
    send: int
    memory: tuple[int, int]
    store_items: int
    workers: int
    dkim_signs: int = 2_000
    dkim_send: int = 5_000


FULL = Sizes((12, 200), 15, 30, 200_000, 20_000, (1_000, 100_000), 100_000, 20_000)
QUICK = Sizes((12, 200), 2, 3, 2_000, 300, (100, 1_000), 2_000, 300, 50, 100)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    sizes = QUICK if args.quick else FULL
    report = Report()
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        workdir = Path(tmp)
        for section in args.only or SECTIONS:
            _run_section(section, sizes, workdir / section, report)
    report.details["elapsed_s"] = (datetime.now(UTC) - started).total_seconds()
    print_table(report, quick=args.quick)
    _write(report, args.out, started, args.quick)
    return 0 if all(row.ours is not None for row in report.rows) else 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few seconds")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these measurements")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON output (default {RESULTS})")
    return parser.parse_args(argv)


def _run_section(section: str, sizes: Sizes, workdir: Path, report: Report) -> None:
    from bench import (
        build_bench,
        dkim_bench,
        locales_bench,
        personalize_bench,
        send_bench,
        store_bench,
        worker_bench,
    )

    started = time.perf_counter()
    print(f"bench: {section} ...", file=sys.stderr, flush=True)
    try:
        if section == "build":
            build_bench.run(report, workdir, sizes.build_items, sizes.build_repeat, sizes.node_repeat)
        elif section == "personalize":
            personalize_bench.run(report, sizes.personalize)
        elif section == "send":
            send_bench.run_send(report, workdir, sizes.send)
        elif section == "memory":
            send_bench.run_memory(report, workdir, *sizes.memory)
        elif section == "store":
            store_bench.run(report, workdir, sizes.store_items)
        elif section == "workers":
            worker_bench.run(report, workdir, sizes.workers)
        elif section == "locales":
            locales_bench.run(report, sizes.build_items, sizes.build_repeat)
        elif section == "dkim":
            dkim_bench.run_signing(report, workdir / "sign", sizes.dkim_signs)
            dkim_bench.run_send_signed(report, workdir / "send", sizes.dkim_send)
    except Exception as exc:  # one broken measurement must not hide the others
        report.add(Row(section, "(failed)", None, "", note=f"{type(exc).__name__}: {exc}"[:160]))
        report.details.setdefault("errors", {})[section] = traceback.format_exc()
    report.details.setdefault("section_s", {})[section] = time.perf_counter() - started


def _write(report: Report, out: Path, started: datetime, quick: bool) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started": started.isoformat(),
        "quick": quick,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "node": shutil.which("node") is not None,
        },
        "rows": [row.to_json() for row in report.rows],
        "details": report.details,
    }
    out.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"bench: wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
