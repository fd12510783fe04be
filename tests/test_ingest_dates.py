"""Dates outside 1970–2200: refused item by item at ingest, and harmless if already in a store."""

import json
from datetime import UTC, datetime

from digest.models import Item
from digest.store import open_engine
from digest.store.items import upsert_items
from tests.test_preview import running_preview


def stored_titles(digest) -> list[str]:
    return sorted(i["title"] for i in json.loads(digest("items", "--json").out))


def test_items_dated_year_1_or_9999_are_refused_one_by_one(digest, tmp_path):
    (tmp_path / "items.json").write_text(
        json.dumps(
            [
                {"title": "Fine", "url": "https://example.org/1", "published": "2023-11-06T09:00:00Z"},
                {
                    "title": "Year one",
                    "url": "https://example.org/2",
                    "published": "0001-01-01T00:00:00+01:00",
                },
                {
                    "title": "Year 9999",
                    "url": "https://example.org/3",
                    "published": "9999-12-31T23:59:59-05:00",
                },
                {"title": "Year 10000", "url": "https://example.org/4", "published": "10000-01-01T00:00:00Z"},
            ]
        )
    )
    (tmp_path / "feed.rss").write_text(
        "<rss version='2.0'><channel><title>F</title>"
        "<item><title>Feed fine</title><pubDate>Mon, 06 Nov 2023 09:00:00 GMT</pubDate></item>"
        "<item><title>Feed 9999</title><pubDate>Fri, 31 Dec 9999 23:59:59 -0500</pubDate></item>"
        "</channel></rss>"
    )
    (tmp_path / "post.md").write_text("---\ntitle: Old post\ndate: 0001-01-01\n---\nBody.\n")
    (tmp_path / "dated.txt").write_text("Text 9999\nDate: 9999-12-31T23:00:00Z\n\nSummary.\n")
    result = digest(
        "ingest", *(str(tmp_path / n) for n in ("items.json", "feed.rss", "post.md", "dated.txt"))
    )
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    warnings = result.err.splitlines()
    for title in ("Year one", "Year 9999", "Year 10000", "Feed 9999", "Old post", "Text 9999"):
        assert any(title in line and "outside 1970–2200" in line for line in warnings), (title, warnings)
    assert all(line.startswith("digest: warning: ") for line in warnings)
    assert stored_titles(digest) == ["Feed fine", "Fine"]


def test_an_item_dated_9999_in_an_old_store_breaks_no_listing(digest, db_url, tmp_path):
    """A store written before dates were checked: periods, build and the preview still work."""
    engine = open_engine(db_url)
    with engine.begin() as connection:
        upsert_items(
            connection,
            [
                Item(
                    "Far future",
                    url="https://example.org/f",
                    published=datetime(9999, 12, 31, 23, tzinfo=UTC),
                ),
                Item("Year one", url="https://example.org/y", published=datetime(1, 1, 1, tzinfo=UTC)),
                Item("Normal", url="https://example.org/n", published=datetime(2023, 11, 7, tzinfo=UTC)),
            ],
            datetime(2023, 11, 8, tzinfo=UTC),
        )
    engine.dispose()
    zone = {"DIGEST_TIMEZONE": "Pacific/Kiritimati"}  # +14:00: 9999-12-31T23Z is year 10000 there
    periods = digest("periods", "--json", extra_env=zone)
    assert periods.code == 0, periods.err
    assert {p["period"] for p in json.loads(periods.out)} == {"2023-W45", "2023-11"}
    built = digest("build", "--out", str(tmp_path / "out"), extra_env=zone)
    assert built.code == 0, built.err
    assert (tmp_path / "out" / "weekly-2023-W45.html").exists()
    workdir = tmp_path / "preview"
    workdir.mkdir()
    (workdir / "digest.db").write_bytes((tmp_path / "digest.db").read_bytes())
    with running_preview(workdir, seed=False, **zone) as preview:
        index = preview.client().get("/")
        assert index.status_code == 200
        assert "2023-W45" in index.text
