"""Subscriber management: validate and normalize addresses, add, import, remove, export.

Addresses are checked for syntax only (no DNS: adding a subscriber must work offline) and kept in
their ASCII form (an internationalized domain becomes its xn-- name) so every SMTP server takes them.
An unsubscribe is a promise: importing a CSV never re-activates an unsubscribed or bounced address;
only an explicit `add` does, or the owner of the address from their personal link (`resubscribe`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TextIO
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Engine, Row

from digest import locales
from digest.errors import DigestError
from digest.headers import display_name
from digest.periods import CADENCES
from digest.store import bounces as bounce_store
from digest.store import events
from digest.store import subscribers as store
from digest.text import neutralize_cell, unquote_cell

EXPORT_COLUMNS = ("email", "name", "cadence", "status", "created_at", "locale", "timezone")


def normalize_email(raw: str) -> str:
    """The address as stored: syntax-checked, domain lowercased, ASCII. ValueError when invalid."""
    try:
        checked = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email {raw.strip()!r}: {exc}") from None
    return checked.ascii_email or checked.normalized


def normalize_cadence(raw: str | None) -> str:
    cadence = (raw or "").strip().lower() or "weekly"
    if cadence not in CADENCES:
        raise ValueError(f"unknown cadence {raw!r} (weekly or monthly)")
    return cadence


def normalize_locale(raw: str | None) -> str | None:
    """A language we have a catalog for (`es-MX` -> `es`); None when not given."""
    return locales.normalize_locale(raw) if (raw or "").strip() else None


def normalize_timezone(raw: str | None) -> str | None:
    """An IANA zone name as the tz database spells it (`Europe/Berlin`); None when not given."""
    value = (raw or "").strip()
    if not value:
        return None
    if value not in _zone_names():
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Berlin, America/Chicago)")
    return value


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def add_subscriber(
    engine: Engine,
    email: str,
    name: str | None,
    cadence: str | None,
    now: datetime,
    source: str = "cli",
    locale: str | None = None,
    timezone: str | None = None,
) -> tuple[Row, str]:
    """Add, or re-activate and update an existing address. Returns the row and what happened:
    'added', 'reactivated', 'updated' or 'unchanged'. An existing subscriber keeps their cadence
    unless one is given (None): re-adding a monthly reader must not switch them to weekly.
    `locale` and `timezone` change only when given."""
    try:
        email = normalize_email(email)
        cadence = normalize_cadence(cadence) if cadence else None
        place = _place(locale, timezone)
    except ValueError as exc:
        raise DigestError(str(exc)) from None
    name = display_name(name) or None
    with engine.begin() as connection:
        row = store.get_by_email(connection, email)
        if row is None:
            subscriber_id = store.insert_subscriber(
                connection, email, name, cadence or normalize_cadence(None), source, now, **place
            )
            action = "added"
            events.record(connection, subscriber_id, "added", now, source=source)
        else:
            subscriber_id = row.id
            changes = {"cadence": cadence or row.cadence, "status": "active", "bounce_count": 0, **place}
            if name:
                changes["name"] = name
            action = _action(row, changes)
            if action != "unchanged":
                store.set_fields(connection, subscriber_id, now, **changes)
            if action == "reactivated":
                events.record(connection, subscriber_id, "resubscribed", now, source=source)
        return store.get_by_id(connection, subscriber_id), action


def _place(locale: str | None, timezone: str | None) -> dict[str, str]:
    """The given ones of a subscriber's locale and time zone, validated."""
    values = {"locale": normalize_locale(locale), "timezone": normalize_timezone(timezone)}
    return {key: value for key, value in values.items() if value}


def _action(row: Row, changes: dict) -> str:
    if row.status != "active":
        return "reactivated"
    if any(getattr(row, key) != value for key, value in changes.items()):
        return "updated"
    return "unchanged"


def remove_subscriber(engine: Engine, email: str, now: datetime) -> Row:
    """Mark unsubscribed (the row stays, so a later import knows not to bring it back)."""
    with engine.begin() as connection:
        row = _existing(connection, email)
        if row.status != "unsubscribed":
            store.set_status(connection, row.id, "unsubscribed", now)
            events.record(connection, row.id, "unsubscribed", now, source="cli")
        return store.get_by_id(connection, row.id)


