"""Shared pieces: result rows, timing, and running the real `digest` CLI as a measured subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    """One line of the table: our figure, the reference's, and whether the target is met."""

    section: str
    measure: str
    ours: float | None
    unit: str
    reference: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row


def best_of(function: Callable[[], object], repeat: int) -> float:
    """Shortest of `repeat` runs in seconds: on a shared machine the minimum is the least noisy."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def median_of(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rate_loop(function: Callable[[], object], count: int) -> float:
    """Calls per second of `function` over `count` calls."""
    start = time.perf_counter()
    for _ in range(count):
        function()
    return count / (time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def digest_env(workdir: Path, db: Path, **extra: str) -> dict[str, str]:
    """A clean environment for the CLI: nothing leaks in from the developer's DIGEST_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(
        DIGEST_DATABASE_URL=f"sqlite:///{db}",
        DIGEST_OUTBOX=str(workdir / "outbox"),
        DIGEST_FROM="Bench Digest <bench@example.org>",
        DIGEST_SECRET_KEY="bench-secret-key-not-for-production-padded-to-32-characters-or-more",
        DIGEST_BASE_URL="https://digest.example.org",
    )
    env.update(extra)
    return env


@dataclass
class Measured:
    code: int
    seconds: float
    max_rss_mb: float
    cpu_s: float
    out: str
    err: str


def run_digest(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> Measured:
    """Run `python -m digest ARGS`: its wall time, CPU time and own peak RSS (see bench/peak_rss.py)."""
    out_path, err_path, result = cwd / ".bench-stdout", cwd / ".bench-stderr", cwd / ".bench-result.json"
    result.unlink(missing_ok=True)
    probe = [sys.executable, "-S", "-E", str(Path(__file__).with_name("peak_rss.py")), str(result)]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [*probe, sys.executable, "-m", "digest", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # one process group: a timeout stops digest too, not just the probe
        )
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise TimeoutError(f"digest {args[0]} did not finish within {timeout:.0f} s") from None
    figures = json.loads(result.read_text())
    return Measured(
        code=figures["code"],
        seconds=figures["seconds"],
        max_rss_mb=figures["max_rss_kb"] / 1024,  # Linux reports kilobytes
        cpu_s=figures["cpu_s"],
        out=out_path.read_text(errors="replace"),
        err=err_path.read_text(errors="replace"),
    )


def check(measured: Measured, what: str) -> Measured:
    if measured.code != 0:
        last = (measured.err.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"{what} exited {measured.code}: {last}")
    return measured
