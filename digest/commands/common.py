"""Pieces shared by the commands: settings, the store, dates and JSON output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import Engine

from digest.config import Settings, load_settings
from digest.sources.clean import parse_date


def settings() -> Settings:
    """Loaded once per process, on first use, so --help works even with a broken .env."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "settings" not in root.obj:
        root.obj["settings"] = load_settings()
    return root.obj["settings"]


def engine() -> Engine:
    from digest.store import open_engine

    root = click.get_current_context().find_root()
    settings()
    if "engine" not in root.obj:
        root.obj["engine"] = open_engine(root.obj["settings"].database_url)
    return root.obj["engine"]


def now() -> datetime:
    return datetime.now(UTC)


class DateParam(click.ParamType):
    """A date or date-time; without a zone it is read in DIGEST_TIMEZONE."""

    name = "DATE"

    def convert(self, value: Any, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_date(value, settings().timezone)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(function)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialize {type(value).__name__}")
