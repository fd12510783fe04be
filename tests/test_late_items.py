"""Late items: an item that no stored digest of a cadence holds goes into that cadence's next digest.

The rule (README, "Which items a digest holds"): a digest not yet stored holds the items published
before the end of its period that no stored digest of its cadence holds, back to the start of that
cadence's first stored digest. A stored digest keeps the items it went out with.
"""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

from tests.delivery_support import SECRET

SENDER = {"DIGEST_FROM": "News <news@example.org>", "DIGEST_SECRET_KEY": SECRET}


def items_file(path: Path, *entries: tuple[str, str]) -> Path:
    path.write_text(
        json.dumps(
            [
                {"title": title, "published": when, "url": f"https://example.org/{n}-{when}"}
                for n, (title, when) in enumerate(entries)
            ]
        )
    )
    return path


def sent_titles(outbox: Path, period: str) -> set[str]:
    titles = set()
    for eml in outbox.glob("*.eml"):
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        if period in message["Message-ID"]:
            text = message.get_body(("plain",)).get_content()
            titles |= {
                line.strip(" *").split(" [")[0] for line in text.splitlines() if line.startswith(" * ")
            }
    return titles


def test_an_item_that_arrives_after_its_week_was_sent_goes_into_the_next_digest(digest, tmp_path):
    outbox = tmp_path / "outbox"
    assert digest("subscribers", "add", "reader@example.org").code == 0
    digest("ingest", str(items_file(tmp_path / "w45.json", ("On time", "2023-11-08T10:00:00Z"))))
    first = digest("send", "--period", "2023-W45", extra_env=SENDER)
    assert first.code == 0, first.err
    # Read on Tuesday of week 46, dated last Sunday: its week's digest is already out.
    late = items_file(
        tmp_path / "late.json",
        ("Late but not lost", "2023-11-12T20:00:00Z"),
        ("This week", "2023-11-14T09:00:00Z"),
    )
    assert digest("ingest", str(late)).code == 0
    dry = digest("send", "--period", "2023-W46", "--dry-run", extra_env=SENDER)
    assert dry.code == 0, dry.err
    assert "2 items" in dry.err and "1 published before" in dry.err, dry.err
    assert digest("send", "--period", "2023-W46", extra_env=SENDER).code == 0
    assert sent_titles(outbox, "2023-W45") == {"On time"}
    assert sent_titles(outbox, "2023-W46") == {"Late but not lost", "This week"}
    # Nothing is sent twice: the late item is now held by W46 and goes nowhere else.
    digest("ingest", str(items_file(tmp_path / "w47.json", ("Week 47", "2023-11-21T09:00:00Z"))))
    assert digest("send", "--period", "2023-W47", extra_env=SENDER).code == 0
    assert sent_titles(outbox, "2023-W47") == {"Week 47"}


def test_items_older_than_the_first_digest_are_not_carried(digest, tmp_path):
    outbox = tmp_path / "outbox"
    assert digest("subscribers", "add", "reader@example.org").code == 0
    old = items_file(
        tmp_path / "old.json",
        ("Archive from 2020", "2020-03-03T10:00:00Z"),
        ("W45 news", "2023-11-08T10:00:00Z"),
    )
    digest("ingest", str(old))
    assert digest("send", "--period", "2023-W45", extra_env=SENDER).code == 0
    assert sent_titles(outbox, "2023-W45") == {"W45 news"}


def test_a_week_that_was_never_sent_is_carried_into_the_next_digest(digest, tmp_path):
    outbox = tmp_path / "outbox"
    assert digest("subscribers", "add", "reader@example.org").code == 0
    entries = (
        ("W45 news", "2023-11-08T10:00:00Z"),
        ("W46 news", "2023-11-15T10:00:00Z"),
        ("W47 news", "2023-11-22T10:00:00Z"),
    )
    digest("ingest", str(items_file(tmp_path / "all.json", *entries)))
    assert digest("send", "--period", "2023-W45", extra_env=SENDER).code == 0
    assert digest("send", "--period", "2023-W47", extra_env=SENDER).code == 0  # W46 was skipped (server down)
    assert sent_titles(outbox, "2023-W47") == {"W46 news", "W47 news"}


def test_the_build_and_preview_of_a_sent_week_show_what_went_out(digest, tmp_path):
    assert digest("subscribers", "add", "reader@example.org").code == 0
    digest("ingest", str(items_file(tmp_path / "w45.json", ("On time", "2023-11-08T10:00:00Z"))))
    assert digest("send", "--period", "2023-W45", extra_env=SENDER).code == 0
    digest("ingest", str(items_file(tmp_path / "late.json", ("Late", "2023-11-12T20:00:00Z"))))
    assert digest("build", "--period", "2023-W45", "--out", "w45").code == 0
    assert "Late" not in (tmp_path / "w45" / "weekly-2023-W45.txt").read_text()
    assert digest("build", "--period", "2023-W46", "--out", "w46").code == 0
    assert "Late" in (tmp_path / "w46" / "weekly-2023-W46.txt").read_text()


def test_a_store_from_before_the_rule_keeps_its_sent_items_out_of_the_next_digest(digest, tmp_path, db_url):
    from sqlalchemy import text

    from digest.store import open_engine

    outbox = tmp_path / "outbox"
    assert digest("subscribers", "add", "reader@example.org").code == 0
    digest("ingest", str(items_file(tmp_path / "w45.json", ("On time", "2023-11-08T10:00:00Z"))))
    assert digest("send", "--period", "2023-W45", extra_env=SENDER).code == 0
    engine = open_engine(db_url)
    from digest.store.schema import MIGRATIONS, _record_digest_items

    version = MIGRATIONS.index(_record_digest_items) + 1
    with engine.begin() as connection:  # as a store from before digest_items had it
        connection.execute(text("DROP TABLE digest_items"))
        connection.execute(text("DELETE FROM schema_version WHERE version >= :v"), {"v": version})
    engine.dispose()
    digest(
        "ingest",
        str(
            items_file(
                tmp_path / "late.json", ("Late", "2023-11-12T20:00:00Z"), ("W46", "2023-11-14T09:00:00Z")
            )
        ),
    )
    assert digest("send", "--period", "2023-W46", extra_env=SENDER).code == 0
    assert sent_titles(outbox, "2023-W46") == {"Late", "W46"}
