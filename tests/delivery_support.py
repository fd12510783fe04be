"""Shared set-up for the delivery tests: subscribers in bulk, a stored digest, settings."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import insert

from digest.config import load_settings
from digest.models import UNSUBSCRIBE_MARK, RenderedDigest
from digest.periods import parse_period
from digest.store import open_engine
from digest.store.digests import save_digest
from digest.store.schema import subscribers

NOW = datetime(2023, 11, 13, 8, 0, tzinfo=UTC)
WEEK = "2023-W45"
SECRET = "delivery-test-secret-padded-to-32-characters-or-more"


def settings_for(db_url: str, **env: str):
    base = {
        "DIGEST_DATABASE_URL": db_url,
        "DIGEST_FROM": "Test News <news@example.org>",
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_BASE_URL": "https://news.example.org",
        "DIGEST_SEND_CONCURRENCY": "4",
    }
    return load_settings({**base, **env}, env_file=None)


def address(cadence: str, n: int) -> str:
    return f"{cadence}{n:04d}@example.com"


def seed(engine, weekly: int = 0, monthly: int = 0) -> None:
    rows = [
        dict(
            email=address(c, n),
            email_key=address(c, n),
            name=f"Réader {n}" if n % 3 == 0 else f"Reader {n}",
            cadence=c,
            status="active",
            source="test",
            bounce_count=0,
            created_at=NOW,
            updated_at=NOW,
        )
        for c, count in (("weekly", weekly), ("monthly", monthly))
        for n in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(subscribers), rows)


def rendered(cadence: str = "weekly", period: str = WEEK) -> RenderedDigest:
    return RenderedDigest(
        cadence=cadence,
        period=period,
        subject=f"Test News — {cadence} {period}",
        preheader="",
        html=(
            "<!doctype html><html><body><p>Café news</p>"
            f'<a href="{UNSUBSCRIBE_MARK}">Unsubscribe</a></body></html>'
        ),
        text=f"Café news\n\nUnsubscribe: {UNSUBSCRIBE_MARK}\n",
        item_count=2,
    )


def store_digest(engine, cadence: str = "weekly", period: str = WEEK) -> int:
    with engine.begin() as connection:
        return save_digest(connection, rendered(cadence, period), NOW)


def prepared_store(db_url: str, weekly: int = 0, monthly: int = 0):
    engine = open_engine(db_url)
    seed(engine, weekly, monthly)
    store_digest(engine)
    return engine


def week(settings):
    return parse_period("weekly", WEEK, settings.timezone)


def composed(settings, engine, period, now):
    """The stored weekly digest of `period`, as a caller composes it before handing it to send."""
    from digest.compose import stored_digest

    return stored_digest(settings, engine, "weekly", period, now)


def start_send(tmp_path, env: dict, *args: str) -> subprocess.Popen:
    """`digest send --period WEEK ARGS` started, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--period", WEEK, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_send(tmp_path, env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`digest send ARGS` (default: `--period WEEK`) to its end."""
    return subprocess.run(
        [sys.executable, "-m", "digest", "send", *(args or ("--period", WEEK))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
