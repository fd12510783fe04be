"""Readers joining by themselves: sign-up, double opt-in confirmation, and the clean-up of the rest.

The rules, and why:
- A new address from the form is `pending` (with DIGEST_DOUBLE_OPT_IN) until the link mailed to it is
  opened: nobody can put a stranger on the list. Without double opt-in it is `active` at once.
- An address that left (unsubscribed, bounced, complained) and signs up again always confirms again,
  double opt-in or not, and keeps its status until it does: a stranger cannot bring it back.
- An active address signing up again changes nothing and gets no mail.
- At most one confirmation mail per address per `RESEND_AFTER`, however many sign-ups arrive: the
  check and the claim are one UPDATE, so concurrent requests cannot both win.
- The link carries a one-time nonce stored with the sign-up: a used link is recognised as used.
- The sign-up records the reader's language (the form's choice, else their browser's) and, when the
  browser told it, their time zone; confirming keeps both. A zone the browser sent that the tz
  database does not know is dropped, not an error: the reader never typed it.
- Unconfirmed sign-ups older than DIGEST_CONFIRM_HOURS are deleted (their events stay, anonymised);
  an address with an earlier history just loses its pending link.
Nothing here sends mail or knows HTTP: the caller does, with what these functions return.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import IntegrityError

from digest.headers import display_name
from digest.store import events
from digest.store import subscribers as store
from digest.store.schema import subscribers as table
from digest.subscribers import normalize_cadence, normalize_email, normalize_locale, normalize_timezone
from digest.text import single_line
from digest.tokens import ConfirmClaim

RESEND_AFTER = timedelta(hours=1)
USER_AGENT_CHARS = 400


@dataclass(frozen=True)
class SignupRequest:
    email: str
    name: str | None
    cadence: str
    ip: str | None = None
    user_agent: str | None = None
    source: str = "form"
    locale: str | None = None  # a shipped language (`es`); None: DIGEST_LOCALE
    timezone: str | None = None  # an IANA name, as the browser reported it


@dataclass(frozen=True)
class Signup:
    """What a sign-up did. `mail_owed`: send a confirmation link with `nonce` to `email`."""

    action: str  # "pending" (mail owed), "active", "already", "throttled"
    subscriber_id: int | None = None
    email: str = ""
    name: str | None = None
    cadence: str = "weekly"
    nonce: str | None = None
    locale: str | None = None  # the language of the confirmation mail (None: DIGEST_LOCALE)

    @property
    def mail_owed(self) -> bool:
        return self.nonce is not None


def check_request(request: SignupRequest) -> SignupRequest:
    """The request with a normalized address, cadence and name; ValueError names what is wrong."""
    return SignupRequest(
        email=normalize_email(request.email),
        name=display_name(request.name) or None,
        cadence=normalize_cadence(request.cadence),
        ip=(request.ip or None) and request.ip[:64],
        user_agent=(request.user_agent or None) and single_line(request.user_agent)[:USER_AGENT_CHARS],
        source=request.source,
        locale=normalize_locale(request.locale),
        timezone=browser_zone(request.timezone),
    )


def browser_zone(raw: str | None) -> str | None:
    """The zone a browser reported, when the tz database knows it; None otherwise."""
    try:
        return normalize_timezone((raw or "")[:64])
    except ValueError:
        return None


def _place(request: SignupRequest) -> dict[str, str]:
    """The reader's language and zone, those known: a new sign-up never clears an earlier choice."""
    values = {"locale": request.locale, "timezone": request.timezone}
    return {key: value for key, value in values.items() if value}


def sign_up(engine: Engine, request: SignupRequest, now: datetime, double_opt_in: bool = True) -> Signup:
    """Apply one (checked) sign-up; see the module docstring for the rules."""
    try:
        with engine.begin() as connection:
            row = store.get_by_email(connection, request.email)
            if row is None:
                return _new(connection, request, now, double_opt_in)
            if row.status == "active":
                return Signup("already", row.id, row.email)
            return _again(connection, row, request, now)
    except IntegrityError:  # the same address inserted by a concurrent request: that one mails
        return Signup("throttled")


def _consent(request: SignupRequest) -> dict:
    return {"consent_ip": request.ip, "consent_user_agent": request.user_agent}


def _new(connection, request: SignupRequest, now: datetime, double_opt_in: bool) -> Signup:
    nonce = secrets.token_urlsafe(16) if double_opt_in else None
    subscriber_id = store.insert_subscriber(
        connection,
        request.email,
        request.name,
        request.cadence,
        request.source,
        now,
        status="pending" if double_opt_in else "active",
        confirm_nonce=nonce,
        confirm_sent_at=now if double_opt_in else None,
        **_consent(request),
        **_place(request),
    )
    _record(connection, subscriber_id, "signup", now, request)
    action = "pending" if double_opt_in else "active"
    return Signup(action, subscriber_id, request.email, request.name, request.cadence, nonce, request.locale)


