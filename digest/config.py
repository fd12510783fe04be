"""Settings: declared once, read from defaults < `.env` < environment, validated all at once.

Every key is an `Option` with its own parser and doc line; `config.example.env` is generated from the
same table (`digest config example`), so the docs cannot drift from the code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from digest.errors import ConfigError

CADENCES = ("weekly", "monthly")


def _one_line(value: str) -> str:
    """For values that end up in mail headers: a line break there would start a new header."""
    if re.search(r"[\x00-\x1f\x7f]", value.strip()):
        raise ValueError("must be one line of text, without control characters")
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _optional(value: str) -> str | None:
    return value.strip() or None


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number

    return parse


def _float_at_least(minimum: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number

    return parse


def _port(value: str) -> int:
    number = _int_at_least(1)(value)
    if number > 65535:
        raise ValueError(f"must be a port number (1-65535), got {number}")
    return number


def _timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def _cron(value: str) -> str:
    value = " ".join(value.split())
    if len(value.split(" ")) != 5:
        raise ValueError(f"must be a 5-field cron expression, got {value!r}")
    try:  # the scheduler's reading: crontab weekday numbers (0 and 7 = Sunday), not APScheduler's
        from digest.schedule.policy import make_trigger

        make_trigger(value, ZoneInfo("UTC"))
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
    return value


def _http_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+[^\s\x00-\x1f\x7f]*", value):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


def _optional_http_url(value: str) -> str | None:
    return _http_url(value) if value.strip() else None


def _mailbox(value: str) -> str:
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


def _optional_mailbox(value: str) -> str | None:
    return _mailbox(value) if value.strip() else None


def _optional_address(value: str) -> str | None:
    """A bare address (for mailto: List-Unsubscribe), checked like the sender's."""
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(r"[^@\s<>()\[\],;:\\\"\x00-\x1f\x7f]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", value):
        raise ValueError(f"expected an address like unsubscribe@example.org, got {value!r}")
    return value


