"""The organizer's edition of one digest: pure rules, no database, no clock.

An edition is what the organizer decided about one (cadence, period): its state, an intro in
Markdown, a subject override, items left out, items pinned to the top in the order pinned. Until it
is approved it follows the store: new items join it. Approving (or the start of its send) freezes
its item list: items that arrive later are not in it and go to the next edition instead.

States: `open` (follows the store, goes out at its time unless approval is required), `approved`
(goes out at its time, exactly as approved), `held` (does not go out until approved), `sending`,
`sent` (what went out cannot change, so neither can be edited).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from digest.errors import DigestError
from digest.models import Item

STATES = ("open", "approved", "held", "sending", "sent")
EDITABLE = ("open", "approved", "held")
INTRO_CHARS = 20_000  # a few paragraphs; a digest is not a blog post
SUBJECT_CHARS = 200  # well inside one 998-octet header line, even fully encoded


class EditionLocked(DigestError):
    """The edition is being sent or was sent: what went out cannot change."""


class EditionHeld(DigestError):
    """A send of an edition the organizer put on hold."""


@dataclass(frozen=True)
class Edition:
    cadence: str
    period: str
    state: str = "open"
    intro: str = ""
    subject: str | None = None
    excluded: frozenset[str] = frozenset()
    pinned: tuple[str, ...] = ()  # in pin order
    frozen: frozenset[str] | None = None  # the item list as approved; None while it follows the store

    @property
    def label(self) -> str:
        return f"{self.cadence} {self.period}"


@dataclass(frozen=True)
class Entry:
    """One item of an edition, in send order, with the organizer's marks."""

    item: Item
    excluded: bool
    pinned: bool


def arrange(edition: Edition, items: Sequence[Item]) -> list[Entry]:
    """The edition's items in send order: pinned ones first (in pin order), then the rest in the
    order given; excluded ones stay in the list, marked, so they can be included again."""
    if edition.frozen is not None:
        items = [item for item in items if item.id in edition.frozen]
    by_id = {item.id: item for item in items}
    pinned = [by_id[item_id] for item_id in edition.pinned if item_id in by_id]
    pinned_ids = {item.id for item in pinned}
    rest = [item for item in items if item.id not in pinned_ids]
    return [Entry(item, item.id in edition.excluded, item.id in pinned_ids) for item in pinned + rest]


def chosen(entries: Sequence[Entry]) -> list[Item]:
    """What goes into the digest: every item not left out, in send order."""
    return [entry.item for entry in entries if not entry.excluded]


def check_editable(edition: Edition) -> None:
    if edition.state not in EDITABLE:
        raise EditionLocked(f"{edition.label} is {edition.state}: it can no longer be edited")


def after_edit(edition: Edition) -> str:
    """An edit withdraws an approval (what goes out is exactly what was approved); a hold stays."""
    return "open" if edition.state == "approved" else edition.state


def check_sendable(edition: Edition) -> None:
    """`digest send` and the scheduler both refuse a held edition."""
    if edition.state == "held":
        raise EditionHeld(f"{edition.label} is held: `digest edition approve` releases it")


def waits_for_approval(edition: Edition, require_approval: bool) -> bool:
    """An automatic send of an unapproved edition waits when approval is required."""
    return require_approval and edition.state in ("open", "held")


def clean_subject(value: str) -> str | None:
    """A subject override: one line (it becomes a header), bounded; empty clears it."""
    text = " ".join(value.split())
    if len(text) > SUBJECT_CHARS:
        raise DigestError(f"the subject is longer than {SUBJECT_CHARS} characters")
    return text or None


def check_intro(text: str) -> str:
    if len(text) > INTRO_CHARS:
        raise DigestError(f"the intro is longer than {INTRO_CHARS} characters")
    if "\x00" in text:
        raise DigestError("the intro is not text (it holds NUL bytes)")
    return text.replace("\r\n", "\n").strip()


def with_state(edition: Edition, state: str) -> Edition:
    return replace(edition, state=state)
