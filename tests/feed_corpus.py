"""Compare digest's reading of feeds with feedparser's own: the corpus test and its figures.

    .venv/bin/python -m tests.feed_corpus [FOLDER]     (default: tests/feeds_corpus/)

prints how many files there are, how many feedparser reads with at least one entry, how many digest
ingests with the same entry titles, and why any other file was refused or read differently.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser

from digest.errors import SourceError
from digest.sources import read_unit
from digest.sources.feed import entry_title

CORPUS = Path(__file__).parent / "feeds_corpus"
UTC = ZoneInfo("UTC")


@dataclass
class Outcome:
    path: Path
    verdict: str  # "same titles", "different titles", "refused", "only empty entries", "no entries", ...
    detail: str = ""
    titles: list[str] = field(default_factory=list)
    seconds: float = 0.0


def compare(path: Path) -> Outcome:
    parsed = feedparser.parse(path.read_bytes())
    if not parsed.entries:
        return Outcome(path, "no entries")
    if parsed.version == "cdf":
        return Outcome(path, "out of scope", "CDF")
    if not any(entry.keys() for entry in parsed.entries):
        # A cut-off feed can leave feedparser with entries that hold nothing; digest refuses those.
        return Outcome(path, "only empty entries", _read(path)[1])
    expected = [entry_title(entry) for entry in parsed.entries if entry.keys()]
    start = time.perf_counter()
    titles, detail = _read(path)
    seconds = time.perf_counter() - start
    if titles is None:
        return Outcome(path, "refused", detail, seconds=seconds)
    # Entries without a title get their text's first words from digest; feedparser leaves them empty.
    mismatched = [(want, got) for want, got in zip(expected, titles, strict=False) if want and want != got]
    if len(titles) != len(expected) or mismatched:
        detail = f"{len(expected)} vs {len(titles)} entries: {mismatched[:2]}"
        return Outcome(path, "different titles", detail, titles, seconds)
    return Outcome(path, "same titles", detail, titles, seconds)


def _read(path: Path) -> tuple[list[str] | None, str]:
    """(digest's titles, its warnings) or (None, why it refused the file)."""
    try:
        found = read_unit(str(path), UTC)
    except SourceError as exc:
        return None, exc.reason
    return [item.title for item in found.items], "; ".join(found.warnings)


def run(folder: Path) -> list[Outcome]:
    return [compare(path) for path in sorted(folder.rglob("*.xml"))]


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else CORPUS
    outcomes = run(folder)
    counts = Counter(o.verdict for o in outcomes)
    print(f"{len(outcomes)} files: " + ", ".join(f"{n} {v}" for v, n in counts.most_common()))
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(f"slowest read by digest: {slowest.seconds:.2f} s ({slowest.path.relative_to(folder)})")
    for outcome in outcomes:
        if outcome.verdict in ("refused", "different titles", "only empty entries"):
            print(f"  {outcome.verdict}: {outcome.path.relative_to(folder)}: {outcome.detail[:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