# --- what a subscriber's personal link can change -------------------------------------------


@dataclass(frozen=True)
class Subscription:
    """What the page shows: never the full address (the link may be forwarded)."""

    id: int
    masked_email: str
    cadence: str
    status: str
    locale: str | None = None  # their own language; None: the browser's, else DIGEST_LOCALE
    timezone: str | None = None  # their own IANA zone; None: DIGEST_TIMEZONE

    @property
    def active(self) -> bool:
        return self.status == "active"


def mask_email(email: str) -> str:
    """`reader@example.org` -> `r•••@example.org`: enough to recognize, too little to harvest."""
    local, at, domain = email.rpartition("@")
    if not at:
        return email[:1] + "•••"
    return f"{local[:1]}•••@{domain}"


def _view(row) -> Subscription | None:
    if row is None:
        return None
    return Subscription(row.id, mask_email(row.email), row.cadence, row.status, row.locale, row.timezone)


def subscription(engine: Engine, subscriber_id: int) -> Subscription | None:
    with engine.connect() as connection:
        return _view(store.get_by_id(connection, subscriber_id))


def unsubscribe(engine: Engine, subscriber_id: int, now: datetime) -> Subscription | None:
    """Idempotent: a second call changes nothing and reports the same state."""
    with engine.begin() as connection:
        row = store.get_by_id(connection, subscriber_id)
        if row is not None and row.status != "unsubscribed":
            store.set_status(connection, subscriber_id, "unsubscribed", now)
            events.record(connection, subscriber_id, "unsubscribed", now, source="link")
        return _view(store.get_by_id(connection, subscriber_id))


def resubscribe(engine: Engine, subscriber_id: int, cadence: str, now: datetime) -> Subscription | None:
    """The owner of the address asks to come back: active again, bounce count forgiven."""
    _check_cadence(cadence)
    with engine.begin() as connection:
        row = store.get_by_id(connection, subscriber_id)
        if row is None:
            return None
        store.set_fields(connection, subscriber_id, now, status="active", cadence=cadence, bounce_count=0)
        if row.status != "active":
            events.record(connection, subscriber_id, "resubscribed", now, source="link")
        return _view(store.get_by_id(connection, subscriber_id))


def set_cadence(engine: Engine, subscriber_id: int, cadence: str, now: datetime) -> Subscription | None:
    _check_cadence(cadence)
    with engine.begin() as connection:
        row = store.get_by_id(connection, subscriber_id)
        if row is None:
            return None
        if row.cadence != cadence:
            store.set_fields(connection, subscriber_id, now, cadence=cadence)
            events.record(connection, subscriber_id, "cadence", now, source="link", detail=cadence)
        return _view(store.get_by_id(connection, subscriber_id))


def _check_cadence(cadence: str) -> None:
    if cadence not in CADENCES:
        raise ValueError(f"unknown cadence {cadence!r}")


# --- importing and exporting -------------------------------------------------------------------


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_unsubscribed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return self.added + self.updated


@dataclass(frozen=True)
class CSVRow:
    line: int
    email: str
    name: str | None
    cadence: str
    place: dict[str, str] = field(default_factory=dict)  # locale, timezone when the row has them


def read_csv(handle: TextIO, report: ImportReport) -> Iterator[CSVRow]:
    """Valid rows; each bad one goes to `report.errors` with its line number (the header is line 1)."""
    reader = csv.DictReader(handle)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "email" not in header:
        raise DigestError("CSV has no 'email' column (expected a header row: email,name,cadence)")
    reader.fieldnames = header
    line = reader.line_num
    seen: dict[str, int] = {}  # address key -> first line: a second row for it is reported, not applied
    for record in reader:
        start, line = line + 1, reader.line_num
        try:
            if None in record:
                raise ValueError("more fields than the header")
            row = CSVRow(
                start,
                normalize_email(unquote_cell(record.get("email") or "")),
                display_name(unquote_cell(record.get("name") or "")) or None,
                normalize_cadence(record.get("cadence")),
                _place(record.get("locale"), record.get("timezone")),
            )
            if (first := seen.setdefault(row.email.lower(), start)) != start:
                raise ValueError(f"{row.email} is also on line {first}")
            yield row
        except ValueError as exc:
            report.errors.append((start, str(exc)))


