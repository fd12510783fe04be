"""How fast and how often a send run goes: the rate limit, retry backoff, claim batch sizes."""

from __future__ import annotations

import random
import time

MAX_TRIES = 5  # per row and run; after that the row goes back to pending for the next run
BACKOFF_BASE = 0.2  # seconds; doubled per try, with +-50% jitter
BACKOFF_CAP = 10.0


class RateLimiter:
    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()

    def delay(self) -> float:
        return max(0.0, self.next_at - time.monotonic()) if self.interval else 0.0

    def take(self) -> None:
        if self.interval:
            self.next_at = max(self.next_at, time.monotonic() - self.interval) + self.interval


def backoff(tries: int) -> float:
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (tries - 1))
    return delay * random.uniform(0.5, 1.5)


def claim_size(concurrency: int, rate: float) -> int:
    """Small enough that a claimed batch is sent within about half a minute, even rate-limited."""
    size = max(8, concurrency * 16)
    return max(1, min(size, int(rate * 30))) if rate > 0 else size