def _colour(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValueError(f"must be a #rrggbb colour, got {value!r}")
    return value.lower()


def _database_url(value: str) -> str:
    value = value.strip()
    if not re.match(r"^[a-z][a-z0-9+]*://", value):
        raise ValueError(f"must be an SQLAlchemy URL such as sqlite:///digest.db, got {value!r}")
    return value


def _path(value: str) -> Path:
    return Path(value.strip()).expanduser()


def _optional_path(value: str) -> Path | None:
    return _path(value) if value.strip() else None


def _imap_url(value: str) -> str | None:
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


@dataclass(frozen=True)
class Option:
    key: str
    attr: str
    default: str
    parse: Callable[[str], Any]
    doc: str


OPTIONS: tuple[Option, ...] = (
    Option(
        "DIGEST_DATABASE_URL",
        "database_url",
        "sqlite:///digest.db",
        _database_url,
        "SQLAlchemy URL of the store (SQLite file or postgresql+psycopg://...)",
    ),
    Option("DIGEST_NAME", "name", "Digest", _one_line, "Newsletter name shown in subject and header"),
    Option(
        "DIGEST_FROM", "from_addr", "", _optional_mailbox, "'Name <address>' of the sender; required for send"
    ),
    Option("DIGEST_REPLY_TO", "reply_to", "", _optional_mailbox, "Optional Reply-To address"),
    Option(
        "DIGEST_BASE_URL",
        "base_url",
        "http://127.0.0.1:8080",
        _http_url,
        "Public URL of `digest serve` (unsubscribe and archive links)",
    ),
    Option(
        "DIGEST_SECRET_KEY",
        "secret_key",
        "",
        _optional,
        "Signs unsubscribe tokens; required for send and serve",
    ),
    Option(
        "DIGEST_TIMEZONE", "timezone", "UTC", _timezone, "IANA zone that defines weeks, months and cron times"
    ),
    Option(
        "DIGEST_SMTP_HOST",
        "smtp_host",
        "",
        _optional,
        "SMTP server; empty = write .eml files to DIGEST_OUTBOX instead",
    ),
    Option("DIGEST_SMTP_PORT", "smtp_port", "587", _port, "SMTP port"),
    Option("DIGEST_SMTP_USERNAME", "smtp_username", "", _optional, "SMTP auth user (optional)"),
    Option("DIGEST_SMTP_PASSWORD", "smtp_password", "", _optional, "SMTP auth password (optional)"),
    Option(
        "DIGEST_SMTP_SECURITY",
        "smtp_security",
        "starttls",
        _choice("starttls", "ssl", "none"),
        "starttls, ssl (implicit TLS) or none",
    ),
    Option(
        "DIGEST_SMTP_TIMEOUT",
        "smtp_timeout",
        "30",
        _float_at_least(1),
        "Seconds to wait for the SMTP server before a try counts as failed",
    ),
    Option("DIGEST_OUTBOX", "outbox", "outbox/", _path, "Folder for the file transport"),
    Option(
        "DIGEST_SEND_RATE",
        "send_rate",
        "0",
        _float_at_least(0),
        "Messages per second per `digest send` process, at most (0 = unlimited)",
    ),
    Option("DIGEST_SEND_CONCURRENCY", "send_concurrency", "4", _int_at_least(1), "SMTP connections at once"),
    Option("DIGEST_WEEKLY_CRON", "weekly_cron", "0 8 * * mon", _cron, "5-field cron for the weekly digest"),
    Option("DIGEST_MONTHLY_CRON", "monthly_cron", "0 8 1 * *", _cron, "5-field cron for the monthly digest"),
    Option(
        "DIGEST_TEMPLATES_DIR",
        "templates_dir",
        "",
        _optional_path,
        "Folder whose templates override the built-in ones",
    ),
    Option(
        "DIGEST_BOUNCE_LIMIT",
        "bounce_limit",
        "1",
        _int_at_least(1),
        "Permanent failures after which a subscriber is marked bounced",
    ),
    Option(
        "DIGEST_CATCHUP_HOURS",
        "catchup_hours",
        "24",
        _float_at_least(0),
        "How late the scheduler still sends a run it missed while down",
    ),
    Option(
        "DIGEST_ITEM_LIMIT",
        "item_limit",
        "30",
        _int_at_least(1),
        "Items shown in one digest; the rest are linked as 'and N more'",
    ),
    Option("DIGEST_BRAND_COLOR", "brand_color", "#b91c1c", _colour, "Accent colour of the theme"),
    Option("DIGEST_LOGO_URL", "logo_url", "", _optional_http_url, "https URL of a logo image"),
    Option(
        "DIGEST_FOOTER_TEXT",
        "footer_text",
        "",
        _optional,
        "Why the reader gets this mail (default: a sentence naming the newsletter)",
    ),
    Option(
        "DIGEST_POSTAL_ADDRESS",
        "postal_address",
        "",
        _optional,
        "Postal address shown in the footer (anti-spam laws ask for one)",
    ),
    Option(
        "DIGEST_UNSUBSCRIBE_MAILTO",
        "unsubscribe_mailto",
        "",
        _optional_address,
        "Optional address for mailto: List-Unsubscribe",
    ),
    Option(
        "DIGEST_DKIM_PRIVATE_KEY",
        "dkim_private_key",
        "",
        _optional_path,
        "PEM file of the RSA key that signs every message with DKIM (`digest dkim keygen`)",
    ),
    Option("DIGEST_DKIM_SELECTOR", "dkim_selector", "", dns_label("selector"), "DKIM selector (s=)"),
    Option(
        "DIGEST_DKIM_DOMAIN",
        "dkim_domain",
        "",
        dns_label("domain"),
        "DKIM signing domain (d=); default: the From address's domain",
    ),
    Option(
        "DIGEST_BOUNCE_ADDRESS",
        "bounce_address",
        "",
        _optional_address,
        "Envelope sender; each message gets its own VERP form local+TAG@domain (default: From's address)",
    ),
    Option(
        "DIGEST_SOFT_BOUNCE_LIMIT",
        "soft_bounce_limit",
        "3",
        _int_at_least(1),
        "Temporary bounces in a row after which a subscriber is marked bounced",
    ),
    Option(
        "DIGEST_BOUNCE_IMAP_URL",
        "bounce_imap_url",
        "",
        _imap_url,
        "imaps://user:password@host/FOLDER read by `digest bounces fetch`",
    ),
)


@dataclass(frozen=True)
class Settings:
    """One frozen object handed down from the CLI; nothing reads the environment after this."""

    database_url: str
    name: str
    from_addr: str | None
    reply_to: str | None
    base_url: str
    secret_key: str | None
    timezone: ZoneInfo
    smtp_host: str | None
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None = field(repr=False)
    smtp_security: str
    smtp_timeout: float
    outbox: Path
    send_rate: float
    send_concurrency: int
    weekly_cron: str
    monthly_cron: str
    templates_dir: Path | None
    bounce_limit: int
    catchup_hours: float
    item_limit: int
    brand_color: str
    logo_url: str | None
    footer_text: str | None
    postal_address: str | None
    unsubscribe_mailto: str | None
    dkim_private_key: Path | None
    dkim_selector: str | None
    dkim_domain: str | None
    bounce_address: str | None
    soft_bounce_limit: int
    bounce_imap_url: str | None = field(repr=False)

    def require(self, *attrs: str, purpose: str) -> None:
        """Keys optional in general but needed by one command (DIGEST_FROM for send, ...)."""
        keys = {o.attr: o.key for o in OPTIONS}
        missing = [keys[a] for a in attrs if not getattr(self, a)]
        if missing:
            raise ConfigError([f"{key} is required for {purpose}" for key in missing])

    def cron_for(self, cadence: str) -> str:
        return self.weekly_cron if cadence == "weekly" else self.monthly_cron


def _sources(env_file: Path | None, environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {o.key: o.default for o in OPTIONS}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update({k: v for k, v in environ.items() if k.startswith("DIGEST_")})
    return values


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = Path(".env"),
    **overrides: Any,
) -> Settings:
    """Parse every key; collect every problem before raising, so one run shows them all."""
    values = _sources(env_file, os.environ if environ is None else environ)
    parsed: dict[str, Any] = {}
    errors: list[str] = []
    for option in OPTIONS:
        try:
            parsed[option.attr] = option.parse(values[option.key])
        except ValueError as exc:
            errors.append(f"{option.key}: {exc}")
    if errors:
        raise ConfigError(errors)
    parsed.update(overrides)
    return Settings(**parsed)


def example_env() -> str:
    """The text of config.example.env."""
    lines = ["# digest configuration: copy to .env and edit. The environment wins over .env.", ""]
    for option in OPTIONS:
        lines += [
            f"# {option.doc} (default: {option.default or 'none'})",
            f"{option.key}={option.default}",
            "",
        ]
    return "\n".join(lines)


assert {f.name for f in fields(Settings)} == {o.attr for o in OPTIONS}
