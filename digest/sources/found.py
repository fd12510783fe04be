"""What a reader makes of one file or URL: its items, and what it had to forgive to read them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from digest.models import Item
from digest.periods import DateOutOfRange


@dataclass
class Found:
    items: list[Item] = field(default_factory=list)
    # One line each, naming the problem ("ill-formed XML ...; read leniently", "read as koi8-r"):
    # the source was stored, but its owner should know what digest assumed.
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def add_each(
        self, records: Iterable, to_item: Callable[[object], Item], label: Callable[[int], str]
    ) -> None:
        """Items from records one by one; a record dated out of range is skipped with a warning."""
        for number, record in enumerate(records, start=1):
            try:
                self.items.append(to_item(record))
            except DateOutOfRange as exc:
                self.warn(f"{label(number)} refused: {exc}")
