"""Synthetic but realistic inputs: item files for `digest ingest` and subscribers in the store."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

PROSE = (
    "workers union strike city council housing rent wages climate energy school health transit "
    "election budget court reform protest market water river harbour festival library science "
    "report study community history archive museum tenants farmers nurses teachers students"
)
WORDS = PROSE.split()

# The busiest week of the generated year: it holds a tenth of all items.
BUSY_WEEK_START = datetime(2024, 3, 4, tzinfo=UTC)
BUSY_WEEK_KEY = "2024-W10"
YEAR_START = datetime(2024, 1, 1, tzinfo=UTC)


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def item_record(rng: random.Random, number: int, published: datetime) -> dict:
    return {
        "title": f"{_sentence(rng, 7)} ({number})",
        "summary": _sentence(rng, 40) + ". " + _sentence(rng, 25) + ".",
        "url": f"https://news.example.org/{published:%Y/%m}/{number}",
        "published": published.isoformat(),
        "category": rng.choice(("World", "Labour", "Culture", "Science", "Local")),
        "author": f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}",
    }


def write_items(path: Path, count: int, seed: int = 8) -> Path:
    """`count` items over 2024, a tenth of them in BUSY_WEEK_KEY; one JSON list, as an export would be."""
    rng = random.Random(seed)
    records = []
    for number in range(count):
        if number % 10 == 0:
            published = BUSY_WEEK_START + timedelta(seconds=rng.randrange(7 * 86400))
        else:
            published = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
        records.append(item_record(rng, number, published))
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def write_week(path: Path, count: int, seed: int = 12) -> Path:
    """`count` items all in BUSY_WEEK_KEY: one digest that really shows `count` items."""
    rng = random.Random(seed)
    records = [
        item_record(rng, n, BUSY_WEEK_START + timedelta(seconds=rng.randrange(7 * 86400)))
        for n in range(count)
    ]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def add_subscribers(database_url: str, count: int, cadence: str = "weekly") -> None:
    """Active subscribers inserted in bulk: the store's own table, as `subscribers import` would fill it."""
    from digest.store import open_engine
    from digest.store.schema import subscribers

    now = datetime.now(UTC)
    engine = open_engine(database_url)
    batch = 5000
    with engine.begin() as connection:
        for start in range(0, count, batch):
            rows = [
                {
                    "email": f"reader{n:06d}@bench.example.org",
                    "name": f"Reader {n}",
                    "cadence": cadence,
                    "status": "active",
                    "source": "bench",
                    "bounce_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(start, min(count, start + batch))
            ]
            connection.execute(insert(subscribers), rows)
    engine.dispose()
