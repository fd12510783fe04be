"""Where every digest stands: its state and delivery counts, from the log and the queue."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from sqlalchemy import Engine, and_, func, select

from digest.send.queue import waiting_jobs
from digest.store.digests import list_digests
from digest.store.schema import deliveries, subscribers


@dataclass(frozen=True)
class Progress:
    cadence: str
    period: str
    state: str  # queued, sending, incomplete, sent
    pending: int
    sent: int
    failed: int
    bounced: int

    def as_dict(self) -> dict:
        return asdict(self)


def digest_progress(engine: Engine) -> list[Progress]:
    jobs = waiting_jobs(engine)
    with engine.connect() as connection:
        digests = list_digests(connection)
        counts: dict[int, dict[str, int]] = defaultdict(dict)
        query = select(deliveries.c.digest_id, deliveries.c.state, func.count()).group_by(
            deliveries.c.digest_id, deliveries.c.state
        )
        for digest_id, state, number in connection.execute(query):
            counts[digest_id][state] = number
        bounced = dict(
            connection.execute(
                select(deliveries.c.digest_id, func.count())
                .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                .where(and_(deliveries.c.state == "failed", subscribers.c.status == "bounced"))
                .group_by(deliveries.c.digest_id)
            ).all()
        )
    return [_progress(row, counts[row.id], jobs.get(row.id), bounced.get(row.id, 0)) for row in digests]


def _progress(row, count: dict[str, int], jobs: tuple[int, int] | None, bounced: int) -> Progress:
    pending = count.get("pending", 0) + count.get("sending", 0)
    return Progress(
        row.cadence,
        row.period,
        _state(row.status, pending, count.get("sending", 0), jobs),
        pending,
        count.get("sent", 0),
        count.get("failed", 0),
        bounced,
    )


def _state(status: str, pending: int, in_flight: int, jobs: tuple[int, int] | None) -> str:
    if status == "sent" or not pending:
        return "sent"
    queued, picked = jobs or (0, 0)
    if picked or in_flight:
        return "sending"
    if queued:
        return "queued"
    return "incomplete"  # owed, and nothing queued or running: a rerun or the scheduler finishes it
