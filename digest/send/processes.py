"""One send on every core: DIGEST_SEND_PROCESSES processes, each with its share of the connections.

The GIL keeps one process on one core however many connections it drives, so a send splits into
processes. Each one is an ordinary run of the delivery runner: it claims its own rows from the
log under its own run id (host:pid:...), so nothing is handed out here and the crash promise is
each process's: a process killed mid-send loses only its messages in flight, and the others take
its claims back at once (its pid is gone, see claims.py). The calling process runs the first share
itself; the others are started with `spawn` (no fork of a threaded process, no inherited database
connections), and report their counts back through a pipe.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe

from digest.send.report import RunStats, SendAborted

# Fewer rows than this per extra process and the start-up (~0.5 s each) costs more than it gives.
MIN_ROWS_PER_PROCESS = 500
PR_SET_PDEATHSIG = 1


def default_processes(database_url: str) -> int:
    """DIGEST_SEND_PROCESSES when it is empty. One process drives all its connections from one
    thread (send/lanes.py) and measured 2,000-2,700 messages/s on one core here, more than most
    relays take. Extra processes pay on PostgreSQL; on SQLite, whose file takes one writer at a
    time, a second process cost 35 % more CPU per message (0.46-0.54 ms against 0.34-0.41) and
    sent slower, so SQLite sends in one process unless told otherwise."""
    if database_url.startswith("sqlite"):
        return 1
    return max(1, os.cpu_count() or 1)


def shares(concurrency: int, processes: int, owed: int) -> list[int]:
    """Connections per process: as even as possible, no process without one, no extra process for
    a small send. `shares(4, 2, 10_000) == [2, 2]`, `shares(5, 2, 10_000) == [3, 2]`."""
    wanted = min(processes, concurrency, 1 + owed // MIN_ROWS_PER_PROCESS)
    count = max(1, wanted)
    base, extra = divmod(concurrency, count)
    return [base + (1 if n < extra else 0) for n in range(count)]


@dataclass(frozen=True)
class Share:
    """What a helper process needs to run its part: plain, picklable data (no engine, no socket)."""

    settings: object  # digest.config.Settings
    digest: object  # digest.models.StoredDigest
    now: object  # datetime
    index: int  # which of `sizes` is this process's
    sizes: list[int]  # every process's connections
    fence: Callable | None = None  # picklable (a scheduler's lock.Fence), checked in each claim
    languages: dict = field(default_factory=dict)  # locale -> RenderedDigest: each reader's language


def run_shared(
    own: Callable[[], RunStats],
    helper: Callable[[Share, threading.Event], RunStats],
    shares_: list[Share],
    stop_event: threading.Event,
) -> RunStats:
    """Run `own()` here and `helper(share)` in one process per share; add up their counts.
    Raises SendAborted when any process aborted (after all have finished)."""
    if not shares_:
        return own()
    context = multiprocessing.get_context("spawn")
    helpers = [_start(context, helper, share) for share in shares_]
    stopper = threading.Thread(target=_forward_stop, args=(stop_event, helpers), daemon=True)
    stopper.start()
    aborted: list[str] = []
    try:
        total = own()
    except SendAborted as exc:
        aborted.append(str(exc))
        total = RunStats()
    for process, pipe in helpers:
        _add(total, _result(process, pipe, aborted))
    if aborted:
        error = SendAborted(aborted[0])
        error.stats = total
        raise error
    return total


def _start(context, helper, share: Share):
    parent_end, child_end = context.Pipe(duplex=False)
    process = context.Process(target=_helper_main, args=(helper, share, child_end), daemon=False)
    process.start()
    child_end.close()
    return process, parent_end


def _helper_main(helper: Callable[[Share, threading.Event], RunStats], share: Share, pipe: Pipe) -> None:
    """A helper process: stop on SIGTERM/SIGINT like the parent, send its stats or its abort."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    _stop_with_parent()
    try:
        pipe.send(("done", helper(share, stop)))
    except SendAborted as exc:
        pipe.send(("aborted", str(exc)))
    except Exception as exc:  # reported by the parent as one line; the rows stay owed
        pipe.send(("error", f"{exc.__class__.__name__}: {exc}"))
    finally:
        pipe.close()


def _stop_with_parent() -> None:
    """Linux: a SIGTERM when the parent dies (SIGKILL), so the helper finishes its messages in
    flight, gives its other claims back, and does not outlive the send it belonged to."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _result(process, pipe: Pipe, aborted: list[str]) -> RunStats:
    try:
        kind, value = pipe.recv()
    except EOFError:  # the process died (killed): its claims go back to pending for the next run
        kind, value = "died", None
    process.join()
    if kind == "done":
        return value
    if kind in ("aborted", "error"):
        aborted.append(value)
    return RunStats()


def _forward_stop(stop_event: threading.Event, helpers) -> None:
    while not stop_event.wait(0.2):
        if not any(process.is_alive() for process, _ in helpers):
            return
    for process, _ in helpers:
        if process.is_alive():
            process.terminate()  # SIGTERM: the helper finishes its messages in flight and stops


def _add(total: RunStats, part: RunStats) -> None:
    total.sent += part.sent
    total.failed += part.failed
    total.bounced += part.bounced
    total.retried += part.retried
    total.released += part.released
    total.failures.extend(part.failures)
