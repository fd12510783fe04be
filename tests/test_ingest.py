"""`digest ingest` and `digest items` end to end: the real CLI on a real SQLite file."""

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SEEDS = Path(__file__).parent.parent / "seeds"


def stored(digest) -> list[dict]:
    result = digest("items", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_seed_ingests_exactly_once_with_text_intact(digest):
    first = digest("ingest", str(SEEDS))
    assert first.code == 0 and "12 new, 0 updated, 0 unchanged" in first.out
    second = digest("ingest", str(SEEDS))
    assert "0 new, 0 updated, 12 unchanged" in second.out
    items = stored(digest)
    assert len(items) == 12
    assert set(items[0]) >= {"id", "title", "summary", "url", "published", "category", "source"}
    source_text = (SEEDS / "imt-news.txt").read_text()
    for item in items:
        assert item["title"] in source_text and item["summary"] in source_text
    # newest first keeps the order the file was written in
    assert items[0]["title"] == "Washington Communists Take a Stand for the Intifada!"
    assert items[-1]["title"].startswith("“Halla Bol”")


def test_changed_entry_updates_its_row(digest, tmp_path):
    feed = tmp_path / "items.json"
    feed.write_text('[{"title": "One", "url": "https://example.org/1", "summary": "old"}]')
    digest("ingest", str(feed))
    feed.write_text('[{"title": "One", "url": "https://example.org/1", "summary": "new"}]')
    result = digest("ingest", str(feed))
    assert "0 new, 1 updated, 0 unchanged" in result.out
    assert [i["summary"] for i in stored(digest)] == ["new"]


def test_items_since_and_until_are_inclusive_and_exclusive(digest):
    digest("ingest", str(DATA / "items.csv"))  # 2023-11-06T08:00Z and 2023-11-07T08:00Z
    titles = lambda *a: [i["title"] for i in json.loads(digest("items", "--json", *a).out)]
    assert titles("--since", "2023-11-06T08:00:00Z") == ['CSV "two"', "CSV one"]
    assert titles("--until", "2023-11-07T08:00:00Z") == ["CSV one"]
    assert digest("items", "--since", "yesterday").code == 2


@pytest.mark.parametrize(
    "name",
    ["missing.txt", "broken.xml", "page.html", "no-title.csv", "bad-row.csv", "invalid.json"],
)
def test_bad_source_gets_one_line_and_stores_nothing(digest, name):
    result = digest("ingest", str(DATA / name))
    assert result.code == 1
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert result.err.startswith("digest: error: ") and name in result.err
    assert stored(digest) == []


def test_good_sources_are_kept_when_another_fails(digest):
    result = digest("ingest", str(DATA / "items.json"), str(DATA / "bad-row.csv"))
    assert result.code == 1 and "bad-row.csv" in result.err
    assert sorted(i["title"] for i in stored(digest)) == ["JSON one", "JSON two"]


@pytest.fixture
def web_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "feed.xml").write_bytes((DATA / "feed.rss").read_bytes())
    (root / "page.html").write_bytes((DATA / "page.html").read_bytes())
    (root / "big.xml").write_bytes(b"<rss>" + b" " * (11 * 1024 * 1024))
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


LOOPBACK_OK = {"DIGEST_FETCH_ALLOW_PRIVATE": "true"}  # the test servers listen on loopback


def test_feed_url_is_fetched_and_ingested(digest, web_root):
    result = digest("ingest", f"{web_root}/feed.xml", extra_env=LOOPBACK_OK)
    assert result.code == 0, result.err
    assert "2 new" in result.out
    authors = {i["title"]: i for i in stored(digest)}
    assert authors["Sunday night in New York"]["published"] == "2023-11-13T04:30:00+00:00"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.xml", "HTTP 404"),
        ("/page.html", "not an RSS or Atom feed"),
        ("/big.xml", "larger than 10 MB"),
    ],
)
def test_bad_urls_are_refused_cleanly(digest, web_root, path, reason):
    result = digest("ingest", web_root + path, extra_env=LOOPBACK_OK)
    assert result.code == 1 and reason in result.err and "Traceback" not in result.err
    assert stored(digest) == []


def test_only_http_urls_and_local_paths_are_read(digest):
    result = digest("ingest", "file:///etc/passwd")
    assert result.code == 1 and "only files, folders and http(s) URLs" in result.err


def test_ingest_and_periods_behave_the_same_on_every_database(digest, any_db_url):
    on_db = {"DIGEST_DATABASE_URL": any_db_url, "DIGEST_TIMEZONE": "America/New_York"}
    first = digest("ingest", str(SEEDS), str(DATA / "feed.rss"), extra_env=on_db)
    assert first.code == 0, first.err
    again = digest("ingest", str(SEEDS), str(DATA / "feed.rss"), extra_env=on_db)
    assert "0 new, 0 updated, 12 unchanged" in again.out and "0 new, 0 updated, 2 unchanged" in again.out
    items = json.loads(digest("items", "--json", "--until", "2024-01-01", extra_env=on_db).out)
    assert [i["title"] for i in items] == ["Midnight in Paris", "Sunday night in New York"]
    assert items[1]["published"] == "2023-11-13T04:30:00+00:00"
    periods = json.loads(digest("periods", "--cadence", "weekly", "--json", extra_env=on_db).out)
    assert {"cadence": "weekly", "period": "2023-W45"}.items() <= periods[-1].items()
