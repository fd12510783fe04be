"""The value parsers of config.py's options: each turns one setting's text into its value, or
raises ValueError with a one-line reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.text import refuse_controls


def one_line(value: str) -> str:
    """For values that end up in mail headers: a line break there would start a new header."""
    refuse_controls(value.strip())
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def optional(value: str) -> str | None:
    return value.strip() or None


def at_least(kind: Callable[[str], Any], what: str, minimum: float) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            number = kind(value.strip())
        except ValueError:
            raise ValueError(f"expected {what}, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number

    return parse


def int_at_least(minimum: int) -> Callable[[str], int]:
    return at_least(int, "a whole number", minimum)


def processes(value: str) -> int:
    """Empty is 0: chosen per database when a send starts (digest.send.processes.default_processes)."""
    if not value.strip():
        return 0
    return int_at_least(1)(value)


def float_at_least(minimum: float) -> Callable[[str], float]:
    return at_least(float, "a number", minimum)


def port(value: str) -> int:
    number = int_at_least(1)(value)
    if number > 65535:
        raise ValueError(f"must be a port number (1-65535), got {number}")
    return number


def timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None


def choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def cron(value: str) -> str:
    value = " ".join(value.split())
    if len(value.split(" ")) != 5:
        raise ValueError(f"must be a 5-field cron expression, got {value!r}")
    try:  # the scheduler's reading: crontab weekday numbers (0 and 7 = Sunday), not APScheduler's
        from digest.cron import make_trigger  # imported on use: apscheduler is slow to import

        make_trigger(value, ZoneInfo("UTC"))
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
    return value


def http_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+[^\s\x00-\x1f\x7f]*", value):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


def optional_http_url(value: str) -> str | None:
    return http_url(value) if value.strip() else None


def colour(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValueError(f"must be a #rrggbb colour, got {value!r}")
    return value.lower()


MIN_SECRET_CHARS = 32


def secret_key(value: str) -> str | None:
    """Long enough that a link cannot be brute-forced (a 1-character key fell to one link in < 1 s)."""
    value = value.strip()
    if value and len(value) < MIN_SECRET_CHARS:
        raise ValueError(
            f"must be at least {MIN_SECRET_CHARS} characters, got {len(value)} "
            "(`digest config secret` prints a new one)"
        )
    return value or None


def old_secret_keys(value: str) -> tuple[str, ...]:
    """Earlier keys, comma-separated: links signed with them keep working after a rotation."""
    keys = tuple(k.strip() for k in value.split(",") if k.strip())
    for number, key in enumerate(keys, 1):
        if len(key) < MIN_SECRET_CHARS:
            raise ValueError(f"key {number} must be at least {MIN_SECRET_CHARS} characters, got {len(key)}")
    return keys


def boolean(value: str) -> bool:
    value = value.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def path(value: str) -> Path:
    return Path(value.strip()).expanduser()


def optional_path(value: str) -> Path | None:
    return path(value) if value.strip() else None


def locale(value: str) -> str:
    from digest.locales import normalize_locale

    return normalize_locale(value)


def imap_url(value: str) -> str | None:
    """Checked without ever echoing the value: it holds a password."""
    from urllib.parse import urlsplit

    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ValueError("must look like imaps://user:password@host/FOLDER (value not shown)")
    if not parts.username or parts.password is None:
        raise ValueError("must name a user and a password: imaps://user:password@host/FOLDER")
    return value


_DNS_NAME = re.compile(r"[a-z0-9_][a-z0-9_-]{0,62}(?:\.[a-z0-9_][a-z0-9_-]{0,62})*")


def dns_label(kind: str) -> Callable[[str], str | None]:
    def parse(value: str) -> str | None:
        value = value.strip().lower().rstrip(".")
        if value and not _DNS_NAME.fullmatch(value):
            raise ValueError(f"must be a DNS {kind}, got {value!r}")
        return value or None

    return parse
