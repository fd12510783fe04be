"""Who is sending: run ids, and telling a dead run's claims from a live one's.

A run id is `host:pid:random`. Rows claimed by a process that no longer exists on this host go back
to pending at once; rows claimed on another host (a shared PostgreSQL) are trusted until they are
older than STALE_AFTER, which is far longer than a run holds a claim (claims are small batches
sent within seconds, see runner.claim_size).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from pathlib import Path

STALE_AFTER = timedelta(minutes=10)


def new_run_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:  # a killed child not yet reaped by its parent is a zombie: dead for our purpose
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def claimer_is_gone(claimed_by: str | None, since: datetime | None, now: datetime) -> bool:
    """True when a claim can be taken back: its process died, or it is older than STALE_AFTER."""
    if claimed_by is None or since is None or now - since > STALE_AFTER:
        return True
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:40] or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not _pid_alive(pid)
