"""The stages in order, from the store to a rendered digest: load a period's items, render them once.

Rendering itself is pure (digest/render/); this module is the edge that reads the store.
"""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from digest.config import Settings
from digest.errors import DigestError, EmptyPeriodError
from digest.mail import make_message_id, prepare_message
from digest.models import UNSUBSCRIBE_MARK, RenderedDigest
from digest.periods import Period, last_complete, parse_period, period_of
from digest.render import render_digest
from digest.store.contents import Contents, digest_contents
from digest.store.items import published_times
from digest.tokens import sample_unsubscribe_url


def period_contents(settings: Settings, engine: Engine, period: Period) -> Contents:
    """What the digest of `period` holds (store/contents.py has the rule for late items)."""
    with engine.connect() as connection:
        return digest_contents(connection, period, settings.timezone)


def render_period(
    settings: Settings, engine: Engine, cadence: str, period: Period, now: datetime
) -> RenderedDigest:
    """Render the digest of `period`; an empty period is an error, never an empty mail."""
    if period.cadence != cadence:
        raise ValueError(f"period {period.key} is {period.cadence}, not {cadence}")
    contents = period_contents(settings, engine, period)
    if not contents.items:
        raise no_items_error(settings, engine, period, now)
    return render_digest(settings, period, contents.items, now)


def no_items_error(settings: Settings, engine: Engine, period: Period, now: datetime) -> EmptyPeriodError:
    """'no items in weekly 2026-W48', with the period that does have items and how to get it."""
    cadence = period.cadence
    latest = latest_period_with_items(settings, engine, cadence)
    if latest is None:
        hint = "the store holds no items yet (run `digest ingest` first)"
    elif latest.end > now:
        hint = (
            f"the latest {cadence} period with items is {latest.key}, still in progress "
            f"(--period {latest.key} --unfinished)"
        )
    else:
        hint = f"the latest {cadence} period with items is {latest.key} (--period {latest.key})"
    return EmptyPeriodError(f"no items in {cadence} {period.key}; {hint}")


def in_progress_note(settings: Settings, period: Period, now: datetime) -> str | None:
    """Said when `build` shows a period that has not ended: it is not what `send` sends by default."""
    if period.end <= now:
        return None
    done = last_complete(period.cadence, now, settings.timezone)
    return (
        f"note: {period.cadence} {period.key} is still in progress; `digest send` sends the last "
        f"complete period, {done.key}, unless given --unfinished"
    )


def latest_period_with_items(settings: Settings, engine: Engine, cadence: str) -> Period | None:
    """The newest period of `cadence` that holds an item, or None when the store is empty."""
    with engine.connect() as connection:
        times = published_times(connection)
    return period_of(max(times), cadence, settings.timezone) if times else None


# What `digest build` addresses its sample .eml to: a reader who is not on any list. Its unsubscribe
# link is the sample link, which acts on no subscriber (a forwarded sample must not unsubscribe id 1).
SAMPLE_NAME = "Sample Reader"
SAMPLE_EMAIL = "reader@example.org"
SAMPLE_SUBSCRIBER_ID = 1
SAMPLE_SECRET = "sample-secret-for-digest-build-only"


def sample_bodies(settings: Settings, rendered: RenderedDigest) -> tuple[str, str]:
    """(html, text) as the sample reader sees them: the sample link in place of the marker."""
    link = sample_unsubscribe_url(settings.base_url)
    return rendered.html.replace(UNSUBSCRIBE_MARK, html.escape(link, quote=True)), rendered.text.replace(
        UNSUBSCRIBE_MARK, link
    )


def sample_message(settings: Settings, rendered: RenderedDigest, now: datetime) -> bytes:
    """The message exactly as a subscriber would get it, with a sample recipient and link."""
    secret = settings.secret_key or SAMPLE_SECRET
    link = sample_unsubscribe_url(settings.base_url)
    signed = replace(settings, secret_key=secret)
    message_id = make_message_id(
        signed, rendered.cadence, rendered.period, SAMPLE_SUBSCRIBER_ID, SAMPLE_EMAIL
    )
    prepared = prepare_message(signed, rendered, now)
    return prepared.for_recipient(SAMPLE_EMAIL, SAMPLE_NAME, SAMPLE_SUBSCRIBER_ID, link, message_id)


def choose_period(settings: Settings, engine: Engine, cadence: str, key: str | None) -> Period:
    """The period named by `key`, or the latest one that has items."""
    if key:
        try:
            return parse_period(cadence, key, settings.timezone)
        except ValueError as exc:
            raise DigestError(str(exc)) from None
    period = latest_period_with_items(settings, engine, cadence)
    if period is None:
        raise EmptyPeriodError("no items in the store yet (run `digest ingest` first)")
    return period


def build_files(
    settings: Settings, engine: Engine, cadence: str, key: str | None, out_dir: Path, now: datetime
) -> list[Path]:
    """Render one digest and write DIR/<cadence>-<period>.html, .txt and .eml; return the paths."""
    period = choose_period(settings, engine, cadence, key)
    rendered = render_period(settings, engine, cadence, period, now)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"{cadence}-{period.key}"
    page, text = sample_bodies(settings, rendered)
    contents = {
        ".html": page.encode(),
        ".txt": text.encode(),
        ".eml": sample_message(settings, rendered, now),
    }
    paths = []
    for suffix, data in contents.items():
        path = stem.with_suffix(suffix)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)
        paths.append(path)
    return paths
