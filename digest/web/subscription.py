"""The signed nonce of the preference forms behind a subscriber's personal link.

The signed token in the link is the capability; it names a subscriber and never expires. Preference
forms carry a second, short-lived signed nonce (see `form_nonce`), so a form cannot be replayed from
elsewhere; one-click unsubscribe needs nothing but the token (RFC 8058). What the link can change
(unsubscribe, resubscribe, cadence) is a subscriber rule: digest/subscribers.py.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

_FORM_SALT = "digest.preferences-form.v1"
FORM_MAX_AGE = 7 * 24 * 3600


def form_nonce(secret_key: str, subscriber_id: int) -> str:
    return URLSafeTimedSerializer(secret_key, salt=_FORM_SALT).dumps(subscriber_id)


def nonce_is_valid(secret_key: str, nonce: str, subscriber_id: int, max_age: int = FORM_MAX_AGE) -> bool:
    """True when `nonce` was made by this server, for this subscriber, less than `max_age` s ago."""
    try:
        value = URLSafeTimedSerializer(secret_key, salt=_FORM_SALT).loads(nonce, max_age=max_age)
    except BadSignature:
        return False
    return value == subscriber_id
