"""Signed unsubscribe tokens: the link identifies a subscriber without showing the address.

Tokens never expire: an unsubscribe link in a two-year-old email must still work.
"""

from __future__ import annotations

from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "digest.unsubscribe.v1"


@lru_cache(maxsize=8)
def _serializer(secret_key: str) -> URLSafeSerializer:
    # Built once per key: a send signs one token per recipient, and building costs as much as signing.
    return URLSafeSerializer(secret_key, salt=_SALT)


def make_token(secret_key: str, subscriber_id: int) -> str:
    return _serializer(secret_key).dumps(subscriber_id)


def read_token(secret_key: str, token: str) -> int | None:
    """The subscriber id, or None for a forged, altered or malformed token."""
    try:
        value = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def unsubscribe_url(base_url: str, secret_key: str, subscriber_id: int) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe/{make_token(secret_key, subscriber_id)}"


def archive_url(base_url: str, cadence: str, period: str) -> str:
    return f"{base_url.rstrip('/')}/archive/{cadence}/{period}"


# Samples (`digest build`, the preview) and test copies (`send --to`) carry this instead of a signed
# token: a forwarded sample's Unsubscribe button must act on no one, and the page it opens says why.
SAMPLE_TOKEN = "sample"


def sample_unsubscribe_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe/{SAMPLE_TOKEN}"
