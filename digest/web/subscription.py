"""What a subscriber can do from their personal link, apart from HTTP: the rules and the store calls.

The signed token in the link is the capability; it names a subscriber and never expires. Preference
forms carry a second, short-lived signed nonce (see `form_nonce`), so a form cannot be replayed from
elsewhere; one-click unsubscribe needs nothing but the token (RFC 8058).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine

from digest.periods import CADENCES
from digest.store import subscribers as store

_FORM_SALT = "digest.preferences-form.v1"
FORM_MAX_AGE = 7 * 24 * 3600


@dataclass(frozen=True)
class Subscription:
    """What the page shows: never the full address (the link may be forwarded)."""

    id: int
    masked_email: str
    cadence: str
    status: str
    locale: str | None = None  # their own language; None: the browser's, else DIGEST_LOCALE

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
    return Subscription(row.id, mask_email(row.email), row.cadence, row.status, row.locale)


def load(engine: Engine, subscriber_id: int) -> Subscription | None:
    with engine.connect() as connection:
        return _view(store.get_by_id(connection, subscriber_id))


def unsubscribe(engine: Engine, subscriber_id: int, now: datetime) -> Subscription | None:
    """Idempotent: a second call changes nothing and reports the same state."""
    with engine.begin() as connection:
        row = store.get_by_id(connection, subscriber_id)
        if row is not None and row.status != "unsubscribed":
            store.set_status(connection, subscriber_id, "unsubscribed", now)
        return _view(store.get_by_id(connection, subscriber_id))


def resubscribe(engine: Engine, subscriber_id: int, cadence: str, now: datetime) -> Subscription | None:
    """The owner of the address asks to come back: active again, bounce count forgiven."""
    _check_cadence(cadence)
    with engine.begin() as connection:
        if store.get_by_id(connection, subscriber_id) is None:
            return None
        store.set_fields(connection, subscriber_id, now, status="active", cadence=cadence, bounce_count=0)
        return _view(store.get_by_id(connection, subscriber_id))


def set_cadence(engine: Engine, subscriber_id: int, cadence: str, now: datetime) -> Subscription | None:
    _check_cadence(cadence)
    with engine.begin() as connection:
        row = store.get_by_id(connection, subscriber_id)
        if row is None:
            return None
        if row.cadence != cadence:
            store.set_fields(connection, subscriber_id, now, cadence=cadence)
        return _view(store.get_by_id(connection, subscriber_id))


def _check_cadence(cadence: str) -> None:
    if cadence not in CADENCES:
        raise ValueError(f"unknown cadence {cadence!r}")


def form_nonce(secret_key: str, subscriber_id: int) -> str:
    return URLSafeTimedSerializer(secret_key, salt=_FORM_SALT).dumps(subscriber_id)


def nonce_is_valid(secret_key: str, nonce: str, subscriber_id: int, max_age: int = FORM_MAX_AGE) -> bool:
    """True when `nonce` was made by this server, for this subscriber, less than `max_age` s ago."""
    try:
        value = URLSafeTimedSerializer(secret_key, salt=_FORM_SALT).loads(nonce, max_age=max_age)
    except BadSignature:
        return False
    return value == subscriber_id
