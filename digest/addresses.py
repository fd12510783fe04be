"""The addresses settings accept: a sender mailbox for the From header, bare addresses. Pure checks.

Each parser returns the value or raises ValueError with the reason (config.py reports it with its key).
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import parseaddr


def mailbox(value: str) -> str:
    """A `Name <address>` header value; refuse anything that could smuggle a header line."""
    value = value.strip()
    if "\r" in value or "\n" in value:
        raise ValueError("must be a single line")
    name, address = parseaddr(value)
    if not address or "@" not in address:
        raise ValueError(f"expected 'Name <address@example.org>', got {value!r}")
    local, _, domain = address.rpartition("@")
    try:
        str(Address(display_name=name, username=local, domain=domain))
    except (ValueError, IndexError) as exc:
        raise ValueError(f"invalid address {value!r}: {exc}") from None
    return value


def optional_mailbox(value: str) -> str | None:
    return mailbox(value) if value.strip() else None


def optional_address(value: str) -> str | None:
    """A bare address (for mailto: List-Unsubscribe), checked like the sender's."""
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(r"[^@\s<>()\[\],;:\\\"\x00-\x1f\x7f]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", value):
        raise ValueError(f"expected an address like unsubscribe@example.org, got {value!r}")
    return value


def address_list(value: str) -> tuple[str, ...]:
    """Comma-separated bare addresses (DIGEST_REVIEWERS), each checked like the one above; a repeat
    (compared without case) is kept once."""
    kept: dict[str, str] = {}
    for address in filter(None, map(optional_address, value.split(","))):
        kept.setdefault(address.lower(), address)
    return tuple(kept.values())