def _again(connection, row, request: SignupRequest, now: datetime) -> Signup:
    """A pending or departed address asks again: a new link, unless one went out within the hour."""
    nonce = row.confirm_nonce or secrets.token_urlsafe(16)
    claimed = connection.execute(
        update(table)
        .where(
            table.c.id == row.id,
            or_(table.c.confirm_sent_at.is_(None), table.c.confirm_sent_at <= now - RESEND_AFTER),
        )
        .values(
            confirm_nonce=nonce,
            confirm_sent_at=now,
            consent_at=now,
            source=request.source,
            name=request.name or row.name,
            cadence=request.cadence,
            updated_at=now,
            **_consent(request),
            **_place(request),
        )
    )
    if claimed.rowcount != 1:
        return Signup("throttled", row.id, row.email)
    _record(connection, row.id, "signup", now, request)
    locale = request.locale or row.locale
    return Signup("pending", row.id, row.email, request.name or row.name, request.cadence, nonce, locale)


def _record(connection, subscriber_id: int, kind: str, now: datetime, request: SignupRequest) -> None:
    events.record(
        connection,
        subscriber_id,
        kind,
        now,
        source=request.source,
        ip=request.ip,
        user_agent=request.user_agent,
    )


def release(engine: Engine, signup: Signup) -> None:
    """The confirmation mail could not be sent: let the next sign-up try again at once."""
    with engine.begin() as connection:
        connection.execute(
            update(table)
            .where(table.c.id == signup.subscriber_id, table.c.confirm_nonce == signup.nonce)
            .values(confirm_sent_at=None)
        )


@dataclass(frozen=True)
class Confirmation:
    """`outcome`: confirmed, already (link used, address active), used (link used or replaced,
    address not active), expired (still pending: a new link can be asked for), unknown."""

    outcome: str
    subscriber_id: int | None = None
    cadence: str | None = None


def confirm(
    engine: Engine, claim: ConfirmClaim, now: datetime, ip: str | None = None, user_agent: str | None = None
) -> Confirmation:
    """Activate the sign-up the link names, once; anything else changes nothing."""
    with engine.begin() as connection:
        row = store.get_by_id(connection, claim.subscriber_id)
        if row is None:
            return Confirmation("unknown")
        if row.confirm_nonce != claim.nonce:
            return Confirmation("already" if row.status == "active" else "used", row.id, row.cadence)
        if claim.expired:
            return Confirmation("expired", row.id, row.cadence)
        store.set_fields(
            connection,
            row.id,
            now,
            status="active",
            bounce_count=0,
            confirmed_at=now,
            confirm_ip=(ip or None) and ip[:64],
            confirm_user_agent=(user_agent or None) and single_line(user_agent)[:USER_AGENT_CHARS],
            confirm_nonce=None,
        )
        events.record(connection, row.id, "confirmed", now, source="link", ip=ip, user_agent=user_agent)
        return Confirmation("confirmed", row.id, row.cadence)


def ask_again(engine: Engine, claim: ConfirmClaim, now: datetime) -> Signup:
    """An expired link's "send me a new one": a fresh link for the same sign-up, at most hourly."""
    with engine.begin() as connection:
        row = store.get_by_id(connection, claim.subscriber_id)
        if row is None or row.confirm_nonce != claim.nonce:
            return Signup("throttled")
        claimed = connection.execute(
            update(table)
            .where(table.c.id == row.id, table.c.confirm_nonce == claim.nonce)
            .where(or_(table.c.confirm_sent_at.is_(None), table.c.confirm_sent_at <= now - RESEND_AFTER))
            .values(confirm_sent_at=now, updated_at=now)
        )
        if claimed.rowcount != 1:
            return Signup("throttled", row.id, row.email)
        return Signup("pending", row.id, row.email, row.name, row.cadence, claim.nonce, row.locale)


def purge_unconfirmed(engine: Engine, now: datetime, confirm_hours: float) -> int:
    """Delete sign-ups whose link expired unconfirmed; returns how many were deleted."""
    cutoff = now - timedelta(hours=confirm_hours)
    deleted = 0
    with engine.begin() as connection:
        for row in store.expired_pending(connection, cutoff):
            events.anonymise(connection, row.id)
            events.record(connection, None, "expired", now)
            store.delete_subscriber(connection, row.id)
            deleted += 1
        connection.execute(  # departed addresses that asked to come back and never confirmed
            update(table)
            .where(table.c.status != "pending", table.c.confirm_nonce.is_not(None))
            .where(table.c.confirm_sent_at < cutoff)
            .values(confirm_nonce=None)
        )
    return deleted