def import_csv(engine: Engine, path: Path, now: datetime, batch: int = 500) -> ImportReport:
    """Apply every valid row; bad rows are reported and skipped. Each row is one insert or one
    update, so a row is applied whole or not at all; rows are streamed and applied in batches that
    share a transaction, so a file of any size imports quickly in little memory."""
    report = ImportReport()
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = read_csv(handle, report)
            while chunk := list(islice(rows, batch)):
                with engine.begin() as connection:
                    for row in chunk:
                        _apply(connection, row, report, now, source=f"import:{path.name}")
    except (OSError, UnicodeDecodeError) as exc:
        raise DigestError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except csv.Error as exc:
        raise DigestError(f"{path}: not a readable CSV file: {exc}") from None
    report.errors.sort()
    return report


def _apply(connection, row: CSVRow, report: ImportReport, now: datetime, source: str) -> None:
    existing = store.get_by_email(connection, row.email)
    if existing is None:
        subscriber_id = store.insert_subscriber(
            connection, row.email, row.name, row.cadence, source, now, **row.place
        )
        events.record(connection, subscriber_id, "added", now, source=source)
        report.added += 1
    elif existing.status != "active":
        report.kept_unsubscribed += 1
    else:
        changes = {"cadence": row.cadence, **({"name": row.name} if row.name else {}), **row.place}
        if _action(existing, changes) == "unchanged":
            report.unchanged += 1
        else:
            store.set_fields(connection, existing.id, now, **changes)
            report.updated += 1


def list_subscribers(engine: Engine, cadence: str | None = None, status: str | None = None) -> Iterator[Row]:
    with engine.connect() as connection:
        yield from store.iter_subscribers(connection, cadence=cadence, status=status)


def as_dict(row: Row) -> dict:
    return {
        "email": row.email,
        "name": row.name,
        "cadence": row.cadence,
        "status": row.status,
        "locale": row.locale,
        "timezone": row.timezone,
        "bounce_count": row.bounce_count,
        "source": row.source,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def find(engine: Engine, email: str) -> Row:
    with engine.connect() as connection:
        return _existing(connection, email)


def _existing(connection: Connection, email: str) -> Row:
    """The subscriber with this address (as typed, if it is not a valid one); DigestError if none."""
    try:
        key = normalize_email(email)
    except ValueError:
        key = email.strip()
    row = store.get_by_email(connection, key)
    if row is None:
        raise DigestError(f"no subscriber {email.strip()!r}")
    return row


def subscriber_record(engine: Engine, email: str) -> dict:
    """One subscriber as `subscribers show` prints it: state, consent record and history.
    Other parts (bounce history) add their own keys to this dict."""
    row = find(engine, email)
    with engine.connect() as connection:
        history = events.for_subscriber(connection, row.id)
        reports = bounce_store.history(connection, row.id)
    return {
        **as_dict(row),
        "consent": {
            "source": row.source,  # form, cli, import:FILE
            "signed_up_at": row.consent_at,
            "ip": row.consent_ip,
            "user_agent": row.consent_user_agent,
            "confirmed_at": row.confirmed_at,
            "confirmed_ip": row.confirm_ip,
            "confirmed_user_agent": row.confirm_user_agent,
        },
        "confirmation_pending": row.confirm_nonce is not None,
        "events": [
            {"at": e.at, "event": e.kind, "source": e.source, "ip": e.ip, "user_agent": e.user_agent}
            for e in history
        ],
        "bounces": [{key: getattr(r, key) for key in _REPORT_KEYS} for r in reports],
    }


# What `subscribers show` lists of each bounce or complaint report (the raw text stays in the store).
_REPORT_KEYS = ("id", "kind", "detail", "matched_by", "delivery_id", "source", "size", "received_at")


def export_csv(engine: Engine, out: TextIO, cadence: str | None = None, status: str | None = None) -> int:
    """Streams rows; the file re-imports with `digest subscribers import` (extra columns ignored)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in list_subscribers(engine, cadence, status):
        cells = [
            row.email,
            row.name or "",
            row.cadence,
            row.status,
            row.created_at.isoformat(),
            row.locale or "",
            row.timezone or "",
        ]
        writer.writerow([neutralize_cell(cell) for cell in cells])
        count += 1
    return count
