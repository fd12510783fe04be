"""Applying reports to the store: match each to its delivery, record it, change the subscriber.

Matching, most certain first: the VERP tag of the address the report came back to, then the
original Message-ID, then the failed (or complaining) address. Every report is stored (raw text
capped) with what it was read as; only a report stored for the first time changes a subscriber, so
the same report twice changes nothing.

- permanent failure: counts toward DIGEST_BOUNCE_LIMIT (once per delivery), then `bounced`;
- temporary failure: `bounced` once DIGEST_SOFT_BOUNCE_LIMIT deliveries in a row drew one (a
  delivery without one breaks the run);
- refused for its content (x.6.x, too big): recorded, never counted against the address;
- complaint (ARF): `complained` at once, whatever the status was.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, Row

from digest.bounces.parse import Failure, Report, read_report
from digest.store import bounces as store
from digest.store import subscribers as subscriber_store
from digest.verp import delivery_of


@dataclass(frozen=True)
class Policy:
    bounce_limit: int
    soft_bounce_limit: int
    bounce_address: str | None
    secret: str | None


@dataclass
class Summary:
    """What a batch of reports did; `counts` by outcome: permanent, temporary, content, complaint,
    unparsed, unmatched, duplicate."""

    reports: int = 0
    counts: Counter = field(default_factory=Counter)
    bounced: list[str] = field(default_factory=list)
    complained: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        keys = ("permanent", "temporary", "content", "complaint", "unparsed", "unmatched", "duplicate")
        return {
            "reports": self.reports,
            **{key: self.counts[key] for key in keys},
            "bounced": self.bounced,
            "complained": self.complained,
        }


@dataclass(frozen=True)
class Match:
    recipient: str
    subscriber: Row | None
    delivery: Row | None
    matched_by: str | None


@dataclass(frozen=True)
class Run:
    """What every step of applying one report needs."""

    connection: Connection
    policy: Policy
    now: datetime
    summary: Summary
    source: str
    text: str


def process(
    engine: Engine,
    raw: bytes,
    source: str,
    policy: Policy,
    now: datetime,
    summary: Summary,
    envelope: tuple[str, ...] = (),
) -> None:
    """Read and apply one report in its own transaction."""
    report = read_report(raw, envelope)
    summary.reports += 1
    with engine.begin() as connection:
        run = Run(connection, policy, now, summary, source, raw.decode("utf-8", "replace"))
        if report.kind == "unparsed":
            _record(run, report, Match("", None, None, None), "unparsed", report.detail)
        elif report.kind == "complaint":
            _record(run, report, _match(run, report, report.complainant), "complaint", report.detail)
        else:
            for failure, match in _bounce_matches(run, report):
                _record(run, report, match, failure.kind, failure.detail)


_SEVERITY = ("permanent", "temporary", "content")


def _bounce_matches(run: Run, report: Report) -> list[tuple[Failure, Match]]:
    """One (failure, match) per delivery the report is about: a VERP or Message-ID match names the
    delivery, so the report is about it alone (a forwarded address may differ from ours)."""
    exact = _match(run, report, None)
    if exact.delivery is not None:
        return [(min(report.failures, key=lambda f: _SEVERITY.index(f.kind)), exact)]
    return [(failure, _match(run, report, failure.address)) for failure in report.failures]


def _match(run: Run, report: Report, address: str | None) -> Match:
    connection = run.connection
    delivery, matched_by = _delivery_by_tag(run, report), "verp"
    if delivery is None and report.original_message_id:
        delivery = store.delivery_by_message_id(connection, report.original_message_id)
        matched_by = "message-id"
    if delivery is not None:
        subscriber = subscriber_store.get_by_id(connection, delivery.subscriber_id)
        return Match(delivery.email, subscriber, delivery, matched_by)
    if not address:
        return Match("", None, None, None)
    subscriber = subscriber_store.get_by_email(connection, address)
    if subscriber is None:
        return Match(address.lower()[:320], None, None, None)
    latest = store.latest_sent_delivery(connection, subscriber.id)
    return Match(subscriber.email, subscriber, latest, "address")


def _delivery_by_tag(run: Run, report: Report) -> Row | None:
    policy = run.policy
    if not (policy.bounce_address and policy.secret):
        return None
    for address in report.envelope:
        delivery_id = delivery_of(address, policy.bounce_address, policy.secret)
        if delivery_id is not None:
            return store.delivery(run.connection, delivery_id)
    return None


def _record(run: Run, report: Report, match: Match, kind: str, detail: str) -> None:
    report_id = store.add_report(
        run.connection,
        fingerprint=report.fingerprint,
        kind=kind,
        recipient=match.recipient,
        subscriber_id=match.subscriber.id if match.subscriber is not None else None,
        delivery_id=match.delivery.id if match.delivery is not None else None,
        matched_by=match.matched_by,
        detail=detail[:1000],
        source=run.source[:500],
        size=len(run.text),
        raw=run.text,
        received_at=run.now,
    )
    if report_id is None:
        run.summary.counts["duplicate"] += 1
        return
    run.summary.counts[kind] += 1
    if match.subscriber is None:
        if kind != "unparsed":
            run.summary.counts["unmatched"] += 1
        return
    if kind == "complaint":
        _complained(run, match.subscriber)
    elif kind == "permanent":
        _permanent(run, match)
    elif kind == "temporary":
        _temporary(run, match)


def _complained(run: Run, subscriber: Row) -> None:
    if subscriber.status != "complained":
        subscriber_store.set_status(run.connection, subscriber.id, "complained", run.now)
        run.summary.complained.append(subscriber.email)


def _permanent(run: Run, match: Match) -> None:
    """Counted once per delivery: two reports about one message are one failure."""
    if match.delivery is not None and store.count_reports(run.connection, match.delivery.id, "permanent") > 1:
        return
    limit = run.policy.bounce_limit
    if subscriber_store.record_bounce(run.connection, match.subscriber.id, limit, run.now):
        run.summary.bounced.append(match.subscriber.email)


def _temporary(run: Run, match: Match) -> None:
    limit = run.policy.soft_bounce_limit
    if match.delivery is None:
        in_a_row = 1
    else:
        in_a_row = store.temporary_in_a_row(run.connection, match.subscriber.id, match.delivery.id, limit)
    if in_a_row >= limit and match.subscriber.status == "active":
        subscriber_store.set_status(run.connection, match.subscriber.id, "bounced", run.now)
        run.summary.bounced.append(match.subscriber.email)
