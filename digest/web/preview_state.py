"""The preview's state: settings re-read when `.env` changes, engines, a small render cache.

Every page carries a fingerprint of the store, the templates and `.env` (see preview_live), so an
edit anywhere shows up in the open page by itself. Rendering errors (a broken template) become a
page, never a dead server.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from digest.clock import Clock, utc_now
from digest.config import Settings, load_settings
from digest.errors import ConfigError, DigestError
from digest.periods import CADENCES, Period, describe, group_by_period, parse_period
from digest.render.templates import builtin_dir
from digest.web.preview_live import files_state, fingerprint, store_state
from digest.web.preview_sample import Sample, build_sample

_RENDER_CACHE_SIZE = 16


@dataclass(frozen=True)
class PeriodRow:
    period: Period
    items: int
    status: str  # "sent", "sending" (some recipients still owed), "held", "approved" or "not sent"

    @property
    def title(self) -> str:
        return describe(self.period)


class Preview:
    """The preview's state: current settings, one engine per database URL, a small render cache."""

    def __init__(
        self,
        env_file: Path = Path(".env"),
        load: Callable[[Path], Settings] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.env_file = env_file.absolute()
        self._load = load or (lambda path: load_settings(env_file=path))
        self.clock = clock
        self.token = secrets.token_urlsafe(24)  # proves a send-test form came from this server
        self._settings: tuple[object, Settings | ConfigError] | None = None
        self._engines: dict[str, Engine] = {}
        self._renders: dict[tuple, Sample | DigestError] = {}
        self._lock = threading.Lock()
        self.notices: dict[str, tuple[bool, str, str]] = {}

    def add_notice(self, ok: bool, message: str, address: str) -> str:
        """Keeps a send result for the page the browser is redirected to; returns its id."""
        notice = secrets.token_urlsafe(8)
        with self._lock:
            if len(self.notices) > 50:
                self.notices.clear()
            self.notices[notice] = (ok, message, address)
        return notice

    def settings(self) -> Settings:
        """The settings as of the current `.env`; raises the ConfigError of a broken one."""
        stamp = files_state([self.env_file])
        with self._lock:
            if self._settings is None or self._settings[0] != stamp:
                try:
                    loaded: Settings | ConfigError = self._load(self.env_file)
                except ConfigError as exc:
                    loaded = exc
                self._settings = (stamp, loaded)
            current = self._settings[1]
        if isinstance(current, ConfigError):
            raise current
        return current

    def engine(self, settings: Settings) -> Engine:
        from digest.store import open_engine

        with self._lock:
            if settings.database_url not in self._engines:
                self._engines[settings.database_url] = open_engine(settings.database_url)
            return self._engines[settings.database_url]

    def template_dirs(self, settings: Settings | None) -> list[Path | None]:
        return [builtin_dir(), settings.templates_dir if settings else None]

    def version(self) -> str:
        """Changes whenever anything a page shows could have changed."""
        try:
            settings = self.settings()
        except ConfigError as exc:
            return fingerprint(files_state([self.env_file]), str(exc))
        with self.engine(settings).connect() as connection:
            store = store_state(connection)
        return fingerprint(store, files_state([self.env_file, *self.template_dirs(settings)]))

    def periods(self, settings: Settings) -> list[PeriodRow]:
        """Every period that has items, per cadence, newest first, with its send status."""
        from digest.store.digests import list_digests
        from digest.store.editions import review_states
        from digest.store.items import published_times

        with self.engine(settings).connect() as connection:
            times = published_times(connection)
            statuses = review_states(connection)  # an edition held or approved says so
            statuses.update({(row.cadence, row.period): row.status for row in list_digests(connection)})
        rows = []
        for cadence in CADENCES:
            for period, group in group_by_period(times, cadence, settings.timezone, lambda t: t):
                status = statuses.get((cadence, period.key))
                rows.append(PeriodRow(period, len(group), status or "not sent"))
        return rows

    def status(self, settings: Settings, period: Period) -> str:
        from digest.store.digests import get_digest

        with self.engine(settings).connect() as connection:
            row = get_digest(connection, period.cadence, period.key)
        return row.status if row is not None else "not sent"

    def has_items(self, settings: Settings, period: Period) -> bool:
        from digest.review import show

        return bool(show(settings, self.engine(settings), period).entries)

    def period(self, settings: Settings, cadence: str, key: str) -> Period:
        if cadence not in CADENCES:
            raise DigestError(f"unknown cadence {cadence!r} (weekly or monthly)")
        try:
            return parse_period(cadence, key, settings.timezone)
        except ValueError as exc:
            raise DigestError(str(exc)) from None

    def sample(self, settings: Settings, period: Period) -> Sample:
        """The digest as the sample subscriber gets it; rendered once per version of its inputs."""
        from digest.compose import render_period

        key = (period.cadence, period.key, self.version())
        with self._lock:
            cached = self._renders.get(key)
        if cached is None:
            now = self.clock()
            try:
                rendered = render_period(settings, self.engine(settings), period.cadence, period, now)
                cached = build_sample(settings, rendered, now)
            except DigestError as exc:
                cached = exc
            with self._lock:
                if len(self._renders) >= _RENDER_CACHE_SIZE:
                    self._renders.clear()
                self._renders[key] = cached
        if isinstance(cached, DigestError):
            raise cached
        return cached
