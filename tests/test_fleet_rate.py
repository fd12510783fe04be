"""DIGEST_SEND_RATE across workers: slots reserved from one row never exceed the rate together."""

from __future__ import annotations

import itertools

from digest.send.fleet import FleetLimiter
from digest.store import open_engine
from tests.pg import any_db_url, postgres_server  # noqa: F401 (fixtures)


def test_two_workers_together_get_slots_at_the_fleet_rate(any_db_url) -> None:  # noqa: F811
    engine = open_engine(any_db_url)
    first, second = FleetLimiter(engine, 20.0), FleetLimiter(engine, 20.0)
    slots = []
    for _ in range(20):
        for limiter in (first, second):
            limiter.delay()
            slots.append(limiter.slots[0])
            limiter.take()
    engine.dispose()
    slots.sort()
    assert len(set(slots)) == 40  # no slot handed out twice
    assert all(b - a >= 1 / 20 - 1e-6 for a, b in itertools.pairwise(slots))
    assert slots[-1] - slots[0] >= 39 / 20 - 1e-6  # 40 messages take two seconds at 20/s


def test_no_rate_means_no_wait_and_no_database_round_trip(any_db_url) -> None:  # noqa: F811
    engine = open_engine(any_db_url)
    limiter = FleetLimiter(engine, 0.0)
    assert limiter.delay() == 0.0
    limiter.take()
    assert not limiter.slots
    engine.dispose()
