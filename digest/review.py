"""The organizer's review of one digest: which items an edition holds, and the actions on it.

The CLI (`digest edition ...`) and the preview's buttons both call `act`; a send calls
`edition_entries` (what to render) and `start_sending` (the edition's list freezes as it goes out).

An edition's items: the period's own items (only those in its frozen list once it is approved), plus
the items of the previous period that arrived after that edition froze: they were too late for it,
so they go out in this one rather than nowhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, Engine

from digest.config import Settings
from digest.editions import (
    EDITABLE,
    Edition,
    EditionHeld,
    EditionLocked,
    Entry,
    after_edit,
    arrange,
    check_editable,
    check_intro,
    check_sendable,
    clean_subject,
)
from digest.errors import DigestError
from digest.models import Item, RenderedDigest
from digest.periods import Period, previous
from digest.render.context import reading_order
from digest.store import editions as store
from digest.store.digests import get_digest
from digest.store.items import items_between

ACTIONS = ("approve", "hold", "exclude", "include", "pin", "unpin", "intro", "subject")


@dataclass(frozen=True)
class EditionView:
    edition: Edition
    entries: list[Entry]

    def as_dict(self) -> dict:
        e = self.edition
        return {
            "cadence": e.cadence,
            "period": e.period,
            "state": e.state,
            "subject": e.subject,
            "intro": e.intro,
            "items": [
                {"id": x.item.id, "title": x.item.title, "excluded": x.excluded, "pinned": x.pinned}
                for x in self.entries
            ],
        }


def load(connection: Connection, settings: Settings, period: Period) -> EditionView:
    """The edition as stored (a digest stored before editions existed reads as its send state)."""
    edition = store.load_edition(connection, period.cadence, period.key)
    stored = get_digest(connection, period.cadence, period.key)
    if stored is not None and edition.state in EDITABLE:
        edition = replace(edition, state="sent" if stored.status == "sent" else "sending")
    items = _candidates(connection, settings, period)
    entries = arrange(edition, items)
    return EditionView(edition, _in_reading_order(entries))


def show(settings: Settings, engine: Engine, period: Period) -> EditionView:
    with engine.connect() as connection:
        return load(connection, settings, period)


def _candidates(connection: Connection, settings: Settings, period: Period) -> list[Item]:
    """The period's items and the previous period's late ones, newest first."""
    own = list(items_between(connection, period.start, period.end))
    before = previous(period, settings.timezone)
    frozen = store.frozen_editions(connection, period.cadence).get(before.key)
    if frozen is None:
        return own
    late = [i for i in items_between(connection, before.start, before.end) if i.id not in frozen]
    return own + late


def _in_reading_order(entries: list[Entry]) -> list[Entry]:
    """Entries as the rendered digest shows them (sections group items; pinned lead their section)."""
    by_id = {entry.item.id: entry for entry in entries}
    return [by_id[item.id] for item in reading_order([entry.item for entry in entries])]


# Renders an edition as it would go out: compose.render_edition, handed down by the caller.
Render = Callable[[EditionView], RenderedDigest]


def act(
    settings: Settings,
    engine: Engine,
    period: Period,
    action: str,
    value: str,
    now: datetime,
    render: Render,
) -> EditionView:
    """One organizer action, in one transaction; refused (EditionLocked) once the send started.
    Approving renders the edition (`render`) and keeps that copy: it is what a send then stores."""
    if action not in ACTIONS:
        raise DigestError(f"unknown edition action {action!r} (one of {', '.join(ACTIONS)})")
    with engine.begin() as connection:
        view = load(connection, settings, period)
        check_editable(view.edition)
        edition_id = store.ensure_edition(connection, period.cadence, period.key, now)
        state = _apply(connection, view, edition_id, action, value, now)
        if not store.move_state(connection, edition_id, state, EDITABLE, now):
            raise EditionLocked(f"{view.edition.label} started sending: it can no longer be edited")
        if action == "approve":
            store.keep_approved_copy(connection, edition_id, render(load(connection, settings, period)))
    return show(settings, engine, period)


def _apply(
    connection: Connection, view: EditionView, edition_id: int, action: str, value: str, now: datetime
) -> str:
    """Record the action; returns the edition's new state."""
    edition = view.edition
    if action == "approve":
        if edition.frozen is None:
            store.freeze(connection, edition_id, [e.item.id for e in view.entries], now)
        return "approved"
    if action == "hold":
        return "held"
    if action == "intro":
        store.set_fields(connection, edition_id, now, intro=check_intro(value))
    elif action == "subject":
        store.set_fields(connection, edition_id, now, subject=clean_subject(value))
    else:
        _mark(connection, view, edition_id, action, value)
    return after_edit(edition)


def _mark(connection: Connection, view: EditionView, edition_id: int, action: str, value: str) -> None:
    item_id = find_item(view, value)
    if action == "exclude":
        store.set_mark(connection, edition_id, item_id, excluded=1, pin_rank=None)
    elif action == "include":
        store.set_mark(connection, edition_id, item_id, excluded=0)
    elif action == "pin":
        rank = store.next_pin_rank(connection, edition_id)
        store.set_mark(connection, edition_id, item_id, excluded=0, pin_rank=rank)
    else:
        store.set_mark(connection, edition_id, item_id, pin_rank=None)


def find_item(view: EditionView, value: str) -> str:
    """An item of this edition by id, or by a unique start of its id (at least 6 characters)."""
    wanted = value.strip().lower()
    ids = [entry.item.id for entry in view.entries]
    if wanted in ids:
        return wanted
    matches = [item_id for item_id in ids if len(wanted) >= 6 and item_id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DigestError(f"item id {value!r} is ambiguous in {view.edition.label}: give more of it")
    raise DigestError(f"no item {value!r} in {view.edition.label} (see `digest edition show`)")


class EditionChanged(DigestError):
    """The edition changed between rendering it and storing the digest."""


def start_sending(
    connection: Connection, settings: Settings, view: EditionView, period: Period, now: datetime
) -> None:
    """Within the transaction that stores the digest: the edition becomes `sending` and its list
    freezes. A hold that got in first wins (EditionHeld); an edit that did makes the caller render
    again (EditionChanged). Either way the transaction rolls back and nothing is stored."""
    if load(connection, settings, period) != view:
        raise EditionChanged(f"{view.edition.label} changed while it rendered")
    check_sendable(view.edition)
    edition_id = store.ensure_edition(connection, view.edition.cadence, view.edition.period, now)
    if not store.move_state(connection, edition_id, "sending", ("open", "approved"), now):
        raise EditionHeld(f"{view.edition.label} is held: `digest edition approve` releases it")
    if view.edition.frozen is None:
        store.freeze(connection, edition_id, [e.item.id for e in view.entries], now)


def mark_sent(connection: Connection, cadence: str, period: str, now: datetime) -> None:
    row = store.edition_row(connection, cadence, period)
    if row is not None:
        store.move_state(connection, row.id, "sent", ("sending",), now)
