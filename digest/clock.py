"""The one clock: code that needs "now" takes a Clock, so tests and the scheduler can pass their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, in UTC: the default Clock."""
    return datetime.now(UTC)
