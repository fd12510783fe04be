"""Pieces shared by the commands: settings, the store, the clock, shared options, signals, JSON.

Kept light on purpose: every command imports this module, and `digest --help` imports every
command, so nothing here pulls in the store, the readers or the renderer until a command runs.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from digest.clock import utc_now
from digest.periods import CADENCES, Period, parse_date, parse_period

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from digest.config import Settings


def settings() -> Settings:
    """Loaded once per process, on first use, so --help works even with a broken .env."""
    from digest.config import load_settings

    root = click.get_current_context().find_root()
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
    """The one clock of a command run."""
    return utc_now()


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


class PeriodParam(click.ParamType):
    """A period key (2023-W45, 2023-11) of the command's --cadence, in DIGEST_TIMEZONE.

    A key that names no period is a usage error, or with `usage_error=False` a plain error (exit 1)."""

    name = "KEY"

    def __init__(self, usage_error: bool = True) -> None:
        self.usage_error = usage_error

    def convert(self, value: Any, param, ctx) -> Period:
        if isinstance(value, Period):
            return value
        cadence = (ctx.params.get("cadence") if ctx else None) or "weekly"
        try:
            return parse_period(cadence, value, settings().timezone)
        except ValueError as exc:
            if self.usage_error:
                self.fail(str(exc), param, ctx)
            from digest.errors import DigestError

            raise DigestError(str(exc)) from None


def cadence_option(default: str | None = "weekly", help: str | None = None) -> Callable:
    """--cadence weekly|monthly; parsed before --period, which depends on it."""
    return click.option(
        "--cadence",
        type=click.Choice(CADENCES, case_sensitive=False),
        default=default,
        show_default=default is not None,
        is_eager=True,
        help=help,
    )


def period_option(help: str, usage_error: bool = True) -> Callable:
    """--period KEY, given to the command as a Period (None when left out)."""
    return click.option("--period", "period", type=PeriodParam(usage_error), help=help)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(function)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialize {type(value).__name__}")


@contextmanager
def stop_on_signals(stop: threading.Event, on_signal: Callable[[int], None] | None = None) -> Iterator[None]:
    """SIGTERM and Ctrl-C set `stop`: work in flight finishes and is recorded, nothing new starts
    (within 2 x DIGEST_SMTP_TIMEOUT). A second signal exits at once: rows left mid-send are
    taken back by the next run, which sees their process is gone."""

    def handler(signum: int, _frame) -> None:
        if stop.is_set():
            os.write(2, b"digest: error: second signal: exiting at once\n")
            os._exit(130)
        if on_signal is not None:
            on_signal(signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
