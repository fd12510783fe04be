"""DIGEST_SEND_RATE across every queue worker: sending slots handed out from one database row.

Each worker reserves the next half second's worth of slots at a time (one short transaction on
the `send_rate` row), then sends at those times; together the fleet never goes faster than the
rate, however many workers run on however many hosts. The slots are wall-clock times, so the
hosts' clocks must agree (NTP); a worker that stops leaves at most half a second of slots unused.
"""

from __future__ import annotations

import time
from collections import deque

from sqlalchemy import Engine, select, update

from digest.store.schema import send_rate

ROW = "fleet"
RESERVE_SECONDS = 0.5


class FleetLimiter:
    """The runner's RateLimiter interface (delay, take), shared through the database."""

    def __init__(self, engine: Engine, rate: float):
        self.engine, self.rate = engine, rate
        self.block = max(1, int(rate * RESERVE_SECONDS))
        self.slots: deque[float] = deque()

    def delay(self) -> float:
        if not self.rate:
            return 0.0
        if not self.slots:
            self._reserve()
        return max(0.0, self.slots[0] - time.time())

    def take(self) -> None:
        if self.rate:
            if not self.slots:
                self._reserve()
            self.slots.popleft()

    def _reserve(self) -> None:
        span = self.block / self.rate
        with self.engine.begin() as connection:
            query = select(send_rate.c.next_at).where(send_rate.c.name == ROW).with_for_update()
            next_at = connection.execute(query).scalar_one()  # the row comes with the table
            start = max(next_at, time.time())
            connection.execute(update(send_rate).where(send_rate.c.name == ROW).values(next_at=start + span))
        self.slots.extend(start + n / self.rate for n in range(self.block))
