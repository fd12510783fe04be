"""Shared pieces: result rows, timing, and running the real `digest` CLI as a measured subprocess."""

from __future__ import annotations

import os
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
        DIGEST_SECRET_KEY="bench-secret-key-not-for-production",
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
    """Run `python -m digest ARGS`: wall time and this child's own peak RSS (wait4, not the sum)."""
    out_path, err_path = cwd / ".bench-stdout", cwd / ".bench-stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", *args], cwd=cwd, env=env, stdout=out, stderr=err
        )
        status, usage = _wait(process, timeout)
        seconds = time.perf_counter() - start
    return Measured(
        code=os.waitstatus_to_exitcode(status),
        seconds=seconds,
        max_rss_mb=usage.ru_maxrss / 1024,  # Linux reports kilobytes
        cpu_s=usage.ru_utime + usage.ru_stime,
        out=out_path.read_text(errors="replace"),
        err=err_path.read_text(errors="replace"),
    )


def _wait(process: subprocess.Popen, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return status, usage
        if time.monotonic() > deadline:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = -9
            raise TimeoutError(f"digest did not finish within {timeout:.0f} s")
        time.sleep(0.01)


def check(measured: Measured, what: str) -> Measured:
    if measured.code != 0:
        last = (measured.err.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"{what} exited {measured.code}: {last}")
    return measured
