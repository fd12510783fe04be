"""Settings: declared once, read from defaults < `.env` < environment, validated all at once.

Every key is an `Option` with its own parser and doc line; `config.example.env` is generated from the
same table (`digest config example`), so the docs cannot drift from the code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from digest.errors import ConfigError
from digest.text import refuse_controls


def _one_line(value: str) -> str:
    """For values that end up in mail headers: a line break there would start a new header."""
    refuse_controls(value.strip())
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _optional(value: str) -> str | None:
    return value.strip() or None


def _at_least(kind: Callable[[str], Any], what: str, minimum: float) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            number = kind(value.strip())
        except ValueError:
            raise ValueError(f"expected {what}, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number

    return parse


def _int_at_least(minimum: int) -> Callable[[str], int]:
    return _at_least(int, "a whole number", minimum)


def _processes(value: str) -> int:
    """Empty means one process per core."""
    if not value.strip():
        return max(1, os.cpu_count() or 1)
    return _int_at_least(1)(value)


def _yes_no(value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _float_at_least(minimum: float) -> Callable[[str], float]:
    return _at_least(float, "a number", minimum)


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
        from digest.cron import make_trigger  # imported on use: apscheduler is slow to import

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


MIN_SECRET_CHARS = 32


def _secret_key(value: str) -> str | None:
    """Long enough that a link cannot be brute-forced (a 1-character key fell to one link in < 1 s)."""
    value = value.strip()
    if value and len(value) < MIN_SECRET_CHARS:
        raise ValueError(
            f"must be at least {MIN_SECRET_CHARS} characters, got {len(value)} "
            "(`digest config secret` prints a new one)"
        )
    return value or None


def _old_secret_keys(value: str) -> tuple[str, ...]:
    """Earlier keys, comma-separated: links signed with them keep working after a rotation."""
    keys = tuple(k.strip() for k in value.split(",") if k.strip())
    for number, key in enumerate(keys, 1):
        if len(key) < MIN_SECRET_CHARS:
            raise ValueError(f"key {number} must be at least {MIN_SECRET_CHARS} characters, got {len(key)}")
    return keys


def _boolean(value: str) -> bool:
    value = value.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


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
    default: str
    parse: Callable[[str], Any]
    doc: str
    attr: str = ""


def option(key: str, default: str, parse: Callable[[str], Any], doc: str, repr: bool = True) -> Any:
    """A Settings field that is read from `key` (default `default`, parsed by `parse`)."""
    return field(metadata={"option": Option(key, default, parse, doc)}, repr=repr)


@dataclass(frozen=True)
class Settings:
    """One frozen object handed down from the CLI; nothing reads the environment after this.

    Each field is one option, declared once: its env key, default, parser and doc line."""

    database_url: str = option(
        "DIGEST_DATABASE_URL",
        "sqlite:///digest.db",
        _database_url,
        "SQLAlchemy URL of the store (SQLite file or postgresql+psycopg://...)",
    )
    name: str = option("DIGEST_NAME", "Digest", _one_line, "Newsletter name shown in subject and header")
    from_addr: str | None = option(
        "DIGEST_FROM", "", _optional_mailbox, "'Name <address>' of the sender; required for send"
    )
    reply_to: str | None = option("DIGEST_REPLY_TO", "", _optional_mailbox, "Optional Reply-To address")
    base_url: str = option(
        "DIGEST_BASE_URL",
        "http://127.0.0.1:8080",
        _http_url,
        "Public URL of `digest serve` (unsubscribe and archive links)",
    )
    secret_key: str | None = option(
        "DIGEST_SECRET_KEY",
        "",
        _secret_key,
        "Signs unsubscribe, preferences and confirmation links (at least 32 characters; "
        "`digest config secret` prints one); required for send and serve",
        repr=False,
    )
    old_secret_keys: tuple[str, ...] = option(
        "DIGEST_OLD_SECRET_KEYS",
        "",
        _old_secret_keys,
        "Comma-separated earlier secret keys: links signed with them keep working",
        repr=False,
    )
    double_opt_in: bool = option(
        "DIGEST_DOUBLE_OPT_IN",
        "true",
        _boolean,
        "A sign-up through the web form waits for the address to confirm",
    )
    confirm_hours: float = option(
        "DIGEST_CONFIRM_HOURS",
        "72",
        _float_at_least(1),
        "How long a confirmation link stays valid; unconfirmed sign-ups are deleted after it",
    )
    timezone: ZoneInfo = option(
        "DIGEST_TIMEZONE", "UTC", _timezone, "IANA zone that defines weeks, months and cron times"
    )
    smtp_host: str | None = option(
        "DIGEST_SMTP_HOST", "", _optional, "SMTP server; empty = write .eml files to DIGEST_OUTBOX instead"
    )
    smtp_port: int = option("DIGEST_SMTP_PORT", "587", _port, "SMTP port")
    smtp_username: str | None = option("DIGEST_SMTP_USERNAME", "", _optional, "SMTP auth user (optional)")
    smtp_password: str | None = option(
        "DIGEST_SMTP_PASSWORD", "", _optional, "SMTP auth password (optional)", repr=False
    )
    smtp_security: str = option(
        "DIGEST_SMTP_SECURITY",
        "starttls",
        _choice("starttls", "ssl", "none"),
        "starttls, ssl (implicit TLS) or none",
    )
    smtp_timeout: float = option(
        "DIGEST_SMTP_TIMEOUT",
        "30",
        _float_at_least(1),
        "Seconds one SMTP command may take in all (connect, each reply), then the connection is dropped",
    )
    outbox: Path = option("DIGEST_OUTBOX", "outbox/", _path, "Folder for the file transport")
    send_rate: float = option(
        "DIGEST_SEND_RATE",
        "0",
        _float_at_least(0),
        "Messages per second per `digest send` process, at most (0 = unlimited)",
    )
    send_concurrency: int = option(
        "DIGEST_SEND_CONCURRENCY", "4", _int_at_least(1), "SMTP connections at once"
    )
    weekly_cron: str = option(
        "DIGEST_WEEKLY_CRON", "0 8 * * mon", _cron, "5-field cron for the weekly digest"
    )
    monthly_cron: str = option(
        "DIGEST_MONTHLY_CRON", "0 8 1 * *", _cron, "5-field cron for the monthly digest"
    )
    templates_dir: Path | None = option(
        "DIGEST_TEMPLATES_DIR", "", _optional_path, "Folder whose templates override the built-in ones"
    )
    bounce_limit: int = option(
        "DIGEST_BOUNCE_LIMIT",
        "1",
        _int_at_least(1),
        "Permanent failures after which a subscriber is marked bounced",
    )
    catchup_hours: float = option(
        "DIGEST_CATCHUP_HOURS",
        "24",
        _float_at_least(0),
        "How late the scheduler still sends a run it missed while down",
    )
    failover_seconds: float = option(
        "DIGEST_FAILOVER_SECONDS",
        "30",
        _float_at_least(3),
        "How soon a standby scheduler takes over from a dead leader (PostgreSQL)",
    )
    send_processes: int = option(
        "DIGEST_SEND_PROCESSES",
        "",
        _processes,
        "Processes that share one send on this host (empty = number of cores)",
    )
    scheduler_queue: bool = option(
        "DIGEST_SCHEDULER_QUEUE",
        "false",
        _yes_no,
        "The scheduler queues each run for `digest worker` processes instead of sending it (PostgreSQL)",
    )
    item_limit: int = option(
        "DIGEST_ITEM_LIMIT",
        "30",
        _int_at_least(1),
        "Items shown in one digest; the rest are linked as 'and N more'",
    )
    brand_color: str = option("DIGEST_BRAND_COLOR", "#b91c1c", _colour, "Accent colour of the theme")
    logo_url: str | None = option("DIGEST_LOGO_URL", "", _optional_http_url, "https URL of a logo image")
    footer_text: str | None = option(
        "DIGEST_FOOTER_TEXT",
        "",
        _optional,
        "Why the reader gets this mail (default: a sentence naming the newsletter)",
    )
    postal_address: str | None = option(
        "DIGEST_POSTAL_ADDRESS",
        "",
        _optional,
        "Postal address shown in the footer (anti-spam laws ask for one)",
    )
    unsubscribe_mailto: str | None = option(
        "DIGEST_UNSUBSCRIBE_MAILTO", "", _optional_address, "Optional address for mailto: List-Unsubscribe"
    )

    dkim_private_key: Path | None = option(
        "DIGEST_DKIM_PRIVATE_KEY",
        "",
        _optional_path,
        "PEM file of the RSA key that signs every message with DKIM (`digest dkim keygen`)",
    )
    dkim_selector: str | None = option(
        "DIGEST_DKIM_SELECTOR", "", dns_label("selector"), "DKIM selector (s=)"
    )
    dkim_domain: str | None = option(
        "DIGEST_DKIM_DOMAIN",
        "",
        dns_label("domain"),
        "DKIM signing domain (d=); default: the From address's domain",
    )
    bounce_address: str | None = option(
        "DIGEST_BOUNCE_ADDRESS",
        "",
        _optional_address,
        "Envelope sender; each message gets its own VERP form local+TAG@domain (default: From's address)",
    )
    soft_bounce_limit: int = option(
        "DIGEST_SOFT_BOUNCE_LIMIT",
        "3",
        _int_at_least(1),
        "Temporary bounces in a row after which a subscriber is marked bounced",
    )
    bounce_imap_url: str | None = option(
        "DIGEST_BOUNCE_IMAP_URL",
        "",
        _imap_url,
        "imaps://user:password@host/FOLDER read by `digest bounces fetch`",
        repr=False,
    )

    def require(self, *attrs: str, purpose: str) -> None:
        """Keys optional in general but needed by one command (DIGEST_FROM for send, ...)."""
        keys = {o.attr: o.key for o in OPTIONS}
        missing = [keys[a] for a in attrs if not getattr(self, a)]
        if missing:
            raise ConfigError([f"{key} is required for {purpose}" for key in missing])

    @property
    def signing_keys(self) -> tuple[str, ...]:
        """The current key first, then the earlier ones that links may still carry."""
        return tuple(k for k in (self.secret_key, *self.old_secret_keys) if k)

    def cron_for(self, cadence: str) -> str:
        return self.weekly_cron if cadence == "weekly" else self.monthly_cron


OPTIONS: tuple[Option, ...] = tuple(replace(f.metadata["option"], attr=f.name) for f in fields(Settings))


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
