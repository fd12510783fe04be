"""Postfix's `smtp-source`: the C client ceiling, with 8 sessions, into a fresh smtp-sink.

Postfix 3.7's smtp-source cannot send a given file, so it sends its own generated message of the
same length as digest's (`-l`); one recipient per message, like digest. The whole run is timed
(process start to exit), as digest's whole CLI run is.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from bench.sink import SmtpSink

SMTP_SOURCE = "/usr/sbin/smtp-source"
SESSIONS = 8


def source_binary() -> str | None:
    return SMTP_SOURCE if Path(SMTP_SOURCE).exists() else shutil.which("smtp-source")


def send_source(total: int, length: int, sessions: int = SESSIONS) -> float | None:
    """Messages per second of one whole smtp-source run into its own sink; None when not installed
    or when the sink did not get every message."""
    binary = source_binary()
    if binary is None:
        return None
    with SmtpSink() as sink:
        started = time.perf_counter()
        subprocess.run(
            [
                binary,
                "-s",
                str(sessions),
                "-m",
                str(total),
                "-l",
                str(length),
                "-f",
                "bench@example.org",
                "-t",
                "reader@bench.example.org",
                f"127.0.0.1:{sink.port}",
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        seconds = time.perf_counter() - started
        sink.wait_for(total, timeout=5)
        return total / seconds if sink.count >= total else None
