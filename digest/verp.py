"""VERP: each message's envelope sender is `local+TAG@domain`, so a bounce names its delivery.

The tag is the delivery's id and a MAC of it under the secret key: it identifies the delivery
without exposing the address, and a forged tag (someone guessing ids) does not verify. Lowercase
hex only, because some MTAs fold the case of local parts.
"""

from __future__ import annotations

import hmac
import re

_TAG = re.compile(r"([0-9a-f]{1,12})-([0-9a-f]{10})")


def _mac(secret: str, delivery_id: int) -> str:
    return hmac.new(secret.encode(), f"verp|{delivery_id}".encode(), "sha256").hexdigest()[:10]


def make_tag(secret: str, delivery_id: int) -> str:
    return f"{delivery_id:x}-{_mac(secret, delivery_id)}"


def verp_address(bounce_address: str, secret: str, delivery_id: int) -> str:
    """`bounces@example.org` -> `bounces+1f-0123456789@example.org`."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{make_tag(secret, delivery_id)}@{domain}"


def delivery_of(address: str, bounce_address: str, secret: str) -> int | None:
    """The delivery id a VERP address names, or None if it is not one of ours or does not verify."""
    address = address.strip().strip("<>").lower()
    local, _, domain = bounce_address.lower().rpartition("@")
    prefix, suffix = f"{local}+", f"@{domain}"
    if not (address.startswith(prefix) and address.endswith(suffix)):
        return None
    match = _TAG.fullmatch(address[len(prefix) : -len(suffix)])
    if match is None:
        return None
    delivery_id = int(match.group(1), 16)
    return delivery_id if hmac.compare_digest(match.group(2), _mac(secret, delivery_id)) else None
