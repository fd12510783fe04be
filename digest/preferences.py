"""What a subscriber changes from their own preferences page: how often, in which language and in
which time zone. The values are checked together and saved together, so a refused one saves nothing.

A language is one we ship a catalog for; a time zone is an IANA name the tz database knows, or
empty for the organizer's DIGEST_TIMEZONE. Anything else is refused with a message the page shows.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

from sqlalchemy import Engine

from digest import locales
from digest.locales import N_
from digest.periods import CADENCES
from digest.store import events
from digest.store import subscribers as store
from digest.subscribers import Subscription, normalize_timezone, subscription

# The tz database's own areas: what a reader picks from (no `Etc/GMT+5`, `US/Eastern` or `posix/...`).
ZONE_AREAS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe")
ZONE_AREAS += ("Indian", "Pacific")
MAX_VALUE = 64  # longer than any locale tag or zone name: refused before it is parsed


class ChoiceError(ValueError):
    """A refused value: `field` names the form field, `message` is marked for translation."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_choices(cadence: str | None, locale: str | None, timezone: str | None) -> dict[str, str | None]:
    """The changes asked for, validated; a None argument was not on the form and stays unchanged.
    An empty time zone means "the organizer's" (stored as None)."""
    changes: dict[str, str | None] = {}
    if cadence is not None:
        if cadence not in CADENCES:
            raise ChoiceError("cadence", N_("Please choose weekly or monthly."))
        changes["cadence"] = cadence
    if locale is not None:
        changes["locale"] = _language(locale)
    if timezone is not None:
        changes["timezone"] = _zone(timezone)
    return changes


def _language(raw: str) -> str:
    try:
        if len(raw) > MAX_VALUE or not raw.strip():
            raise ValueError(raw)
        return locales.normalize_locale(raw)
    except ValueError:
        raise ChoiceError("locale", N_("Please choose one of the languages in the list.")) from None


def _zone(raw: str) -> str | None:
    try:
        if len(raw) > MAX_VALUE:
            raise ValueError(raw)
        return normalize_timezone(raw)
    except ValueError:
        message = N_("Please choose a time zone from the list, such as Europe/Berlin, or leave it empty.")
        raise ChoiceError("timezone", message) from None


def save_choices(
    engine: Engine, subscriber_id: int, changes: dict[str, str | None], now: datetime
) -> Subscription | None:
    """Apply checked changes in one transaction; a cadence change is recorded like set_cadence's."""
    with engine.begin() as connection:
        row = store.get_by_id(connection, subscriber_id)
        if row is None:
            return None
        changed = {key: value for key, value in changes.items() if getattr(row, key) != value}
        if changed:
            store.set_fields(connection, subscriber_id, now, **changed)
        if "cadence" in changed:
            events.record(connection, subscriber_id, "cadence", now, source="link", detail=changed["cadence"])
    return subscription(engine, subscriber_id)


@lru_cache(maxsize=1)
def zone_choices() -> tuple[str, ...]:
    """The zone names a reader picks from, sorted: `Africa/Abidjan` ... `Pacific/Wallis`, and `UTC`."""
    names = {name for name in available_timezones() if name.split("/", 1)[0] in ZONE_AREAS and "/" in name}
    return (*sorted(names), "UTC")
