"""Settings: declared once, read from defaults < `.env` < environment, validated all at once.

Every key is an `Option` with its own parser and doc line; `config.example.env` is generated from the
same table (`digest config example`), so the docs cannot drift from the code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dotenv import dotenv_values

from digest import config_values as parse
from digest.addresses import address_list, optional_address, optional_mailbox
from digest.database_url import database_url as _database_url
from digest.errors import ConfigError
from digest.netpolicy import ALLOW_PRIVATE, FETCH_TIMEOUT, AddressPolicy


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

    database_url: str = option(  # may hold a password: never in a repr
        "DIGEST_DATABASE_URL",
        "sqlite:///digest.db",
        _database_url,
        "SQLAlchemy URL of the store (SQLite file or postgresql+psycopg://...)",
        repr=False,
    )
    name: str = option("DIGEST_NAME", "Digest", parse.one_line, "Newsletter name shown in subject and header")
    from_addr: str | None = option(
        "DIGEST_FROM", "", optional_mailbox, "'Name <address>' of the sender; required for send"
    )
    reply_to: str | None = option("DIGEST_REPLY_TO", "", optional_mailbox, "Optional Reply-To address")
    base_url: str = option(
        "DIGEST_BASE_URL",
        "http://127.0.0.1:8080",
        parse.http_url,
        "Public URL of `digest serve` (unsubscribe and archive links)",
    )
    secret_key: str | None = option(
        "DIGEST_SECRET_KEY",
        "",
        parse.secret_key,
        "Signs unsubscribe, preferences and confirmation links (at least 32 characters; "
        "`digest config secret` prints one); required for send and serve",
        repr=False,
    )
    old_secret_keys: tuple[str, ...] = option(
        "DIGEST_OLD_SECRET_KEYS",
        "",
        parse.old_secret_keys,
        "Comma-separated earlier secret keys: links signed with them keep working",
        repr=False,
    )
    double_opt_in: bool = option(
        "DIGEST_DOUBLE_OPT_IN",
        "true",
        parse.boolean,
        "A sign-up through the web form waits for the address to confirm",
    )
    confirm_hours: float = option(
        "DIGEST_CONFIRM_HOURS",
        "72",
        parse.float_at_least(1),
        "How long a confirmation link stays valid; unconfirmed sign-ups are deleted after it",
    )
    timezone: ZoneInfo = option(
        "DIGEST_TIMEZONE", "UTC", parse.timezone, "IANA zone that defines weeks, months and cron times"
    )
    locale: str = option(
        "DIGEST_LOCALE",
        "en",
        parse.locale,
        "Default language of digests and pages (a subscriber's own locale wins): en, es, fr, de, pt, ar",
    )
    send_local_time: bool = option(
        "DIGEST_SEND_LOCAL_TIME",
        "false",
        parse.boolean,
        "Send each subscriber at the cron's time in their own time zone (else DIGEST_TIMEZONE)",
    )
    smtp_host: str | None = option(
        "DIGEST_SMTP_HOST",
        "",
        parse.optional,
        "SMTP server; empty = write .eml files to DIGEST_OUTBOX instead",
    )
    smtp_port: int = option("DIGEST_SMTP_PORT", "587", parse.port, "SMTP port")
    smtp_username: str | None = option(
        "DIGEST_SMTP_USERNAME", "", parse.optional, "SMTP auth user (optional)"
    )
    smtp_password: str | None = option(
        "DIGEST_SMTP_PASSWORD", "", parse.optional, "SMTP auth password (optional)", repr=False
    )
    smtp_security: str = option(
        "DIGEST_SMTP_SECURITY",
        "starttls",
        parse.choice("starttls", "ssl", "none"),
        "starttls, ssl (implicit TLS) or none",
    )
    smtp_timeout: float = option(
        "DIGEST_SMTP_TIMEOUT",
        "30",
        parse.float_at_least(1),
        "Seconds to wait for the SMTP server before a try counts as failed",
    )
    outbox: Path = option("DIGEST_OUTBOX", "outbox/", parse.path, "Folder for the file transport")
    send_rate: float = option(
        "DIGEST_SEND_RATE",
        "0",
        parse.float_at_least(0),
        "Messages per second per `digest send` process, at most (0 = unlimited)",
    )
    send_concurrency: int = option(
        "DIGEST_SEND_CONCURRENCY", "4", parse.int_at_least(1), "SMTP connections at once"
    )
    weekly_cron: str = option(
        "DIGEST_WEEKLY_CRON", "0 8 * * mon", parse.cron, "5-field cron for the weekly digest"
    )
    monthly_cron: str = option(
        "DIGEST_MONTHLY_CRON", "0 8 1 * *", parse.cron, "5-field cron for the monthly digest"
    )
    templates_dir: Path | None = option(
        "DIGEST_TEMPLATES_DIR", "", parse.optional_path, "Folder whose templates override the built-in ones"
    )
    bounce_limit: int = option(
        "DIGEST_BOUNCE_LIMIT",
        "1",
        parse.int_at_least(1),
        "Permanent failures after which a subscriber is marked bounced",
    )
    catchup_hours: float = option(
        "DIGEST_CATCHUP_HOURS",
        "24",
        parse.float_at_least(0),
        "How late the scheduler still sends a run it missed while down",
    )
    failover_seconds: float = option(
        "DIGEST_FAILOVER_SECONDS",
        "30",
        parse.float_at_least(3),
        "How soon a standby scheduler takes over from a dead leader (PostgreSQL)",
    )
    send_processes: int = option(
        "DIGEST_SEND_PROCESSES",
        "",
        parse.processes,
        "Processes that share one send on this host (empty = one per core on PostgreSQL, one on SQLite)",
    )
    scheduler_queue: bool = option(
        "DIGEST_SCHEDULER_QUEUE",
        "false",
        parse.boolean,
        "The scheduler queues each run for `digest worker` processes instead of sending it (PostgreSQL)",
    )
    item_limit: int = option(
        "DIGEST_ITEM_LIMIT",
        "30",
        parse.int_at_least(1),
        "Items shown in one digest; the rest are linked as 'and N more'",
    )
    brand_color: str = option("DIGEST_BRAND_COLOR", "#b91c1c", parse.colour, "Accent colour of the theme")
    logo_url: str | None = option("DIGEST_LOGO_URL", "", parse.optional_http_url, "https URL of a logo image")
    footer_text: str | None = option(
        "DIGEST_FOOTER_TEXT",
        "",
        parse.optional,
        "Why the reader gets this mail (default: a sentence naming the newsletter)",
    )
    postal_address: str | None = option(
        "DIGEST_POSTAL_ADDRESS",
        "",
        parse.optional,
        "Postal address shown in the footer (anti-spam laws ask for one)",
    )
    unsubscribe_mailto: str | None = option(
        "DIGEST_UNSUBSCRIBE_MAILTO", "", optional_address, "Optional address for mailto: List-Unsubscribe"
    )
    fetch_addresses: AddressPolicy = option(*ALLOW_PRIVATE)
    fetch_timeout: float = option(*FETCH_TIMEOUT)
    review_hours: float = option(
        "DIGEST_REVIEW_HOURS",
        "0",
        parse.float_at_least(0),
        "Hours before a scheduled send that its review opens",
    )
    reviewers: tuple[str, ...] = option(
        "DIGEST_REVIEWERS", "", address_list, "Comma-separated addresses that get each review copy"
    )
    require_approval: bool = option(
        "DIGEST_REQUIRE_APPROVAL",
        "false",
        parse.boolean,
        "A scheduled send waits for `digest edition approve`",
    )
    preview_url: str = option(
        "DIGEST_PREVIEW_URL",
        "http://127.0.0.1:8000",
        parse.http_url,
        "URL of `digest preview` (review copies link it)",
    )

    dkim_private_key: Path | None = option(
        "DIGEST_DKIM_PRIVATE_KEY",
        "",
        parse.optional_path,
        "PEM file of the RSA key that signs every message with DKIM (`digest dkim keygen`)",
    )
    dkim_selector: str | None = option(
        "DIGEST_DKIM_SELECTOR", "", parse.dns_label("selector"), "DKIM selector (s=)"
    )
    dkim_domain: str | None = option(
        "DIGEST_DKIM_DOMAIN",
        "",
        parse.dns_label("domain"),
        "DKIM signing domain (d=); default: the From address's domain",
    )
    bounce_address: str | None = option(
        "DIGEST_BOUNCE_ADDRESS",
        "",
        optional_address,
        "Envelope sender; each message gets its own VERP form local+TAG@domain (default: From's address)",
    )
    soft_bounce_limit: int = option(
        "DIGEST_SOFT_BOUNCE_LIMIT",
        "3",
        parse.int_at_least(1),
        "Temporary bounces in a row after which a subscriber is marked bounced",
    )
    bounce_imap_url: str | None = option(
        "DIGEST_BOUNCE_IMAP_URL",
        "",
        parse.imap_url,
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
        default = "" if "(default:" in option.doc else f" (default: {option.default or 'none'})"  # once
        lines += [
            f"# {option.doc}{default}",
            f"{option.key}={option.default}",
            "",
        ]
    return "\n".join(lines)
