"""6. workers – one worker host: `digest send --queue`, then one `digest worker` per core, into
smtp-sink, on a throwaway PostgreSQL (tests/pg.py's server; Debian's postgresql binaries).

The figure is the host's rate from the moment the workers start to the moment the sink has every
message (worker start-up included), against the same store sent by `digest send` (all cores,
DIGEST_SEND_PROCESSES) to a fresh sink: the queue's cost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.data import BUSY_WEEK_KEY, add_subscribers, write_week
from bench.harness import Report, Row, check, digest_env, run_digest
from bench.sink import SmtpSink


def run(report: Report, workdir: Path, subscribers: int) -> None:
    try:
        from tests.pg import PG_BIN, PostgresServer
    except ImportError:
        report.add(Row("workers", "worker host", None, "msg/s", note="tests/pg.py not found"))
        return
    if not (PG_BIN / "initdb").exists():
        report.add(Row("workers", "worker host", None, "msg/s", note="PostgreSQL binaries not installed"))
        return
    server = PostgresServer().start()
    try:
        _measure(report, workdir, subscribers, server)
    finally:
        server.stop()


def _measure(report: Report, workdir: Path, subscribers: int, server) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    workers = os.cpu_count() or 1
    env = digest_env(workdir, workdir / "unused.db", DIGEST_DATABASE_URL=server.new_database())
    check(run_digest(["ingest", str(write_week(workdir / "week.json", 12))], env, workdir), "digest ingest")
    add_subscribers(env["DIGEST_DATABASE_URL"], subscribers)
    with SmtpSink() as sink:
        smtp = {**env, **_smtp(sink.port)}
        check(
            run_digest(["send", "--queue", "--cadence", "weekly", "--period", BUSY_WEEK_KEY], smtp, workdir),
            "send --queue",
        )
        started = time.perf_counter()
        processes = [_worker(smtp, workdir, n) for n in range(workers)]
        try:
            sink.wait_for(subscribers, timeout=600)
            seconds = time.perf_counter() - started
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)
        delivered = sink.count
    report.details["workers"] = {"subscribers": subscribers, "workers": workers, "seconds": seconds}
    if delivered < subscribers:
        report.add(
            Row("workers", "worker host", None, "msg/s", note=f"sink got {delivered} of {subscribers}")
        )
        return
    report.add(
        Row(
            "workers",
            f"{workers} workers (one per core), {subscribers:,} msgs",
            subscribers / seconds,
            "msg/s",
            note=f"{seconds:.1f} s from worker start to the last message; PostgreSQL store",
        )
    )


def _smtp(port: int) -> dict[str, str]:
    return {"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(port), "DIGEST_SMTP_SECURITY": "none"}


def _worker(env: dict[str, str], workdir: Path, n: int) -> subprocess.Popen:
    log = (workdir / f"worker-{n}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "worker"], cwd=workdir, env=env, stdout=log, stderr=log
    )
