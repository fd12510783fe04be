"""The reference sender: stdlib smtplib, one reused connection per thread, prebuilt bytes.

It does what any competent sender must do and nothing more (no store, no delivery log, no per-recipient
message), so its rate is the ceiling a Python sender without pipelining reaches against this sink.
"""

from __future__ import annotations

import smtplib
import threading
import time

FROM = "bench@example.org"


def send_reference(port: int, message: bytes, total: int, threads: int) -> float:
    """Send `total` copies of `message` over `threads` connections; returns seconds of wall time."""
    shares = [total // threads + (1 if n < total % threads else 0) for n in range(threads)]
    errors: list[BaseException] = []

    def worker(share: int, offset: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.ehlo("bench.example.org")
                for n in range(offset, offset + share):
                    client.sendmail(FROM, [f"reader{n:06d}@bench.example.org"], message)
        except BaseException as exc:  # reported after the join, not lost in a thread
            errors.append(exc)

    workers, offset = [], 0
    for share in shares:
        workers.append(threading.Thread(target=worker, args=(share, offset)))
        offset += share
    start = time.perf_counter()
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"reference client failed: {errors[0]!r}")
    return seconds
