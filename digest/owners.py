"""Process identity and liveness: who owns a claim on a delivery row or the scheduler's lock.

An owner id is `host:pid:random`. An owner that was a process on this host and no longer exists is
gone at once; an owner on another host (a shared PostgreSQL) is trusted until its claim is older
than STALE_AFTER, which is far longer than a send run holds a claim (claims are small batches sent
within seconds, see send.pacing.claim_size).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from pathlib import Path

STALE_AFTER = timedelta(minutes=10)


def new_owner_id() -> str:
    return f"{_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _host() -> str:
    return socket.gethostname()[:40]


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


def owner_is_gone(owner: str | None, since: datetime | None, now: datetime) -> bool:
    """True when a claim can be taken back: its process died, or it is older than STALE_AFTER."""
    if owner is None or since is None or now - since > STALE_AFTER:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not _pid_alive(pid)
